"""Plain-data values across the boundary: faithful for numbers, strict with anything else."""

from __future__ import annotations

import numpy as np
import pytest

from grader.sandbox.values import EncodeError, Encoder, decode_plain, decode_value


def roundtrip(value):
    encoder = Encoder(lambda obj: {"k": "handle", "id": 1, "type": type(obj).__name__})
    node = encoder.encode(value)
    return node, encoder.blobs, decode_value(node, encoder.blobs)


@pytest.mark.parametrize("value, kind, shape", [
    (np.float64(2.5), "number", ()),
    (np.int32(7), "number", ()),
    (2.5, "number", ()),
    (3, "number", ()),
    (np.array(3.0), "array", ()),
    (np.arange(6.0).reshape(2, 3).T, "array", (3, 2)),
    (np.array([True, False]), "array", (2,)),
    (np.arange(4, dtype=np.uint8), "array", (4,)),
])
def test_numbers_and_arrays_keep_their_values_and_shapes(value, kind, shape):
    _, _, decoded = roundtrip(value)
    assert decoded.kind == kind and decoded.array.shape == shape
    assert decoded.array.dtype == np.float64 and np.array_equal(decoded.array, np.asarray(value, dtype=float))


def test_an_ndarray_subclass_arrives_as_a_plain_fresh_array():
    class Sneaky(np.ndarray):
        def __eq__(self, other):
            return True

    _, _, decoded = roundtrip(np.zeros(3).view(Sneaky))
    assert type(decoded.array) is np.ndarray and decoded.array.flags.writeable


def test_an_object_that_claims_equality_with_everything_is_only_a_handle():
    class Liar:
        def __eq__(self, other):
            return True

    _, _, decoded = roundtrip(Liar())
    assert decoded.kind == "handle" and decoded.array is None


def test_arguments_decoded_in_the_worker_are_writable_copies():
    encoder = Encoder(lambda obj: {})
    node = encoder.encode(np.arange(3.0))
    array = decode_plain(node, encoder.blobs, None)
    array[0] = 5.0  # student code may write to its input; that must not fail or leak
    assert array.tolist() == [5.0, 1.0, 2.0]


@pytest.mark.parametrize("tamper", [
    lambda node, blobs: node.update(dtype="|O8"),
    lambda node, blobs: node.update(dtype="<c16"),
    lambda node, blobs: node.update(shape=[1000]),
    lambda node, blobs: node.update(shape=[-1]),
    lambda node, blobs: node.update(shape="3"),
    lambda node, blobs: node.update(blob=7),
])
def test_a_tampered_array_description_is_refused(tamper):
    node, blobs, _ = roundtrip(np.arange(3.0))
    tamper(node, blobs)
    with pytest.raises((EncodeError, IndexError, KeyError)):
        decode_value(node, blobs)


def test_deeply_nested_or_huge_values_are_refused_when_encoding():
    nested: list = []
    for _ in range(50):
        nested = [nested]
    with pytest.raises(EncodeError):
        roundtrip(nested)
    with pytest.raises(EncodeError):
        roundtrip(list(range(30_000)))

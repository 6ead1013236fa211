"""Plain-data values across the boundary: faithful for numbers, strict with anything else."""

from __future__ import annotations

import numpy as np
import pytest

from grader.sandbox.wire.values import EncodeError, Encoder, decode_plain, decode_value


def roundtrip(value):
    encoder = Encoder(lambda obj: {"k": "handle", "id": 1, "type": type(obj).__name__})
    node = encoder.encode(value)
    return node, encoder.blobs, decode_value(node, encoder.blobs)


@pytest.mark.parametrize(
    "value, kind, shape",
    [
        (np.float64(2.5), "number", ()),
        (np.int32(7), "number", ()),
        (2.5, "number", ()),
        (3, "number", ()),
        (np.array(3.0), "array", ()),
        (np.arange(6.0).reshape(2, 3).T, "array", (3, 2)),
        (np.array([True, False]), "array", (2,)),
        (np.arange(4, dtype=np.uint8), "array", (4,)),
    ],
)
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


@pytest.mark.parametrize(
    "tamper",
    [
        lambda node, blobs: node.update(dtype="|O8"),
        lambda node, blobs: node.update(dtype="<c16"),
        lambda node, blobs: node.update(shape=[1000]),
        lambda node, blobs: node.update(shape=[-1]),
        lambda node, blobs: node.update(shape="3"),
        lambda node, blobs: node.update(blob=7),
    ],
)
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


def _array_node(blob: int = 0, shape=(4,), dtype: str = "|b1") -> dict:
    return {
        "k": "array",
        "blob": blob,
        "dtype": dtype,
        "shape": list(shape),
        "type": "ndarray",
        "scalar": False,
    }


def test_one_blob_behind_two_nodes_is_refused():
    with pytest.raises(EncodeError, match="sent twice"):
        decode_value({"k": "list", "items": [_array_node(), _array_node()]}, [b"\x01" * 4])


def test_the_decoding_budget_counts_bytes_after_widening_to_float64():
    blob = b"\x01" * 1024
    assert decode_value(_array_node(shape=(1024,)), [blob], max_bytes=8 * 1024).array.nbytes == 8 * 1024
    with pytest.raises(EncodeError, match="larger than"):
        decode_value(_array_node(shape=(1024,)), [blob], max_bytes=8 * 1024 - 1)


@pytest.mark.parametrize("shape", [[-1, 0], [2**31], [1] * 9, [True], [1.0]])
def test_shapes_must_be_at_most_eight_sizes_from_zero_to_two_to_the_31(shape):
    with pytest.raises(EncodeError, match="shape"):
        decode_value(_array_node(shape=shape), [b""])


@pytest.mark.parametrize(
    "node",
    [
        {"k": "bool", "v": "yes"},
        {"k": "float", "v": "1.0"},
        {"k": "int", "v": "12a"},
        {"k": "str", "v": 5},
        {"k": "handle", "id": "1"},
        {"k": "array", "blob": 0, "dtype": "<f8", "shape": [1], "scalar": "yes"},
        {"k": "other", "type": ["x"]},
    ],
)
def test_every_field_is_type_checked(node):
    with pytest.raises(EncodeError):
        decode_value(node, [b"\x00" * 8])


def test_integers_beyond_float_range_keep_only_their_sign_whatever_their_length():
    assert decode_value({"k": "int", "v": "-" + "9" * 4000}, []).array == -np.inf
    assert decode_value({"k": "float", "v": 10**400}, []).array == np.inf


@pytest.mark.parametrize(
    "shape",
    [[float("inf"), 3], [2.0, 3], ["2", 3], [-1, 3], [2**40, 3], [1] * 9],
    ids=["Infinity", "a float", "text", "negative", "huge", "too many axes"],
)
def test_a_layer_description_from_the_worker_is_read_as_strictly_as_any_value(shape):
    from grader.sandbox.wire import replies

    good = {"fc": {"type": "Linear", "params": [["weight", [11, 2048], True], ["bias", [11], True]]}}
    assert replies.layers(good, ["fc", "conv1"]) == {
        "fc": ("Linear", [("weight", (11, 2048), True), ("bias", (11,), True)]),
        "conv1": None,
    }
    bad = {"fc": {"type": "Linear", "params": [["weight", shape, True]]}}
    with pytest.raises(replies.ReplyError):
        replies.layers(bad, ["fc"])

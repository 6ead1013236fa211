"""The cnn assignment's NumPy oracle equals PyTorch, so hidden tests' expectations are proven.

Only this file imports torch: the grading process never does.
"""

from __future__ import annotations

import copy
import importlib.util
import itertools
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from nbtools import SOLUTIONS

_spec = importlib.util.spec_from_file_location("cnn_oracle", SOLUTIONS / "cnn" / "tests" / "cnn_oracle.py")
oracle = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(oracle)

KERNELS = [(1, 1), (2, 2), (3, 3), (4, 4), (5, 5), (2, 3), (3, 2), (1, 3), (3, 5), (4, 1)]
PADDINGS = ["valid", "same", 0, 1, 2]
STRIDES = [1, 2, 3]
CASES = list(itertools.product(KERNELS, PADDINGS, STRIDES))


def torch_conv(x, weight, bias, padding, stride):
    """torch's conv2d; 'same' with a stride is explicit padding (torch refuses that combination)."""
    x, weight = torch.from_numpy(x), torch.from_numpy(weight)
    bias = None if bias is None else torch.from_numpy(bias)
    if padding == "same" and stride > 1:
        kh, kw = weight.shape[-2:]
        top, left = (kh - 1) // 2, (kw - 1) // 2
        x = F.pad(x, (left, kw - 1 - left, top, kh - 1 - top))
        padding = 0
    with warnings.catch_warnings():
        # torch notes that 'same' with an even kernel pads a copy of the input: expected here.
        warnings.filterwarnings(
            "ignore", message="Using padding='same' with even kernel", category=UserWarning
        )
        return F.conv2d(x, weight, bias, stride=stride, padding=padding).numpy()


def seeded(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


@pytest.mark.parametrize("kernel, padding, stride", CASES)
def test_the_oracle_layer_equals_torch_conv2d_on_batches_with_bias(kernel, padding, stride):
    rng = seeded(CASES.index((kernel, padding, stride)))
    n, c_in, c_out = 2, 3, 4
    h, w = int(rng.integers(kernel[0] + 2, 11)), int(rng.integers(kernel[1] + 2, 11))
    x = rng.standard_normal((n, c_in, h, w))
    weight = rng.standard_normal((c_out, c_in, *kernel))
    bias = rng.standard_normal(c_out)
    got = oracle.conv2d_layer(x, weight, bias, padding, stride)
    np.testing.assert_allclose(got, torch_conv(x, weight, bias, padding, stride), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("kernel, padding, stride", CASES)
def test_the_oracle_layer_equals_torch_conv2d_on_single_examples_without_bias(kernel, padding, stride):
    rng = seeded(1000 + CASES.index((kernel, padding, stride)))
    x = rng.standard_normal((2, kernel[0] + 3, kernel[1] + 4))
    weight = rng.standard_normal((3, 2, *kernel))
    got = oracle.conv2d_layer(x, weight, None, padding, stride)
    assert got.ndim == 3
    np.testing.assert_allclose(got, torch_conv(x, weight, None, padding, stride), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("kernel, padding, stride", CASES)
def test_the_oracle_conv2d_is_the_single_channel_layer_and_its_size_formula_holds(kernel, padding, stride):
    rng = seeded(2000 + CASES.index((kernel, padding, stride)))
    h, w = int(rng.integers(kernel[0], 12)), int(rng.integers(kernel[1], 12))
    x, k = rng.standard_normal((h, w)), rng.standard_normal(kernel)
    want = torch_conv(x[None, None], k[None, None], None, padding, stride)[0, 0]
    got = oracle.conv2d(x, k, padding, stride)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)
    assert got.shape == (
        oracle.conv_output_size(h, kernel[0], padding, stride),
        oracle.conv_output_size(w, kernel[1], padding, stride),
    )


def test_same_padding_keeps_the_size_at_stride_one_and_splits_the_smaller_half_first():
    for k in range(1, 8):
        before, after = oracle.pad_widths(k, "same")
        assert before + after == k - 1 and before <= after
        assert oracle.conv_output_size(9, k, "same") == 9


def test_the_flipped_kernel_variant_is_torch_conv_transpose_free_true_convolution():
    rng = seeded(7)
    x, k = rng.standard_normal((6, 7)), rng.standard_normal((3, 2))
    want = torch_conv(x[None, None], np.ascontiguousarray(k[::-1, ::-1])[None, None], None, "valid", 1)[0, 0]
    np.testing.assert_allclose(oracle.true_convolution(x, k), want, rtol=1e-10)
    assert not np.allclose(oracle.true_convolution(x, k), oracle.conv2d(x, k))


@pytest.mark.parametrize(
    "kernel_size, stride", [(2, None), (3, None), (2, 1), (3, 2), (2, 3), (4, 3), (1, None)]
)
@pytest.mark.parametrize("shape", [(7, 9), (3, 8, 5), (2, 3, 6, 11), (9, 9)])
def test_the_oracle_max_pool_equals_torch_in_floor_and_ceil_mode(kernel_size, stride, shape):
    rng = seeded(3000 + 97 * kernel_size + 13 * (stride or 0) + int(np.prod(shape)))
    x = rng.standard_normal(shape)
    t = torch.from_numpy(x if x.ndim > 2 else x[None])
    for ceil in (False, True):
        want = F.max_pool2d(t, kernel_size, stride, ceil_mode=ceil).numpy()
        got = oracle.max_pool2d(x, kernel_size, stride, ceil=ceil)
        np.testing.assert_array_equal(got, want if x.ndim > 2 else want[0])
    want_avg = F.avg_pool2d(t, kernel_size, stride).numpy()
    np.testing.assert_allclose(
        oracle.avg_pool2d(x, kernel_size, stride), want_avg if x.ndim > 2 else want_avg[0]
    )


def test_the_slides_worked_examples_hold():
    x, k = oracle.diagonal_pattern(4), oracle.diagonal_pattern(3)
    assert x[0].tolist() == [1, -1, -1, -1]
    np.testing.assert_array_equal(oracle.conv2d(x, k), [[9, -1], [-1, 9]])
    np.testing.assert_array_equal(
        oracle.conv2d(x, k, "same"), [[4, -2, 0, 2], [-2, 9, -1, 0], [0, -1, 9, -2], [2, 0, -2, 4]]
    )
    np.testing.assert_array_equal(oracle.conv2d(x, k, "same", 2), [[4, 0], [0, 9]])
    np.testing.assert_array_equal(oracle.conv2d(x, k, "same", 3), [[4, 2], [2, 4]])
    for padding, stride in [("same", 1), ("same", 2), ("same", 3), ("valid", 1)]:
        np.testing.assert_array_equal(
            oracle.conv2d(x, k, padding, stride),
            torch_conv(x[None, None], k[None, None], None, padding, stride)[0, 0],
        )


def test_the_cnn_parameter_counts_match_the_slides():
    counts = [oracle.conv2d_params(a, b, 3) for a, b in zip(oracle.CHANNELS, oracle.CHANNELS[1:])]
    assert counts == [160, 4640, 18496, 73856]
    assert oracle.linear_params(128 * 4 * 4, 11) == 22539
    assert sum(counts) + 22539 == 119691
    assert sum(np.prod(s) for s in oracle.cnn_shapes(11).values()) == 119691


class _TorchCNN(torch.nn.Module):
    def __init__(self, n_classes):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(1, 16, 3, padding="same")
        self.conv2 = torch.nn.Conv2d(16, 32, 3, padding="same")
        self.conv3 = torch.nn.Conv2d(32, 64, 3, padding="same")
        self.conv4 = torch.nn.Conv2d(64, 128, 3, padding="same")
        self.pool = torch.nn.MaxPool2d(2, 2)
        self.fc = torch.nn.Linear(128 * 4 * 4, n_classes)

    def forward(self, x):
        for conv in (self.conv1, self.conv2, self.conv3, self.conv4):
            x = self.pool(torch.relu(conv(x)))
        return self.fc(torch.flatten(x, 1))


def test_the_oracle_cnn_forward_pass_equals_torch_with_the_same_float32_weights():
    model = _TorchCNN(11)
    assert [(n, tuple(p.shape)) for n, p in model.named_parameters()] == list(oracle.cnn_shapes(11).items())
    state = oracle.random_cnn_state(11, seeded(3))
    model.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()}, strict=True)
    x = seeded(4).standard_normal((2, 1, 64, 64)).astype(np.float32)
    with torch.no_grad():
        want = model(torch.from_numpy(x)).numpy()
    got = oracle.cnn_forward(state, x)
    assert np.abs(want).max() > 0.1  # the activations neither vanish nor explode
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(
    "layers",
    [
        [["Conv2d", 1, 8, 3, {"bias": False, "frozen": True}], ["Linear", 10, 4]],
        [["Conv2d", 3, 5, 2], ["ReLU"], ["MaxPool2d", 2], ["Flatten"], ["Linear", 20, 7, {"bias": False}]],
        [["Conv2d", 2, 4, 3, {"frozen": True}], ["Conv2d", 4, 6, 1, {"bias": False}]],
    ],
)
def test_the_oracle_counts_the_trainable_parameters_of_build_model_specs(layers):
    from grader.sandbox.runtime.models import _build

    want = oracle.layer_spec_params(layers)
    model = _build(copy.deepcopy(layers))  # _build consumes the options dicts
    assert want == sum(p.numel() for p in model.parameters() if p.requires_grad)

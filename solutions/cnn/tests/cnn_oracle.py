"""Independent NumPy answers for the cnn assignment, computed in the grading process.

Written differently from the reference notebook on purpose: padding is explicit (``np.pad``), all
windows are taken at once with ``sliding_window_view`` and contracted with ``tensordot``, and the
stride is a slice of the stride-1 result. ``tests/test_cnn_oracle.py`` proves these functions equal
``torch.nn.functional`` on many seeded cases. Never import torch here.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

CHANNELS = (1, 16, 32, 64, 128)
IMAGE = 64


# ---- sizes -------------------------------------------------------------------------------------
def pad_widths(kernel_size: int, padding) -> tuple[int, int]:
    """Zeros before and after along one axis; 'same' puts the smaller half first (PyTorch)."""
    if padding == "valid":
        return 0, 0
    if padding == "same":
        total = kernel_size - 1
        return total // 2, total - total // 2
    return int(padding), int(padding)


def conv_output_size(n: int, kernel_size: int, padding="valid", stride: int = 1) -> int:
    before, after = pad_widths(kernel_size, padding)
    return (n + before + after - kernel_size) // stride + 1


def rounded_output_size(n: int, kernel_size: int, padding="valid", stride: int = 1) -> int:
    """What round() instead of floor gives (Python rounds halves to even)."""
    before, after = pad_widths(kernel_size, padding)
    return round((n + before + after - kernel_size) / stride) + 1


def ceil_output_size(n: int, kernel_size: int, padding="valid", stride: int = 1) -> int:
    before, after = pad_widths(kernel_size, padding)
    return -(-(n + before + after - kernel_size) // stride) + 1


# ---- convolution -------------------------------------------------------------------------------
def _padded(x: np.ndarray, kh: int, kw: int, padding, larger_first: bool = False) -> np.ndarray:
    rows, cols = pad_widths(kh, padding), pad_widths(kw, padding)
    if larger_first:
        rows, cols = rows[::-1], cols[::-1]
    return np.pad(x, [(0, 0)] * (x.ndim - 2) + [rows, cols])


def conv2d_layer(x, weight, bias=None, padding="valid", stride=1, *, strides=None, larger_first=False):
    """torch.nn.functional.conv2d for (C, H, W) or (N, C, H, W); 'same' also with a stride.

    ``strides=(sh, sw)`` and ``larger_first`` give the answers of common mistakes.
    """
    x = np.asarray(x, dtype=np.float64)
    weight = np.asarray(weight, dtype=np.float64)
    batch = x if x.ndim == 4 else x[np.newaxis]
    kh, kw = weight.shape[-2:]
    windows = sliding_window_view(_padded(batch, kh, kw, padding, larger_first), (kh, kw), axis=(2, 3))
    sh, sw = strides if strides is not None else (stride, stride)
    windows = windows[:, :, ::sh, ::sw]  # (N, C_in, OH, OW, KH, KW)
    out = np.tensordot(windows, weight, axes=([1, 4, 5], [1, 2, 3]))  # (N, OH, OW, C_out)
    out = np.moveaxis(out, -1, 1)
    if bias is not None:
        out = out + np.asarray(bias, dtype=np.float64)[:, np.newaxis, np.newaxis]
    return out if x.ndim == 4 else out[0]


def conv2d(x, kernel, padding="valid", stride=1, **variant):
    """Single-channel cross-correlation (the kernel is not flipped)."""
    x = np.asarray(x, dtype=np.float64)
    kernel = np.asarray(kernel, dtype=np.float64)
    return conv2d_layer(x[np.newaxis], kernel[np.newaxis, np.newaxis], None, padding, stride, **variant)[0]


def true_convolution(x, kernel, padding="valid", stride=1):
    """Convolution in the signal-processing sense: the kernel flipped on both axes."""
    return conv2d(x, np.asarray(kernel)[::-1, ::-1], padding, stride)


# ---- pooling -----------------------------------------------------------------------------------
def max_pool2d(x, kernel_size=2, stride=None, *, ceil=False, reduce=np.max):
    """Pooling over the last two axes; floor mode unless ``ceil`` (incomplete windows kept)."""
    x = np.asarray(x, dtype=np.float64)
    stride = kernel_size if stride is None else stride
    if ceil:
        h, w = x.shape[-2:]
        extra_h = (ceil_output_size(h, kernel_size, "valid", stride) - 1) * stride + kernel_size - h
        extra_w = (ceil_output_size(w, kernel_size, "valid", stride) - 1) * stride + kernel_size - w
        x = np.pad(x, [(0, 0)] * (x.ndim - 2) + [(0, extra_h), (0, extra_w)], constant_values=-np.inf)
    windows = sliding_window_view(x, (kernel_size, kernel_size), axis=(-2, -1))
    return reduce(windows[..., ::stride, ::stride, :, :], axis=(-2, -1))


def avg_pool2d(x, kernel_size=2, stride=None):
    return max_pool2d(x, kernel_size, stride, reduce=np.mean)


def relu(z):
    return np.maximum(z, 0.0)


# ---- counting ----------------------------------------------------------------------------------
def conv2d_params(in_channels, out_channels, kernel_size, bias=True):
    return out_channels * (in_channels * kernel_size**2 + (1 if bias else 0))


def linear_params(in_features, out_features, bias=True):
    return out_features * (in_features + (1 if bias else 0))


def layer_spec_params(layers: list) -> int:
    """Trainable parameters of a ``student.build_model`` spec."""
    total = 0
    for spec in layers:
        spec = list(spec)
        options = spec.pop() if isinstance(spec[-1], dict) else {}
        if options.get("frozen"):
            continue
        bias = options.get("bias", True)
        if spec[0] == "Conv2d":
            total += conv2d_params(spec[1], spec[2], spec[3], bias)
        elif spec[0] == "Linear":
            total += linear_params(spec[1], spec[2], bias)
        elif spec[0] == "BatchNorm2d":
            total += 2 * spec[1]
    return total


# ---- the CNN -----------------------------------------------------------------------------------
def cnn_shapes(n_classes: int) -> dict[str, tuple[int, ...]]:
    """Parameter names and shapes of CNN(n_classes), in registration order."""
    shapes: dict[str, tuple[int, ...]] = {}
    for i in range(1, 5):
        c_in, c_out = CHANNELS[i - 1], CHANNELS[i]
        shapes[f"conv{i}.weight"] = (c_out, c_in, 3, 3)
        shapes[f"conv{i}.bias"] = (c_out,)
    side = IMAGE // 2**4
    shapes["fc.weight"] = (n_classes, CHANNELS[-1] * side * side)
    shapes["fc.bias"] = (n_classes,)
    return shapes


def random_cnn_state(n_classes: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Weights at a He-like scale (so activations neither vanish nor explode), stored as float32."""
    state = {}
    for name, shape in cnn_shapes(n_classes).items():
        fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else 1
        scale = np.sqrt(2.0 / fan_in) if name.endswith("weight") else 0.1
        state[name] = (rng.standard_normal(shape) * scale).astype(np.float32)
    return state


def cnn_forward(state: dict[str, np.ndarray], x) -> np.ndarray:
    h = np.asarray(x, dtype=np.float64)
    for i in range(1, 5):
        h = conv2d_layer(h, state[f"conv{i}.weight"], state[f"conv{i}.bias"], "same")
        h = max_pool2d(relu(h), 2)
    h = h.reshape(h.shape[0], -1)
    return h @ np.asarray(state["fc.weight"], dtype=np.float64).T + np.asarray(state["fc.bias"], dtype=np.float64)


# ---- the slides' worked example ----------------------------------------------------------------
def diagonal_pattern(n: int) -> np.ndarray:
    """+1 on the main diagonal, -1 elsewhere."""
    return 2.0 * np.eye(n) - 1.0

"""Correct solutions written differently from the references get full marks.

The hidden tests must grade what a function computes, not how: plain loops, vectorised NumPy
(``sliding_window_view``, ``einsum``, ``as_strided``), im2col, torch inside a NumPy function,
float32 arithmetic, helpers under other names, functions spread over many cells, and notebooks
with Colab-only cells, magics and shell lines all earn every point. The notebooks are made here
from the reference notebooks (whole definitions replaced, cells added), so they cannot drift.

The tolerance policy (docs/validity.md) is pinned down at the end: float32 passes, a sigmoid off
by a relative 1e-6 passes, one off by 1e-3 fails. Each notebook is graded once per module.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import by_function, grade_valid

from grader.results import GradingResults
from grader.testing import ATOL, RTOL
from nbtools import SOLUTIONS, replace_function, write_notebook

NN_REFERENCE = SOLUTIONS / "nn_basics" / "nn_basics.ipynb"
CNN_REFERENCE = SOLUTIONS / "cnn" / "cnn.ipynb"


def variant(
    reference: Path,
    out: Path,
    definitions: dict[str, str],
    *,
    after_imports: list[str] = (),
    at_end: list[str] = (),
) -> Path:
    """``reference`` with whole definitions replaced and code cells inserted after its first code
    cell (the imports) or appended; a cell starting with '#md ' is markdown."""
    path = Path(reference)
    for name, code in definitions.items():
        path = replace_function(path, name, code, out)
    notebook = json.loads(path.read_text(encoding="utf-8"))

    def cell(i: int, source: str) -> dict:
        if source.startswith("#md "):
            return {"cell_type": "markdown", "id": f"extra-{i}", "metadata": {}, "source": source[4:]}
        return {
            "cell_type": "code",
            "id": f"extra-{i}",
            "metadata": {},
            "execution_count": None,
            "outputs": [],
            "source": source,
        }

    first = next(i for i, c in enumerate(notebook["cells"]) if c["cell_type"] == "code")
    extra = [cell(i, s) for i, s in enumerate(after_imports)]
    notebook["cells"][first + 1 : first + 1] = extra
    notebook["cells"] += [cell(len(extra) + i, s) for i, s in enumerate(at_end)]
    out.write_text(json.dumps(notebook, indent=1), encoding="utf-8")
    return out


# ==== nn_basics ==================================================================================
NN_LOOPS = {
    "step": """def step(z):
    z = np.asarray(z, dtype=float)
    out = np.zeros(z.shape)
    for index in np.ndindex(z.shape):
        if z[index] >= 0:
            out[index] = 1.0
    return out
""",
    "sigmoid": """def sigmoid(z):
    z = np.asarray(z, dtype=float)
    out = np.empty(z.shape)
    for index in np.ndindex(z.shape):
        v = float(z[index])
        if v >= 0:
            out[index] = 1.0 / (1.0 + math.exp(-v))
        else:
            e = math.exp(v)
            out[index] = e / (1.0 + e)
    return out
""",
    "tanh": """def tanh(z):
    z = np.asarray(z, dtype=float)
    out = np.empty(z.shape)
    for index in np.ndindex(z.shape):
        out[index] = math.tanh(z[index])
    return out
""",
    "relu": """def relu(z):
    z = np.asarray(z, dtype=float)
    out = np.zeros(z.shape)
    for index in np.ndindex(z.shape):
        if z[index] > 0:
            out[index] = z[index]
    return out
""",
    "neuron": """def neuron(x, w, b, activation):
    total = b
    for xi, wi in zip(x, w):
        total += xi * wi
    return float(activation(total))
""",
    "dense": """def dense(x, W, b, activation):
    x = np.asarray(x, dtype=float)
    rows = x if x.ndim == 2 else x[np.newaxis]
    n_out, n_in = W.shape
    out = np.zeros((rows.shape[0], n_out))
    for r in range(rows.shape[0]):
        for i in range(n_out):
            s = b[i]
            for j in range(n_in):
                s += W[i][j] * rows[r][j]
            out[r][i] = s
    out = activation(out)
    return out if x.ndim == 2 else out[0]
""",
    "forward": """def forward(x, layers):
    h = x
    for layer in layers:
        W, b, activation = layer
        h = dense(h, W, b, activation)
    return h
""",
    "count_connections": """def count_connections(layer_sizes):
    total = 0
    for i in range(len(layer_sizes) - 1):
        total += layer_sizes[i] * layer_sizes[i + 1]
    return total
""",
    "count_parameters": """def count_parameters(layer_sizes):
    total = 0
    for i in range(1, len(layer_sizes)):
        total += layer_sizes[i - 1] * layer_sizes[i] + layer_sizes[i]
    return total
""",
}

NN_VECTORISED = {
    "step": "def step(z):\n    return np.heaviside(z, 1.0)\n",
    "sigmoid": """def sigmoid(z):
    z = np.asarray(z, dtype=float)
    return np.exp(np.minimum(z, 0)) / (1 + np.exp(-np.abs(z)))
""",
    "tanh": """def tanh(z):
    return 2 * sigmoid(2 * np.asarray(z, dtype=float)) - 1
""",
    "relu": "def relu(z):\n    return np.clip(z, 0, None)\n",
    "neuron": "def neuron(x, w, b, activation):\n    return activation(np.einsum('i,i->', w, x) + b).item()\n",
    "dense": "def dense(x, W, b, activation):\n    return activation(np.einsum('oi,...i->...o', W, x) + b)\n",
    "forward": """def forward(x, layers):
    return functools.reduce(lambda h, layer: dense(h, *layer), layers, x)
""",
    "count_connections": """def count_connections(layer_sizes):
    pairs = sliding_window_view(np.asarray(layer_sizes), 2)
    return int(pairs.prod(axis=1).sum())
""",
    "count_parameters": """def count_parameters(layer_sizes):
    sizes = np.asarray(layer_sizes)
    return sizes[:-1] @ sizes[1:] + sizes[1:].sum()
""",
}

NN_TORCH = {
    "step": """def step(z):
    t = torch.as_tensor(np.asarray(z, dtype=float))
    return torch.heaviside(t, torch.tensor(1.0, dtype=t.dtype)).numpy()
""",
    "sigmoid": "def sigmoid(z):\n    return torch.sigmoid(torch.as_tensor(np.asarray(z, dtype=float))).numpy()\n",
    "tanh": "def tanh(z):\n    return torch.tanh(torch.tensor(z, dtype=torch.float64)).numpy()\n",
    "relu": "def relu(z):\n    return torch.relu(torch.tensor(np.asarray(z, dtype=float))).numpy()\n",
    "neuron": """def neuron(x, w, b, activation):
    pre = torch.dot(torch.as_tensor(w, dtype=torch.float64), torch.as_tensor(x, dtype=torch.float64)) + b
    return float(activation(pre.item()))
""",
    "dense": """def dense(x, W, b, activation):
    t = lambda a: torch.as_tensor(np.asarray(a), dtype=torch.float64)
    return activation(F.linear(t(x), t(W), t(b)).numpy())
""",
}

NN_FLOAT32 = {
    "step": "def step(z):\n    return (np.asarray(z, dtype=np.float32) >= 0).astype(np.float32)\n",
    "sigmoid": """def sigmoid(z):
    z = np.asarray(z, dtype=np.float32)
    e = np.exp(-np.abs(z))
    one = np.float32(1)
    return np.where(z >= 0, one / (one + e), e / (one + e))
""",
    "tanh": "def tanh(z):\n    return np.tanh(np.asarray(z, dtype=np.float32))\n",
    "relu": "def relu(z):\n    return np.maximum(np.asarray(z, dtype=np.float32), np.float32(0))\n",
    "neuron": """def neuron(x, w, b, activation):
    pre = np.dot(np.asarray(w, np.float32), np.asarray(x, np.float32)) + np.float32(b)
    return float(activation(pre))
""",
    "dense": """def dense(x, W, b, activation):
    x, W, b = (np.asarray(a, dtype=np.float32) for a in (x, W, b))
    return activation(x @ W.T + b)
""",
    "forward": """def forward(x, layers):
    h = np.asarray(x, dtype=np.float32)
    for W, b, activation in layers:
        h = dense(h, W, b, activation)
    return h
""",
}

NN_HELPERS = {
    "sigmoid": """def _logistic(v):
    positive = v >= 0
    out = np.empty_like(v)
    out[positive] = 1 / (1 + np.exp(-v[positive]))
    e = np.exp(v[~positive])
    out[~positive] = e / (1 + e)
    return out


def sigmoid(z):
    return _logistic(np.atleast_1d(np.asarray(z, dtype=float))).reshape(np.shape(z))
""",
    "tanh": "hyperbolic_tangent = np.tanh\ntanh = hyperbolic_tangent\n\n\ndef _unused(z):\n    return z\n",
    "relu": "def rectify(values):\n    return np.where(values > 0, values, 0.0)\n\n\nrelu = rectify\n",
    "neuron": """def weighted_sum(x, w, b):
    return float(np.sum(np.multiply(x, w)) + b)


def neuron(x, w, b, activation):
    return float(activation(weighted_sum(x, w, b)))
""",
    "dense": """def affine(x, W, b):
    return np.matmul(x, np.transpose(W)) + b


def dense(x, W, b, activation):
    return activation(affine(x, W, b))
""",
    "forward": """def forward(x, layers):
    def one_layer(h, W, b, phi):
        return phi(affine(h, W, b))
    for W, b, phi in layers:
        x = one_layer(x, W, b, phi)
    return x
""",
    "count_parameters": """def count_biases(layer_sizes):
    return sum(layer_sizes) - layer_sizes[0]


def count_parameters(layer_sizes):
    return count_connections(layer_sizes) + count_biases(layer_sizes)
""",
}

# The whole notebook from scratch: imports in the last cell (names are looked up when a function
# runs), a wrong first attempt replaced in a later cell, helpers in cells of their own.
NN_MANY_CELLS = [
    "#md # My neural network notebook",
    "def step(z):\n    return (np.asarray(z) > 0) * 1.0  # first attempt, fixed below\n",
    "def _greater_equal_zero(z):\n    return np.asarray(z) >= 0\n",
    "def step(z):\n    return _greater_equal_zero(z).astype(float)\n",
    "def _half_tanh(z):\n    return np.tanh(0.5 * np.asarray(z, dtype=float))\n",
    "def sigmoid(z):\n    return 0.5 * (1 + _half_tanh(z))\n",
    "#md tanh is built in",
    "def tanh(z):\n    return np.tanh(z)\n",
    "def relu(z):\n    return np.asarray(z) * (np.asarray(z) > 0)\n",
    "def neuron(x, w, b, activation):\n    return float(activation(np.inner(w, x) + b))\n",
    "def dense(x, W, b, activation):\n    return activation(np.tensordot(x, W, axes=([-1], [1])) + b)\n",
    "def forward(x, layers):\n    for W, b, activation in layers:\n        x = dense(x, W, b, activation)\n    return x\n",
    "def count_connections(layer_sizes):\n    return sum(map(operator.mul, layer_sizes, layer_sizes[1:]))\n",
    "def count_parameters(layer_sizes):\n    return count_connections(layer_sizes) + sum(layer_sizes[1:])\n",
    "import numpy as np\nimport operator\n",
]

COLAB_AND_MAGICS = [
    "from google.colab import drive\ndrive.mount('/content/drive')",
    "%matplotlib inline\n!pip install x",
    "!pip install --quiet some-package\nimport sys\nprint(sys.version)",
    "%%time\ntotal = sum(range(10))",
    "raise ValueError('an experiment that does not work yet')",
    "print(undefined_variable)",
    "%%capture\nprint('hidden')",
]

NN_NOISE_DEFINITIONS = {
    # a definition inside a cell magic whose body runs (%%time)
    "relu": "%%time\ndef relu(z):\n    return np.maximum(z, 0.0)\n",
}

NN_ALTERNATIVES = {
    "loops": lambda out: variant(NN_REFERENCE, out, NN_LOOPS, after_imports=["import math"]),
    "vectorised": lambda out: variant(
        NN_REFERENCE,
        out,
        NN_VECTORISED,
        after_imports=["import functools\nfrom numpy.lib.stride_tricks import sliding_window_view"],
    ),
    "torch_inside": lambda out: variant(
        NN_REFERENCE, out, NN_TORCH, after_imports=["import torch\nimport torch.nn.functional as F"]
    ),
    "float32": lambda out: variant(NN_REFERENCE, out, NN_FLOAT32),
    "helpers_and_aliases": lambda out: variant(NN_REFERENCE, out, NN_HELPERS),
    "many_cells": lambda out: write_notebook(out, NN_MANY_CELLS, assignment="nn_basics"),
    "colab_magics_and_failing_cells": lambda out: variant(
        NN_REFERENCE,
        out,
        NN_NOISE_DEFINITIONS,
        after_imports=COLAB_AND_MAGICS,
        at_end=[
            "%matplotlib inline\nimport matplotlib.pyplot as plt\nplt.plot([1, 2])",
            "del step_undefined",
        ],
    ),
}

# ==== cnn ========================================================================================
CNN_LOOPS = {
    "conv_output_size": """def conv_output_size(n, kernel_size, padding="valid", stride=1):
    if padding == "valid":
        p = 0
    elif padding == "same":
        p = kernel_size - 1
    else:
        p = 2 * padding
    return math.floor((n + p - kernel_size) / stride) + 1
""",
    "conv2d": """def conv2d(x, kernel, padding="valid", stride=1):
    H, W = len(x), len(x[0])
    KH, KW = len(kernel), len(kernel[0])
    if padding == "valid":
        top = left = bottom = right = 0
    elif padding == "same":
        top, left = (KH - 1) // 2, (KW - 1) // 2
        bottom, right = KH - 1 - top, KW - 1 - left
    else:
        top = left = bottom = right = padding
    PH, PW = H + top + bottom, W + left + right
    padded = [[0.0] * PW for _ in range(PH)]
    for r in range(H):
        for c in range(W):
            padded[r + top][c + left] = float(x[r][c])
    out_h, out_w = (PH - KH) // stride + 1, (PW - KW) // stride + 1
    out = np.zeros((out_h, out_w))
    for i in range(out_h):
        for j in range(out_w):
            total = 0.0
            for u in range(KH):
                for v in range(KW):
                    total += padded[i * stride + u][j * stride + v] * kernel[u][v]
            out[i, j] = total
    return out
""",
    # the common route: a sum of single-channel convolutions, one per (output, input) channel pair
    "conv2d_layer": """def conv2d_layer(x, weight, bias=None, padding="valid", stride=1):
    x = np.asarray(x, dtype=float)
    if x.ndim == 3:
        return conv2d_layer(x[np.newaxis], weight, bias, padding, stride)[0]
    outputs = []
    for example in x:
        channels = []
        for o in range(weight.shape[0]):
            acc = 0
            for c in range(weight.shape[1]):
                acc = acc + conv2d(example[c], weight[o, c], padding, stride)
            if bias is not None:
                acc = acc + bias[o]
            channels.append(acc)
        outputs.append(channels)
    return np.array(outputs)
""",
    "max_pool2d": """def max_pool2d(x, kernel_size=2, stride=None):
    stride = stride or kernel_size
    x = np.asarray(x, dtype=float)
    h, w = x.shape[-2], x.shape[-1]
    out_h, out_w = (h - kernel_size) // stride + 1, (w - kernel_size) // stride + 1
    out = np.empty(x.shape[:-2] + (out_h, out_w))
    for lead in np.ndindex(x.shape[:-2]):
        for i in range(out_h):
            for j in range(out_w):
                best = -math.inf
                for u in range(kernel_size):
                    for v in range(kernel_size):
                        best = max(best, x[lead + (i * stride + u, j * stride + v)])
                out[lead + (i, j)] = best
    return out
""",
    "conv2d_params": """def conv2d_params(in_channels, out_channels, kernel_size, bias=True):
    total = 0
    for _ in range(out_channels):
        total += in_channels * kernel_size ** 2
        if bias:
            total += 1
    return total
""",
    "linear_params": """def linear_params(in_features, out_features, bias=True):
    return in_features * out_features + bias * out_features
""",
}

PADS = """def pads(kh, kw, padding):
    \"\"\"((top, bottom), (left, right)) zeros; 'same' puts the smaller half first.\"\"\"
    if padding == "valid":
        return (0, 0), (0, 0)
    if padding == "same":
        return ((kh - 1) // 2, kh // 2), ((kw - 1) // 2, kw // 2)
    return (padding, padding), (padding, padding)
"""

CNN_SLIDING = {
    "conv_output_size": """def conv_output_size(n, kernel_size, padding="valid", stride=1):
    total = sum(sum(p) for p in pads(kernel_size, kernel_size, padding)) // 2
    return int(np.floor((n + total - kernel_size) / stride)) + 1
""",
    "conv2d": """def conv2d(x, kernel, padding="valid", stride=1):
    kernel = np.asarray(kernel, dtype=float)
    padded = np.pad(np.asarray(x, dtype=float), pads(*kernel.shape, padding))
    windows = sliding_window_view(padded, kernel.shape)[::stride, ::stride]
    return np.einsum("ijkl,kl->ij", windows, kernel)
""",
    "conv2d_layer": """def conv2d_layer(x, weight, bias=None, padding="valid", stride=1):
    x = np.asarray(x, dtype=float)
    batch = x if x.ndim == 4 else x[np.newaxis]
    rows, cols = pads(*weight.shape[-2:], padding)
    padded = np.pad(batch, ((0, 0), (0, 0), rows, cols))
    windows = sliding_window_view(padded, weight.shape[-2:], axis=(2, 3))[:, :, ::stride, ::stride]
    out = np.einsum("ncijkl,ockl->noij", windows, weight)
    if bias is not None:
        out = out + np.asarray(bias)[:, None, None]
    return out if x.ndim == 4 else out[0]
""",
    "max_pool2d": """def max_pool2d(x, kernel_size=2, stride=None):
    s = kernel_size if stride is None else stride
    x = np.ascontiguousarray(x, dtype=float)
    h, w = x.shape[-2:]
    oh, ow = (h - kernel_size) // s + 1, (w - kernel_size) // s + 1
    sh, sw = x.strides[-2:]
    view = as_strided(x, x.shape[:-2] + (oh, ow, kernel_size, kernel_size),
                      x.strides[:-2] + (sh * s, sw * s, sh, sw), writeable=False)
    return view.max(axis=(-2, -1))
""",
}

CNN_IM2COL = {
    "conv2d": """def conv2d(x, kernel, padding="valid", stride=1):
    kernel = np.asarray(kernel, dtype=float)
    return conv2d_layer(np.asarray(x, dtype=float)[None], kernel[None, None], None, padding, stride)[0]
""",
    "conv2d_layer": """def conv2d_layer(x, weight, bias=None, padding="valid", stride=1):
    x, weight = np.asarray(x, dtype=float), np.asarray(weight, dtype=float)
    single = x.ndim == 3
    if single:
        x = x[None]
    n, c, h, w = x.shape
    o, _, kh, kw = weight.shape
    (t, b_), (l, r) = pads(kh, kw, padding)
    xp = np.pad(x, ((0, 0), (0, 0), (t, b_), (l, r)))
    oh, ow = (h + t + b_ - kh) // stride + 1, (w + l + r - kw) // stride + 1
    cols = np.empty((n, c, kh, kw, oh, ow))
    for u in range(kh):
        for v in range(kw):
            cols[:, :, u, v] = xp[:, :, u:u + stride * oh:stride, v:v + stride * ow:stride]
    out = (weight.reshape(o, -1) @ cols.reshape(n, c * kh * kw, oh * ow)).reshape(n, o, oh, ow)
    if bias is not None:
        out += np.asarray(bias, dtype=float).reshape(1, o, 1, 1)
    return out[0] if single else out
""",
}

CNN_TORCH = {
    "conv2d": """def conv2d(x, kernel, padding="valid", stride=1):
    x, kernel = np.asarray(x, dtype=float), np.asarray(kernel, dtype=float)
    return conv2d_layer(x[None], kernel[None, None], None, padding, stride)[0]
""",
    "conv2d_layer": """def conv2d_layer(x, weight, bias=None, padding="valid", stride=1):
    t = torch.as_tensor(np.asarray(x, dtype=float))
    w = torch.as_tensor(np.asarray(weight, dtype=float))
    (top, bottom), (left, right) = pads(w.shape[-2], w.shape[-1], padding)
    t = F.pad(t, (left, right, top, bottom))  # torch refuses padding='same' with a stride
    b = None if bias is None else torch.as_tensor(np.asarray(bias, dtype=float))
    return F.conv2d(t, w, b, stride=stride).numpy()
""",
    "max_pool2d": """def max_pool2d(x, kernel_size=2, stride=None):
    t = torch.as_tensor(np.asarray(x, dtype=float))
    flat = t.reshape(-1, 1, *t.shape[-2:])
    out = F.max_pool2d(flat, kernel_size, stride if stride is not None else kernel_size)
    return out.reshape(*t.shape[:-2], *out.shape[-2:]).numpy()
""",
    "CNN": """class CNN(nn.Module):
    def __init__(self, n_classes):
        super().__init__()
        channels = [1, 16, 32, 64, 128]
        for i in range(4):
            setattr(self, f"conv{i + 1}", nn.Conv2d(channels[i], channels[i + 1], 3, padding=1))
        self.pool = nn.MaxPool2d(kernel_size=2)
        self.fc = nn.Linear(channels[-1] * (64 // 2 ** 4) ** 2, n_classes)

    def forward(self, x):
        for i in range(1, 5):
            x = F.max_pool2d(F.relu(getattr(self, f"conv{i}")(x)), 2)
        return self.fc(x.view(x.size(0), -1))
""",
    "count_parameters": """def count_parameters(model):
    return int(sum(np.prod(p.shape) for p in filter(lambda p: p.requires_grad, model.parameters())))
""",
}

CNN_FLOAT32 = {
    "conv2d": """def conv2d(x, kernel, padding="valid", stride=1):
    kernel = np.asarray(kernel, dtype=np.float32)
    padded = np.pad(np.asarray(x, dtype=np.float32), pads(*kernel.shape, padding))
    windows = sliding_window_view(padded, kernel.shape)[::stride, ::stride]
    return np.einsum("ijkl,kl->ij", windows, kernel)
""",
    "conv2d_layer": """def conv2d_layer(x, weight, bias=None, padding="valid", stride=1):
    x, weight = np.asarray(x, dtype=np.float32), np.asarray(weight, dtype=np.float32)
    batch = x if x.ndim == 4 else x[np.newaxis]
    rows, cols = pads(*weight.shape[-2:], padding)
    windows = sliding_window_view(np.pad(batch, ((0, 0), (0, 0), rows, cols)), weight.shape[-2:], axis=(2, 3))
    out = np.einsum("ncijkl,ockl->noij", windows[:, :, ::stride, ::stride], weight)
    if bias is not None:
        out = out + np.asarray(bias, dtype=np.float32)[:, None, None]
    return out if x.ndim == 4 else out[0]
""",
    "max_pool2d": """def max_pool2d(x, kernel_size=2, stride=None):
    x = np.asarray(x, dtype=np.float32)
    windows = sliding_window_view(x, (kernel_size, kernel_size), axis=(-2, -1))
    s = stride or kernel_size
    return windows[..., ::s, ::s, :, :].max(axis=(-2, -1))
""",
}

CNN_MANY_CELLS_CLASS = """class CNN(nn.Module):
    def __init__(self, n_classes):
        super().__init__()
        self.conv1 = conv3x3(1, 16)
        self.conv2 = conv3x3(16, 32)
        self.conv3 = conv3x3(32, 64)
        self.conv4 = conv3x3(64, 128)
        self.pool = nn.MaxPool2d(2, 2)
        self.fc = nn.Linear(FLAT_FEATURES, n_classes)

    forward = cnn_forward
"""

CNN_ALTERNATIVES = {
    "loops": lambda out: variant(CNN_REFERENCE, out, CNN_LOOPS, after_imports=["import math"]),
    "sliding_window_einsum_as_strided": lambda out: variant(
        CNN_REFERENCE,
        out,
        CNN_SLIDING,
        after_imports=["from numpy.lib.stride_tricks import sliding_window_view, as_strided", PADS],
    ),
    "im2col": lambda out: variant(CNN_REFERENCE, out, CNN_IM2COL, after_imports=[PADS]),
    "torch_inside": lambda out: variant(
        CNN_REFERENCE,
        out,
        CNN_TORCH,
        after_imports=["import torch\nimport torch.nn as nn\nimport torch.nn.functional as F", PADS],
    ),
    "float32": lambda out: variant(
        CNN_REFERENCE,
        out,
        CNN_FLOAT32,
        after_imports=["from numpy.lib.stride_tricks import sliding_window_view", PADS],
    ),
    "many_cells_colab_and_magics": lambda out: variant(
        CNN_REFERENCE,
        out,
        {"CNN": CNN_MANY_CELLS_CLASS},
        after_imports=[
            *COLAB_AND_MAGICS,
            "!pip install torch torchvision",
            "import torch\nimport torch.nn as nn\n\n\ndef conv3x3(c_in, c_out):\n"
            "    return nn.Conv2d(c_in, c_out, kernel_size=3, padding='same')\n",
            "FLAT_FEATURES = 128 * (64 // 16) ** 2",
            "def cnn_forward(self, x):\n    for conv in (self.conv1, self.conv2, self.conv3, self.conv4):\n"
            "        x = self.pool(torch.relu(conv(x)))\n    return self.fc(torch.flatten(x, 1))\n",
        ],
        at_end=[
            "%%time\nmodel = CNN(11)\nprint(model)",
            "from google.colab import files\nfiles.download('x')",
        ],
    ),
}

ALTERNATIVES = {("nn_basics", name): build for name, build in NN_ALTERNATIVES.items()}
ALTERNATIVES |= {("cnn", name): build for name, build in CNN_ALTERNATIVES.items()}


# ==== grading ====================================================================================
@pytest.fixture(scope="module")
def graded(tmp_path_factory, batch_graded):
    """Every alternative's results (each assignment's written into one folder, graded as a batch);
    ``build`` makes a notebook graded on its own."""
    workdir = tmp_path_factory.mktemp("alternatives")
    paths = {}
    for (assignment, name), maker in ALTERNATIVES.items():
        (workdir / assignment).mkdir(exist_ok=True)
        paths[(assignment, name)] = maker(workdir / assignment / f"{name}.ipynb")

    def get(assignment: str, name: str, build=None) -> GradingResults:
        if build is not None:
            return grade_valid(build(workdir / f"{assignment}-{name}.ipynb"), assignment)
        return batch_graded(paths[(assignment, name)], assignment)

    return get


def failing(results: GradingResults) -> dict[str, str]:
    """The failing tests by name; a grading that ran no test fails here (an empty {} proves nothing)."""
    assert results.tests, results.output
    return {t.name: t.output for t in results.tests if t.status != "passed"}


@pytest.mark.parametrize("assignment, name", sorted(ALTERNATIVES))
def test_a_correct_alternative_solution_gets_full_marks(graded, assignment, name):
    results = graded(assignment, name)
    assert failing(results) == {}
    assert results.score == results.max_score > 0


def test_colab_cells_and_magics_run_or_are_reported_but_cost_nothing(graded):
    results = graded("nn_basics", "colab_magics_and_failing_cells")
    assert "google" not in results.output  # google.colab imports as an inert stand-in
    assert "raised ValueError: an experiment that does not work yet" in results.output
    assert "NameError" in results.output


# ==== the tolerance policy =======================================================================
OFF_BY = """def sigmoid(z):
    z = np.asarray(z, dtype=float)
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e)) * (1 + {relative})
"""


def test_the_tolerance_is_the_documented_one():
    assert (RTOL, ATOL) == (1e-5, 1e-7)
    policy = (Path(__file__).resolve().parent.parent / "docs" / "validity.md").read_text(encoding="utf-8")
    assert "RTOL = 1e-5" in policy and "ATOL = 1e-7" in policy


@pytest.mark.parametrize("assignment", ["nn_basics", "cnn"])
def test_float32_arithmetic_is_accepted(graded, assignment):
    results = graded(assignment, "float32")
    assert results.tests and results.score == results.max_score > 0


def test_a_sigmoid_off_by_a_relative_1e_6_passes(graded, tmp_path):
    path = replace_function(NN_REFERENCE, "sigmoid", OFF_BY.format(relative="1e-6"), tmp_path / "close.ipynb")
    results = graded("nn_basics", "off_by_1e-6", lambda out: path)
    assert failing(results) == {}
    assert results.score == results.max_score > 0


def test_a_sigmoid_off_by_a_relative_1e_3_fails(graded, tmp_path):
    path = replace_function(NN_REFERENCE, "sigmoid", OFF_BY.format(relative="1e-3"), tmp_path / "off.ipynb")
    results = graded("nn_basics", "off_by_1e-3", lambda out: path)
    lost = {f: points for f, points in by_function(results).items() if points}
    # neuron's test 5.5 passes the student's own sigmoid: a neuron consistent with it is not blamed
    assert list(lost) == ["sigmoid"] and lost["sigmoid"] >= 2.0, lost
    sigmoid_failures = [t for t in results.tests if t.function == "sigmoid" and t.status != "passed"]
    assert all("sigmoid returned the wrong values." in t.output for t in sigmoid_failures)

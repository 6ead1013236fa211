"""Independent NumPy answers for the cnn assignment, computed in the grading process.

Written differently from the reference notebook on purpose: padding is explicit (``np.pad``), all
windows are taken at once with ``sliding_window_view`` and contracted with ``tensordot``, and the
stride is a slice of the stride-1 result. ``tests/test_cnn_oracle.py`` proves these functions equal
``torch.nn.functional`` on many seeded cases. Never import torch here.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from grader.testing import conv_output_size, pad_widths

CHANNELS = (1, 16, 32, 64, 128)
IMAGE = 64


# ---- sizes -------------------------------------------------------------------------------------
def rounded_output_size(n: int, kernel_size: int, padding="valid", stride: int = 1) -> int:
    """What round() instead of floor gives (Python rounds halves to even)."""
    before, after = pad_widths(kernel_size, padding)
    return round((n + before + after - kernel_size) / stride) + 1


def ceil_output_size(n: int, kernel_size: int, padding="valid", stride: int = 1) -> int:
    before, after = pad_widths(kernel_size, padding)
    return -(-(n + before + after - kernel_size) // stride) + 1


# ---- convolution -------------------------------------------------------------------------------
def _padded(x: np.ndarray, kh: int, kw: int, padding, larger_first: bool = False, pads=None) -> np.ndarray:
    rows, cols = pads if pads is not None else (pad_widths(kh, padding), pad_widths(kw, padding))
    if larger_first:
        rows, cols = rows[::-1], cols[::-1]
    return np.pad(x, [(0, 0)] * (x.ndim - 2) + [tuple(rows), tuple(cols)])


def conv2d_layer(x, weight, bias=None, padding="valid", stride=1, *, strides=None, larger_first=False, pads=None):
    """torch.nn.functional.conv2d for (C, H, W) or (N, C, H, W); 'same' also with a stride.

    ``strides=(sh, sw)``, ``larger_first`` and ``pads=((top, bottom), (left, right))`` give the
    answers of common mistakes.
    """
    x = np.asarray(x, dtype=np.float64)
    weight = np.asarray(weight, dtype=np.float64)
    batch = x if x.ndim == 4 else x[np.newaxis]
    kh, kw = weight.shape[-2:]
    windows = sliding_window_view(_padded(batch, kh, kw, padding, larger_first, pads), (kh, kw), axis=(2, 3))
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
def pooled_ceil_size(n: int, kernel_size: int, stride: int) -> int:
    """Windows in ceil mode (PyTorch): incomplete ones kept, but none may start past the input."""
    size = ceil_output_size(n, kernel_size, "valid", stride)
    return size - 1 if (size - 1) * stride >= n else size


def max_pool2d(x, kernel_size=2, stride=None, *, ceil=False, reduce=np.max):
    """Pooling over the last two axes; floor mode unless ``ceil`` (incomplete windows kept)."""
    x = np.asarray(x, dtype=np.float64)
    stride = kernel_size if stride is None else stride
    if ceil:
        h, w = x.shape[-2:]
        extra_h = max((pooled_ceil_size(h, kernel_size, stride) - 1) * stride + kernel_size - h, 0)
        extra_w = max((pooled_ceil_size(w, kernel_size, stride) - 1) * stride + kernel_size - w, 0)
        x = np.pad(x, [(0, 0)] * (x.ndim - 2) + [(0, extra_h), (0, extra_w)], constant_values=-np.inf)
    windows = sliding_window_view(x, (kernel_size, kernel_size), axis=(-2, -1))
    return reduce(windows[..., ::stride, ::stride, :, :], axis=(-2, -1))


def avg_pool2d(x, kernel_size=2, stride=None):
    return max_pool2d(x, kernel_size, stride, reduce=np.mean)


def max_pool2d_every_start(x, kernel_size=2, stride=None):
    """A window at every start in range(0, n, stride), cut short at the edges (a common mistake)."""
    x = np.asarray(x, dtype=np.float64)
    s = kernel_size if stride is None else stride
    h, w = x.shape[-2:]
    extra_h = (len(range(0, h, s)) - 1) * s + kernel_size - h
    extra_w = (len(range(0, w, s)) - 1) * s + kernel_size - w
    x = np.pad(x, [(0, 0)] * (x.ndim - 2) + [(0, max(extra_h, 0)), (0, max(extra_w, 0))], constant_values=-np.inf)
    windows = sliding_window_view(x, (kernel_size, kernel_size), axis=(-2, -1))
    return np.max(windows[..., ::s, ::s, :, :], axis=(-2, -1))


def relu(z):
    return np.maximum(z, 0.0)


# ---- counting ----------------------------------------------------------------------------------
def conv2d_params(c_in: int, c_out: int, k: int, bias: bool = True) -> int:
    return c_out * (c_in * k**2 + (1 if bias else 0))


def linear_params(n_in: int, n_out: int, bias: bool = True) -> int:
    return n_out * (n_in + (1 if bias else 0))


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


def cnn_forward(state: dict[str, np.ndarray], x, *, activation=relu, pool=max_pool2d) -> np.ndarray:
    """CNN's forward pass; ``activation`` and ``pool`` give the answers of common mistakes."""
    h = np.asarray(x, dtype=np.float64)
    for i in range(1, 5):
        h = conv2d_layer(h, state[f"conv{i}.weight"], state[f"conv{i}.bias"], "same")
        h = pool(activation(h), 2)
    h = h.reshape(h.shape[0], -1)
    return h @ np.asarray(state["fc.weight"], dtype=np.float64).T + np.asarray(state["fc.bias"], dtype=np.float64)


# ---- the slides' worked example ----------------------------------------------------------------
def diagonal_pattern(n: int) -> np.ndarray:
    """+1 on the main diagonal, -1 elsewhere."""
    return 2.0 * np.eye(n) - 1.0


# ---- words for students ------------------------------------------------------------------------
FLIPPED = ("the kernel is flipped on both axes, which is convolution in the signal-processing sense. "
           "Layers in deep learning (and the slides) slide the kernel over the input as it is (cross-correlation).")
WRONG_SIDE = ("the larger half of the zeros went on top and on the left. For an even kernel, 'same' pads K − 1 "
              "zeros in total: the smaller half, (K − 1) // 2, on top/left and the rest at the bottom/right "
              "(PyTorch's convention).")
HALF_EACH_SIDE = ("'same' padding puts K // 2 zeros on every side; for an even kernel that is K zeros in total, one "
                  "too many: 'same' pads K − 1 in total, (K − 1) // 2 on top/left and the rest at the bottom/right.")
NO_BIAS = "the bias is not added: add bias[o] to every position of output channel o."


def conv_mistakes(x, weight, bias=None, padding="valid", stride=1) -> dict[str, np.ndarray]:
    """The answers of common conv2d_layer mistakes for this call, for ``likely``: each is named only
    when the student's answer equals it."""
    kh, kw = np.shape(weight)[-2:]
    args = (x, weight, bias, padding, stride)
    rows, cols = pad_widths(kh, padding), pad_widths(kw, padding)
    want = conv2d_layer(*args)
    likely = {FLIPPED: conv2d_layer(x, np.asarray(weight)[..., ::-1, ::-1], bias, padding, stride)}
    if bias is not None:
        likely[NO_BIAS] = conv2d_layer(x, weight, None, padding, stride)
    if padding == "same":
        if kh % 2 == 0 or kw % 2 == 0:
            likely[WRONG_SIDE] = conv2d_layer(*args, larger_first=True)
            likely[HALF_EACH_SIDE] = conv2d_layer(*args, pads=((kh // 2, kh // 2), (kw // 2, kw // 2)))
        if max(kh, kw) > 2:
            likely["'same' padding is K − 1 zeros in total (about (K − 1) / 2 per side), not K − 1 per side."] = \
                conv2d_layer(*args, pads=((kh - 1, kh - 1), (kw - 1, kw - 1)))
        if kh != kw:
            likely["the columns are padded as if the kernel were KH wide: 'same' pads KW − 1 columns in total."] = \
                conv2d_layer(*args, pads=(rows, pad_widths(kh, "same")))
            likely["the rows are padded as if the kernel were KW high: 'same' pads KH − 1 rows in total."] = \
                conv2d_layer(*args, pads=(pad_widths(kw, "same"), cols))
    if padding != "valid" and sum(rows) + sum(cols) > 0:
        likely["the padding is missing."] = conv2d_layer(x, weight, bias, "valid", stride)
    if isinstance(padding, int) and not isinstance(padding, bool) and padding > 0:
        one_side = f"the padding is added on one side only; pad {padding} zeros on every side."
        likely[one_side] = conv2d_layer(*args, pads=((padding, 0), (padding, 0)))
        likely[one_side + " "] = conv2d_layer(*args, pads=((0, padding), (0, padding)))
    if stride > 1:
        likely["the stride is ignored: step the window by `stride` rows and `stride` columns."] = \
            conv2d_layer(x, weight, bias, padding, 1)
        likely["the stride is applied to the rows but not to the columns."] = conv2d_layer(*args, strides=(stride, 1))
        likely["the stride is applied to the columns but not to the rows."] = conv2d_layer(*args, strides=(1, stride))
    if want.shape[-1] > 1 and want.shape[-2] > 1:
        likely["the + 1 is missing: the output lacks its last row and column; its size is floor((n + P − k) / s) + 1."] = \
            want[..., :-1, :-1]
    return likely


def conv2d_mistakes(x, kernel, padding="valid", stride=1) -> dict[str, np.ndarray]:
    """conv_mistakes for one channel: x (H, W), kernel (KH, KW)."""
    x, kernel = np.asarray(x, dtype=np.float64), np.asarray(kernel, dtype=np.float64)
    return {text: value[0] for text, value in conv_mistakes(x[np.newaxis], kernel[np.newaxis, np.newaxis], None,
                                                             padding, stride).items()}


def pool_mistakes(x, kernel_size=2, stride=None) -> dict[str, np.ndarray]:
    """The answers of common max_pool2d mistakes for this call, for ``likely``."""
    s = kernel_size if stride is None else stride
    likely = {"the windows are averaged; max pooling keeps the largest value of each window.":
                  avg_pool2d(x, kernel_size, stride),
              "the largest absolute value is kept; keep the largest value (negative values stay negative).":
                  max_pool2d(np.abs(x), kernel_size, stride),
              "negative values are replaced by 0; max pooling does not apply a ReLU.":
                  np.maximum(max_pool2d(x, kernel_size, stride), 0)}
    keeps = ("incomplete windows at the bottom or right edge are kept (ceil mode); drop them, as "
             "torch.nn.functional.max_pool2d does by default.")
    likely[keeps] = max_pool2d(x, kernel_size, stride, ceil=True)
    likely[keeps + " "] = max_pool2d_every_start(x, kernel_size, stride)
    if stride is None and kernel_size > 1:
        likely["the windows move one step at a time; when stride is None it equals kernel_size."] = \
            max_pool2d(x, kernel_size, 1)
    elif s != kernel_size:
        likely[f"the stride is ignored: the windows step by kernel_size instead of stride = {s}."] = \
            max_pool2d(x, kernel_size, kernel_size)
    return likely


def size_mistakes(n: int, k: int, padding, stride: int, ruled_out=frozenset()) -> dict[str, int]:
    """Answers of common conv_output_size mistakes, for ``likely``; ``ruled_out``: mistakes an
    earlier case the student got right has shown they did not make."""
    return merged({text: value for text, value in raw_size_mistakes(n, k, padding, stride).items()
                   if text not in ruled_out})


def raw_size_mistakes(n: int, k: int, padding, stride: int) -> dict[str, int]:
    likely = {
        # First: the most common slip, named first where another mistake gives the same answer.
        "the + 1 is missing: floor((n + P − k) / s) counts the steps after the first window, which counts too.":
            conv_output_size(n, k, padding, stride) - 1,
        "the division by the stride is rounded; round down instead (floor, `//`).":
            rounded_output_size(n, k, padding, stride),
        "the division by the stride is rounded up; round down instead (floor, `//`).":
            ceil_output_size(n, k, padding, stride),
        "the stride is ignored.": conv_output_size(n, k, padding, 1),
    }
    if padding not in ("valid", "same"):
        zeros = "1 zero is" if padding == 1 else f"{padding} zeros are"
        likely[f"the padding is counted once; {zeros} added on each side, 2p in total."] = \
            (n + padding - k) // stride + 1
    if padding == "same":
        if k % 2 == 0:
            likely["'same' padding puts k // 2 zeros on each side: for an even kernel that is k zeros in total, "
                   "one too many; 'same' pads k − 1 in total."] = (n + 2 * (k // 2) - k) // stride + 1
        if k - 1 != k // 2:
            likely["'same' padding is k − 1 zeros in total (about (k − 1) / 2 per side), not k − 1 per side."] = \
                (n + 2 * (k - 1) - k) // stride + 1
        if k % 2 == 0:
            likely["(k − 1) // 2 zeros on each side is one too few for an even kernel: 'same' pads k − 1 "
                   "in total, (k − 1) // 2 before and the rest after."] = (n + 2 * ((k - 1) // 2) - k) // stride + 1
    before, after = pad_widths(k, padding)
    likely["`/` does not round: an output size is a whole number, floor((n + P − k) / s) + 1; use `//` "
           "(in Python 3, / always gives a float)."] = (n + before + after - k) / stride + 1
    return likely


def merged(likely: dict) -> dict:
    """One entry per answer: mistakes that give the same answer here are all named."""
    texts: dict = {}
    for text, value in likely.items():
        texts.setdefault(value, []).append(text)
    return {" Or: ".join(group): value for value, group in texts.items()}


def _pad_text(kernel_size: int, padding, axis: str) -> str:
    total = sum(pad_widths(kernel_size, padding))
    if padding == "same":
        return f"P = {total} (for 'same', {axis} − 1 zeros in total)"
    if padding == "valid":
        return "P = 0 ('valid')"
    return f"P = {total} ({padding} zero{'' if padding == 1 else 's'} on each side)"


def size_formula(n: int, kernel_size: int, padding, stride: int, axis: str = "k", n_name: str = "n") -> str:
    """The output-size formula with this call's numbers, e.g. floor((7 + 2 − 3) / 2) + 1 = 4."""
    total = sum(pad_widths(kernel_size, padding))
    value = conv_output_size(n, kernel_size, padding, stride)
    return (f"floor(({n_name} + P − {axis}) / s) + 1 = floor(({n} + {total} − {kernel_size}) / {stride}) + 1 = {value}, "
            f"with {_pad_text(kernel_size, padding, axis)}")


def conv_shape_hint(h: int, w: int, kh: int, kw: int, padding, stride: int) -> str:
    """A shape_hint for convolutions: the formula with this call's numbers. A shape alone names no
    mistake (several give the same shape); the values do, through ``conv_mistakes``. Wrong leading
    axes (batch, channels) are named by the feedback itself, before this."""
    return "\n".join(["The output size along each axis is floor((n + P − k) / s) + 1, where P is the total padding:",
                      f"  rows:    {size_formula(h, kh, padding, stride, 'KH', 'H')}",
                      f"  columns: {size_formula(w, kw, padding, stride, 'KW', 'W')}"])


def pool_shape_hint(h: int, w: int, kernel_size: int, stride, lead: tuple = ()) -> str:
    """The pooled size with this call's numbers; the mistake is named from the values (``pool_mistakes``)."""
    s = kernel_size if stride is None else stride
    want = (conv_output_size(h, kernel_size, "valid", s), conv_output_size(w, kernel_size, "valid", s))
    lines = [f"With kernel_size k = {kernel_size} and stride s = {s}"
             + (" (the default: s = kernel_size)" if stride is None else "")
             + ", only complete windows count: floor((n − k) / s) + 1.",
             f"  rows:    floor(({h} − {kernel_size}) / {s}) + 1 = {want[0]}",
             f"  columns: floor(({w} − {kernel_size}) / {s}) + 1 = {want[1]}"]
    if lead:
        lines.append(f"Pool each channel on its own: the leading axes {tuple(lead)} stay as they are.")
    return "\n".join(lines)


def raise_notes(h: int, w: int, kh: int, kw: int, padding, stride: int,
                leads=(((), ()),)) -> list[tuple[tuple[str, ...], str]]:
    """What a convolution that raised probably got wrong, for ``on_raise``: (words of the error,
    note), in the order they are tried, for this call's sizes. Written out as words rather than
    read from the error so that the notebook's self-check adds the same note. ``leads``: the axes
    before the last two of a window and of the kernel it may be multiplied with (a layer's window
    (C_in, KH, KW) and its kernel (C_in, KH, KW) or whole weight (C_out, C_in, KH, KW))."""
    formula = ("The output size along each axis is floor((n + P − k) / s) + 1, where P is the total padding:\n"
               f"  rows:    {size_formula(h, kh, padding, stride, 'KH', 'H')}\n"
               f"  columns: {size_formula(w, kw, padding, stride, 'KW', 'W')}")
    notes = [(("cannot be interpreted as an integer", "slice indices must be integers"),
              "Likely mistake: a size or an index computed with `/` is a float; use `//` (floor division), "
              "which also rounds down as the output-size formula requires.\n" + formula)]
    rows = h + sum(pad_widths(kh, padding)) - kh
    cols = w + sum(pad_widths(kw, padding)) - kw
    for name, span, axis in (("H + P − KH", rows, "rows"), ("W + P − KW", cols, "columns")):
        if span % stride:
            notes.append((("AssertionError",),
                          f"Note: here {name} = {span} is not a multiple of the stride {stride}. That is allowed: "
                          f"the {axis} where the window no longer fits are left out (floor), so no assert is needed.\n"
                          + formula))
            break

    def multiplied(windows) -> tuple[str, ...]:
        """numpy's words for each (a, b) window multiplied with the kernel, in either order."""
        def shape(lead, a, b):
            return "(" + ",".join(str(n) for n in (*lead, a, b)) + ")"

        words = []
        for window_lead, kernel_lead in leads:
            kernel_shape = shape(kernel_lead, kh, kw)
            for a, b in windows:
                window = shape(window_lead, a, b)
                words += [f"shapes {window} {kernel_shape}", f"shapes {kernel_shape} {window}"]
        return tuple(words)

    kernel, side = (kh, kw), max(kh, kw)
    if kh != kw:
        notes.append((multiplied([(kw, kh)]),
                      f"Likely mistake: the window taken from the input is {(kw, kh)}, the kernel {kernel}: its rows "
                      "and columns are swapped; take x[r:r + KH, c:c + KW].\n" + formula))
    for axis, windows in (("rows", [(a, b) for a in range(kh) for b in range(side + 1)]),
                          ("columns", [(a, b) for a in range(kh, side + 1) for b in range(kw) if (a, b) != (kw, kh)])):
        notes.append((multiplied(windows),
                      f"Multiplied with the {kernel} kernel, the window has too few {axis}. A window cut short at "
                      "the edge of the input (an output larger than complete windows allow) or a slice sized with the "
                      "other side of the kernel does this.\n" + formula))
    notes.append((("could not be broadcast", "operands"), formula))
    return notes

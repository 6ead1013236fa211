"""Output sizes of convolutions and pooling, and ``shape_hint``s that show the formula worked out.

A wrong shape alone names no mistake (several mistakes give the same shape), so these hints only
show the formula with the call's own numbers; naming a mistake is left to ``likely``, which
compares values.

    expect(student.conv1d, x, k).to_equal(want, shape_hint=conv_shape_hint(x.shape, k.shape))
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

Padding = str | int  # "valid", "same" or zeros on each side
Shape = tuple[int, ...]


def pad_widths(kernel_size: int, padding: Padding = "valid") -> tuple[int, int]:
    """Zeros before and after along one axis; 'same' puts the smaller half first (as PyTorch does)."""
    if padding == "valid":
        return 0, 0
    if padding == "same":
        total = kernel_size - 1
        return total // 2, total - total // 2
    return int(padding), int(padding)


def conv_output_size(n: int, kernel_size: int, padding: Padding = "valid", stride: int = 1) -> int:
    """floor((n + P − k) / s) + 1, P the total padding."""
    before, after = pad_widths(kernel_size, padding)
    return (n + before + after - kernel_size) // stride + 1


def pool_output_size(n: int, kernel_size: int, stride: int | None = None) -> int:
    """Complete windows only; the stride defaults to the window size."""
    return conv_output_size(n, kernel_size, "valid", kernel_size if stride is None else stride)


def size_formula(n: int, kernel_size: int, padding: Padding = "valid", stride: int = 1) -> str:
    """The formula with these numbers, e.g. ``floor((7 + 2 − 3) / 2) + 1 = 4``."""
    total = sum(pad_widths(kernel_size, padding))
    value = conv_output_size(n, kernel_size, padding, stride)
    return f"floor(({n} + {total} − {kernel_size}) / {stride}) + 1 = {value}"


_AXES = {1: ("length",), 2: ("rows", "columns"), 3: ("depth", "rows", "columns")}


def _lines(
    sizes: Sequence[int], kernel: Sequence[int], padding: Padding, strides: Sequence[int]
) -> list[str]:
    names = _AXES.get(len(sizes), tuple(f"axis {i}" for i in range(len(sizes))))
    width = max(len(n) for n in names) + 1
    return [
        f"  {name + ':':<{width}} {size_formula(n, k, padding, s)}"
        for name, n, k, s in zip(names, sizes, kernel, strides)
    ]


def conv_shape_hint(
    input_shape: Sequence[int],
    kernel_shape: Sequence[int],
    padding: Padding = "valid",
    stride: int = 1,
) -> Callable[[Shape], str]:
    """A ``shape_hint`` for a 1-D or 2-D convolution: ``input_shape`` and ``kernel_shape`` are the
    spatial sizes only (``(n,)`` and ``(k,)``, or ``(h, w)`` and ``(kh, kw)``). Wrong leading axes
    (batch, channels) are named by the feedback itself."""
    sizes, kernel = tuple(input_shape), tuple(kernel_shape)

    def hint(got: Shape) -> str:
        lines = [
            "The output size along each axis is floor((n + P − k) / s) + 1, P the total padding:",
            *_lines(sizes, kernel, padding, [stride] * len(sizes)),
        ]
        return "\n".join(lines)

    return hint


def pool_shape_hint(
    input_shape: Sequence[int], kernel_size: int, stride: int | None = None
) -> Callable[[Shape], str]:
    """A ``shape_hint`` for 1-D or 2-D pooling over square windows of ``kernel_size``."""
    sizes = tuple(input_shape)
    s = kernel_size if stride is None else stride

    def hint(got: Shape) -> str:
        default = " (the default: s = kernel_size)" if stride is None else ""
        lines = [
            f"With kernel_size k = {kernel_size} and stride s = {s}{default}, only complete windows count:",
            *_lines(sizes, [kernel_size] * len(sizes), "valid", [s] * len(sizes)),
        ]
        return "\n".join(lines)

    return hint

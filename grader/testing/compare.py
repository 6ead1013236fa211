"""Comparing a decoded answer with an expected one, and the words for how it differs.

Tolerance: see docs/validity.md. Answers within ``rtol=1e-5`` relative or ``atol=1e-7`` absolute
pass element by element, which admits float32 arithmetic and any summation order for elementwise
results but not a formula that is slightly off.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from ..sandbox.wire.values import Value
from .structure import first_mismatch

RTOL = 1e-5
ATOL = 1e-7


def close(got: np.ndarray, expected: np.ndarray, rtol: float, atol: float) -> bool:
    if got.shape != expected.shape:
        return False
    with np.errstate(all="ignore"):
        return bool(np.allclose(got, expected, rtol=rtol, atol=atol, equal_nan=True))


def as_array(value: Value) -> np.ndarray | None:
    """The numbers in a returned value: arrays and scalars, or lists of them of one shape."""
    if value.array is not None:
        return value.array
    if value.kind == "sequence" and value.items:
        parts = [part for item in value.items if (part := as_array(item)) is not None]
        if len(parts) == len(value.items) and len({p.shape for p in parts}) == 1:
            return np.stack(parts).astype(np.float64)
    return None


def leaf_test(rtol: float, atol: float) -> Callable[[Value, Any], bool]:
    def equal(value: Value, expected: Any) -> bool:
        got = as_array(value)
        return got is not None and close(got, np.asarray(expected, dtype=np.float64), rtol, atol)

    return equal


def matches(
    value: Value, expected: Any, rtol: float = RTOL, atol: float = ATOL, names: Sequence[str] | None = None
) -> bool:
    """Whether a decoded answer equals ``expected`` (a number, an array, or a structure of them)."""
    try:
        return first_mismatch(value, expected, leaf_test(rtol, atol), names) is None
    except (ValueError, TypeError):  # an expected value that is not numbers
        return False


def first_difference(got: np.ndarray, want: np.ndarray, rtol: float, atol: float) -> str:
    """Where a larger answer goes wrong, so a student need not compare walls of numbers."""
    if want.size <= 6:
        return ""
    with np.errstate(all="ignore"):
        wrong = ~np.isclose(got, want, rtol=rtol, atol=atol, equal_nan=True)
    index = tuple(int(i) for i in np.argwhere(wrong)[0])
    return (
        f"{int(wrong.sum())} of {want.size} values differ; the first at index {index}: "
        f"expected {want[index]:.6g}, got {got[index]:.6g}."
    )


def matching(got: np.ndarray, rtol: float, atol: float, likely: Mapping[str, Any]) -> list[str]:
    """The mistakes whose answers the student's answer reproduces (at most the three a message names)."""
    found: list[str] = []
    for message, alternative in likely.items():
        alt = np.asarray(alternative, dtype=np.float64)
        if close(got, alt, rtol, atol) and message.strip() not in found:
            found.append(message.strip())
    return found[:3]


def likely_text(found: Sequence[str]) -> str:
    if not found:
        return ""
    return "Likely mistake: " + found[0] + "".join(f"\nOr: {text}" for text in found[1:3])


def observed(got: np.ndarray, want: np.ndarray, rtol: float, atol: float) -> str:
    """What a wrong answer has in common with the right one, when no likely mistake explains it."""
    finite_want = np.isfinite(want).all()
    if finite_want and not np.isfinite(got).all():
        return (
            "Note: the result contains nan or inf where the true values are finite: look for an overflow "
            "(np.exp of a large number is inf, and inf / inf is nan), a log of 0 or a division by 0."
        )
    if want.size > 1 and close(got, -want, rtol, atol) and not close(got, want, rtol, atol):
        # Only what was observed: a flipped kernel, a swapped subtraction and a sign error all
        # give -want, so naming one of them would mislead the students who made another.
        return "Note: every value is the expected one with the opposite sign."
    with np.errstate(all="ignore"):
        diff = got - want
    scale = atol + rtol * np.abs(want).max()
    if want.size > 1 and np.isfinite(diff).all() and np.ptp(diff) <= scale and abs(diff.flat[0]) > 10 * scale:
        return f"Note: every value is off by the same amount ({diff.flat[0]:+.4g})."
    return ""


def number_advice(got: np.ndarray | None) -> str:
    """How to return one number instead of ``got``."""
    if got is not None and got.size > 1:
        return f"It has {got.size} values, where one number was expected."
    return "Use float(...) or .item() to turn a one-element array into a number."


def leading_axes(got: tuple[int, ...], want: tuple[int, ...]) -> str:
    """The line for an answer whose last two axes are right and leading ones are not (a batch and
    its channels swapped): it says more than any hint about sizes, which is then left out."""
    if len(got) == len(want) >= 3 and got[-2:] == want[-2:] and got[:-2] != want[:-2]:
        return (
            f"The last two axes are right; the leading axes should be {tuple(want[:-2])}, "
            f"yours are {tuple(got[:-2])}."
        )
    return ""


def describe_shape(shape: tuple[int, ...]) -> str:
    return "a single number" if shape == () else f"shape {tuple(shape)}"

"""``expect``: call a student's function and check its answer, failing with a message that teaches.

    expect(student.relu, z).to_equal(oracle.relu(z))
    expect(student.conv2d, x, k).to_equal(ref, likely={"the kernel is flipped": ref_flipped})

Comparisons happen here, in the grading process, on fresh float64 arrays decoded from plain data.
Tolerance: see docs/validity.md. Answers within ``rtol=1e-5`` relative or ``atol=1e-7`` absolute
pass element by element, which admits float32 arithmetic and any summation order for elementwise
results but not a formula that is slightly off. Tests of sums that can cancel to near zero (a
convolution) pass an ``atol`` scaled to the largest expected value instead.
"""

from __future__ import annotations

import builtins
import re
from collections.abc import Callable
from typing import Any

import numpy as np

from ..sandbox.values import Value
from . import explain
from .proxy import GradingFailure, RemoteFunction, call_failed

RTOL = 1e-5
ATOL = 1e-7


def _close(got: np.ndarray, expected: np.ndarray, rtol: float, atol: float) -> bool:
    if got.shape != expected.shape:
        return False
    with np.errstate(all="ignore"):
        return bool(np.allclose(got, expected, rtol=rtol, atol=atol, equal_nan=True))


def as_array(value: Value) -> np.ndarray | None:
    """The numbers in a returned value: arrays and scalars, or lists of them of one shape."""
    if value.array is not None:
        return value.array
    if value.kind == "sequence" and value.items:
        parts = [as_array(item) for item in value.items]
        if all(p is not None for p in parts) and len({p.shape for p in parts}) == 1:
            return np.stack(parts).astype(np.float64)
    return None


def _first_difference(got: np.ndarray, want: np.ndarray, rtol: float, atol: float) -> str:
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


def describe_shape(shape: tuple) -> str:
    return "a single number" if shape == () else f"shape {tuple(shape)}"


class Expectation:
    def __init__(self, fn: RemoteFunction, args: tuple, kwargs: dict):
        self.fn = fn
        self.args = args
        self.kwargs = kwargs
        student = fn._student
        self.params = student._param_names(fn.name)
        self.outcome = fn.outcome(*args, **kwargs)
        if self.outcome.status != "ok":
            raise call_failed(fn.name, args, kwargs, self.outcome, self.params)
        self.value: Value = self.outcome.value
        self.helpers: list[tuple[RemoteFunction, tuple, dict, Any]] = []

    # ---- messages ---------------------------------------------------------
    def _fail(self, headline: str, *details: str) -> None:
        parts = [headline, explain.call_text(self.fn.name, self.args, self.kwargs, self.params)]
        parts += [d for d in details if d]
        parts += [note for helper in self.helpers if (note := self._helper_note(*helper))]
        note = explain.mutation_note(self.outcome.mutated)
        if note and not headline.startswith(f"{self.fn.name} modified"):
            parts.append("Also: " + note)
        if self.outcome.output.strip():
            parts.append("Your function printed:\n" + self.outcome.output.strip()[:600])
        raise GradingFailure("\n".join(parts))

    # ---- checks -----------------------------------------------------------
    def to_equal(
        self,
        expected: Any,
        *,
        rtol: float = RTOL,
        atol: float = ATOL,
        likely: dict[str, Any] | None = None,
        shape_hint: str | Callable[[tuple], str] | None = None,
        helpers: list[tuple[RemoteFunction, tuple, dict, Any]] = (),
    ) -> np.ndarray:
        """The answer equals ``expected`` (numbers or arrays); returns the student's answer as floats.

        ``helpers``: ``(student.g, args, kwargs, g's right answer)`` for functions of the student's
        that this one may call: when it does call g and g is wrong on its own, the message says so.
        """
        self.helpers = list(helpers)
        name = self.fn.name
        want = np.asarray(expected, dtype=np.float64)
        # A count expected as an integer is shown as one ("56", not "56.").
        shown = np.asarray(expected) if np.asarray(expected).dtype.kind in "iub" else want
        got = as_array(self.value)
        if got is None:
            if self.value.kind == "none":
                self._fail(f"{name} returned None.", "Is a `return` statement missing?")
            self._fail(
                f"{name} returned {self.value.describe()}, but {describe_shape(want.shape)} was expected."
            )
        if got.shape != want.shape:
            hint = shape_hint(got.shape) if callable(shape_hint) else shape_hint
            transposed = got.ndim == 2 and got.T.shape == want.shape and _close(got.T, want, rtol, atol)
            self._fail(
                f"{name} returned {describe_shape(got.shape)}, but {describe_shape(want.shape)} was expected.",
                f"expected: {explain.show(shown)}",
                f"got:      {explain.show_value(self.value)}",
                "Likely mistake: the result is transposed."
                if transposed
                else self._named(got, rtol, atol, likely or {}),
                hint or "",
            )
        if _close(got, want, rtol, atol):
            return got
        self._fail(
            f"{name} returned the wrong values.",
            f"expected: {explain.show(shown)}",
            f"got:      {explain.show_value(self.value)}",
            _first_difference(got, want, rtol, atol),
            self._likely(got, want, rtol, atol, likely or {}),
        )
        raise AssertionError("unreachable")

    def _helper_note(self, helper: RemoteFunction, args: tuple, kwargs: dict, expected: Any) -> str:
        if helper.name not in self.fn._student.uses(self.fn.name):
            return ""
        outcome = helper.outcome(*args, **kwargs)
        got = as_array(outcome.value) if outcome.status == "ok" and outcome.value is not None else None
        want = np.asarray(expected, dtype=np.float64)
        if got is not None and _close(got, want, RTOL, ATOL + RTOL * float(np.abs(want).max(initial=0.0))):
            return ""
        return (
            f"Note: your {self.fn.name} calls your {helper.name}, which gives a wrong answer on its own "
            f"(see the tests of {helper.name}); fix {helper.name} first."
        )

    @staticmethod
    def _named(got, rtol, atol, likely: dict[str, Any]) -> str:
        """The mistakes whose answers the student's answer reproduces, and only those."""
        found: list[str] = []
        for message, alternative in likely.items():
            alt = np.asarray(alternative, dtype=np.float64)
            if _close(got, alt, rtol, atol) and message.strip() not in found:
                found.append(message.strip())
        if not found:
            return ""
        return "Likely mistake: " + found[0] + "".join(f"\nOr: {text}" for text in found[1:3])

    def _likely(self, got, want, rtol, atol, likely: dict[str, Any]) -> str:
        named = self._named(got, rtol, atol, likely)
        if named:
            return named
        finite_want = np.isfinite(want).all()
        if finite_want and not np.isfinite(got).all():
            return (
                "Note: the result contains nan or inf where the true values are finite. An overflow (np.exp "
                "of a large number is inf, and inf / inf is nan) does this; use a numerically stable form."
            )
        if want.size > 1 and _close(got, -want, rtol, atol) and not _close(got, want, rtol, atol):
            # Only what was observed: a flipped kernel, a swapped subtraction and a sign error all
            # give -want, so naming one of them would mislead the students who made another.
            return "Note: every value is the expected one with the opposite sign."
        with np.errstate(all="ignore"):
            diff = got - want
        scale = atol + rtol * np.abs(want).max()
        if (
            want.size > 1
            and np.isfinite(diff).all()
            and np.ptp(diff) <= scale
            and abs(diff.flat[0]) > 10 * scale
        ):
            return f"Note: every value is off by the same amount ({diff.flat[0]:+.4g})."
        return ""

    def to_have_shape(self, shape: tuple, hint: str = "") -> np.ndarray:
        """The answer is an array of this shape (for answers whose values the test cannot know)."""
        got = as_array(self.value)
        want = tuple(shape)
        if got is None:
            self._fail(
                f"{self.fn.name} returned {self.value.describe()}, but {describe_shape(want)} was expected."
            )
        if got.shape != want:
            self._fail(
                f"{self.fn.name} returned {describe_shape(got.shape)}, but {describe_shape(want)} was expected.",
                hint,
            )
        return got

    def to_be_a_number(self) -> float:
        """The answer is a single Python or NumPy number, not an array or a list."""
        if self.value.kind not in ("number", "bool"):
            self._fail(
                f"{self.fn.name} should return a single number, but returned {self.value.describe()}.",
                "Use float(...) or .item() to turn a one-element array into a number.",
            )
        return float(self.value.array)

    def to_be_finite(self) -> np.ndarray:
        got = as_array(self.value)
        if got is None or not np.isfinite(got).all():
            self._fail(
                f"{self.fn.name} returned nan or inf.",
                f"got: {explain.show_value(self.value)}",
                "An overflow (e.g. np.exp of a large number) usually causes this. Use a numerically stable form.",
            )
        return got

    def to_leave_inputs_unchanged(self) -> None:
        if self.outcome.mutated:
            self._fail(f"{self.fn.name} modified its input.", explain.mutation_note(self.outcome.mutated))

    def to_raise_no_warnings(self) -> None:
        """No warning (overflow, division by zero, ...) was issued during the call."""
        if self.outcome.warnings:
            self._fail(
                f"{self.fn.name} issued a warning: {self.outcome.warnings[0]}",
                "An overflow warning usually means np.exp got a large argument; use a "
                "numerically stable form that never exponentiates a large positive number.",
            )


class Call:
    """A call whose answer is not needed up front, for checks a failing call can pass (``to_raise``)."""

    def __init__(self, fn: RemoteFunction, args: tuple, kwargs: dict):
        self.fn = fn
        self.args = args
        self.kwargs = kwargs
        self.params = fn._student._param_names(fn.name)
        self.outcome = fn.outcome(*args, **kwargs)

    def to_raise(self, *exceptions: type[BaseException] | str, match: str | None = None) -> str:
        """The call raised one of ``exceptions`` (classes or names; a built-in's subclasses count),
        with a message that contains the regular expression ``match`` if given; returns the message."""
        if not exceptions:
            raise TypeError("to_raise() needs at least one exception type, e.g. to_raise(ValueError)")
        names = [e if isinstance(e, str) else e.__name__ for e in exceptions]
        wanted = " or ".join(names)
        name = self.fn.name
        error = self.outcome.error or {}
        context = explain.call_text(name, self.args, self.kwargs, self.params)
        if self.outcome.status == "ok":
            raise GradingFailure(
                f"{name} should raise {wanted} here, but it returned a value.\n{context}\n"
                f"got: {explain.show_value(self.outcome.value)}"
            )
        if self.outcome.status != "raised" or error.get("type") == "NotImplementedError":
            raise call_failed(name, self.args, self.kwargs, self.outcome, self.params)
        raised = str(error.get("type", ""))
        message = str(error.get("message", ""))
        if not any(_is_kind(raised, e) for e in exceptions):
            raise GradingFailure(
                f"{name} should raise {wanted} here, but it raised {explain.error_text(error)}\n{context}"
            )
        if match is not None and not re.search(match, message):
            raise GradingFailure(
                f"{name} raised {raised} as it should, but its message {message!r} "
                f"does not say what went wrong (expected it to mention {match!r}).\n{context}"
            )
        return message


def _is_kind(raised: str, expected: type[BaseException] | str) -> bool:
    """Only the name of a student's exception crosses over: built-ins are matched by class, so that
    to_raise(ArithmeticError) admits ZeroDivisionError; the student's own classes by name."""
    name = expected if isinstance(expected, str) else expected.__name__
    if raised == name:
        return True
    builtin = getattr(builtins, raised, None)
    return (
        not isinstance(expected, str)
        and isinstance(builtin, type)
        and issubclass(builtin, BaseException)
        and issubclass(builtin, expected)
    )


def expect_call(fn: RemoteFunction, *args, **kwargs) -> Call:
    """Call ``fn`` in the worker now, for a check that the call fails: ``.to_raise(ValueError)``.

    ``expect`` fails a test as soon as the call raises; this one does not.
    """
    if not isinstance(fn, RemoteFunction):
        raise TypeError("expect_call() takes a student function, e.g. expect_call(student.frames, x, 0)")
    return Call(fn, args, kwargs)


def expect(fn: RemoteFunction, *args, **kwargs) -> Expectation:
    """Call ``fn`` in the worker now; checks on the answer follow (``.to_equal(...)`` and friends)."""
    if not isinstance(fn, RemoteFunction):
        raise TypeError("expect() takes a student function, e.g. expect(student.relu, z)")
    return Expectation(fn, args, kwargs)


def fail(message: str) -> None:
    """Fail the current test with a message for the student."""
    raise GradingFailure(message)

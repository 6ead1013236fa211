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
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, NoReturn, TypeAlias

import numpy as np

from ..sandbox.values import Value
from . import explain
from .failure import FailureKind, GradingFailure, failed_call
from .proxy import RemoteFunction, parameter_names
from .structure import as_data, container_text, first_mismatch, is_structured, leaves

RTOL = 1e-5
ATOL = 1e-7

# ``(student.g, args, kwargs, g's right answer)``: a helper of the student's the function checked may call.
Helper = tuple[RemoteFunction, tuple[Any, ...], dict[str, Any], Any]
# ``(student.g, args, g's right answer, expected_from)``: see ``Expectation.to_equal``'s ``consistent``.
Consistent = tuple[RemoteFunction, tuple[Any, ...], Any, Callable[[Any], Any]]
# A ``shape_hint``: the text itself, or the text for the student's shape.
ShapeHint: TypeAlias = "str | Callable[[tuple[int, ...]], str]"


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
        parts = [part for item in value.items if (part := as_array(item)) is not None]
        if len(parts) == len(value.items) and len({p.shape for p in parts}) == 1:
            return np.stack(parts).astype(np.float64)
    return None


def _leaf_test(rtol: float, atol: float) -> Callable[[Value, Any], bool]:
    def close(value: Value, expected: Any) -> bool:
        got = as_array(value)
        return got is not None and _close(got, np.asarray(expected, dtype=np.float64), rtol, atol)

    return close


def matches(
    value: Value, expected: Any, rtol: float = RTOL, atol: float = ATOL, names: Sequence[str] | None = None
) -> bool:
    """Whether a decoded answer equals ``expected`` (a number, an array, or a structure of them)."""
    try:
        return first_mismatch(value, expected, _leaf_test(rtol, atol), names) is None
    except (ValueError, TypeError):  # an expected value that is not numbers
        return False


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


def _matching(got: np.ndarray, rtol: float, atol: float, likely: Mapping[str, Any]) -> list[str]:
    """The mistakes whose answers the student's answer reproduces (at most the three a message names)."""
    found: list[str] = []
    for message, alternative in likely.items():
        alt = np.asarray(alternative, dtype=np.float64)
        if _close(got, alt, rtol, atol) and message.strip() not in found:
            found.append(message.strip())
    return found[:3]


def _likely_text(found: Sequence[str]) -> str:
    if not found:
        return ""
    return "Likely mistake: " + found[0] + "".join(f"\nOr: {text}" for text in found[1:3])


def _observed(got: np.ndarray, want: np.ndarray, rtol: float, atol: float) -> str:
    """What a wrong answer has in common with the right one, when no likely mistake explains it."""
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
    if want.size > 1 and np.isfinite(diff).all() and np.ptp(diff) <= scale and abs(diff.flat[0]) > 10 * scale:
        return f"Note: every value is off by the same amount ({diff.flat[0]:+.4g})."
    return ""


def describe_shape(shape: tuple[int, ...]) -> str:
    return "a single number" if shape == () else f"shape {tuple(shape)}"


class _Invocation:
    """A call of a student's function made now, in the worker, with what checks on it need."""

    def __init__(self, fn: RemoteFunction, args: tuple[Any, ...], kwargs: dict[str, Any]):
        self.fn = fn
        self.args = args
        self.kwargs = kwargs
        self.params = parameter_names(fn.student, fn.name)
        self.outcome = fn.outcome(*args, **kwargs)


class Expectation(_Invocation):
    """What ``expect`` returns: a call that returned, and the checks on its answer."""

    def __init__(self, fn: RemoteFunction, args: tuple[Any, ...], kwargs: dict[str, Any]):
        super().__init__(fn, args, kwargs)
        if self.outcome.status != "ok" or self.outcome.value is None:
            raise failed_call(fn.name, args, kwargs, self.outcome, self.params)
        self.value: Value = self.outcome.value
        self.helpers: list[Helper] = []

    # ---- messages ---------------------------------------------------------
    def _fail(self, headline: str, *details: str, mistakes: Sequence[str] = ()) -> NoReturn:
        parts = [headline, explain.call_text(self.fn.name, self.args, self.kwargs, self.params)]
        parts += [d for d in details if d]
        parts += [note for helper in self.helpers if (note := self._helper_note(*helper))]
        note = explain.mutation_note(self.outcome.mutated)
        if note and not headline.startswith(f"{self.fn.name} modified"):
            parts.append("Also: " + note)
        if self.outcome.output.strip():
            parts.append("Your function printed:\n" + self.outcome.output.strip()[:600])
        raise GradingFailure(
            "\n".join(parts),
            FailureKind.WRONG_ANSWER,
            function=self.fn.name,
            mistakes=tuple(mistakes),
            outcome=self.outcome,
        )

    # ---- checks -----------------------------------------------------------
    def to_equal(
        self,
        expected: Any,
        *,
        rtol: float = RTOL,
        atol: float = ATOL,
        likely: Mapping[str, Any] | None = None,
        shape_hint: ShapeHint | None = None,
        helpers: Iterable[Helper] = (),
        names: Sequence[str] | None = None,
        consistent: Iterable[Consistent] = (),
    ) -> Any:
        """The answer equals ``expected``; returns the student's answer as data (float64 arrays, and
        the tuples, lists and dicts that hold them).

        ``expected`` is a number or an array, or a tuple, list or dict of them (``(dw, db)``),
        compared part by part; ``names`` names a tuple's parts for messages (``("dw", "db")``).
        ``likely`` maps a mistake's words to the answer that mistake gives (with the same parts).
        ``helpers``: ``(student.g, args, kwargs, g's right answer)`` for functions of the student's
        that this one may call: when it does call g and g is wrong on its own, the message says so.
        ``consistent``: ``(student.g, args, g's right answer, expected_from)``: when this function
        calls g, g is wrong on its own for ``args``, and the answer is ``expected_from(g's own
        answer)``, it passes: g's own tests take the points, once.
        """
        self.helpers = list(helpers)
        chances = list(consistent)
        try:
            if is_structured(expected):
                self._equal_parts(expected, rtol, atol, likely or {}, names)
                return as_data(self.value)
            return self._equal_leaf(expected, rtol, atol, likely or {}, shape_hint)
        except GradingFailure:
            if chances and self._right_given_wrong_helper(chances, rtol, atol):
                return as_data(self.value) if is_structured(expected) else as_array(self.value)
            raise

    def _equal_leaf(
        self,
        expected: Any,
        rtol: float,
        atol: float,
        likely: Mapping[str, Any],
        shape_hint: ShapeHint | None,
    ) -> np.ndarray:
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
            self._fail_shape(got, want, shown, rtol, atol, likely, shape_hint)
        if _close(got, want, rtol, atol):
            return got
        found = _matching(got, rtol, atol, likely)
        self._fail(
            f"{name} returned the wrong values.",
            f"expected: {explain.show(shown)}",
            f"got:      {explain.show_value(self.value)}",
            _first_difference(got, want, rtol, atol),
            _likely_text(found) or _observed(got, want, rtol, atol),
            mistakes=found,
        )

    def _equal_parts(
        self, expected: Any, rtol: float, atol: float, likely: Mapping[str, Any], names: Sequence[str] | None
    ) -> None:
        """A tuple, list or dict answer, part by part; the message names the first part that differs."""
        miss = first_mismatch(self.value, expected, _leaf_test(rtol, atol), names)
        if miss is None:
            return
        name, whole = self.fn.name, container_text(expected, names)
        found: list[str] = []
        for message, alternative in likely.items():
            if message.strip() not in found and matches(self.value, alternative, rtol, atol, names):
                found.append(message.strip())
        found = found[:3]
        shown = [f"expected: {explain.show(expected)}", f"got:      {explain.show_value(self.value)}"]
        if miss.reason == "container" and not miss.label:
            if miss.got.kind == "none":
                self._fail(
                    f"{name} returned None, but {whole} was expected.", "Is a `return` statement missing?"
                )
            joined = ", ".join(names) if names else "the parts"
            self._fail(
                f"{name} returned {miss.got.describe()}, but {whole} was expected.",
                *shown,
                f"Return {joined} together, separated by commas (`return {joined}`)."
                if isinstance(expected, tuple) and names
                else "",
            )
        if miss.reason == "length":
            self._fail(
                f"{name} returned a {miss.got.type_name} of {len(miss.got.items)} items, but {whole} was expected.",
                *shown,
            )
        if miss.reason == "missing":
            self._fail(f"{name} returned a dict without {miss.label}.", *shown)
        if miss.reason:
            self._fail(
                f"In {name}'s answer, {miss.label} is {miss.got.describe()}, not {container_text(miss.expected)}.",
                *shown,
            )
        want = np.asarray(miss.expected, dtype=np.float64)
        got = as_array(miss.got)
        if got is None or got.shape != want.shape:
            what = (
                "None"
                if miss.got.kind == "none"
                else (describe_shape(got.shape) if got is not None else miss.got.describe())
            )
            self._fail(
                f"{name} returned a wrong {miss.label}: {what}, but {describe_shape(want.shape)} was expected.",
                *shown,
                _likely_text(found),
                "A one-element array is not a number: use float(...) or .item()."
                if want.shape == () and got is not None and got.size == 1
                else "",
                mistakes=found,
            )
        self._fail(
            f"{name} returned a wrong {miss.label}.",
            *shown,
            f"{miss.label}: expected {explain.show(miss.expected)}, got {explain.show_value(miss.got)}",
            _first_difference(got, want, rtol, atol),
            _likely_text(found) or _observed(got, want, rtol, atol),
            mistakes=found,
        )

    def _right_given_wrong_helper(self, chances: Sequence[Consistent], rtol: float, atol: float) -> bool:
        """Whether the answer is right given a helper of the student's that is wrong on its own."""
        for helper, args, helper_expected, expected_from in chances:
            if helper.name not in self.fn.student.uses(self.fn.name):
                continue
            first, again = helper.outcome(*args), helper.outcome(*args)
            if first.status != "ok" or again.status != "ok" or first.value is None or again.value is None:
                continue
            own = as_data(first.value)
            # A helper that answers differently each time cannot be the cause; a right one is not.
            if not matches(again.value, own, RTOL, ATOL) or matches(first.value, helper_expected, RTOL, ATOL):
                continue
            try:
                wanted = expected_from(own)
            except (TypeError, ValueError, IndexError, KeyError):  # the helper's answer has another form
                continue
            if matches(self.value, wanted, rtol, atol):
                return True
        return False

    def _fail_shape(
        self,
        got: np.ndarray,
        want: np.ndarray,
        shown: np.ndarray,
        rtol: float,
        atol: float,
        likely: Mapping[str, Any],
        shape_hint: ShapeHint | None,
    ) -> NoReturn:
        hint = shape_hint(got.shape) if callable(shape_hint) else shape_hint
        transposed = got.ndim == 2 and got.T.shape == want.shape and _close(got.T, want, rtol, atol)
        found = ["the result is transposed."] if transposed else _matching(got, rtol, atol, likely)
        self._fail(
            f"{self.fn.name} returned {describe_shape(got.shape)}, but {describe_shape(want.shape)} was expected.",
            f"expected: {explain.show(shown)}",
            f"got:      {explain.show_value(self.value)}",
            _likely_text(found),
            hint or "",
            mistakes=found,
        )

    def _helper_note(
        self, helper: RemoteFunction, args: tuple[Any, ...], kwargs: dict[str, Any], expected: Any
    ) -> str:
        if helper.name not in self.fn.student.uses(self.fn.name):
            return ""
        outcome = helper.outcome(*args, **kwargs)
        scale = max(
            (float(np.abs(np.asarray(leaf, dtype=np.float64)).max(initial=0.0)) for leaf in leaves(expected)),
            default=0.0,
        )
        if (
            outcome.status == "ok"
            and outcome.value is not None
            and matches(outcome.value, expected, RTOL, ATOL + RTOL * scale)
        ):
            return ""
        return (
            f"Note: your {self.fn.name} calls your {helper.name}, which gives a wrong answer on its own "
            f"(see the tests of {helper.name}); fix {helper.name} first."
        )

    def to_have_shape(self, shape: Sequence[int], hint: str = "") -> np.ndarray:
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
        if self.value.kind not in ("number", "bool") or self.value.array is None:
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


class Call(_Invocation):
    """A call whose answer is not needed up front, for checks a failing call can pass (``to_raise``)."""

    def to_raise(self, *exceptions: type[BaseException] | str, match: str | None = None) -> str:
        """The call raised one of ``exceptions`` (classes or names; a built-in's subclasses count),
        with a message that contains the regular expression ``match`` if given; returns the message."""
        if not exceptions:
            raise TypeError("to_raise() needs at least one exception type, e.g. to_raise(ValueError)")
        names = [e if isinstance(e, str) else e.__name__ for e in exceptions]
        wanted = " or ".join(names)
        name = self.fn.name
        error: Mapping[str, object] = self.outcome.error or {}
        context = explain.call_text(name, self.args, self.kwargs, self.params)
        if self.outcome.status == "ok" and self.outcome.value is not None:
            self._fail(
                f"{name} should raise {wanted} here, but it returned a value.\n{context}\n"
                f"got: {explain.show_value(self.outcome.value)}",
                FailureKind.NOT_RAISED,
            )
        if self.outcome.status != "raised" or error.get("type") == "NotImplementedError":
            raise failed_call(name, self.args, self.kwargs, self.outcome, self.params)
        raised = str(error.get("type", ""))
        message = str(error.get("message", ""))
        if not any(_is_kind(raised, e) for e in exceptions):
            self._fail(
                f"{name} should raise {wanted} here, but it raised {explain.error_text(error)}\n{context}",
                FailureKind.WRONG_EXCEPTION,
                raised,
            )
        if match is not None and not re.search(match, message):
            self._fail(
                f"{name} raised {raised} as it should, but its message {message!r} "
                f"does not say what went wrong (expected it to mention {match!r}).\n{context}",
                FailureKind.WRONG_MESSAGE,
                raised,
            )
        return message

    def _fail(self, message: str, kind: FailureKind, raised: str | None = None) -> NoReturn:
        raise GradingFailure(message, kind, function=self.fn.name, exception=raised, outcome=self.outcome)


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


def expect_call(fn: RemoteFunction, *args: Any, **kwargs: Any) -> Call:
    """Call ``fn`` in the worker now, for a check that the call fails: ``.to_raise(ValueError)``.

    ``expect`` fails a test as soon as the call raises; this one does not.
    """
    if not isinstance(fn, RemoteFunction):
        raise TypeError("expect_call() takes a student function, e.g. expect_call(student.frames, x, 0)")
    return Call(fn, args, kwargs)


def expect(fn: RemoteFunction, *args: Any, **kwargs: Any) -> Expectation:
    """Call ``fn`` in the worker now; checks on the answer follow (``.to_equal(...)`` and friends)."""
    if not isinstance(fn, RemoteFunction):
        raise TypeError("expect() takes a student function, e.g. expect(student.relu, z)")
    return Expectation(fn, args, kwargs)


def fail(message: str) -> NoReturn:
    """Fail the current test with a message for the student."""
    raise GradingFailure(message, FailureKind.FAILED)

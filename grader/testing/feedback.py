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

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, NoReturn, TypeAlias

import numpy as np

from ..grading.grid import Grid, grid_of, grid_text
from ..sandbox.wire.values import Value
from ..text import QUOTE, quoted
from . import explain, explaining
from .compare import (
    ATOL,
    RTOL,
    as_array,
    close,
    describe_shape,
    first_difference,
    leading_axes,
    leaf_test,
    likely_text,
    matches,
    matching,
    number_advice,
    observed,
)
from .explaining import with_notes
from .failure import FailureKind, GradingFailure, failed_call
from .proxy import RemoteFunction, parameter_names
from .structure import Mismatch, as_data, container_text, first_mismatch, is_structured, leaves

# ``(student.g, args, kwargs, g's right answer)``: a helper of the student's the function checked may call.
Helper = tuple[RemoteFunction, tuple[Any, ...], dict[str, Any], Any]
# ``(student.g, args, g's right answer, expected_from)``: see ``Expectation.to_equal``'s ``consistent``.
Consistent = tuple[RemoteFunction, tuple[Any, ...], Any, Callable[[Any], Any]]
# A ``shape_hint``: the text itself, or the text for the student's shape.
ShapeHint: TypeAlias = "str | Callable[[tuple[int, ...]], str]"


class Invocation:
    """A call of a student's function made now, in the worker, with what checks on it need."""

    def __init__(self, fn: RemoteFunction, args: tuple[Any, ...], kwargs: dict[str, Any]):
        self.fn = fn
        self.args = args
        self.kwargs = kwargs
        self.params = parameter_names(fn.student, fn.name)
        self.outcome = fn.outcome(*args, **kwargs)


class Expectation(Invocation):
    """What ``expect`` returns: a call that returned, and the checks on its answer."""

    def __init__(self, fn: RemoteFunction, args: tuple[Any, ...], kwargs: dict[str, Any]):
        # The notes of the on_raise and on_failure blocks this call is made in: its failures get them.
        self.notes = explaining.active()
        super().__init__(fn, args, kwargs)
        if self.outcome.status != "ok" or self.outcome.value is None:
            raise explaining.noted(failed_call(fn.name, args, kwargs, self.outcome, self.params), self.notes)
        self.value: Value = self.outcome.value
        self.helpers: list[Helper] = []

    # ---- messages ---------------------------------------------------------
    def _fail(
        self, headline: str, *details: str, mistakes: Sequence[str] = (), grid: Grid | None = None
    ) -> NoReturn:
        parts = [headline, explain.call_text(self.fn.name, self.args, self.kwargs, self.params)]
        parts += [d for d in details if d]
        parts += [note for helper in self.helpers if (note := self._helper_note(*helper))]
        note = explain.mutation_note(self.outcome.mutated)
        if note and not headline.startswith(f"{self.fn.name} modified"):
            parts.append("Also: " + note)
        if self.outcome.output.strip():
            parts.append("Your function printed:\n" + QUOTE + quoted(self.outcome.output.strip()[:600]))
        raise GradingFailure(
            "\n".join(parts),
            FailureKind.WRONG_ANSWER,
            function=self.fn.name,
            mistakes=tuple(mistakes),
            outcome=self.outcome,
            grid=grid,
        )

    # ---- checks -----------------------------------------------------------
    @with_notes
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
        overflow: str = "",
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
        ``overflow``: words added to a wrong answer when the call warned of an overflow
        (``{warning}`` stands for the warning), as the notebook's self-check adds them.
        """
        self.helpers = list(helpers)
        chances = list(consistent)
        try:
            if is_structured(expected):
                self._equal_parts(expected, rtol, atol, likely or {}, names)
                return as_data(self.value)
            return self._equal_leaf(expected, rtol, atol, likely or {}, shape_hint)
        except GradingFailure as caught:
            if chances and self._right_given_wrong_helper(chances, rtol, atol):
                return as_data(self.value) if is_structured(expected) else as_array(self.value)
            raise self._with_overflow(caught, overflow) from None

    def _with_overflow(self, failure: GradingFailure, overflow: str) -> GradingFailure:
        overflows = [w for w in self.outcome.warnings if "overflow" in w] if overflow else []
        if not overflows:
            return failure
        return GradingFailure(
            f"{failure}\n" + overflow.format(warning=overflows[0]),
            failure.kind,
            function=failure.function,
            mistakes=failure.mistakes,
            grid=failure.grid,
        )

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
        if close(got, want, rtol, atol):
            return got
        found = matching(got, rtol, atol, likely)
        grid = grid_of(got, want, rtol, atol)
        self._fail(
            f"{name} returned the wrong values.",
            f"expected: {explain.show(shown)}",
            f"got:      {explain.show_value(self.value)}",
            first_difference(got, want, rtol, atol),
            likely_text(found) or observed(got, want, rtol, atol),
            grid_text(grid) if grid else "",
            mistakes=found,
            grid=grid,
        )

    def _equal_parts(
        self, expected: Any, rtol: float, atol: float, likely: Mapping[str, Any], names: Sequence[str] | None
    ) -> None:
        """A tuple, list or dict answer, part by part; the message names the first part that differs."""
        miss = first_mismatch(self.value, expected, leaf_test(rtol, atol), names)
        if miss is None:
            return
        name = self.fn.name
        found: list[str] = []
        for message, alternative in likely.items():
            if message.strip() not in found and matches(self.value, alternative, rtol, atol, names):
                found.append(message.strip())
        found = found[:3]
        shown = [f"expected: {explain.show(expected)}", f"got:      {explain.show_value(self.value)}"]
        if miss.reason:
            self._fail_container(miss, expected, names, shown)
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
                likely_text(found),
                "A one-element array is not a number: use float(...) or .item()."
                if want.shape == () and got is not None and got.size == 1
                else "",
                mistakes=found,
            )
        self._fail(
            f"{name} returned a wrong {miss.label}.",
            *shown,
            f"{miss.label}: expected {explain.show(miss.expected)}, got {explain.show_value(miss.got)}",
            first_difference(got, want, rtol, atol),
            likely_text(found) or observed(got, want, rtol, atol),
            mistakes=found,
        )

    def _fail_container(
        self, miss: Mismatch, expected: Any, names: Sequence[str] | None, shown: list[str]
    ) -> NoReturn:
        """The answer's containers differ from the expected ones: not a tuple, a length, a key."""
        name, whole = self.fn.name, container_text(expected, names)
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
        self._fail(
            f"In {name}'s answer, {miss.label} is {miss.got.describe()}, not {container_text(miss.expected)}.",
            *shown,
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
        # Called with the expected shape, as the notebook's self-check records it: the same words.
        hint = leading_axes(got.shape, want.shape) or (
            shape_hint(want.shape) if callable(shape_hint) else shape_hint
        )
        transposed = got.ndim == 2 and got.T.shape == want.shape and close(got.T, want, rtol, atol)
        found = ["the result is transposed."] if transposed else matching(got, rtol, atol, likely)
        self._fail(
            f"{self.fn.name} returned {describe_shape(got.shape)}, but {describe_shape(want.shape)} was expected.",
            f"expected: {explain.show(shown)}",
            f"got:      {explain.show_value(self.value)}",
            likely_text(found),
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

    @with_notes
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

    @with_notes
    def to_be_a_number(self) -> float:
        """The answer is a single Python or NumPy number, or a 0-d array (``np.mean`` of a torch
        tensor's ``.numpy()`` is one); not an array with axes, even of one element, or a list."""
        zero_d = self.value.kind == "array" and self.value.array is not None and self.value.array.shape == ()
        if (self.value.kind not in ("number", "bool") and not zero_d) or self.value.array is None:
            self._fail(
                f"{self.fn.name} should return a single number, but returned {self.value.describe()}.",
                number_advice(as_array(self.value)),
            )
        return float(self.value.array)

    @with_notes
    def to_be_finite(self) -> np.ndarray:
        got = as_array(self.value)
        if got is None or not np.isfinite(got).all():
            self._fail(
                f"{self.fn.name} returned nan or inf.",
                f"got: {explain.show_value(self.value)}",
                explain.warning_advice(self.outcome.warnings),
            )
        return got

    @with_notes
    def to_leave_inputs_unchanged(self) -> None:
        if self.outcome.mutated:
            self._fail(f"{self.fn.name} modified its input.", explain.mutation_note(self.outcome.mutated))

    @with_notes
    def to_raise_no_warnings(self) -> None:
        """No warning (overflow, division by zero, ...) was issued during the call."""
        if self.outcome.warnings:
            self._fail(
                f"{self.fn.name} issued a warning: {self.outcome.warnings[0]}",
                explain.warning_advice(self.outcome.warnings),
            )


def expect(fn: RemoteFunction, *args: Any, **kwargs: Any) -> Expectation:
    """Call ``fn`` in the worker now; checks on the answer follow (``.to_equal(...)`` and friends)."""
    if not isinstance(fn, RemoteFunction):
        raise TypeError("expect() takes a student function, e.g. expect(student.relu, z)")
    return Expectation(fn, args, kwargs)


def fail(message: str) -> NoReturn:
    """Fail the current test with a message for the student."""
    raise GradingFailure(message, FailureKind.FAILED)

"""What became of each test, in the result model: planned before it runs, recorded after.

Both ways of running an assignment's tests (:mod:`.direct` for plain test functions, :mod:`.plugin`
through pytest) keep their state in one :class:`TestSession`, so a test yields the same
:class:`~grader.results.TestResult` whichever ran it. Nothing here imports pytest.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from enum import IntEnum
from pathlib import Path
from typing import Any, Literal

from ..results import VISIBILITIES, TestResult
from .failure import FailureKind, GradingFailure
from .proxy import Student

# What became of a test, as TestResult.outcome records it.
Outcome = Literal["passed", "failed", "error", "skipped", "timeout"]

INTERNAL_ERROR = (
    "The grader could not finish this test because of a problem in the test itself, "
    "not in your code. Your instructor can see the details."
)
PUBLIC_PREFIX = "test_public"
# Visibilities from the one students see first to the one they see last (or never).
REVEAL_ORDER = ("visible", "after_due_date", "after_published", "hidden")


class ExitCode(IntEnum):
    """How a run of the tests ended, with pytest's numbers (its own run returns them)."""

    OK = 0
    TESTS_FAILED = 1
    INTERRUPTED = 2  # a test module could not be loaded: no test ran
    INTERNAL_ERROR = 3
    USAGE_ERROR = 4
    NO_TESTS_COLLECTED = 5


def planned(fn: object, file_name: str, default_name: str) -> TestResult:
    """A test's result before it runs: its name, points and visibility, from its docstring,
    decorators and file name, and no score yet (also for tests never run: the hidden totals a
    notebook's self-checks state)."""
    doc = (getattr(fn, "__doc__", None) or "").strip()
    name = doc.splitlines()[0].strip() if doc else default_name
    function = name.split(":", 1)[0].strip() if ":" in name else None
    public = file_name.startswith(PUBLIC_PREFIX)
    visibility = getattr(fn, "__visibility__", None) or ("visible" if public else "after_published")
    if visibility not in VISIBILITIES:
        visibility = "after_published"
    weight = getattr(fn, "__weight__", None)
    return TestResult(
        name=name,
        max_score=float(weight if weight is not None else 1.0),
        number=getattr(fn, "__number__", None),
        visibility=visibility,
        tags=tuple(str(t) for t in getattr(fn, "__tags__", ()) or ()),
        function=function,
    )


class TestSession:
    """One run of an assignment's tests: one TestResult per collected test, whatever happened."""

    __test__ = False  # not a test class, for pytest's collection in modules that import it

    def __init__(
        self, student: Student, *, public_only: bool = False, before_hidden: Callable[[], None] | None = None
    ):
        self.student = student
        self.public_only = public_only
        # Called once, as the first test that is not visible starts: what grading reports at the
        # top of the feedback is fixed then, so nothing a hidden input causes reaches it.
        self._before_hidden = before_hidden
        self.hidden_started = False
        self.results: dict[str, TestResult] = {}
        self.collection_errors: list[str] = []
        self.instructor_notes: list[str] = []

    def plan(self, tests: list[tuple[str, TestResult]]) -> list[str]:
        """Records each collected test (test id, planned result) in collection order, and returns
        the ids to run, in the order to run them."""
        kept = []
        for test_id, meta in tests:
            if self.public_only and meta.visibility != "visible":
                continue
            self.results[test_id] = meta
            kept.append(test_id)
        # The most visible tests run first, so their feedback is fixed before any test whose
        # inputs must stay hidden longer has called student code: a notebook that records its
        # arguments has nothing hidden to show in a visible test's feedback.
        kept.sort(key=lambda test_id: REVEAL_ORDER.index(self.results[test_id].visibility))
        return kept

    def starting(self, test_id: str, fn: object) -> None:
        planned_test = self.results.get(test_id)
        if planned_test is not None and planned_test.visibility != "visible" and not self.hidden_started:
            self.hidden_started = True
            if self._before_hidden is not None:
                self._before_hidden()
        if fn is not None and hasattr(fn, "__score__"):
            del fn.__score__  # partial credit from an earlier run in this process must not leak

    def passed(self, result: TestResult, fn: object) -> None:
        partial = getattr(fn, "__score__", None)
        result.outcome = "passed"
        result.score = result.max_score if partial is None else clamp(partial, result.max_score)

    def skipped(self, result: TestResult, reason: str) -> None:
        result.outcome = "skipped"
        result.output = f"This test was skipped. {reason}".strip()

    def raised(
        self, test_id: str, result: TestResult, fn: object, exc: BaseException | None, detail: str
    ) -> None:
        """The test ended with ``exc``: a failed check (an assertion) or an error of the test's own
        code, which ``detail`` describes for the instructor."""
        partial = getattr(fn, "__score__", None)
        hidden = getattr(fn, "__hide_errors__", None)
        if isinstance(exc, AssertionError):
            result.outcome = failure_outcome(exc)
            message = str(exc) if isinstance(exc, GradingFailure) else assertion_text(exc)
            result.output = hidden or message
            if isinstance(exc, GradingFailure) and not hidden:
                result.grid = exc.grid
        else:
            result.outcome = "error"
            result.output = hidden or INTERNAL_ERROR
            self.instructor_notes.append(f"{test_id}: {detail}")
        result.score = 0.0 if partial is None else clamp(partial, result.max_score)

    def teardown_failed(self, test_id: str, result: TestResult, detail: str) -> None:
        if result.outcome == "passed":
            result.outcome, result.score = "error", 0.0
            result.output = INTERNAL_ERROR
            self.instructor_notes.append(f"{test_id} teardown: {detail}")


def error_in_test(folder: Path, error: BaseException) -> str:
    """An error of the test's own code, at the last line of the tests' folder it went through: the
    instructor's to fix, without the library frames below it ("" when it went through none)."""
    own = [
        frame for frame in traceback.extract_tb(error.__traceback__) if Path(frame.filename).parent == folder
    ]
    if not own:
        return ""
    last = own[-1]
    where = f"{Path(last.filename).name} line {last.lineno}: {last.line or ''}"
    return f"{type(error).__name__}: {error} at {where}"[:2000]


def release(exc: BaseException) -> None:
    """What a failed test held (answers of up to the value cap, each call's) goes with it: the
    failure's frames and outcome would otherwise live on until the run ends."""
    traceback.clear_frames(exc.__traceback__)
    if isinstance(exc, GradingFailure):
        exc.outcome = None


def failure_outcome(exc: AssertionError) -> Outcome:
    """A failed check is a time-out when the student's code ran out of time."""
    return "timeout" if isinstance(exc, GradingFailure) and exc.kind is FailureKind.TIMEOUT else "failed"


def clamp(score: Any, max_score: float) -> float:
    try:
        return min(max(float(score), 0.0), max_score)
    except (TypeError, ValueError):
        return 0.0


def assertion_text(exc: AssertionError) -> str:
    text = str(exc).strip()
    return text or "A check in this test failed."

"""The pytest plugin that turns hidden tests' outcomes into the result model.

Every collected test yields exactly one :class:`~grader.results.TestResult`, whatever happened:
passed, failed, errored in set-up, skipped or timed out. Nothing a test raises is lost, and no
outcome silently drops points from the total.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any, Literal

import pytest

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


def planned_result(item: pytest.Item) -> TestResult:
    """A test's result before it runs: its name, points and visibility, from its docstring,
    decorators and file name, and no score yet."""
    return planned(getattr(item, "obj", None), Path(str(item.path)).name, item.name)


def planned(fn: object, file_name: str, default_name: str) -> TestResult:
    """What :func:`planned_result` reads, from the test function itself (also for tests never run:
    the hidden totals a notebook's self-checks state)."""
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


class GradingPlugin:
    """Records one TestResult per collected test, and gives the tests their ``student`` fixture."""

    def __init__(
        self, student: Student, *, public_only: bool = False, before_hidden: Callable[[], None] | None = None
    ):
        self._student = student
        self.public_only = public_only
        # Called once, as the first test that is not visible starts: what grading reports at the
        # top of the feedback is fixed then, so nothing a hidden input causes reaches it.
        self._before_hidden = before_hidden
        self.hidden_started = False
        self.results: dict[str, TestResult] = {}
        self.collection_errors: list[str] = []
        self.instructor_notes: list[str] = []

    @pytest.fixture
    def student(self) -> Student:
        return self._student

    # ---- collection -------------------------------------------------------
    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.collection_errors.append(f"{report.nodeid}: {report.longreprtext[-2000:]}")

    def pytest_collection_modifyitems(
        self, session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
    ) -> None:
        kept, dropped = [], []
        for item in items:
            meta = planned_result(item)
            if self.public_only and meta.visibility != "visible":
                dropped.append(item)
                continue
            self.results[item.nodeid] = meta
            kept.append(item)
        if dropped:
            config.hook.pytest_deselected(items=dropped)
        # The most visible tests run first, so their feedback is fixed before any test whose
        # inputs must stay hidden longer has called student code: a notebook that records its
        # arguments has nothing hidden to show in a visible test's feedback.
        kept.sort(key=lambda item: REVEAL_ORDER.index(self.results[item.nodeid].visibility))
        items[:] = kept

    # ---- running ----------------------------------------------------------
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        planned_test = self.results.get(item.nodeid)
        if planned_test is not None and planned_test.visibility != "visible" and not self.hidden_started:
            self.hidden_started = True
            if self._before_hidden is not None:
                self._before_hidden()
        fn = getattr(item, "obj", None)
        if fn is not None and hasattr(fn, "__score__"):
            del fn.__score__  # partial credit from an earlier run in this process must not leak

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        result = self.results.get(item.nodeid)
        if result is None:
            return report
        if call.when == "call" or (call.when == "setup" and report.outcome != "passed"):
            self._record(item, call, report, result)
        if call.excinfo is not None:
            # What the test held (answers of up to the value cap, each call's) goes with it: the
            # failure's frames and outcome would otherwise live on until the session ends.
            traceback.clear_frames(call.excinfo.tb)
            if isinstance(call.excinfo.value, GradingFailure):
                call.excinfo.value.outcome = None
        elif call.when == "teardown" and report.failed and result.outcome == "passed":
            result.outcome, result.score = "error", 0.0
            result.output = INTERNAL_ERROR
            self.instructor_notes.append(f"{item.nodeid} teardown: {report.longreprtext[-1500:]}")
        return report

    def _record(
        self, item: pytest.Item, call: pytest.CallInfo[None], report: pytest.TestReport, result: TestResult
    ) -> None:
        fn = getattr(item, "obj", None)
        partial = getattr(fn, "__score__", None)
        if report.skipped:
            result.outcome = "skipped"
            reason = getattr(report, "wasxfail", "") or (
                report.longrepr[2] if isinstance(report.longrepr, tuple) else ""
            )
            result.output = f"This test was skipped. {reason}".strip()
            return
        if report.passed:
            result.outcome = "passed"
            result.score = result.max_score if partial is None else _clamp(partial, result.max_score)
            return
        exc = call.excinfo.value if call.excinfo is not None else None
        hidden = getattr(fn, "__hide_errors__", None)
        if isinstance(exc, AssertionError):
            result.outcome = failure_outcome(exc)
            message = str(exc) if isinstance(exc, GradingFailure) else _assertion_text(exc)
            result.output = hidden or message
            if isinstance(exc, GradingFailure) and not hidden:
                result.grid = exc.grid
        else:
            result.outcome = "error"
            result.output = hidden or INTERNAL_ERROR
            self.instructor_notes.append(
                f"{item.nodeid}: {_error_in_test(item, call) or report.longreprtext[-2000:]}"
            )
        result.score = 0.0 if partial is None else _clamp(partial, result.max_score)


def _error_in_test(item: pytest.Item, call: pytest.CallInfo[None]) -> str:
    """An error of the test's own code, at the last line of the tests' folder it went through: the
    instructor's to fix, without the library frames below it."""
    if call.excinfo is None:
        return ""
    folder = Path(str(item.path)).parent
    own = [entry for entry in call.excinfo.traceback if Path(str(entry.path)).parent == folder]
    if not own:
        return ""
    last = own[-1]
    error = call.excinfo.value
    code = str(last.statement).strip().splitlines()[0] if str(last.statement).strip() else ""
    return f"{type(error).__name__}: {error} at {Path(str(last.path)).name} line {last.lineno + 1}: {code}"[
        :2000
    ]


class PlainFailureReports:
    """Plain reports for failed checks. pytest's own formats a full traceback for every failure,
    which costs more than the test itself and is never shown to anyone."""

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> pytest.TestReport | None:
        excinfo = call.excinfo
        if excinfo is None or not isinstance(excinfo.value, AssertionError) or call.when == "collect":
            return None
        return pytest.TestReport(
            item.nodeid,
            item.location,
            {},
            "failed",
            str(excinfo.value),
            call.when,
            duration=call.duration,
            start=call.start,
            stop=call.stop,
        )


def failure_outcome(exc: AssertionError) -> Outcome:
    """A failed check is a time-out when the student's code ran out of time."""
    return "timeout" if isinstance(exc, GradingFailure) and exc.kind is FailureKind.TIMEOUT else "failed"


def _clamp(score: Any, max_score: float) -> float:
    try:
        return min(max(float(score), 0.0), max_score)
    except (TypeError, ValueError):
        return 0.0


def _assertion_text(exc: AssertionError) -> str:
    text = str(exc).strip()
    return text or "A check in this test failed."


PYTEST_ARGS = (
    "-p",
    "no:cacheprovider",
    "-p",
    "no:doctest",
    "-p",
    "no:junitxml",
    "-p",
    "no:pastebin",
    "-p",
    "no:legacypath",
    "-p",
    "no:stepwise",
    "-p",
    "no:faulthandler",
    "-p",
    "no:lsof",
    "-p",
    "no:pytester",
    "-p",
    "no:logging",
    "-p",
    "no:debugging",
    "-p",
    "no:setuponly",
    "-p",
    "no:setupplan",
    "-p",
    "no:unittest",
    "-p",
    "no:terminal",
    "-p",
    "no:warnings",
    "-p",
    "no:unraisableexception",
    "-p",
    "no:threadexception",
    # Hidden tests explain failures through expect() and assertion messages; rewriting their
    # asserts would cost a parse and compile of every test module on every run.
    "--capture=no",
    "--import-mode=importlib",
    "--assert=plain",
)


def run_tests(tests_dir: Path, plugin: GradingPlugin) -> int:
    """Run an assignment's tests in this process, isolated from any surrounding pytest setup."""
    ini = Path(__file__).with_name("pytest.ini")
    # Helper modules next to the tests (an assignment's oracle) are imported by name.
    path_entry = str(tests_dir)
    sys.path.insert(0, path_entry)
    # Plugins installed next to the grader (hypothesis, xdist) must not join a grading run.
    autoload = os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD")
    addopts = os.environ.pop("PYTEST_ADDOPTS", None)
    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    try:
        return int(
            pytest.main(
                [
                    *PYTEST_ARGS,
                    "-c",
                    str(ini),
                    "--rootdir",
                    str(tests_dir),
                    "--confcutdir",
                    str(tests_dir),
                    str(tests_dir),
                ],
                plugins=[plugin, PlainFailureReports()],
            )
        )
    finally:
        # importlib mode keys modules by name: two assignments' test_counting.py would collide,
        # and a later run must never see an earlier assignment's (or an edited) test module.
        for name, module in list(sys.modules.items()):
            if str(getattr(module, "__file__", None) or "").startswith(path_entry + os.sep):
                del sys.modules[name]
        if autoload is None:
            os.environ.pop("PYTEST_DISABLE_PLUGIN_AUTOLOAD", None)
        if addopts is not None:
            os.environ["PYTEST_ADDOPTS"] = addopts
        try:
            sys.path.remove(path_entry)
        except ValueError:
            pass

"""Running an assignment's tests through pytest, for tests that use its fixtures, marks or skips.

Every collected test yields exactly one :class:`~grader.results.TestResult`, whatever happened:
passed, failed, errored in set-up, skipped or timed out. Nothing a test raises is lost, and no
outcome silently drops points from the total.
"""

from __future__ import annotations

import os
from collections.abc import Generator
from pathlib import Path

import pytest

from ..results import TestResult
from .outcomes import ExitCode, TestSession, error_in_test, planned, release


def planned_result(item: pytest.Item) -> TestResult:
    """A test's result before it runs, from the test function, its file and its name."""
    return planned(getattr(item, "obj", None), Path(str(item.path)).name, item.name)


class GradingPlugin:
    """pytest's hooks, turned into a :class:`~.outcomes.TestSession`'s records; gives the tests
    their ``student`` fixture."""

    def __init__(self, session: TestSession):
        self.session = session

    @pytest.fixture
    def student(self) -> object:
        return self.session.student

    # ---- collection -------------------------------------------------------
    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.session.collection_errors.append(f"{report.nodeid}: {report.longreprtext[-2000:]}")

    def pytest_collection_modifyitems(
        self, session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
    ) -> None:
        by_id = {item.nodeid: item for item in items}
        kept = self.session.plan([(item.nodeid, planned_result(item)) for item in items])
        dropped = [item for item in items if item.nodeid not in set(kept)]
        if dropped:
            config.hook.pytest_deselected(items=dropped)
        items[:] = [by_id[test_id] for test_id in kept]

    # ---- running ----------------------------------------------------------
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        self.session.starting(item.nodeid, getattr(item, "obj", None))

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        result = self.session.results.get(item.nodeid)
        if result is None:
            return report
        if call.when == "call" or (call.when == "setup" and report.outcome != "passed"):
            self._record(item, call, report, result)
        if call.excinfo is not None:
            release(call.excinfo.value)
        elif call.when == "teardown" and report.failed:
            self.session.teardown_failed(item.nodeid, result, report.longreprtext[-1500:])
        return report

    def _record(
        self, item: pytest.Item, call: pytest.CallInfo[None], report: pytest.TestReport, result: TestResult
    ) -> None:
        fn = getattr(item, "obj", None)
        if report.skipped:
            reason = getattr(report, "wasxfail", "") or (
                report.longrepr[2] if isinstance(report.longrepr, tuple) else ""
            )
            self.session.skipped(result, reason)
        elif report.passed:
            self.session.passed(result, fn)
        else:
            exc = call.excinfo.value if call.excinfo is not None else None
            detail = (
                ""
                if exc is None or isinstance(exc, AssertionError)
                else error_in_test(Path(str(item.path)).parent, exc)
            )
            self.session.raised(item.nodeid, result, fn, exc, detail or report.longreprtext[-2000:])


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


def run_with_pytest(tests_dir: Path, session: TestSession) -> ExitCode:
    """Run an assignment's tests through pytest, in this process, isolated from any surrounding
    pytest setup (the tests' folder is already on sys.path: see :func:`.run.run_tests`)."""
    ini = Path(__file__).with_name("pytest.ini")
    # Plugins installed next to the grader (hypothesis, xdist) must not join a grading run.
    autoload = os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD")
    addopts = os.environ.pop("PYTEST_ADDOPTS", None)
    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    try:
        folder = str(tests_dir)
        arguments = [*PYTEST_ARGS, "-c", str(ini), "--rootdir", folder, "--confcutdir", folder, folder]
        return ExitCode(pytest.main(arguments, plugins=[GradingPlugin(session), PlainFailureReports()]))
    finally:
        if autoload is None:
            os.environ.pop("PYTEST_DISABLE_PLUGIN_AUTOLOAD", None)
        if addopts is not None:
            os.environ["PYTEST_ADDOPTS"] = addopts

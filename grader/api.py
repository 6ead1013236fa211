"""The grader's core API: grade one notebook, in-process, into a :class:`GradingResults`.

The command line (:mod:`grader.cli`), the Gradescope entry (:mod:`grader.gradescope.entry`) and batch
grading are thin layers over :func:`grade_notebook` and :func:`grade_prepared`. Neither raises for
anything a submission does: every path ends in results a student can read.
"""

from __future__ import annotations

import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .config import Assignment, ConfigError, resolve_assignment
from .grading import cell_report, messages
from .grading.notes import REPORT, Graded, Note, instructor, render, student
from .notebook import Notebook, NotebookError
from .notebook.isolated import read_or_error
from .results import INTERNAL_PROBLEM, GradingResults
from .sandbox.supervisor.session import CannotHide, CellRun, Sandbox
from .sandbox.supervisor.spec import IsolationSpec
from .settings import Settings
from .text import plain

__all__ = ["INTERNAL_PROBLEM", "explain_problem", "grade_notebook", "grade_prepared", "results_for_problem"]

PROBLEM = "problem"  # the paragraph that says why a notebook was not graded


def grade_notebook(
    path: Path,
    assignment: str | None = None,
    *,
    solutions_root: Path | None = None,
    public_only: bool = False,
    hidden: Sequence[Path] = (),
    settings: Settings | None = None,
) -> GradingResults:
    """Grade the notebook at ``path``; ``assignment`` defaults to the one its metadata names.

    ``hidden``: more paths student code must not see (e.g. where results will be written), on top
    of the solutions, the assignment's tests, the submission's own folder and
    ``settings.hidden_paths``. ``settings`` also gives the solutions root when ``solutions_root`` is
    None; without it they are read from the environment, as the command line reads them, so that a
    script calling this keeps every path the instructor or the image hides.
    """
    settings = settings or Settings.from_environ()
    root = solutions_root or settings.solutions_root
    started = time.monotonic()
    graded = _never_raising(lambda: _grade_path(Path(path), assignment, root, public_only, hidden, settings))
    results = graded.rendered()
    results.execution_time = time.monotonic() - started
    return results


def grade_prepared(
    read: Notebook | NotebookError,
    spec: Assignment,
    *,
    public_only: bool = False,
    hidden: Sequence[Path] = (),
    settings: Settings | None = None,
) -> Graded:
    """Grade a notebook already read (:func:`grader.notebook.isolated.read_or_error`) against ``spec``.

    The results' output is left to :meth:`Graded.rendered`, so that callers can add their notes.
    Never raises."""
    return _never_raising(
        lambda: _grade_read(read, spec, public_only, hidden, settings or Settings.from_environ())
    )


def results_for_problem(assignment: Assignment | None, message: str) -> GradingResults:
    """Score-0 results that explain a problem; when the assignment is known, its tests are listed."""
    return explain_problem(assignment, [student(message)]).rendered()


def explain_problem(assignment: Assignment | None, notes: list[Note]) -> Graded:
    """Score 0 with ``notes`` saying why; when the assignment is known, its tests are listed."""
    if assignment is None:
        return Graded(GradingResults(score_override=0.0), notes)
    tested = _run_tests(assignment, None, render(notes), public_only=False)
    tested.results.score_override = 0.0
    return Graded(tested.results, [*notes, *tested.notes])


def _never_raising(grade: Callable[[], Graded]) -> Graded:
    try:
        return grade()
    except Exception:  # the grader's own bug must still leave the student a result
        traceback.print_exc(file=sys.stderr)
        return Graded(GradingResults(score_override=0.0), [student(INTERNAL_PROBLEM)])


def _grade_path(
    path: Path,
    name: str | None,
    solutions_root: Path | None,
    public_only: bool,
    hidden: Sequence[Path],
    settings: Settings,
) -> Graded:
    read = read_or_error(path)
    try:
        spec = resolve_assignment(
            name,
            solutions_root=solutions_root,
            notebook_names=read.assignment if isinstance(read, Notebook) else None,
            unknown=messages.notebook_names_no_assignment,
        )
    except ConfigError as exc:
        unread = [student(str(read), PROBLEM)] if isinstance(read, NotebookError) else []
        return Graded(GradingResults(score_override=0.0), [*unread, student(str(exc), PROBLEM)])
    return _grade_read(read, spec, public_only, hidden, settings)


@dataclass(frozen=True)
class _Run:
    sandbox: Sandbox  # closed: what it recorded stays readable
    cells: list[CellRun]
    tested: Graded
    stopped: str  # why student code stopped running, as it stood when the hidden tests began


class _VisibleState:
    """What the top of the feedback may say, taken before any hidden input reaches the worker."""

    def __init__(self, sandbox: Sandbox):
        self.sandbox = sandbox
        self.stopped: str | None = None

    def fix(self) -> None:
        self.stopped = self.sandbox.stopped


def _run(
    notebook: Notebook, spec: Assignment, isolation: IsolationSpec, public_only: bool
) -> _Run | CannotHide:
    """Run the notebook's cells, then the tests, in a sandbox closed before this returns."""
    try:
        # Forked only while this process has run no tests: a fork would carry them to the worker.
        sandbox = Sandbox(
            [(cell.number, cell.source) for cell in notebook.cells],
            spec.limits,
            isolation,
            fork=not _tests_have_run,
        )
    except CannotHide as exc:
        return exc
    visible = _VisibleState(sandbox)
    with sandbox:
        cells = sandbox.start()
        tested = _run_tests(spec, sandbox, None, public_only=public_only, before_hidden=visible.fix)
    return _Run(sandbox, cells, tested, sandbox.stopped if visible.stopped is None else visible.stopped)


def _grade_read(
    read: Notebook | NotebookError,
    spec: Assignment,
    public_only: bool,
    hidden: Sequence[Path],
    settings: Settings,
) -> Graded:
    if isinstance(read, NotebookError):
        return explain_problem(spec, [student(messages.not_graded(str(read)))])
    secret = [spec.root.parent, spec.tests_dir, read.path.resolve().parent, *hidden]
    isolation = IsolationSpec.from_settings(settings, [Path(p).resolve() for p in secret])
    run = _run(read, spec, isolation, public_only)
    if isinstance(run, CannotHide):
        results = GradingResults(score_override=0.0, extra_data={"assignment": spec.name})
        return Graded(results, [student(INTERNAL_PROBLEM), instructor(str(run))])
    sandbox = run.sandbox
    names = {
        cell.number: cell_report.cell_name(cell.number, cell.source, cell.execution_count)
        for cell in read.cells
    }
    report = [
        messages.graded(read.path.name, spec.title),
        cell_report.import_report(run.cells, names),
        cell_report.cell_report(run.cells, names, spec.limits.memory_mb),
        messages.stopped_early(run.stopped) if run.stopped else "",
    ]
    results = run.tested.results
    results.extra_data.update(
        {
            "protections": sandbox.protections,
            "worker_restarts": sandbox.restarts,
            "cells": {cell.index: cell.status for cell in run.cells},
        }
    )
    if read.assignment and read.assignment != spec.name:  # students write it: shown, never obeyed
        results.extra_data["made_for"] = plain(read.assignment)[:100]
    # The scores stand when clean-up fails (the grading process computed them); the instructor is told.
    if sandbox.cleanup_problems:
        results.extra_data["cleanup_problems"] = [problem.step.value for problem in sandbox.cleanup_problems]
    staff = [
        instructor(plain(f"after grading, {problem.step.value} could not be cleaned up: {problem.detail}"))
        for problem in sandbox.cleanup_problems
    ]
    return Graded(results, [*(student(line, REPORT) for line in report), *run.tested.notes, *staff])


_tests_have_run = False  # in this process: later sandboxes start fresh interpreters, not forks


def _run_tests(
    spec: Assignment,
    sandbox: Sandbox | None,
    problem: str | None,
    *,
    public_only: bool,
    before_hidden: Callable[[], None] | None = None,
) -> Graded:
    global _tests_have_run
    _tests_have_run = True
    # Imported here so that the first worker is forked before the tests exist in memory.
    from .testing.outcomes import ExitCode, TestSession
    from .testing.proxy import Student, Unavailable
    from .testing.run import run_tests

    student_code = Student(sandbox if sandbox is not None else Unavailable(problem or "no notebook"))
    session = TestSession(student_code, public_only=public_only, before_hidden=before_hidden)
    exit_code = run_tests(spec.tests_dir, session)
    tests = list(session.results.values())
    broken = (ExitCode.INTERNAL_ERROR, ExitCode.USAGE_ERROR)
    if exit_code in broken or (exit_code == ExitCode.NO_TESTS_COLLECTED and not public_only):
        # An internal or usage error of pytest's, or no tests at all: the assignment is broken.
        results = GradingResults(score_override=0.0, extra_data={"assignment": spec.name})
        why = instructor(f"the tests ended with {exit_code.name} for {spec.tests_dir}")
        return Graded(results, [student(INTERNAL_PROBLEM, REPORT), why])
    notes: list[Note] = []
    if session.collection_errors:
        notes.append(student(messages.TESTS_NOT_LOADED, REPORT))
        notes += [instructor(f"collection error: {error}") for error in session.collection_errors]
    # A test's error may quote what student code raised: made plain.
    notes += [instructor(plain(f"test error: {note}")) for note in session.instructor_notes]
    notes.append(student(messages.hidden_summary(tests), REPORT))
    return Graded(GradingResults(tests=tests, extra_data={"assignment": spec.name}), notes)

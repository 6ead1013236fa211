"""The grader's core API: grade one notebook, in-process, into a :class:`GradingResults`.

The command line (:mod:`grader.cli`), the Gradescope entry (:mod:`grader.gradescope`) and batch
grading are thin layers over :func:`grade_notebook`. It never raises for anything a submission
does: every path ends in results a student can read.
"""

from __future__ import annotations

import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path

from .config import Assignment, ConfigError, available_assignments, load_assignment
from .notebook import Notebook, NotebookError
from .notebook.isolated import read_prepared
from .results import INTERNAL_PROBLEM, GradingResults, TestResult
from .sandbox.session import CannotHide, CellRun, Sandbox
from .sandbox.spec import IsolationSpec
from .settings import Settings
from .text import plain

COLAB_ONLY = ("google.colab", "/content/")  # Colab's modules (stand-ins here) and its files
# What running out of the memory limit looks like when it is not a MemoryError: the dynamic loader
# cannot map a shared library (``import torch`` after a cell that holds large arrays), or C++ code
# fails to allocate.
OUT_OF_MEMORY = (
    "MemoryError",
    "cannot map zero-fill pages",
    "failed to map segment",
    "Cannot allocate memory",
    "std::bad_alloc",
    "DefaultCPUAllocator: can't allocate",
)


def grade_notebook(
    path: Path,
    assignment: str | None = None,
    *,
    solutions_root: Path | None = None,
    public_only: bool = False,
    hidden: Sequence[Path] = (),
) -> GradingResults:
    """Grade the notebook at ``path``; ``assignment`` defaults to the one its metadata names.

    ``hidden``: more paths student code must not see (e.g. where results will be written), on top
    of the solutions, the assignment's tests and the submission's own folder.
    """
    started = time.monotonic()
    try:
        results = _grade(Path(path), assignment, solutions_root, public_only, hidden)
    except Exception:  # the grader's own bug must still leave the student a result
        traceback.print_exc(file=sys.stderr)
        results = GradingResults(output=INTERNAL_PROBLEM, score_override=0.0)
    results.execution_time = time.monotonic() - started
    return results


def results_for_problem(assignment: Assignment | None, message: str) -> GradingResults:
    """Score-0 results that explain a problem; when the assignment is known, its tests are listed."""
    if assignment is None:
        return GradingResults(output=message, score_override=0.0)
    results = _run_tests(assignment, None, message, public_only=False)
    results.output = "\n\n".join(filter(None, [message, results.output]))
    results.score_override = 0.0
    return results


def _resolve_assignment(
    name: str | None, notebook: Notebook | None, solutions_root: Path | None
) -> Assignment:
    name = name or (notebook.assignment if notebook else None)
    if name is None:
        known = available_assignments(solutions_root)
        if len(known) != 1:
            raise ConfigError(
                "This notebook does not say which assignment it belongs to, so it could not be graded. "
                f"Start from the notebook handed out for the assignment. (Known assignments: {', '.join(known) or 'none'}.)"
            )
        name = known[0]
    return load_assignment(name, solutions_root)


def _grade(
    path: Path,
    assignment_name: str | None,
    solutions_root: Path | None,
    public_only: bool,
    hidden: Sequence[Path],
) -> GradingResults:
    notebook, problem = None, None
    try:
        notebook = read_prepared(path)
    except NotebookError as exc:
        problem = str(exc)
    try:
        spec = _resolve_assignment(assignment_name, notebook, solutions_root)
    except ConfigError as exc:
        return GradingResults(output=f"{problem}\n{exc}" if problem else str(exc), score_override=0.0)
    if notebook is None:
        return results_for_problem(spec, f"Your submission could not be graded: {problem}")
    secret = [spec.root.parent, spec.tests_dir, path.resolve().parent, *hidden]
    isolation = IsolationSpec.from_settings(Settings.from_environ(), [Path(p).resolve() for p in secret])
    try:
        # Forked only while this process has run no tests: a fork would carry them to the worker.
        sandbox = Sandbox(
            [(cell.number, cell.source) for cell in notebook.cells],
            spec.limits,
            isolation,
            fork=not _tests_have_run,
        )
    except CannotHide as exc:
        print(f"grader: {exc}", file=sys.stderr)
        return GradingResults(
            output=INTERNAL_PROBLEM, score_override=0.0, extra_data={"assignment": spec.name}
        )
    with sandbox:
        cell_runs = sandbox.start()
        results = _run_tests(spec, sandbox, None, public_only=public_only)
    stopped = (
        f"Grading stopped early: {sandbox.stopped}; the tests left then could not call your code."
        if sandbox.stopped
        else ""
    )
    names = {cell.number: cell_name(cell.number, cell.source) for cell in notebook.cells}
    results.output = "\n".join(
        filter(
            None,
            [
                f"Graded {path.name} for {spec.title}.",
                _import_report(cell_runs, names),
                _cell_report(cell_runs, names, spec.limits.memory_mb),
                stopped,
                results.output,
            ],
        )
    )
    results.extra_data.update(
        {
            "protections": sandbox.protections,
            "worker_restarts": sandbox.restarts,
            "cells": {run.index: run.status for run in cell_runs},
        }
    )
    if sandbox.cleanup_problems:
        # The scores stand (the grading process computed them); the instructor is told.
        results.extra_data["cleanup_problems"] = [problem.step.value for problem in sandbox.cleanup_problems]
        for problem in sandbox.cleanup_problems:
            print(
                plain(
                    f"grader: after grading, {problem.step.value} could not be cleaned up: {problem.detail}"
                ),
                file=sys.stderr,
            )
    return results


_tests_have_run = False  # in this process: later sandboxes start fresh interpreters, not forks


def _run_tests(
    spec: Assignment, sandbox: Sandbox | None, problem: str | None, *, public_only: bool
) -> GradingResults:
    global _tests_have_run
    _tests_have_run = True
    # Imported here so that the first worker is forked before pytest and the tests exist in memory.
    from .testing.plugin import GradingPlugin, run_tests
    from .testing.proxy import Student, Unavailable

    student = Student(sandbox if sandbox is not None else Unavailable(problem or "no notebook"))
    plugin = GradingPlugin(student, public_only=public_only)
    exit_code = run_tests(spec.tests_dir, plugin)
    tests: list[TestResult] = list(plugin.results.values())
    notes = []
    if exit_code in (3, 4) or (exit_code == 5 and not public_only):
        # pytest's internal error, usage error, or no tests at all: the assignment is broken.
        print(f"grader: pytest ended with exit code {exit_code} for {spec.tests_dir}", file=sys.stderr)
        return GradingResults(
            output=INTERNAL_PROBLEM, score_override=0.0, extra_data={"assignment": spec.name}
        )
    if plugin.collection_errors:
        notes.append(INTERNAL_PROBLEM + " (Some tests could not be loaded.)")
        for error in plugin.collection_errors:
            print(f"grader: collection error: {error}", file=sys.stderr)
    for note in plugin.instructor_notes:
        print(plain(f"grader: test error: {note}"), file=sys.stderr)  # may quote what student code raised
    results = GradingResults(tests=tests, extra_data={"assignment": spec.name})
    notes.append(_hidden_summary(tests))
    results.output = "\n".join(filter(None, notes))
    return results


def _hidden_summary(tests: list[TestResult]) -> str:
    hidden = [t for t in tests if t.visibility != "visible"]
    if not hidden:
        return ""
    points = sum(t.max_score for t in hidden)
    return (
        f"{len(hidden)} hidden test{'s' if len(hidden) != 1 else ''} worth {points:g} point"
        f"{'s' if points != 1 else ''} will be shown when grades are published."
    )


def cell_name(number: int, source: str) -> str:
    """A cell as the student finds it: its position among code cells and its first line."""
    first = next((line.strip() for line in source.splitlines() if line.strip()), "")
    if len(first) > 40:
        first = first[:37].rstrip() + " ..."
    return f'code cell {number}, starting "{first}"' if first else f"code cell {number}"


def _import_report(runs: list[CellRun], names: dict[int, str]) -> str:
    """Each module that could not be imported, once: the rest of its cell ran all the same."""
    missing: dict[str, list[str]] = {}
    for run in runs:
        for failed in run.failed_imports:
            key = failed["module"] or failed["message"]
            where = names.get(run.index, f"code cell {run.index}")
            if where not in missing.setdefault(key, []):
                missing[key].append(where)
    if not missing:
        return ""
    lines = [f"- {name} (imported in {', '.join(cells)})" for name, cells in missing.items()]
    return (
        "Not available in the grader (the rest of each of these cells still ran; only code that "
        "uses them fails):\n" + "\n".join(lines)
    )


def _lost_note(run: CellRun) -> str:
    if run.lost is None:
        return ""
    what = f"the names it defines ({', '.join(run.lost)})" if run.lost else "what it defines"
    return (
        f"  The process stopped with this cell, so it is not run again: later cells and tests ran "
        f"without {what}."
    )


def memory_hint(text: str, memory_mb: int) -> str:
    """A plain-words note when an error is the memory limit in disguise, else ''."""
    if not any(sign in text for sign in OUT_OF_MEMORY):
        return ""
    return (
        f"  (Your notebook ran out of memory: it may use {memory_mb} MB, and what earlier cells keep, "
        "large arrays or tensors above all, leaves too little for this step; an import such as "
        "`import torch` needs a few hundred MB of its own. Use smaller arrays, `del` the ones you "
        "no longer need, or move the import to the top of the notebook.)"
    )


def _cell_report(runs: list[CellRun], names: dict[int, str], memory_mb: int) -> str:
    lines = []
    from .testing.explain import error_text

    for run in runs:
        if run.status == "ok":
            continue
        lost = _lost_note(run)
        name = names.get(run.index, f"code cell {run.index}")
        name = name[0].upper() + name[1:]
        if run.status == "timeout" and run.message:
            lines.append(f"- {name} did not finish: {run.message}.")
        elif run.status == "timeout":
            lines.append(f"- {name} did not finish in time and was stopped.")
        elif run.status == "stopped":
            lines.append(f"- {name} was not run: {run.message}.")
        elif run.status == "crashed":
            note = (run.error or {}).get("message", "the process running it stopped")
            lines.append(f"- {name} stopped the process running your notebook: {note}.")
        else:
            text = error_text(run.error).replace("\n", "\n  ")
            lines.append(f"- {name}, raised {text}" if "starting" in name else f"- {name} raised {text}")
            hint = memory_hint(text, memory_mb)
            if hint:
                lines.append(hint)
            if any(name in text for name in COLAB_ONLY):
                lines.append(
                    "  (Colab-only code and files (/content/...) are not in the grader; this is fine as long as your "
                    "functions do not depend on it.)"
                )
        if lost:
            lines.append(lost)
    if not lines:
        return ""
    return "Problems while running your notebook (later cells still ran):\n" + "\n".join(lines)

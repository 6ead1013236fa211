"""Grading one submission of a batch (in a forked child of a server), and the result that explains
why grading it failed."""

from __future__ import annotations

import sys
import time
import traceback
from pathlib import Path

from ..results import INTERNAL_PROBLEM, GradingResults, write_atomically

RESULTS_FILE = "results.json"  # each submission's, in its folder under the batch's output


def grade_submission(
    source: Path, assignment: str | None = None, *, solutions_root: Path | None = None
) -> GradingResults:
    """Grade one submission: a notebook file, or a folder of submitted files. Never raises."""
    from ..api import grade_notebook

    source = Path(source)
    if not source.is_dir():
        return grade_notebook(source, assignment, solutions_root=solutions_root)
    return _grade_folder(source, assignment, solutions_root)


def _grade_folder(folder: Path, assignment: str | None, solutions_root: Path | None) -> GradingResults:
    from ..api import grade_notebook, results_for_problem
    from ..config import ConfigError, available_assignments, load_assignment
    from ..submission import choose, submitted_files

    started = time.monotonic()
    try:
        files = submitted_files(folder)
        name = assignment
        if name is None:
            known = available_assignments(solutions_root)
            name = known[0] if len(known) == 1 else None
        spec = None
        if name is not None:
            try:
                spec = load_assignment(name, solutions_root)
            except ConfigError:
                spec = None
        choice = choose(files, name, spec.notebook if spec else None, folder)
        if choice.notebook is None:
            results = results_for_problem(spec, choice.message)
            results.execution_time = time.monotonic() - started
            return results
        results = grade_notebook(choice.notebook, name, solutions_root=solutions_root)
        if choice.message:
            results.output = f"{choice.message}\n\n{results.output}" if results.output else choice.message
        results.extra_data["graded_file"] = choice.notebook.relative_to(folder).as_posix()
        return results
    except Exception:
        traceback.print_exc(file=sys.stderr)
        return GradingResults(output=INTERNAL_PROBLEM, score_override=0.0)


def internal_error_results(detail: str) -> GradingResults:
    return GradingResults(output=INTERNAL_PROBLEM, score_override=0.0, extra_data={"internal_error": detail})


def write_internal_error(path: Path, detail: str) -> None:
    """Leave the student the internal-problem result; a write that fails is logged, not raised."""
    try:
        write_atomically(internal_error_results(detail), path)
    except OSError:
        traceback.print_exc(file=sys.stderr)

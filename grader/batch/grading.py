"""Grading one submission of a batch (in a forked child of a server), and the result that explains
why grading it failed."""

from __future__ import annotations

import sys
import traceback
from pathlib import Path

from ..results import INTERNAL_PROBLEM, GradingResults, write_results_now
from ..settings import Settings

RESULTS_FILE = "results.json"  # each submission's, in its folder under the batch's output


def grade_submission(
    source: Path, assignment: str, *, solutions_root: Path | None, settings: Settings
) -> GradingResults:
    """Grade one submission (a notebook file, or a folder of submitted files) for ``assignment``,
    which the batch's entry resolved once, with the policy its server read once. Never raises."""
    from ..api import grade_notebook
    from ..config import ConfigError, load_assignment
    from ..grading import messages
    from ..grading.pipeline import grade_folder, ungradable_folder

    source = Path(source)
    try:
        spec = load_assignment(assignment, solutions_root)
    except ConfigError as exc:
        # The one path for an assignment that cannot be loaded, as on Gradescope: the results say
        # that grading is not set up, and why, for course staff (or that the notebook is missing).
        return ungradable_folder(source, assignment, messages.not_loaded(assignment, exc)).rendered()
    if not source.is_dir():
        return grade_notebook(source, assignment, solutions_root=solutions_root, settings=settings)
    try:
        return grade_folder(source, spec, settings=settings).rendered()
    except Exception:
        traceback.print_exc(file=sys.stderr)
        return GradingResults(output=INTERNAL_PROBLEM, score_override=0.0)


def batch_assignment(assignment: str | None, solutions_root: Path | None) -> str:
    """The one assignment a batch grades: the one given, else the only one installed.

    Raises ValueError when it is ambiguous: a batch never takes it from the notebooks' own
    metadata, which students write, nor mixes assignments."""
    from ..config import assignment_name
    from ..grading import messages

    return assignment_name(
        assignment, solutions_root=solutions_root, unknown=messages.batch_names_no_assignment
    )


def internal_error_results(detail: str) -> GradingResults:
    return GradingResults(output=INTERNAL_PROBLEM, score_override=0.0, extra_data={"internal_error": detail})


def write_internal_error(path: Path, detail: str) -> None:
    """Leave the student the internal-problem result; a write that fails is logged, not raised."""
    try:
        write_results_now(internal_error_results(detail), path)
    except OSError:
        traceback.print_exc(file=sys.stderr)

"""Grading one submission folder: choose its notebook, apply the course's policies, grade it.

The Gradescope entry grades /autograder/submission with this, and batch grading each folder of a
Gradescope export. The notebook is read once, while it is chosen (in the bounded child of
:mod:`grader.notebook.isolated`), and that reading is what the warnings and grading use.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..api import explain_problem, grade_prepared
from ..config import Assignment
from ..forked import in_child
from ..gradescope import late
from ..gradescope import submission_limit as resubmission
from ..notebook import Notebook, NotebookError
from ..notebook.choice import choose, handout_fingerprints, submitted, submitted_files
from ..notebook.self_checks import as_graded
from ..results import GradingResults
from ..settings import Settings
from . import messages
from .notes import Graded, Note, instructor, student


@dataclass(frozen=True)
class GradescopeRun:
    """What only a Gradescope run knows of a submission, and the policies that come with it.

    ``metadata`` is the essentials of submission_metadata.json (None when it is missing or
    unreadable, which the entry has noted): the late policy and the submission limit are applied
    from it. A Gradescope run also compares notebooks with the handout when choosing among
    several, and warns about a notebook that names another assignment; batch grading does none
    of this.
    """

    metadata: dict[str, Any] | None


def grade_folder(
    folder: Path,
    spec: Assignment,
    *,
    gradescope: GradescopeRun | None = None,
    hidden: Sequence[Path] = (),
    settings: Settings | None = None,
) -> Graded:
    """Grade the submission in ``folder`` against ``spec``; the output is rendered by the caller.

    ``hidden`` and ``settings`` are passed to :func:`grader.api.grade_prepared`."""
    started = time.monotonic()
    upload = submitted(folder)
    files = upload.files
    handout = handout_of(spec) if gradescope is not None and len(files) > 1 else None
    choice = choose(files, spec.name, spec.notebook, folder, handout)
    if choice.notebook is None or choice.read is None:
        return _problem(spec, [student(choice.message)])
    intro = [
        student(choice.message),
        student(messages.upload_cut_short(upload.stopped) if upload.stopped else ""),
    ]
    penalty = late.LatePenalty()
    if gradescope is not None:
        penalty = late.assess(gradescope.metadata, spec.late)
        # A missing file has been noted already, and the policy's note would say it again.
        staff = [instructor(n) for n in penalty.instructor_notes if gradescope.metadata is not None]
        declined = _declined(spec, gradescope, penalty, choice.message)
        if declined is not None:
            declined.notes[:0] = staff
            return declined
        intro = [*staff, *intro, student(_other_assignment(choice.read, spec))]
        if penalty.days_late and not penalty.applies:
            intro.append(student(penalty.message))  # late, but this assignment charges nothing for it
    graded = grade_prepared(choice.read, spec, hidden=hidden, settings=settings)
    results = graded.results
    if gradescope is not None:
        late.apply_penalty(results, penalty)
        results.extra_data["late"] = {"days_late": penalty.days_late, "points": penalty.points}
    results.extra_data["graded_file"] = choice.notebook.relative_to(folder).as_posix()
    results.execution_time = time.monotonic() - started
    return Graded(results, [*intro, *graded.notes])


def ungradable_folder(folder: Path, name: str | None, why: str) -> Graded:
    """What a submission (a folder, or a notebook file) gets when the deployment's assignment is
    unknown or cannot be loaded (``why``, for course staff): the missing notebook explained if it
    has none, else that grading is not set up."""
    if folder.is_dir():
        choice = choose(submitted_files(folder), name, None, folder)
    else:
        choice = choose([folder], name, None, None)
    if choice.notebook is None:
        return _problem(None, [student(choice.message)])
    return _problem(None, [student(messages.SETUP_ERROR), student(messages.for_course_staff(why))])


def _declined(
    spec: Assignment, gradescope: GradescopeRun, penalty: late.LatePenalty, chosen: str
) -> Graded | None:
    """Score-0 or kept-score results for a submission the policies refuse to grade, else None."""
    if penalty.rejected:
        return _problem(spec, [student(penalty.message), student(chosen)])
    limited = resubmission.decide(spec.submission_limit, *resubmission.attempts(gradescope.metadata))
    if not limited.graded:
        return resubmission.declined(spec.submission_limit, limited)
    return None


def _other_assignment(read: Notebook | NotebookError, spec: Assignment) -> str:
    named = read.assignment if isinstance(read, Notebook) else None  # grading explains unreadable ones
    return messages.other_assignment(named, spec.title) if named and named != spec.name else ""


def _problem(spec: Assignment | None, notes: list[Note]) -> Graded:
    """Score 0 with ``notes``, listing the assignment's tests when the core can."""
    try:
        return explain_problem(spec, notes)
    except Exception:
        return Graded(GradingResults(score_override=0.0), notes)


def handout_of(assignment: Assignment) -> frozenset[str] | None:
    """Fingerprints of the code cells students are handed, or None when they cannot be made.

    The handout is generated from the reference solution, whose text must never be in the memory
    the first worker is forked from: it is built in a short-lived child and only the
    fingerprints come back."""

    def fingerprints() -> list[str]:
        from ..authoring.build import build_stub

        stub = build_stub(assignment)
        # As intake prepares a submission's cells: the engine cell stood in for.
        sources = [as_graded(c["source"]) for c in stub["cells"] if c.get("cell_type") == "code"]
        return sorted(handout_fingerprints(sources))

    found = in_child(fingerprints)
    return frozenset(str(f) for f in found) if isinstance(found, list) and found else None

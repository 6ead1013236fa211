"""The texts grading writes for students (and the few course staff see in a student's results).

Kept together so that the wording can be reviewed in one place; the code that decides when each
is said lives with the decision (:mod:`grader.api`, :mod:`grader.grading.pipeline`, :mod:`grader.gradescope.late`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ..results import INTERNAL_PROBLEM
from ..text import one_line

if TYPE_CHECKING:
    from ..results import TestResult

INTERNAL_ERROR = (
    "The autograder ran into an internal problem and could not grade this submission. This is "
    "not a problem with your work, and course staff can see the details. Please resubmit; if it "
    "happens again, contact course staff."
)
SETUP_ERROR = (
    "The autograder is not set up correctly for this assignment, so this submission could not be "
    "graded. This is not a problem with your work: please let course staff know."
)
TESTS_NOT_LOADED = INTERNAL_PROBLEM + " (Some tests could not be loaded.)"

# ---- what was uploaded --------------------------------------------------------------------------

HOW_TO_DOWNLOAD = (
    "To download it: in Jupyter, File > Download as > Notebook (.ipynb) (in JupyterLab and "
    "Notebook 7, File > Download); in Colab, File > Download > Download .ipynb. In VS Code the "
    "file you edit is already the .ipynb."
)
ZERO_CREDIT = "Without a notebook there is no code to grade, so this submission receives zero credit."

FILE_KINDS = {
    ".py": "a Python script",
    ".zip": "a zip archive",
    ".pdf": "a PDF",
    ".html": "a web page",
    ".htm": "a web page",
    ".txt": "a text file",
    ".json": "a JSON file",
    ".md": "a Markdown file",
    ".docx": "a Word document",
    ".png": "an image",
    ".jpg": "an image",
    ".jpeg": "an image",
    ".tar": "an archive",
    ".gz": "an archive",
    ".7z": "an archive",
    ".rar": "an archive",
}


def described(shown: str, file_name: str) -> str:
    """An uploaded file as the student will recognise it, with what kind of file it is."""
    # Safari and some mail clients add an extension to a downloaded notebook.
    if ".ipynb." in file_name.lower():
        return f"{shown} (a notebook whose name gained an extra extension: rename it to end in .ipynb)"
    kind = FILE_KINDS.get(Path(file_name).suffix.lower())
    return f"{shown} ({kind})" if kind else shown


def symbolic_links(shown: Sequence[str], count: int) -> str:
    """``shown``: the first few of the ``count`` links."""
    if not count:
        return ""
    names = ", ".join(shown) + (f" and {count - 5} more" if count > 5 else "")
    one = count == 1
    return (
        f"{names} {'is a symbolic link' if one else 'are symbolic links'} (a shortcut to a file elsewhere), "
        "which the autograder never follows, so nothing behind "
        f"{'it' if one else 'them'} was submitted. Upload the notebook file itself."
    )


def no_notebook(
    files: Sequence[str], count: int, suffixes: set[str], links: Sequence[str], link_count: int
) -> str:
    """``files``: the first few of the ``count`` files uploaded, :func:`described`; ``links``
    likewise the first few of the symbolic links."""
    if not count and link_count:
        opening = (
            "Your submission contains no regular files, only symbolic links. "
            + symbolic_links(links, link_count)
            + " A Jupyter notebook (.ipynb) is required."
        )
    elif not count:
        opening = "Your submission contains no files. A Jupyter notebook (.ipynb) is required."
    else:
        listed = ", ".join(files)
        more = f" and {count - 5} more" if count > 5 else ""
        opening = (
            f"You uploaded {listed}{more}, but the autograder grades only a Jupyter notebook (.ipynb). "
            "Please upload the .ipynb file itself."
        )
        if ".py" in suffixes:
            opening += " An exported Python script is not graded, even with the same code."
        if suffixes & {".pdf", ".html", ".htm"}:
            opening += " A PDF or HTML export holds no runnable code."
        if ".zip" in suffixes:
            opening += " A zip archive is not unpacked: upload the notebook on its own."
        if link_count:
            opening += " " + symbolic_links(links, link_count)
    return f"{opening} {ZERO_CREDIT} {HOW_TO_DOWNLOAD}"


# Why one of several notebooks was graded: (why this step alone decided, what the survivors share).
ONLY_ONE_READABLE = ("the others could not be read as notebooks", "readable notebooks")
ONLY_ONE_WORKED_ON = (
    "the others hold none of your own code (only the handout's cells, or no code at all)",
    "notebooks with your work in them",
)
ONLY_ONE_HAS_CODE = ("the others have no code in them", "notebooks with code in them")
NONE_READABLE = "none of them could be read as a notebook (the problem is explained below)"


def names_assignment(assignment: str | None) -> tuple[str, str]:
    return (
        f"its metadata names this assignment ({assignment})",
        f"notebooks whose metadata names this assignment ({assignment})",
    )


def has_notebook_name(expected_name: str | None) -> tuple[str, str]:
    return (f"it has the assignment's notebook name ({expected_name})", f"notebooks named {expected_name}")


def modified_at_once(tied: int, among: str) -> str:
    return (
        f"{tied} {among or 'notebooks'} were last modified at the same time and it is the "
        "one in the shallowest folder (then the first in alphabetical order)"
    )


def most_recent(among: str) -> str:
    return f"it is the most recently modified of the {among}" if among else "it is the most recently modified"


def several_notebooks(count: int, listed: str, chosen: str, reason: str) -> str:
    return (
        f"You uploaded {count} notebooks ({listed}). Graded {chosen} because "
        f"{reason}. To be sure the right one is graded, upload only one notebook."
    )


# ---- which assignment ---------------------------------------------------------------------------


def notebook_names_no_assignment(known: Sequence[str]) -> str:
    return (
        "This notebook does not say which assignment it belongs to (a copy saved by Colab or another "
        "tool may have lost that note), so it could not be graded: name the assignment with "
        f"--assignment NAME. (Known assignments: {', '.join(known) or 'none'}.)"
    )


def deployment_names_no_assignment(known: Sequence[str]) -> str:
    """For course staff: a Gradescope autograder that cannot tell which assignment it grades."""
    return (
        "Could not tell which assignment to grade: no --assignment given and "
        + (
            f"{len(known)} assignments are installed ({', '.join(known)})"
            if known
            else "no assignment is installed"
        )
        + ". Build one autograder per assignment (grader package NAME, or docker build --build-arg "
        "ASSIGNMENT=NAME), or pass --assignment NAME in run_autograder."
    )


def batch_names_no_assignment(known: Sequence[str]) -> str:
    """For the instructor at the terminal: a batch grades one assignment, never the notebooks' own."""
    return (
        f"--assignment is required: {len(known)} assignments are installed "
        f"({', '.join(known) or 'none'}), and a batch grades one of them"
    )


def not_loaded(name: str, problem: object) -> str:
    return f"Assignment {name!r} could not be loaded: {problem}"


def for_course_staff(note: str) -> str:
    return f"For course staff: {note}"


def notebooks_passed_over(count: int, considered: int) -> str:
    return (
        f"{count} more notebook{'s were' if count != 1 else ' was'} not considered: only the {considered} "
        "most recently modified (those named like the assignment's first) are. Upload only your notebook."
    )


def upload_cut_short(why: str) -> str:
    return (
        f"Your upload holds {why}: only what was found before that was looked at. Upload only your notebook."
    )


def other_assignment(named: str, title: str) -> str:
    return (
        f"Note: your notebook says it is for {named!r}, but this is {title!r}; it was "
        "graded against this assignment. Check that you uploaded the right notebook."
    )


# ---- the grading report -------------------------------------------------------------------------


def not_graded(problem: str) -> str:
    return f"Your submission could not be graded: {problem}"


def graded(file_name: str, title: str) -> str:
    return f"Graded {one_line(file_name)} for {title}."


def stopped_early(reason: str) -> str:
    return f"Grading stopped early: {reason}; the tests left then could not call your code."


def hidden_sentence(count: int, points: float, function: str = "") -> str:
    """The words for the hidden tests, the same in the notebook, the kit and on Gradescope."""
    of = f" of {function}" if function else ""
    return (
        f"{count} hidden test{'s' if count != 1 else ''}{of} worth {points:g} point{'s' if points != 1 else ''} "
        "will be shown when grades are published."
    )


def hidden_summary(tests: Sequence[TestResult]) -> str:
    hidden = [t for t in tests if t.visibility != "visible"]
    if not hidden:
        return ""
    return hidden_sentence(len(hidden), sum(t.max_score for t in hidden))


# ---- the late policy ----------------------------------------------------------------------------


def after_late_due_date(submitted: str, lateness: str, late_due: str) -> str:
    return (
        f"This submission was made at {submitted}, {lateness} after "
        f"the late due date ({late_due}). Submissions after the late due date are not "
        "accepted, so it receives 0 points. If you have an extension, contact course staff."
    )


def days_late(submitted: str, lateness: str, due: str, days: str) -> str:
    return (
        f"Submitted {submitted}, {lateness} after the due date "
        f"({due}). Any part of a day counts as a whole day, so this submission is "
        f"{days} late."
    )


def no_late_penalty(when: str) -> str:
    return f"{when} This assignment has no late penalty."


def late_penalty(when: str, per_day: str, points: str, one_point: bool) -> str:
    return (
        f"{when} The late penalty is {per_day} per day or part of a "
        f"day, so {points} {'is' if one_point else 'are'} deducted "
        "(the total never goes below 0)."
    )


# ---- the late penalty's line --------------------------------------------------------------------


def penalty_name(days_late: int) -> str:
    return f"Late penalty: {days_late} day{'s' if days_late != 1 else ''} late"


def points(value: float) -> str:
    shown = str(int(value)) if float(value).is_integer() else f"{value:g}"
    return f"{shown} point" + ("" if value == 1 else "s")


def nothing_to_deduct() -> str:
    return " This submission earned no points, so there was nothing to deduct."


def only_earned(earned: float, deducted: float) -> str:
    return f" This submission earned only {points(earned)}, so {points(deducted)} were deducted."


# ---- the submission limit -----------------------------------------------------------------------


def over_the_limit(max_graded: int, period: str, kept_score: float, next_graded: str) -> str:
    plural = "s" if max_graded != 1 else ""
    return (
        f"This submission was not graded: this assignment grades at most {max_graded} "
        f"submission{plural} {period}, and you have used them. Your score stays "
        f"that of your last graded submission, {kept_score:g}. The next submission "
        f"made at or after {next_graded} will be graded.\n\nTest your functions with the self-checks in "
        "the notebook before you submit again."
    )

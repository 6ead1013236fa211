"""The Gradescope entry path: from /autograder as the harness leaves it to results/results.json.

Whatever happens, a results.json is written: a missing or broken one shows the student only
"The autograder failed to execute correctly". Notes for course staff go to stdout, which
Gradescope shows to instructors only, and to ``extra_data``.
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from pathlib import Path

from . import late
from .config import Assignment, ConfigError, available_assignments, load_assignment
from .results import GradingResults, TestResult, write_atomically
from .submission import Choice, choose, notebook_assignments, submitted_files

INTERNAL_ERROR = (
    "The autograder ran into an internal problem and could not grade this submission. This is "
    "not a problem with your work, and course staff can see the details. Please resubmit; if it "
    "happens again, contact course staff."
)
SETUP_ERROR = (
    "The autograder is not set up correctly for this assignment, so this submission could not be "
    "graded. This is not a problem with your work: please let course staff know."
)


def run_gradescope(
    root: Path, *, solutions_root: Path | None = None, assignment: str | None = None
) -> GradingResults:
    """Grade the submission under ``root`` (normally /autograder) and write root/results/results.json."""
    root = Path(root)
    started = time.monotonic()
    notes: list[str] = []
    try:
        results = _grade(root, solutions_root, assignment, notes)
    except Exception:
        notes.append("Grading failed with an internal error:\n" + traceback.format_exc())
        results = _problem(None, INTERNAL_ERROR)
    except BaseException:
        # Someone is stopping the process (Ctrl-C, SystemExit): leave a result behind, then stop.
        notes.append("Grading was interrupted:\n" + traceback.format_exc())
        _finish(root, _problem(None, INTERNAL_ERROR), notes, started)
        raise
    _finish(root, results, notes, started)
    return results


def _finish(root: Path, results: GradingResults, notes: list[str], started: float) -> None:
    results.execution_time = max(results.execution_time, time.monotonic() - started)
    if notes:
        results.extra_data.setdefault("instructor_notes", []).extend(n.splitlines()[0] for n in notes)
        for note in notes:
            print(f"[grader] {note}", flush=True)
    path = root / "results" / "results.json"
    try:
        write_atomically(results, path)
    except Exception:
        # Odd content must not cost the student the file: fall back to the bare verdict.
        print(f"[grader] Writing {path} failed:\n{traceback.format_exc()}", file=sys.stderr, flush=True)
        try:
            write_atomically(GradingResults(output=INTERNAL_ERROR, score_override=0.0), path)
        except Exception:
            print(f"[grader] Writing a fallback {path} failed too.", file=sys.stderr, flush=True)


def _problem(assignment: Assignment | None, message: str) -> GradingResults:
    """Score 0 with a message, listing the assignment's tests when the core can."""
    try:
        from .api import results_for_problem

        return results_for_problem(assignment, message)
    except Exception:
        return GradingResults(output=message, score_override=0.0)


_DATES = ("due_date", "late_due_date")


def _essential(data: dict) -> dict:
    """The dates the late policy needs. Everything else (earlier results.json files, hidden
    tests' output among them) must not be in the memory the first worker is forked from."""
    def dates(node) -> dict:
        return {k: node.get(k) for k in _DATES if isinstance(node, dict) and isinstance(node.get(k), (str, type(None)))}

    users = data.get("users") if isinstance(data.get("users"), list) else []
    previous = data.get("previous_submissions") if isinstance(data.get("previous_submissions"), list) else []
    return {
        # Times and scores only: the earlier results (hidden tests' output) stay out.
        "previous_submissions": [{k: p.get(k) for k in ("submission_time", "score", "autograder_error")
                                  if isinstance(p.get(k), (str, int, float, bool, type(None)))}
                                 for p in previous if isinstance(p, dict)],
        "created_at": data.get("created_at") if isinstance(data.get("created_at"), str) else None,
        "assignment": dates(data.get("assignment")),
        "users": [{"assignment": dates(u.get("assignment"))} for u in users if isinstance(u, dict)
                  and isinstance(u.get("assignment"), dict)],
    }


def read_metadata(path: Path) -> tuple[dict | None, str]:
    """The essential dates of submission_metadata.json, or None and a note saying why not.

    The file is parsed in a short-lived child process, so that only the dates ever exist in this
    process (freed memory is not wiped, and the worker is forked from here)."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(read_end)
            data, note = _read_whole(path)
            payload = json.dumps({"data": _essential(data) if data is not None else None, "note": note})
            with os.fdopen(write_end, "w", encoding="utf-8") as pipe:
                pipe.write(payload)
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "r", encoding="utf-8") as pipe:
        raw = pipe.read()
    os.waitpid(pid, 0)
    try:
        answer = json.loads(raw)
        return answer["data"], answer["note"]
    except (ValueError, KeyError, TypeError):
        return None, f"{path} could not be read: graded without a late policy."


def _read_whole(path: Path) -> tuple[dict | None, str]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None, f"{path} is missing: graded without a late policy."
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        return None, f"{path} could not be read ({exc}): graded without a late policy."
    if not isinstance(data, dict):
        return None, f"{path} does not hold a JSON object: graded without a late policy."
    return data, ""


def protect_metadata(path: Path, notes: list[str]) -> None:
    """Make the metadata root-only before any student code runs: it holds the student's earlier
    results.json files, hidden tests' output included, and the mount namespace that would hide it
    is refused in Gradescope's containers."""
    if os.geteuid() != 0 or not path.exists():
        return
    try:
        os.chmod(path, 0o600)
    except OSError as exc:
        notes.append(f"{path} could not be made root-only ({exc.strerror}); student code may read it.")


def _assignment_name(
    explicit: str | None, notebooks: list[Path], solutions_root: Path | None, notes: list[str]
) -> str | None:
    """The explicit name, else the one the notebooks name, else the only one installed."""
    if explicit:
        return explicit
    available = available_assignments(solutions_root)
    named = sorted({name for name in notebook_assignments(notebooks) if name})
    # A name nothing is installed under (an old template, a typo) must not hide the only real one.
    known = [name for name in named if name in available]
    if len(known) == 1:
        if len(available) > 1:
            notes.append(
                f"Assignment {known[0]!r} taken from the notebook's metadata; pass --assignment in "
                "run_autograder so a notebook from another assignment is not graded as that one."
            )
        return known[0]
    if len(available) == 1:
        return available[0]
    notes.append(
        "Could not tell which assignment to grade: no --assignment given, the notebook metadata names "
        f"{', '.join(named) or 'none'}, and the assignments available are {', '.join(available) or 'none'}. "
        "Pass --assignment NAME in run_autograder."
    )
    return None


def _grade(root: Path, solutions_root: Path | None, explicit: str | None, notes: list[str]) -> GradingResults:
    metadata, metadata_note = read_metadata(root / "submission_metadata.json")
    protect_metadata(root / "submission_metadata.json", notes)
    if metadata_note:
        notes.append(metadata_note)
    submission_dir = root / "submission"
    files = submitted_files(submission_dir)
    notebooks = [p for p in files if p.suffix.lower() == ".ipynb"]

    name = _assignment_name(explicit, notebooks, solutions_root, notes)
    assignment: Assignment | None = None
    if name is not None:
        try:
            assignment = load_assignment(name, solutions_root)
        except ConfigError as exc:
            notes.append(f"Assignment {name!r} could not be loaded: {exc}")

    choice = choose(files, name, assignment.notebook if assignment else None, submission_dir)
    if choice.notebook is None:
        return _problem(assignment, choice.message)
    if assignment is None:
        return _problem(None, f"{SETUP_ERROR}\n\nFor course staff: {notes[-1]}")

    penalty = late.assess(metadata, assignment.late)
    if metadata is not None:  # a missing file has been noted already
        notes.extend(penalty.instructor_notes)
    if penalty.rejected:
        message = "\n\n".join(filter(None, [penalty.message, choice.message]))
        return _problem(assignment, message)

    from . import resubmission

    limited = resubmission.decide(assignment.submission_limit, *resubmission.attempts(metadata))
    if not limited.graded:
        return resubmission.declined_results(assignment.submission_limit, limited)

    from .api import grade_notebook

    results = grade_notebook(choice.notebook, assignment.name, solutions_root=solutions_root)
    intro = [choice.message, _mismatch(choice, assignment)]
    if penalty.days_late and not penalty.applies:
        intro.append(penalty.message)  # late, but this assignment charges nothing for it
    if penalty.applies:
        _apply_penalty(results, penalty)
    results.extra_data["late"] = {"days_late": penalty.days_late, "points": penalty.points}
    results.extra_data["graded_file"] = choice.notebook.relative_to(submission_dir).as_posix()
    return _with_intro(results, intro)


def _mismatch(choice: Choice, assignment: Assignment) -> str:
    try:
        from .notebook import read_notebook

        named = read_notebook(choice.notebook).assignment
    except Exception:
        return ""  # grading reports unreadable notebooks itself
    if named and named != assignment.name:
        return (
            f"Note: your notebook says it is for {named!r}, but this is {assignment.title!r}; it was "
            "graded against this assignment. Check that you uploaded the right notebook."
        )
    return ""


def _apply_penalty(results: GradingResults, penalty: late.LatePenalty) -> None:
    earned = results.score
    # Capped at what was earned so the lines add up to the total shown, which never goes below 0.
    deducted = min(penalty.points, earned)
    output = penalty.message
    if deducted <= 0:
        output += " This submission earned no points, so there was nothing to deduct."
    elif deducted < penalty.points:
        output += f" This submission earned only {_points(earned)}, so {_points(deducted)} were deducted."
    results.adjustments.append(
        TestResult(
            name=f"Late penalty: {penalty.days_late} day{'s' if penalty.days_late != 1 else ''} late",
            max_score=0.0,
            score=-deducted,
            output=output,
            visibility="visible",
        )
    )
    if results.score_override is not None:
        results.score_override = max(0.0, results.score_override - deducted)


def _points(value: float) -> str:
    shown = str(int(value)) if float(value).is_integer() else f"{value:g}"
    return f"{shown} point" + ("" if value == 1 else "s")


def _with_intro(results: GradingResults, parts: list[str]) -> GradingResults:
    text = "\n\n".join(p for p in parts if p)
    if text:
        results.output = f"{text}\n\n{results.output}" if results.output else text
    return results

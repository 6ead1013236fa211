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
from typing import Any

from . import late
from .config import Assignment, ConfigError, available_assignments, load_assignment
from .results import GradingResults, ResultsFile, TestResult, write_atomically
from .submission import Choice, choose, handout_fingerprints, submitted_files

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
    target = None
    try:
        # Before any student code runs: a notebook that fills the disk cannot cost the file.
        target = ResultsFile(root / "results" / "results.json")
    except OSError as exc:
        notes.append(f"Could not reserve space for results.json: {exc}")
    try:
        results = _grade(root, solutions_root, assignment, notes)
    except Exception:
        notes.append("Grading failed with an internal error:\n" + traceback.format_exc())
        results = _problem(None, INTERNAL_ERROR)
    except BaseException:
        # Someone is stopping the process (Ctrl-C, SystemExit): leave a result behind, then stop.
        notes.append("Grading was interrupted:\n" + traceback.format_exc())
        _finish(root, _problem(None, INTERNAL_ERROR), notes, started, target)
        raise
    _finish(root, results, notes, started, target)
    return results


def _write(results: GradingResults, path: Path, target: ResultsFile | None) -> None:
    if target is not None and target.fd is not None:
        target.write(results)
    else:
        write_atomically(results, path)


def _finish(
    root: Path, results: GradingResults, notes: list[str], started: float, target: ResultsFile | None = None
) -> None:
    results.execution_time = max(results.execution_time, time.monotonic() - started)
    if notes:
        results.extra_data.setdefault("instructor_notes", []).extend(n.splitlines()[0] for n in notes)
        for note in notes:
            print(f"[grader] {note}", flush=True)
    path = root / "results" / "results.json"
    try:
        _write(results, path, target)
    except Exception:
        # Odd content must not cost the student the file: fall back to the bare verdict.
        print(f"[grader] Writing {path} failed:\n{traceback.format_exc()}", file=sys.stderr, flush=True)
        try:
            _write(GradingResults(output=INTERNAL_ERROR, score_override=0.0), path, target)
        except Exception:
            print(f"[grader] Writing a fallback {path} failed too.", file=sys.stderr, flush=True)
    finally:
        if target is not None:
            target.discard()


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
        return {
            k: node.get(k)
            for k in _DATES
            if isinstance(node, dict) and isinstance(node.get(k), (str, type(None)))
        }

    users = data.get("users") if isinstance(data.get("users"), list) else []
    previous = data.get("previous_submissions") if isinstance(data.get("previous_submissions"), list) else []
    return {
        # Times and scores only: the earlier results (hidden tests' output) stay out.
        "previous_submissions": [
            {
                k: p.get(k)
                for k in ("submission_time", "score", "autograder_error")
                if isinstance(p.get(k), (str, int, float, bool, type(None)))
            }
            for p in previous
            if isinstance(p, dict)
        ],
        "created_at": data.get("created_at") if isinstance(data.get("created_at"), str) else None,
        "assignment": dates(data.get("assignment")),
        "users": [
            {"assignment": dates(u.get("assignment"))}
            for u in users
            if isinstance(u, dict) and isinstance(u.get("assignment"), dict)
        ],
    }


def read_metadata(path: Path) -> tuple[dict | None, str]:
    """The essential dates of submission_metadata.json, or None and a note saying why not.

    The file is parsed in a short-lived child process, so that only the dates ever exist in this
    process (freed memory is not wiped, and the worker is forked from here)."""

    def essentials() -> dict:
        data, note = _read_whole(path)
        return {"data": _essential(data) if data is not None else None, "note": note}

    answer = _in_child(essentials)
    try:
        return answer["data"], answer["note"]
    except (KeyError, TypeError):
        return None, f"{path} could not be read: graded without a late policy."


def _in_child(compute) -> Any:
    """``compute()`` run in a short-lived child; only its JSON answer reaches this process (None
    when there is none): what the child read or built is never in this process's memory."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(read_end)
            payload = json.dumps(compute())
            with os.fdopen(write_end, "w", encoding="utf-8") as pipe:
                pipe.write(payload)
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "r", encoding="utf-8") as pipe:
        raw = pipe.read()
    os.waitpid(pid, 0)
    try:
        return json.loads(raw)
    except ValueError:
        return None


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


def _assignment_name(explicit: str | None, solutions_root: Path | None, notes: list[str]) -> str | None:
    """The assignment this deployment grades: the configured one, else the only one installed.

    Never the one a notebook's metadata names: students write that metadata, and a notebook from
    another assignment must not be graded (and scored) as that assignment. It may only earn the
    student a warning (``_mismatch``)."""
    if explicit:
        return explicit
    available = available_assignments(solutions_root)
    if len(available) == 1:
        return available[0]
    notes.append(
        "Could not tell which assignment to grade: no --assignment given and "
        + (
            f"{len(available)} assignments are installed ({', '.join(available)})"
            if available
            else "no assignment is installed"
        )
        + ". Build one autograder per assignment (grader package NAME, or docker build --build-arg "
        "ASSIGNMENT=NAME), or pass --assignment NAME in run_autograder."
    )
    return None


def handout_of(assignment: Assignment) -> frozenset[str] | None:
    """Fingerprints of the code cells students are handed, or None when they cannot be made.

    The handout is generated from the reference solution, whose text must never be in the memory
    the first worker is forked from: it is built in a short-lived child and only the
    fingerprints come back."""

    def fingerprints() -> list[str]:
        from .authoring import build_stub

        stub = build_stub(assignment)
        sources = [c["source"] for c in stub["cells"] if c.get("cell_type") == "code"]
        return sorted(handout_fingerprints(sources))

    found = _in_child(fingerprints)
    return frozenset(str(f) for f in found) if isinstance(found, list) and found else None


def _grade(root: Path, solutions_root: Path | None, explicit: str | None, notes: list[str]) -> GradingResults:
    metadata, metadata_note = read_metadata(root / "submission_metadata.json")
    protect_metadata(root / "submission_metadata.json", notes)
    if metadata_note:
        notes.append(metadata_note)
    submission_dir = root / "submission"
    files = submitted_files(submission_dir)

    name = _assignment_name(explicit, solutions_root, notes)
    assignment: Assignment | None = None
    if name is not None:
        try:
            assignment = load_assignment(name, solutions_root)
        except ConfigError as exc:
            notes.append(f"Assignment {name!r} could not be loaded: {exc}")

    handout = handout_of(assignment) if assignment is not None and len(files) > 1 else None
    choice = choose(files, name, assignment.notebook if assignment else None, submission_dir, handout)
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
        from .notebook.isolated import read_prepared

        named = read_prepared(choice.notebook).assignment
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

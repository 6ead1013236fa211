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

from ..config import ConfigError, UnknownAssignment, assignment_name, load_assignment
from ..forked import in_child
from ..grading import messages
from ..grading.notes import Graded, Note, for_instructor, instructor, student
from ..grading.pipeline import GradescopeRun, grade_folder, ungradable_folder
from ..results import GradingResults, ResultsFile, write_results_now
from ..settings import Settings


def run_gradescope(
    root: Path,
    *,
    solutions_root: Path | None = None,
    assignment: str | None = None,
    settings: Settings | None = None,
) -> GradingResults:
    """Grade the submission under ``root`` (normally /autograder) and write root/results/results.json.

    ``settings``: None reads them from the environment (this is an entry point); they give the
    solutions root when ``solutions_root`` is None."""
    settings = settings or Settings.from_environ()
    root = Path(root)
    started = time.monotonic()
    staff: list[Note] = []
    target = None
    try:
        # Before any student code runs: a notebook that fills the disk cannot cost the file.
        target = ResultsFile(root / "results" / "results.json")
    except OSError as exc:
        staff.append(instructor(f"Could not reserve space for results.json: {exc}"))
    try:
        graded = _grade(root, solutions_root or settings.solutions_root, assignment, settings, staff)
    except Exception:
        staff.append(instructor("Grading failed with an internal error:\n" + traceback.format_exc()))
        graded = _internal_error()
    except BaseException:
        # Someone is stopping the process (Ctrl-C, SystemExit): leave a result behind, then stop.
        staff.append(instructor("Grading was interrupted:\n" + traceback.format_exc()))
        _finish(root, _internal_error(), staff, started, target)
        raise
    return _finish(root, graded, staff, started, target)


def _internal_error() -> Graded:
    # Only the verdict: what the student was to be told is dropped with the run that failed.
    return Graded(GradingResults(score_override=0.0), [student(messages.INTERNAL_ERROR)])


def _write(results: GradingResults, path: Path, target: ResultsFile | None) -> None:
    if target is not None and target.fd is not None:
        target.write(results)
    else:
        write_results_now(results, path)


def _finish(
    root: Path, graded: Graded, staff: list[Note], started: float, target: ResultsFile | None = None
) -> GradingResults:
    """Render the notes, once: the student's into the output, the staff's to stdout and extra_data."""
    graded.notes.extend(staff)
    results = graded.rendered()
    results.execution_time = max(results.execution_time, time.monotonic() - started)
    for note in for_instructor(graded.notes):
        print(f"[grader] {note}", flush=True)
    path = root / "results" / "results.json"
    try:
        _write(results, path, target)
    except Exception:
        # Odd content must not cost the student the file: fall back to the bare verdict.
        print(f"[grader] Writing {path} failed:\n{traceback.format_exc()}", file=sys.stderr, flush=True)
        try:
            _write(GradingResults(output=messages.INTERNAL_ERROR, score_override=0.0), path, target)
        except Exception:
            print(f"[grader] Writing a fallback {path} failed too.", file=sys.stderr, flush=True)
    finally:
        if target is not None:
            target.discard()
    return results


_DATES = ("due_date", "late_due_date")


def _essential(data: dict[str, Any]) -> dict[str, Any]:
    """The dates the late policy needs. Everything else (earlier results.json files, hidden
    tests' output among them) must not be in the memory the first worker is forked from."""

    def dates(node: object) -> dict[str, Any]:
        if not isinstance(node, dict):
            return {}
        return {k: node.get(k) for k in _DATES if isinstance(node.get(k), (str, type(None)))}

    users = data.get("users")
    previous = data.get("previous_submissions")
    return {
        # Times and scores only: the earlier results (hidden tests' output) stay out.
        "previous_submissions": [
            {
                k: p.get(k)
                for k in ("submission_time", "score", "autograder_error")
                if isinstance(p.get(k), (str, int, float, bool, type(None)))
            }
            for p in (previous if isinstance(previous, list) else [])
            if isinstance(p, dict)
        ],
        "created_at": data.get("created_at") if isinstance(data.get("created_at"), str) else None,
        "assignment": dates(data.get("assignment")),
        "users": [
            {"assignment": dates(u.get("assignment"))}
            for u in (users if isinstance(users, list) else [])
            if isinstance(u, dict) and isinstance(u.get("assignment"), dict)
        ],
    }


def read_metadata(path: Path) -> tuple[dict[str, Any] | None, str]:
    """The essential dates of submission_metadata.json, or None and a note saying why not.

    The file is parsed in a short-lived child process, so that only the dates ever exist in this
    process (freed memory is not wiped, and the worker is forked from here)."""

    def essentials() -> dict[str, Any]:
        data, note = _read_whole(path)
        return {"data": _essential(data) if data is not None else None, "note": note}

    answer = in_child(essentials)
    try:
        return answer["data"], answer["note"]
    except (KeyError, TypeError):
        return None, f"{path} could not be read: graded without a late policy."


def _read_whole(path: Path) -> tuple[dict[str, Any] | None, str]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None, f"{path} is missing: graded without a late policy."
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        return None, f"{path} could not be read ({exc}): graded without a late policy."
    if not isinstance(data, dict):
        return None, f"{path} does not hold a JSON object: graded without a late policy."
    return data, ""


def protect_metadata(path: Path, notes: list[Note]) -> None:
    """Make the metadata root-only before any student code runs: it holds the student's earlier
    results.json files, hidden tests' output included, and the mount namespace that would hide it
    is refused in Gradescope's containers."""
    if os.geteuid() != 0 or not path.exists():
        return
    try:
        os.chmod(path, 0o600)
    except OSError as exc:
        notes.append(
            instructor(f"{path} could not be made root-only ({exc.strerror}); student code may read it.")
        )


def _grade(
    root: Path, solutions_root: Path | None, explicit: str | None, settings: Settings, staff: list[Note]
) -> Graded:
    metadata, metadata_note = read_metadata(root / "submission_metadata.json")
    protect_metadata(root / "submission_metadata.json", staff)
    if metadata_note:
        staff.append(instructor(metadata_note))
    submission_dir = root / "submission"
    try:
        # Never the name a notebook's metadata gives: students write it (see config.assignment_name).
        name = assignment_name(
            explicit, solutions_root=solutions_root, unknown=messages.deployment_names_no_assignment
        )
    except UnknownAssignment as exc:
        staff.append(instructor(str(exc)))
        return ungradable_folder(submission_dir, None, str(exc))
    try:
        spec = load_assignment(name, solutions_root)
    except ConfigError as exc:
        staff.append(instructor(messages.not_loaded(name, exc)))
        return ungradable_folder(submission_dir, name, messages.not_loaded(name, exc))
    return grade_folder(submission_dir, spec, gradescope=GradescopeRun(metadata), settings=settings)

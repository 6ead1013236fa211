"""The Gradescope entry path, end to end on a simulated /autograder with a four-point assignment."""

import json
import os
import shutil
import tempfile
from pathlib import Path

import jsonschema
import pytest

from grader.gradescope import entry as gradescope
from grader.gradescope import late
from grader.gradescope.entry import run_gradescope
from grader.grading import pipeline

SCHEMA = json.loads((Path(gradescope.__file__).parents[1] / "schema" / "results.schema.json").read_text())

DUE = "2025-03-07T23:59:00.000000-08:00"
LATE_DUE = "2025-03-10T23:59:00.000000-08:00"
BOTH = "def add(a, b):\n    return a + b\n\ndef mul(a, b):\n    return a * b\n"
ONLY_ADD = "def add(a, b):\n    return a + b\n"

ASSIGNMENT_TOML = """\
title = "Tiny assignment"
notebook = "tiny.ipynb"

[late_policy]
points_per_day = 1.0
"""
TESTS = '''\
from gradescope_utils.autograder_utils.decorators import weight


@weight(2)
def test_add(student):
    """add: adds two numbers"""
    assert float(student.add(1, 2).array) == 3.0


@weight(2)
def test_mul(student):
    """mul: multiplies two numbers"""
    assert float(student.mul(2, 3).array) == 6.0
'''


def make_assignment(root: Path, name: str) -> None:
    folder = root / name / "tests"
    folder.mkdir(parents=True)
    (root / name / "assignment.toml").write_text(ASSIGNMENT_TOML, encoding="utf-8")
    (folder / "test_public_tiny.py").write_text(TESTS, encoding="utf-8")


@pytest.fixture(scope="module")
def solutions(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("solutions")
    make_assignment(root, "tiny")
    return root


@pytest.fixture
def autograder(tmp_path) -> Path:
    root = tmp_path / "autograder"
    (root / "submission").mkdir(parents=True)
    (root / "results").mkdir()
    return root


def submit_notebook(
    root: Path, name: str = "tiny.ipynb", code: str = BOTH, assignment: str | None = "tiny"
) -> Path:
    cells = [
        {"cell_type": "markdown", "metadata": {}, "source": "# Tiny"},
        {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [], "source": code},
    ]
    metadata = {"grader": {"assignment": assignment}} if assignment else {}
    path = root / "submission" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"cells": cells, "metadata": metadata, "nbformat": 4, "nbformat_minor": 5}))
    return path


def submit_file(root: Path, name: str, content: str = "content") -> None:
    (root / "submission" / name).write_text(content, encoding="utf-8")


def write_metadata(root: Path, created_at: str, late_due: str | None = None) -> None:
    metadata = {
        "id": 123456,
        "created_at": created_at,
        "assignment": {"due_date": DUE, "late_due_date": late_due, "title": "Tiny", "total_points": "4.0"},
        "submission_method": "upload",
        "users": [{"email": "student@example.com", "id": 1234, "name": "Student User"}],
        "previous_submissions": [],
    }
    (root / "submission_metadata.json").write_text(json.dumps(metadata), encoding="utf-8")


def written(root: Path) -> dict:
    data = json.loads((root / "results" / "results.json").read_text(encoding="utf-8"))
    jsonschema.validate(data, SCHEMA)
    return data


def penalty_lines(data: dict) -> list[dict]:
    return [t for t in data["tests"] if t["name"].startswith("Late penalty")]


def grade(root: Path, solutions: Path, **kwargs):
    results = run_gradescope(root, solutions_root=solutions, **kwargs)
    data = written(root)
    assert data["score"] == pytest.approx(results.score)
    return results, data


def test_an_on_time_submission_gets_its_full_score_and_no_penalty_line(autograder, solutions):
    submit_notebook(autograder)
    write_metadata(autograder, "2025-03-07T23:59:00.000000-08:00")
    results, data = grade(autograder, solutions, assignment="tiny")
    assert data["score"] == 4 and penalty_lines(data) == []
    assert [t["status"] for t in data["tests"]] == ["passed", "passed"]
    assert "2 notebooks" not in data["output"] and results.adjustments == []


def test_a_submission_one_second_late_loses_one_point(autograder, solutions):
    submit_notebook(autograder)
    write_metadata(autograder, "2025-03-07T23:59:01.000000-08:00")
    _, data = grade(autograder, solutions, assignment="tiny")
    assert data["score"] == 3
    (line,) = penalty_lines(data)
    assert line["name"] == "Late penalty: 1 day late"
    assert (line["score"], line["max_score"], line["visibility"]) == (-1, 0, "visible")
    assert "1 point is deducted" in line["output"]
    assert data["tests"][-1] == line  # the penalty is listed after the tests


def test_a_submission_two_and_a_half_days_late_loses_three_points(autograder, solutions):
    submit_notebook(autograder)
    write_metadata(autograder, "2025-03-10T11:59:00Z")  # 2.5 days after the due date, written in UTC
    _, data = grade(autograder, solutions, assignment="tiny")
    assert data["score"] == 1
    (line,) = penalty_lines(data)
    assert line["name"] == "Late penalty: 3 days late" and line["score"] == -3


def test_a_penalty_larger_than_the_score_leaves_zero_not_a_negative_total(autograder, solutions):
    submit_notebook(autograder, code=ONLY_ADD)  # earns 2 of 4
    write_metadata(autograder, "2025-03-10T11:59:00-08:00")  # 3 days late: 3 points
    results, data = grade(autograder, solutions, assignment="tiny")
    assert data["score"] == 0 and results.score == 0
    (line,) = penalty_lines(data)
    assert line["score"] == -2  # capped at what was earned, so the lines add up to the total
    assert "earned only 2 points, so 2 points were deducted" in line["output"]
    assert sum(t["score"] for t in data["tests"]) == 0


def test_a_submission_past_the_late_due_date_scores_zero_and_says_why(autograder, solutions):
    submit_notebook(autograder)
    write_metadata(autograder, "2025-03-11T00:00:00-08:00", late_due=LATE_DUE)
    _, data = grade(autograder, solutions, assignment="tiny")
    assert data["score"] == 0
    assert "after the late due date" in data["output"] and "not accepted" in data["output"]
    assert len(data["tests"]) == 2 and all(t["score"] == 0 for t in data["tests"])
    assert penalty_lines(data) == []


def test_an_upload_without_a_notebook_scores_zero_and_asks_for_the_ipynb(autograder, solutions):
    write_metadata(autograder, DUE)
    _, data = grade(autograder, solutions, assignment="tiny")
    assert data["score"] == 0
    assert ".ipynb" in data["output"] and "zero credit" in data["output"]
    assert len(data["tests"]) == 2  # the tests are still listed, as failed


def test_a_python_script_upload_is_named_in_the_message(autograder, solutions):
    submit_file(autograder, "tiny.py", BOTH)
    write_metadata(autograder, DUE)
    _, data = grade(autograder, solutions, assignment="tiny")
    assert data["score"] == 0
    assert "You uploaded tiny.py (a Python script)" in data["output"]
    assert "File > Download" in data["output"]


def test_a_pdf_upload_is_named_in_the_message(autograder, solutions):
    submit_file(autograder, "tiny.pdf", "%PDF-1.7")
    write_metadata(autograder, DUE)
    _, data = grade(autograder, solutions, assignment="tiny")
    assert data["score"] == 0 and "tiny.pdf (a PDF)" in data["output"] and ".ipynb" in data["output"]


def test_of_two_notebooks_the_one_naming_the_assignment_is_graded_and_the_message_says_so(
    autograder, solutions
):
    submit_notebook(autograder, name="scratch.ipynb", code=ONLY_ADD, assignment=None)
    submit_notebook(autograder, name="final/homework.ipynb", code=BOTH)
    write_metadata(autograder, DUE)
    results, data = grade(autograder, solutions, assignment="tiny")
    assert data["score"] == 4
    assert data["output"].startswith("You uploaded 2 notebooks")
    assert "Graded final/homework.ipynb because its metadata names this assignment" in data["output"]
    assert results.extra_data["graded_file"] == "final/homework.ipynb"


def test_a_missing_metadata_file_grades_without_a_penalty_and_tells_the_instructor(autograder, solutions):
    submit_notebook(autograder)
    _results, data = grade(autograder, solutions, assignment="tiny")
    assert data["score"] == 4 and penalty_lines(data) == []
    assert any("submission_metadata.json is missing" in n for n in data["extra_data"]["instructor_notes"])
    assert "submission_metadata" not in data["output"]


def test_a_broken_metadata_file_grades_without_a_penalty(autograder, solutions):
    submit_notebook(autograder)
    (autograder / "submission_metadata.json").write_text("{ truncated", encoding="utf-8")
    _, data = grade(autograder, solutions, assignment="tiny")
    assert data["score"] == 4 and penalty_lines(data) == []


def test_unreadable_dates_grade_without_a_penalty_and_only_the_instructor_hears_of_it(autograder, solutions):
    submit_notebook(autograder)
    write_metadata(autograder, "last Tuesday")
    _, data = grade(autograder, solutions, assignment="tiny")
    assert data["score"] == 4 and penalty_lines(data) == []
    assert "last Tuesday" not in data["output"]
    assert any("last Tuesday" in n for n in data["extra_data"]["instructor_notes"])


def test_an_unreadable_notebook_scores_zero_says_why_and_still_writes_results(autograder, solutions):
    submit_file(autograder, "tiny.ipynb", '{"cells": [')
    write_metadata(autograder, DUE)
    _, data = grade(autograder, solutions, assignment="tiny")
    assert data["score"] == 0
    assert "not readable JSON" in data["output"]
    assert len(data["tests"]) == 2


def test_with_several_assignments_installed_the_notebooks_metadata_never_picks_the_one_graded(
    autograder, tmp_path
):
    # A finished notebook of one assignment submitted to another must not be scored as its own.
    solutions = tmp_path / "several"
    make_assignment(solutions, "tiny")
    make_assignment(solutions, "other")
    submit_notebook(autograder, assignment="tiny")
    write_metadata(autograder, DUE)
    results, data = grade(autograder, solutions)
    assert data["score"] == 0 and "not set up correctly" in data["output"]
    assert results.extra_data.get("assignment") != "tiny"
    assert any("--assignment" in n for n in data["extra_data"]["instructor_notes"])


def test_the_only_installed_assignment_is_used_for_a_notebook_without_metadata(autograder, solutions):
    submit_notebook(autograder, assignment=None)
    write_metadata(autograder, DUE)
    _, data = grade(autograder, solutions)
    assert data["score"] == 4


def test_a_notebook_naming_an_unknown_assignment_is_graded_as_the_only_installed_one(autograder, solutions):
    submit_notebook(autograder, assignment="old_template")
    write_metadata(autograder, DUE)
    _, data = grade(autograder, solutions)
    assert data["score"] == 4 and "your notebook says it is for 'old_template'" in data["output"]


def test_an_undeterminable_assignment_is_reported_for_course_staff(autograder, tmp_path):
    solutions = tmp_path / "several"
    make_assignment(solutions, "tiny")
    make_assignment(solutions, "other")
    submit_notebook(autograder, assignment=None)
    write_metadata(autograder, DUE)
    _, data = grade(autograder, solutions)
    assert data["score"] == 0
    assert "not set up correctly" in data["output"] and "--assignment" in data["output"]


def test_an_unknown_assignment_is_reported_for_course_staff(autograder, solutions):
    submit_notebook(autograder)
    _, data = grade(autograder, solutions, assignment="missing")
    assert data["score"] == 0 and "not set up correctly" in data["output"] and "missing" in data["output"]


def test_a_notebook_from_another_assignment_is_graded_against_this_one_with_a_warning(autograder, solutions):
    submit_notebook(autograder, assignment="last_week")
    write_metadata(autograder, DUE)
    _, data = grade(autograder, solutions, assignment="tiny")
    assert data["score"] == 4 and "your notebook says it is for 'last_week'" in data["output"]


def test_an_internal_error_still_writes_a_zero_result_in_plain_words(
    autograder, solutions, monkeypatch, capsys
):
    submit_notebook(autograder)
    write_metadata(autograder, DUE)

    def explode(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(late, "assess", explode)
    _results, data = grade(autograder, solutions, assignment="tiny")
    assert data["score"] == 0 and "internal problem" in data["output"]
    assert "disk on fire" not in data["output"]
    assert "disk on fire" in capsys.readouterr().out  # stdout is shown to instructors only


def test_an_interrupted_run_leaves_a_result_behind_and_stops(autograder, solutions, monkeypatch):
    submit_notebook(autograder)

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(pipeline, "submitted", interrupt)
    with pytest.raises(KeyboardInterrupt):
        run_gradescope(autograder, solutions_root=solutions, assignment="tiny")
    assert written(autograder)["score"] == 0


def test_the_results_folder_is_created_when_missing(autograder, solutions):
    (autograder / "results").rmdir()
    submit_notebook(autograder)
    _, data = grade(autograder, solutions, assignment="tiny")
    assert data["score"] == 4


def test_rerunning_later_gives_the_same_result(autograder, solutions):
    submit_notebook(autograder)
    write_metadata(autograder, "2025-03-08T00:00:01-08:00")
    first = grade(autograder, solutions, assignment="tiny")[1]
    second = grade(autograder, solutions, assignment="tiny")[1]
    for data in (first, second):
        data.pop("execution_time")
    assert first == second


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root or the container")
def test_student_code_cannot_read_the_submission_metadata(solutions, monkeypatch):
    # As in Gradescope's containers: no namespaces (so nothing is hidden and /tmp is shared), and a
    # world-traversable /autograder stand-in. Only the file's own mode can keep the worker out.
    from grader.sandbox.jail import confine
    from grader.sandbox.supervisor import spawn

    monkeypatch.setattr(confine, "enter_namespaces", lambda as_root: [])
    monkeypatch.setattr(spawn, "next_child_starts_a_pid_namespace", lambda: None)
    root = Path(tempfile.mkdtemp(prefix="grader-meta-"))
    try:
        os.chmod(root, 0o755)
        (root / "submission").mkdir()
        (root / "results").mkdir()
        write_metadata(root, DUE)
        meta = root / "submission_metadata.json"
        os.chmod(meta, 0o644)
        snooping = BOTH.replace(
            "    return a + b",
            f"    try:\n        return open({str(meta)!r}).read()\n    except OSError:\n        return a + b",
        )
        submit_notebook(root, code=snooping)
        _results, data = grade(root, solutions)
        assert data["score"] == 4
        assert "student@example.com" not in json.dumps(data)
        assert os.stat(meta).st_mode & 0o777 == 0o600
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_the_notebook_with_the_work_is_graded_not_an_older_untouched_handout_with_the_expected_name(
    autograder,
):
    from nbtools import ASSIGNMENTS, SOLUTIONS

    stub = autograder / "submission" / "nn_basics.ipynb"
    shutil.copyfile(ASSIGNMENTS / "nn_basics" / "nn_basics.ipynb", stub)
    os.utime(stub, (1_000_000_000, 1_000_000_000))
    shutil.copyfile(
        SOLUTIONS / "nn_basics" / "nn_basics.ipynb", autograder / "submission" / "nn_basics_final.ipynb"
    )
    write_metadata(autograder, DUE)
    results, data = grade(autograder, SOLUTIONS, assignment="nn_basics")
    assert results.extra_data["graded_file"] == "nn_basics_final.ipynb"
    assert data["score"] == results.max_score > 0
    assert "none of your own code" in data["output"]


def test_the_graded_notebook_is_read_once_on_the_gradescope_route(autograder, solutions, notebook_reads):
    reads = notebook_reads
    submit_notebook(autograder, assignment="last_week")  # the mismatch warning needs its metadata too
    write_metadata(autograder, DUE)
    _, data = grade(autograder, solutions, assignment="tiny")
    assert data["score"] == 4 and "your notebook says it is for 'last_week'" in data["output"]
    assert reads.names() == ["tiny.ipynb"]

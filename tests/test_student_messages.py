"""Messages for the student in cases that used to mislead: memory, symbolic links, late times."""

from __future__ import annotations

import json

from grader.config import LatePolicy
from grader.gradescope import late
from grader.grading.cell_report import cell_report
from grader.notebook.choice import choose, submitted_files
from grader.sandbox.supervisor.session import CellRun


def test_a_library_that_cannot_be_mapped_after_a_memory_hog_is_reported_as_out_of_memory():
    error = {
        "type": "ImportError",
        "message": "/venv/torch/lib/libtorch_cpu.so: cannot map zero-fill pages",
        "frames": [{"cell": 2, "line": 1, "function": "<module>", "code": "import torch"}],
    }
    report = cell_report([CellRun(1, "ok"), CellRun(2, "error", error=error)], {}, 512)
    assert "cannot map zero-fill pages" in report
    assert "ran out of memory" in report and "512 MB" in report and "del" in report


def test_an_ordinary_import_error_gets_no_memory_note():
    error = {"type": "ModuleNotFoundError", "message": "No module named 'tensorflow'"}
    assert "memory" not in cell_report([CellRun(1, "error", error=error)], {}, 512)


def test_an_upload_of_only_a_symbolic_link_says_links_are_not_followed(tmp_path):
    target = tmp_path / "elsewhere" / "nn_basics.ipynb"
    target.parent.mkdir()
    target.write_text(json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    submission = tmp_path / "submission"
    submission.mkdir()
    (submission / "nn_basics.ipynb").symlink_to(target)
    choice = choose(submitted_files(submission), "nn_basics", "nn_basics.ipynb", submission)
    assert choice.notebook is None
    assert "contains no files" not in choice.message
    assert "nn_basics.ipynb is a symbolic link" in choice.message and "never follows" in choice.message
    assert str(target) not in choice.message


def _late_message(created: str, due: str, per_day: float = 1.0) -> late.LatePenalty:
    metadata = {"created_at": created, "assignment": {"due_date": due, "late_due_date": None}}
    return late.assess(metadata, LatePolicy(points_per_day=per_day))


def test_a_submission_two_days_and_a_fraction_of_a_second_late_is_explained_to_the_minute():
    penalty = _late_message("2025-03-09T23:59:00.650000-05:00", "2025-03-07T23:59:00-05:00")
    assert penalty.days_late == 3
    assert "2025-03-09 23:59 UTC-05:00" in penalty.message and "2025-03-07 23:59 UTC-05:00" in penalty.message
    assert "2 days and less than a minute after the due date" in penalty.message
    assert "Any part of a day counts as a whole day" in penalty.message and "3 days late" in penalty.message
    assert "23:59:00" not in penalty.message


def test_lateness_is_given_in_hours_and_minutes_within_the_first_day():
    penalty = _late_message("2025-03-08T01:03:00-05:00", "2025-03-07T23:59:00-05:00")
    assert "1 hour and 4 minutes after the due date" in penalty.message and "1 day late" in penalty.message


def test_an_error_inside_a_helper_says_which_function_called_it(tmp_path):
    from conftest import grade_valid

    from nbtools import SOLUTIONS, replace_function

    broken_dense = "def dense(x, W, b, activation):\n    return activation(x @ W + b)"
    forward_via_dense = (
        "def forward(x, layers):\n    h = x\n    for W, b, activation in layers:\n"
        "        h = dense(h, W, b, activation)\n    return h"
    )
    reference = SOLUTIONS / "nn_basics" / "nn_basics.ipynb"
    path = replace_function(reference, "dense", broken_dense, tmp_path / "d.ipynb")
    path = replace_function(path, "forward", forward_via_dense, tmp_path / "f.ipynb")
    results = grade_valid(path, "nn_basics")
    forward = [t.output for t in results.tests if t.function == "forward" and "raised" in t.output]
    assert forward and all(", in dense (called from forward)" in text for text in forward)

"""What a batch reads back and passes on: results files as records, and its servers' environment."""

from __future__ import annotations

import json
import os
from pathlib import Path

from grader.batch.collect import load_records
from grader.batch.inputs import Submission
from grader.batch.pool import server_environ
from grader.batch.records import Record, column_name
from grader.results import GradingResults, TestResult
from grader.settings import HIDDEN_ENV, THREAD_LIMITS, Settings


def sample() -> GradingResults:
    return GradingResults(
        tests=[
            TestResult("relu: negatives", 0.5, 0.5, "", "4.1", function="relu", outcome="passed"),
            TestResult("step: zero", 0.5, 0.0, "Expected 1", "1.2", "after_published", ("core",), "step"),
            TestResult("unnumbered", 1.0, 0.25, outcome="error"),
        ],
        output="Note: graded nn_basics.ipynb",
        execution_time=1.5,
        extra_data={"cells": {"1": "ok", "2": "error"}, "graded_file": "nn_basics.ipynb"},
        adjustments=[TestResult("Late penalty: 1 day late", 0.0, -0.25, "10% off")],
    )


def test_results_read_back_from_their_json_give_the_same_json():
    data = json.loads(sample().to_json())
    assert GradingResults.from_dict(data).to_dict() == data


def test_a_record_keeps_the_score_its_results_file_states_even_when_the_tests_add_up_to_another():
    data = json.loads(sample().to_json())
    data["score"] = 7.5
    record = Record("a", (), GradingResults.from_dict(data))
    assert record.score == 7.5 and record.max_score == 2.0
    assert [column_name(t) for t in record.tests] == ["1.2 step: zero", "4.1 relu: negatives", "unnumbered"]
    assert record.cells == {"1": "ok", "2": "error"} and record.internal_error == ""


def test_a_test_written_before_outcomes_were_kept_keeps_its_status():
    test = TestResult.from_dict({"name": "old", "score": 1, "max_score": 1, "status": "passed"})
    assert test.status == "passed" and test.number is None


def test_a_results_file_that_cannot_be_read_is_an_internal_error(tmp_path):
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "results.json").write_text("{", encoding="utf-8")
    (tmp_path / "listed").mkdir()
    (tmp_path / "listed" / "results.json").write_text("[]", encoding="utf-8")
    subs = [Submission(name, tmp_path / name, 0.0) for name in ("broken", "missing", "listed")]
    broken, missing, listed = load_records(tmp_path, subs)
    assert broken.internal_error == missing.internal_error == "no readable results.json"
    assert broken.score == 0 and broken.cells is None
    assert (listed.score, listed.internal_error, listed.tests) == (0, "", [])


def test_the_servers_environment_hides_the_batch_folders_and_gives_one_thread(tmp_path):
    base = {"PATH": "/usr/bin", HIDDEN_ENV: "/secret", "OMP_NUM_THREADS": "8", "PYTEST_ADDOPTS": "-x"}
    env = server_environ(Settings.from_environ(base), (tmp_path / "in", Path("out")), base)
    hidden = env[HIDDEN_ENV].split(os.pathsep)
    assert hidden == ["/secret", str(tmp_path / "in"), str(Path("out").resolve())]
    assert all(env[name] == value for name, value in THREAD_LIMITS.items())
    assert "PYTEST_ADDOPTS" not in env and env["PATH"] == "/usr/bin"

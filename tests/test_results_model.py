"""The result model and its results.json: Gradescope's contract, caps, atomic writing."""

from __future__ import annotations

import json
import os

from conftest import assert_schema_valid

from grader.results import MAX_TEST_OUTPUT, GradingResults, TestResult, write_results_now


def sample() -> GradingResults:
    return GradingResults(
        tests=[
            TestResult("relu: b", 1, 1, number="1.10", outcome="passed"),
            TestResult("relu: a", 1, 0, number="1.9", output="x" * 200_000, visibility="after_published"),
            TestResult("step: c", 2, 2, number="1.1", outcome="passed", tags=("activations",)),
        ],
        output="hello\r\nworld",
        execution_time=1.23456,
    )


def test_results_json_is_valid_against_gradescopes_schema():
    data = assert_schema_valid(sample())
    assert data["score"] == 3 and isinstance(data["execution_time"], float)


def test_tests_are_ordered_by_number_as_numbers_not_text():
    assert [t["number"] for t in sample().to_dict()["tests"]] == ["1.1", "1.9", "1.10"]


def test_long_outputs_are_capped_well_under_gradescopes_limit_and_say_so():
    output = sample().to_dict()["tests"][1]["output"]
    assert len(output) <= MAX_TEST_OUTPUT < 100_000
    assert output.endswith("more characters not shown]")


def test_line_endings_are_unix():
    assert sample().to_dict()["output"] == "hello\nworld"


def test_a_penalty_never_takes_the_total_below_zero():
    results = sample()
    results.adjustments.append(TestResult("Late penalty: 9 days", 0, -9))
    data = assert_schema_valid(results)
    assert data["score"] == 0 and data["tests"][-1]["score"] == -9


def test_status_is_failed_for_partial_credit():
    assert TestResult("x: y", 2, 1, outcome="passed").status == "failed"


def test_writing_replaces_an_existing_file_and_never_follows_a_planted_link(tmp_path):
    target = tmp_path / "results.json"
    victim = tmp_path / "victim.txt"
    victim.write_text("keep")
    os.symlink(victim, target)
    write_results_now(sample(), target)
    assert victim.read_text() == "keep"
    assert not target.is_symlink() and json.loads(target.read_text())["score"] == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.json", "victim.txt"]


def test_results_space_is_taken_when_reserved_and_the_written_file_is_private(tmp_path):
    from grader.results import RESERVED_BYTES, ResultsFile

    target = ResultsFile(tmp_path / "out" / "results.json")
    assert os.stat(target.tmp).st_blocks * 512 >= RESERVED_BYTES  # claimed now, not at the end
    target.write(sample())
    path = tmp_path / "out" / "results.json"
    assert json.loads(path.read_text())["score"] == 3
    assert path.stat().st_mode & 0o777 == 0o600 and path.parent.stat().st_mode & 0o777 == 0o700
    assert [p.name for p in path.parent.iterdir()] == ["results.json"]


def test_results_larger_than_their_reservation_keep_every_score_when_the_disk_is_full(tmp_path, monkeypatch):
    from grader.results import ResultsFile

    original = ResultsFile._store

    def full_disk(self, data):
        if len(data) > self.reserved:
            raise OSError(28, "No space left on device")
        original(self, data)

    monkeypatch.setattr(ResultsFile, "_store", full_disk)
    results = sample()
    ResultsFile(tmp_path / "results.json", reserve=2000).write(results)
    data = assert_schema_valid(json.loads((tmp_path / "results.json").read_text()))
    assert data["score"] == results.score
    assert sorted(t["score"] for t in data["tests"]) == sorted(
        t.score for t in [*results.tests, *results.adjustments]
    )
    assert "too large to store" in data["output"]

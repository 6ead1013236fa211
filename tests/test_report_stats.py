"""The numbers of the batch report, computed from records made here (no grading, no matplotlib)."""

from __future__ import annotations

from grader.batch.records import Record, Submitter
from grader.batch.report import stats
from grader.results import GradingResults, TestResult


def passed(number: str, name: str = "t", function: str | None = None, points: float = 1.0) -> TestResult:
    return TestResult(name, points, points, number=number, function=function, outcome="passed")


def failed(
    number: str, output: str = "", name: str = "t", function: str | None = None, points: float = 1.0
) -> TestResult:
    return TestResult(name, points, 0.0, output=output, number=number, function=function)


def record(
    id: str, *tests: TestResult, score: float | None = None, seconds: float = 0.0, **extra: object
) -> Record:
    results = GradingResults(
        tests=list(tests), execution_time=seconds, score_override=score, extra_data=extra
    )
    return Record(id, (Submitter(name=id.title()),), results)


def scored(*scores: float) -> list[Record]:
    return [record(f"s{i}", passed("1", points=10.0), score=s) for i, s in enumerate(scores)]


def test_the_median_of_an_even_number_of_scores_is_the_mean_of_the_middle_two():
    summary = stats.score_summary(scored(1, 9, 3, 4))
    assert summary is not None and summary.median == 3.5


def test_the_median_of_an_odd_number_of_scores_is_the_middle_one():
    summary = stats.score_summary(scored(10, 1, 4))
    assert summary is not None and summary.median == 4


def test_the_mean_counts_every_submission_zeros_included():
    summary = stats.score_summary(scored(0, 0, 6))
    assert summary is not None and summary.mean == 2 and summary.zero == 2


def test_full_marks_are_the_submissions_that_reach_the_most_any_submission_could_score():
    summary = stats.score_summary(scored(10, 9.5, 10, 0))
    assert summary is not None and (summary.full, summary.full_marks) == (10, 2)


def test_when_no_test_is_worth_points_nobody_has_full_marks():
    summary = stats.score_summary([record("a", score=0.0), record("b", score=0.0)])
    assert summary is not None and (summary.full, summary.full_marks, summary.zero) == (0, 0, 2)


def test_a_batch_without_submissions_has_no_score_summary():
    assert stats.score_summary([]) is None


def test_the_most_any_submission_could_score_ignores_lines_worth_no_points():
    penalty = TestResult("Late penalty: 1 day late", 0.0, -2.0)
    one = record("a", passed("1", points=3.0), failed("2", points=2.0), penalty)
    assert stats.full_score([one]) == 5
    assert [r.label for r in stats.pass_rates_per_test([one])] == ["1 t", "2 t"]


def test_pass_rates_per_test_follow_the_test_numbers_not_the_order_the_tests_were_seen_in():
    one = record("a", passed("2.10"), failed("2.9"), passed("10.1"))
    other = record("b", failed("2.10"), passed("1.1"))
    rates = stats.pass_rates_per_test([one, other])
    assert [(r.label, r.passed, r.graded) for r in rates] == [
        ("1.1 t", 1, 1),
        ("2.9 t", 0, 1),
        ("2.10 t", 1, 2),
        ("10.1 t", 1, 1),
    ]
    assert rates[2].rate == 0.5


def test_a_test_with_part_of_its_points_does_not_pass():
    partial = TestResult("t", 2.0, 1.0, number="1", outcome="passed")
    assert stats.pass_rates_per_test([record("a", partial)])[0].passed == 0


def test_functions_are_listed_least_passed_first_with_all_their_tests_taken_together():
    one = record(
        "a", passed("1", function="relu"), failed("2", function="relu"), passed("3", function="tanh")
    )
    other = record("b", failed("4", function="step"), passed("5", function="tanh"))
    rates = stats.pass_rates_per_function([one, other])
    assert [(r.label, r.passed, r.graded) for r in rates] == [("step", 0, 1), ("relu", 1, 2), ("tanh", 2, 2)]


def test_tests_of_no_named_function_have_no_function_pass_rate():
    assert stats.pass_rates_per_function([record("a", passed("1"), failed("2"))]) == []


def test_a_diagnostic_is_the_first_line_that_says_something():
    assert stats.diagnostic("\n  \n  shape (3,) instead of (3, 1)\nmore") == "shape (3,) instead of (3, 1)"
    assert stats.diagnostic("") == ""


def test_after_a_calling_header_the_diagnostic_is_the_first_line_after_the_arguments():
    text = "Calling relu with\n  z = array([-1, 2])\n  copy = True\nrelu changed its input\nmore"
    assert stats.diagnostic(text) == "relu changed its input"


def test_a_diagnostic_shown_by_several_tests_of_one_submission_counts_that_submission_once():
    one = record("a", failed("1", "wrong shape"), failed("2", "wrong shape"))
    other = record("b", failed("1", "wrong shape"))
    [found] = stats.common_diagnostics([one, other], top=5)
    assert (found.line, found.submissions) == ("wrong shape", 2)
    assert found.tests == {"1": 2, "2": 1}


def test_the_most_common_diagnostics_come_first_and_no_more_than_asked_for():
    records = [
        record("a", failed("1", "rare"), failed("2", "common"), failed("3", "middle")),
        record("b", failed("2", "common"), failed("3", "middle")),
        record("c", failed("2", "common")),
    ]
    assert [d.line for d in stats.common_diagnostics(records, top=2)] == ["common", "middle"]


def test_passing_tests_and_silent_failures_give_no_diagnostic():
    assert stats.common_diagnostics([record("a", passed("1"), failed("2", "  \n"))], top=5) == []


def test_cells_that_did_not_run_are_listed_in_the_order_of_their_numbers():
    cells = {"10": "error", "2": "timeout", "1": "ok", "3": "ok"}
    [(found, bad)] = stats.failed_cells([record("a", cells=cells), record("b", cells={"1": "ok"})])
    assert found.id == "a" and bad == [("2", "timeout"), ("10", "error")]


def test_a_notebook_that_never_ran_is_ungraded_and_an_internal_error_is_only_an_internal_error():
    ran = record("ran", cells={"1": "ok"})
    never = record("never")
    broken = record("broken", internal_error="the grading process exited with code 9")
    assert [r.id for r in stats.ungraded([ran, never, broken])] == ["never"]
    assert [r.id for r in stats.internal_errors([ran, never, broken])] == ["broken"]


def test_the_slowest_submissions_come_first_and_no_more_than_asked_for():
    records = [record("quick", seconds=0.5), record("slow", seconds=9.0), record("middling", seconds=3.0)]
    assert [r.id for r in stats.slowest(records, top=2)] == ["slow", "middling"]


def test_the_report_lists_what_grading_had_to_tell_course_staff(tmp_path):
    from grader.batch.report.page import write_report

    notes = ["test error: test_x.py::test_y: KeyError: 'k' at line 3", "more"]
    page = write_report(
        tmp_path / "a.html", [record("alice", passed("1"), instructor_notes=notes)]
    ).read_text()
    assert "Notes for course staff" in page and "KeyError: &#x27;k&#x27;" in page and "(and 1 more)" in page
    quiet = write_report(tmp_path / "b.html", [record("bob", passed("1"))]).read_text()
    assert "Notes for course staff" not in quiet

"""At most N graded submissions per rolling 24 hours or per calendar day, from Gradescope's
previous_submissions; over the limit, the last graded score is kept and the next time is named."""

import json
import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from test_gradescope_entry import ASSIGNMENT_TOML, BOTH, TESTS, submit_notebook, written

from grader.config import ConfigError, SubmissionLimit, load_assignment
from grader.gradescope import submission_limit as resubmission
from grader.gradescope.entry import read_metadata, run_gradescope
from grader.gradescope.submission_limit import Attempt, decide

FIXTURES = Path(__file__).parent / "fixtures" / "submission_limit"
T0 = datetime(2025, 3, 5, 9, 0, tzinfo=timezone.utc)
ROLLING = SubmissionLimit(max_graded=2)


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def test_without_a_limit_every_submission_is_graded():
    previous = [Attempt(at(h), 1.0) for h in range(10)]
    assert SubmissionLimit().enabled is False
    assert decide(SubmissionLimit(), at(11), previous).graded


def test_over_the_limit_the_last_graded_score_is_kept_and_the_next_time_is_when_the_oldest_leaves_the_window():
    decision = decide(ROLLING, at(5), [Attempt(at(1), 3.0), Attempt(at(2), 1.5)])
    assert not decision.graded
    assert decision.kept_score == 1.5  # the last graded one's, which is the active score on Gradescope
    assert decision.next_graded_at == at(25)


def test_a_submission_that_was_not_graded_does_not_count_towards_the_limit():
    previous = [Attempt(at(0), 1.0), Attempt(at(1), 2.0), Attempt(at(2), 2.0)]  # the third was declined
    # 24.5 h: only the one at 1 h is still in the window; counting the declined one would refuse this.
    assert decide(ROLLING, at(24.5), previous).graded
    assert not decide(ROLLING, at(23), previous).graded


def test_a_submission_whose_grading_failed_does_not_count():
    previous = [Attempt(at(0), 1.0), Attempt(at(1), 0.0, autograder_error=True)]
    assert decide(ROLLING, at(2), previous).graded


def test_only_submissions_made_before_this_one_count_so_a_regrade_decides_the_same():
    previous = [Attempt(at(1), 1.0), Attempt(at(2), 2.0), Attempt(at(3), 2.0)]
    assert decide(ROLLING, at(1.5), previous).graded


def test_a_calendar_day_starts_at_midnight_in_the_course_time_zone():
    limit = SubmissionLimit(max_graded=2, period="calendar_day", time_zone="America/Los_Angeles")
    evening = datetime(2025, 3, 5, 21, 0, tzinfo=timezone(timedelta(hours=-8)))
    previous = [Attempt(evening, 1.0), Attempt(evening + timedelta(hours=1), 2.0)]
    late_evening = decide(limit, evening + timedelta(hours=2), previous)
    assert not late_evening.graded
    assert late_evening.next_graded_at.isoformat() == "2025-03-06T00:00:00-08:00"
    assert decide(limit, evening + timedelta(hours=3, minutes=30), previous).graded  # 00:30 the next day


def test_the_next_calendar_day_starts_at_local_midnight_across_a_daylight_saving_change():
    limit = SubmissionLimit(max_graded=1, period="calendar_day", time_zone="America/New_York")
    before = datetime(2025, 3, 9, 0, 30, tzinfo=timezone(timedelta(hours=-5)))  # DST begins at 2:00 that day
    decision = decide(limit, before + timedelta(hours=1), [Attempt(before, 1.0)])
    assert decision.next_graded_at.isoformat() == "2025-03-10T00:00:00-04:00"


def test_the_declined_results_say_when_the_next_one_is_graded_and_keep_the_score():
    decision = decide(ROLLING, at(5), [Attempt(at(1), 3.0), Attempt(at(2), 1.5)])
    results = resubmission.declined(ROLLING, decision).rendered()
    assert results.score == 1.5 and results.tests == []
    assert "at most 2 submissions in any 24 hours" in results.output
    assert "at or after 2025-03-06 10:00 (UTC)" in results.output
    assert results.extra_data["submission_limit"]["graded"] is False


# ---- configuration ------------------------------------------------------------------------------
def solutions_with(tmp_path: Path, limit_toml: str) -> Path:
    root = tmp_path / "solutions"
    (root / "tiny" / "tests").mkdir(parents=True)
    (root / "tiny" / "assignment.toml").write_text(ASSIGNMENT_TOML + limit_toml, encoding="utf-8")
    (root / "tiny" / "tests" / "test_public_tiny.py").write_text(TESTS, encoding="utf-8")
    return root


def test_the_limit_is_read_from_assignment_toml(tmp_path):
    root = solutions_with(
        tmp_path,
        '\n[submission_limit]\nmax_graded = 3\nperiod = "calendar_day"\ntime_zone = "Europe/Berlin"\n',
    )
    assert load_assignment("tiny", root).submission_limit == SubmissionLimit(
        3, "calendar_day", "Europe/Berlin"
    )


@pytest.mark.parametrize(
    "toml, words",
    [
        ("max_per_day = 3", "the valid ones are max_graded, period, time_zone"),
        ('max_graded = 3\nperiod = "weekly"', "period must be one of rolling_24h, calendar_day"),
        ('max_graded = 3\ntime_zone = "Mars/Olympus"', "not a known time zone"),
        ("max_graded = -1", "max_graded must be 0 (no limit) or more"),
    ],
)
def test_a_wrong_limit_setting_is_refused_with_what_would_be_right(tmp_path, toml, words):
    root = solutions_with(tmp_path, f"\n[submission_limit]\n{toml}\n")
    with pytest.raises(ConfigError, match="submission_limit") as error:
        load_assignment("tiny", root)
    assert words in str(error.value)


# ---- through the Gradescope entry, with metadata fixtures ---------------------------------------
def autograder_with(tmp_path: Path, fixture: str) -> Path:
    root = tmp_path / "autograder"
    (root / "results").mkdir(parents=True)
    submit_notebook(root, code=BOTH)  # would score 4 if it were graded
    shutil.copy(FIXTURES / fixture, root / "submission_metadata.json")
    return root


def test_over_the_limit_gradescope_gets_the_last_graded_score_and_no_student_code_runs(tmp_path):
    solutions = solutions_with(tmp_path, "\n[submission_limit]\nmax_graded = 3\n")
    root = autograder_with(tmp_path, "three_today.json")
    run_gradescope(root, solutions_root=solutions, assignment="tiny")
    data = written(root)
    assert data["score"] == 2  # the newest graded score, not the better 3 before it, and not 4
    assert "This submission was not graded" in data["output"]
    assert "2025-03-06 17:00 (UTC)" in data["output"]  # 09:00 Pacific + 24 h
    assert "cells" not in data["extra_data"]


def test_under_the_limit_or_without_one_the_submission_is_graded_as_usual(tmp_path):
    limited = solutions_with(tmp_path, "\n[submission_limit]\nmax_graded = 3\n")
    root = autograder_with(tmp_path, "one_failed.json")
    run_gradescope(root, solutions_root=limited, assignment="tiny")
    assert written(root)["score"] == 4
    unlimited = solutions_with(tmp_path / "other", "")
    root = autograder_with(tmp_path / "other", "three_today.json")
    run_gradescope(root, solutions_root=unlimited, assignment="tiny")
    assert written(root)["score"] == 4


def test_a_course_counting_calendar_days_grades_the_first_submission_after_its_midnight(tmp_path):
    solutions = solutions_with(
        tmp_path,
        '\n[submission_limit]\nmax_graded = 3\nperiod = "calendar_day"\ntime_zone = "America/Los_Angeles"\n',
    )
    root = autograder_with(tmp_path, "after_midnight.json")
    run_gradescope(root, solutions_root=solutions, assignment="tiny")
    assert written(root)["score"] == 4


def test_only_times_scores_and_errors_of_earlier_submissions_are_read_never_their_results():
    data, note = read_metadata(FIXTURES / "three_today.json")
    assert note == ""
    assert "hidden test output" not in json.dumps(data)
    assert data["previous_submissions"][2] == {
        "submission_time": "2025-03-05T12:00:00.000000-08:00",
        "score": 2.0,
        "autograder_error": False,
    }

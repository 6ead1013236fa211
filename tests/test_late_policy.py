from datetime import datetime, timedelta, timezone

import pytest

from grader.config import LatePolicy
from grader.gradescope.late import assess, days_late, parse_timestamp

DUE = "2025-03-07T23:59:00.000000-08:00"
LATE_DUE = "2025-03-10T23:59:00.000000-08:00"
ONE_POINT_A_DAY = LatePolicy(points_per_day=1.0)


def metadata(created_at, due=DUE, late_due=None, **extra):
    return {"created_at": created_at, "assignment": {"due_date": due, "late_due_date": late_due}, **extra}


def test_gradescope_timestamps_with_offsets_and_microseconds_are_read():
    moment = parse_timestamp("2018-07-01T14:22:32.365935-07:00")
    assert moment == datetime(2018, 7, 1, 21, 22, 32, 365935, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    "text",
    [
        "2025-03-08T07:59:00Z",
        "2025-03-08T07:59:00z",
        "2025-03-08T07:59:00+00:00",
        "2025-03-07T23:59:00-08:00",
    ],
)
def test_a_trailing_z_and_any_offset_name_the_same_instant(text):
    assert parse_timestamp(text) == datetime(2025, 3, 8, 7, 59, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    "fraction, microseconds",
    [("1", 100000), ("12", 120000), ("1234", 123400), ("123456", 123456), ("123456789", 123456)],
)
def test_fractional_seconds_of_any_length_are_read(fraction, microseconds):
    moment = parse_timestamp(f"2025-03-08T07:59:00.{fraction}Z")
    assert moment.microsecond == microseconds


def test_a_timestamp_without_offset_is_taken_as_utc():
    assert parse_timestamp("2025-03-08T07:59:00") == datetime(2025, 3, 8, 7, 59, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    "value", [None, "", "   ", "yesterday", "2025-13-01T00:00:00Z", 1741420740, ["2025"]]
)
def test_missing_or_malformed_timestamps_read_as_none(value):
    assert parse_timestamp(value) is None


@pytest.mark.parametrize(
    "late_by, days",
    [
        (timedelta(0), 0),
        (timedelta(seconds=-1), 0),
        (timedelta(microseconds=1), 1),
        (timedelta(seconds=1), 1),
        (timedelta(days=1), 1),
        (timedelta(days=1, microseconds=1), 2),
        (timedelta(days=2, hours=12), 3),
    ],
)
def test_any_part_of_a_day_counts_as_a_whole_day(late_by, days):
    due = datetime(2025, 3, 8, 7, 59, tzinfo=timezone.utc)
    assert days_late(due + late_by, due) == days


def test_a_submission_on_the_due_date_to_the_second_is_on_time():
    penalty = assess(metadata(DUE), ONE_POINT_A_DAY)
    assert (penalty.days_late, penalty.points, penalty.rejected, penalty.applies) == (0, 0, False, False)
    assert penalty.message == ""


def test_a_submission_one_second_late_loses_one_point():
    penalty = assess(metadata("2025-03-08T00:00:01.000000-08:00"), ONE_POINT_A_DAY)
    assert (penalty.days_late, penalty.points, penalty.applies) == (1, 1.0, True)
    assert "1 day late" in penalty.message and "1 point is deducted" in penalty.message


def test_a_submission_two_and_a_half_days_late_loses_three_days_of_points():
    penalty = assess(metadata("2025-03-10T11:59:00-08:00"), LatePolicy(points_per_day=2.5))
    assert (penalty.days_late, penalty.points) == (3, 7.5)
    assert "3 days late" in penalty.message and "7.5 points are deducted" in penalty.message


def test_lateness_is_measured_across_time_zones():
    # 08:00:01 UTC is one second after 23:59:00 -08:00 plus one minute: still the first late day.
    penalty = assess(metadata("2025-03-08T08:00:01Z"), ONE_POINT_A_DAY)
    assert penalty.days_late == 1


def test_a_late_submission_costs_nothing_when_the_policy_charges_nothing():
    penalty = assess(metadata("2025-03-08T00:00:00-08:00"), LatePolicy())
    assert penalty.days_late == 1 and penalty.points == 0 and not penalty.applies
    assert "no late penalty" in penalty.message


def test_a_submission_after_the_late_due_date_is_rejected():
    penalty = assess(metadata("2025-03-11T00:00:00-08:00", late_due=LATE_DUE), ONE_POINT_A_DAY)
    assert penalty.rejected and not penalty.applies
    assert "late due date" in penalty.message and "0 points" in penalty.message


def test_a_submission_at_the_late_due_date_is_still_accepted_with_its_penalty():
    penalty = assess(metadata(LATE_DUE, late_due=LATE_DUE), ONE_POINT_A_DAY)
    assert not penalty.rejected and penalty.days_late == 3


def test_the_late_due_date_is_ignored_when_the_policy_does_not_honour_it():
    policy = LatePolicy(points_per_day=1.0, honour_late_due_date=False)
    penalty = assess(metadata("2025-03-11T00:00:00-08:00", late_due=LATE_DUE), policy)
    assert not penalty.rejected and penalty.days_late == 4


def test_an_unreadable_late_due_date_is_not_enforced_and_the_instructor_is_told():
    penalty = assess(metadata("2025-03-20T00:00:00-08:00", late_due="soon"), ONE_POINT_A_DAY)
    assert not penalty.rejected and penalty.days_late == 13
    assert any("soon" in note for note in penalty.instructor_notes)


@pytest.mark.parametrize(
    "meta",
    [
        None,
        {},
        {"created_at": "2025-03-20T00:00:00Z"},
        {"created_at": "2025-03-20T00:00:00Z", "assignment": {"due_date": None}},
        {"created_at": "2025-03-20T00:00:00Z", "assignment": {"due_date": "next Friday"}},
        {"created_at": "not a date", "assignment": {"due_date": DUE}},
        {"assignment": {"due_date": DUE}},
        {"created_at": "2025-03-20T00:00:00Z", "assignment": "nn_basics"},
    ],
)
def test_missing_or_unreadable_dates_mean_no_penalty_and_a_note_only_for_the_instructor(meta):
    penalty = assess(meta, ONE_POINT_A_DAY)
    assert (penalty.days_late, penalty.points, penalty.rejected) == (0, 0, False)
    assert penalty.message == ""
    assert penalty.instructor_notes


def test_a_per_student_extension_moves_the_due_date():
    meta = metadata(
        "2025-03-09T12:00:00-08:00",
        users=[{"id": 1, "assignment": {"due_date": "2025-03-09T23:59:00-08:00", "late_due_date": None}}],
    )
    assert assess(meta, ONE_POINT_A_DAY).days_late == 0


def test_a_group_gets_the_most_generous_extension_only_when_every_member_has_one():
    users = [
        {"id": 1, "assignment": {"due_date": "2025-03-08T23:59:00-08:00"}},
        {"id": 2, "assignment": {"due_date": "2025-03-09T23:59:00-08:00"}},
    ]
    assert assess(metadata("2025-03-09T12:00:00-08:00", users=users), ONE_POINT_A_DAY).days_late == 0
    users[1] = {"id": 2}
    assert assess(metadata("2025-03-09T12:00:00-08:00", users=users), ONE_POINT_A_DAY).days_late == 2


def test_the_result_does_not_depend_on_the_clock(monkeypatch):
    import grader.gradescope.late as late_module

    class FrozenAtEpoch(datetime):
        @classmethod
        def now(cls, tz=None):
            return datetime(1970, 1, 1, tzinfo=tz)

    monkeypatch.setattr(late_module, "datetime", FrozenAtEpoch)
    assert assess(metadata("2025-03-08T00:00:01-08:00"), ONE_POINT_A_DAY).days_late == 1


@pytest.mark.parametrize(
    "text", ["2026-03-01T12:00:00-0800", "2026-03-01T12:00:00 -08:00", "2026-03-01 12:00:00-08:00"]
)
def test_offsets_without_a_colon_or_after_a_space_are_read_on_every_python(text):
    from grader.gradescope.late import parse_timestamp

    assert parse_timestamp(text).isoformat() == "2026-03-01T12:00:00-08:00"

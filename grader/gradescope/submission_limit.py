"""A limit on graded submissions: at most N per rolling 24 hours or per calendar day.

Unlimited resubmission against visible feedback invites guess-and-check. Over the limit a
submission is not graded: its results keep the score of the last graded one (Gradescope makes the
newest submission the active one, so anything lower would cost the student points) and say when
the next one will be graded.

Which earlier submissions were graded is not recorded anywhere Gradescope passes back (only the
latest carries its results), so it is worked out by replaying this policy over the earlier
submission times: the same times and the same policy always give the same answer. Submissions
whose grading failed (``autograder_error``) do not count. Everything is derived from the
submissions' own times, never from the clock of the machine grading them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from ..config import SubmissionLimit
from ..grading import messages
from ..grading.notes import Graded, student
from ..results import GradingResults
from .late import parse_timestamp

_WINDOW = timedelta(hours=24)


@dataclass(frozen=True)
class Attempt:
    """One earlier submission, as Gradescope's ``previous_submissions`` lists it."""

    time: datetime
    score: float = 0.0
    autograder_error: bool = False


@dataclass(frozen=True)
class Decision:
    graded: bool
    used: int  # graded submissions in the current period, this one not included
    next_graded_at: datetime | None = None  # when over the limit: the first time one is graded again
    kept_score: float = 0.0  # when over the limit: the score of the last graded submission


def attempts(metadata: dict[str, Any] | None) -> tuple[datetime | None, list[Attempt]]:
    """This submission's time and the earlier ones from (the essentials of) submission_metadata.json."""
    if not isinstance(metadata, dict):
        return None, []
    now = parse_timestamp(metadata.get("created_at"))
    found = []
    for entry in metadata.get("previous_submissions") or []:
        if not isinstance(entry, dict):
            continue
        moment = parse_timestamp(entry.get("submission_time"))
        if moment is None:
            continue
        try:
            score = float(entry.get("score") or 0.0)
        except (TypeError, ValueError):
            score = 0.0
        found.append(Attempt(moment, score, bool(entry.get("autograder_error"))))
    return now, found


def _period_start(limit: SubmissionLimit, moment: datetime) -> datetime:
    local = moment.astimezone(ZoneInfo(limit.time_zone))
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def _in_period(limit: SubmissionLimit, graded: list[datetime], moment: datetime) -> list[datetime]:
    if limit.period == "calendar_day":
        start = _period_start(limit, moment)
        return [t for t in graded if _period_start(limit, t) == start]
    return [t for t in graded if moment - _WINDOW < t <= moment]


def _next_graded(limit: SubmissionLimit, counted: list[datetime], moment: datetime) -> datetime:
    if limit.period == "calendar_day":
        start = _period_start(limit, moment)
        # Midnight in the course's zone, which is not always 24 hours later (daylight saving).
        tomorrow = (start.replace(tzinfo=None) + timedelta(days=1)).replace(tzinfo=start.tzinfo)
        return tomorrow
    oldest = sorted(counted)[len(counted) - limit.max_graded]
    return oldest + _WINDOW


def decide(limit: SubmissionLimit, now: datetime | None, previous: list[Attempt]) -> Decision:
    """Whether the submission made at ``now`` is graded, given the earlier ones."""
    if not limit.enabled or now is None:
        return Decision(graded=True, used=0)
    graded: list[tuple[datetime, float]] = []
    for attempt in sorted((a for a in previous if a.time < now), key=lambda a: a.time):
        if attempt.autograder_error:
            continue
        if len(_in_period(limit, [t for t, _ in graded], attempt.time)) < limit.max_graded:
            graded.append((attempt.time, attempt.score))
    counted = _in_period(limit, [t for t, _ in graded], now)
    if len(counted) < limit.max_graded:
        return Decision(graded=True, used=len(counted))
    return Decision(
        graded=False,
        used=len(counted),
        next_graded_at=_next_graded(limit, counted, now),
        kept_score=graded[-1][1],
    )


def _period_text(limit: SubmissionLimit) -> str:
    if limit.period == "calendar_day":
        return f"per day (midnight to midnight, {limit.time_zone})"
    return "in any 24 hours"


def declined(limit: SubmissionLimit, decision: Decision) -> Graded:
    """What Gradescope shows for a submission over the limit: the last graded score, and when to retry."""
    assert decision.next_graded_at is not None, "only a submission over the limit is declined"
    when = decision.next_graded_at.astimezone(ZoneInfo(limit.time_zone))
    if when.second or when.microsecond:  # shown to the minute: rounded up, so the time named is never early
        when = when.replace(second=0, microsecond=0) + timedelta(minutes=1)
    shown = f"{when:%Y-%m-%d %H:%M} ({limit.time_zone})"
    message = messages.over_the_limit(limit.max_graded, _period_text(limit), decision.kept_score, shown)
    results = GradingResults(
        score_override=decision.kept_score,
        extra_data={
            "submission_limit": {
                "graded": False,
                "used": decision.used,
                "max_graded": limit.max_graded,
                "period": limit.period,
                "next_graded_at": decision.next_graded_at.isoformat(),
            }
        },
    )
    return Graded(results, [student(message)])

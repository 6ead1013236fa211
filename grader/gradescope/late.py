"""The late policy: how many points a submission loses for lateness, computed from Gradescope's metadata.

Everything is derived from ``created_at`` (when the student submitted), never from the clock of
the machine grading it, so a rerun weeks later gives the same answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from ..config import LatePolicy
from ..grading import messages
from ..results import GradingResults, TestResult

_DAY = timedelta(days=1)
# Python 3.10's fromisoformat accepts neither a trailing "Z" nor fractions of other than 3 or 6
# digits; Gradescope writes 6 today, but other tools (and tests) write any number.
_FRACTION = re.compile(r"(\d{2}:\d{2}:\d{2})[.,](\d+)")
_ZULU = re.compile(r"[zZ]$")


@dataclass(frozen=True)
class LatePenalty:
    days_late: int = 0  # whole days or parts of days after the due date
    points: float = 0.0  # points to deduct, before any capping to what was earned
    rejected: bool = False  # past the late due date: nothing is accepted
    message: str = ""  # for the student
    instructor_notes: tuple[str, ...] = field(default_factory=tuple)  # never shown to the student

    @property
    def applies(self) -> bool:
        return self.points > 0 and not self.rejected


_OFFSET = re.compile(r"(?<=\d)\s*([+-])(\d{2}):?(\d{2})$")


def parse_timestamp(value: object) -> datetime | None:
    """An ISO 8601 timestamp as an aware datetime, or None when it is missing or unreadable.

    A timestamp without an offset is taken as UTC; Gradescope always writes one, so this only
    matters for hand-made metadata.
    """
    if not isinstance(value, str) or not value.strip():
        return None
    text = _ZULU.sub("+00:00", value.strip())
    # Python 3.10's fromisoformat wants "+HH:MM" right after the time; 3.11 also reads "-0800"
    # and a space before the offset, so both are normalised here for Gradescope's 3.10 image.
    text = _OFFSET.sub(lambda m: f"{m.group(1)}{m.group(2)}:{m.group(3)}", text)
    text = _FRACTION.sub(lambda m: f"{m.group(1)}.{(m.group(2) + '000000')[:6]}", text, count=1)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment


def days_late(submitted: datetime, due: datetime) -> int:
    """Whole days after the due date, where any part of a day counts as a day (1 second late = 1)."""
    delta = submitted - due
    if delta <= timedelta(0):
        return 0
    # timedelta arithmetic is exact; dividing floats would misjudge a microsecond past midnight.
    whole, rest = divmod(delta, _DAY)
    return whole + (1 if rest else 0)


def _due_dates(metadata: dict[str, Any]) -> tuple[object, object]:
    """The due date and late due date that apply to this submission.

    Gradescope can attach a per-student extension to each user entry (``users[i].assignment``);
    when every member of a group has one, the most generous applies, as it would for one student.
    """
    assignment = metadata.get("assignment")
    if not isinstance(assignment, dict):
        assignment = {}
    due, late_due = assignment.get("due_date"), assignment.get("late_due_date")
    users = metadata.get("users")
    if isinstance(users, list) and users:
        own = [u.get("assignment") for u in users if isinstance(u, dict)]
        dated = [(parse_timestamp(a.get("due_date")), a) for a in own if isinstance(a, dict)]
        extensions = [(moment, a) for moment, a in dated if moment is not None]
        if own and len(extensions) == len(own):
            best = max(extensions, key=lambda extension: extension[0])[1]
            due = best["due_date"]
            late_due = best.get("late_due_date", late_due)
    return due, late_due


def _plural(count: float, word: str) -> str:
    shown = int(count) if float(count).is_integer() else count
    return f"{shown} {word}" + ("" if shown == 1 else "s")


def assess(metadata: dict[str, Any] | None, policy: LatePolicy) -> LatePenalty:
    """The penalty for this submission under ``policy``; no penalty when the dates cannot be read."""
    if not isinstance(metadata, dict):
        return LatePenalty(instructor_notes=("No submission metadata: no late policy applied.",))
    raw_submitted = metadata.get("created_at")
    raw_due, raw_late_due = _due_dates(metadata)
    submitted = parse_timestamp(raw_submitted)
    if submitted is None:
        return LatePenalty(
            instructor_notes=(
                f"Submission time created_at={raw_submitted!r} is missing or unreadable: "
                "no late policy applied.",
            )
        )
    notes: list[str] = []
    late_due = parse_timestamp(raw_late_due)
    if raw_late_due is not None and late_due is None:
        notes.append(f"Late due date {raw_late_due!r} is unreadable: it was not enforced.")
    if late_due is not None and policy.honour_late_due_date and submitted > late_due:
        return LatePenalty(
            rejected=True,
            message=messages.after_late_due_date(
                _shown(submitted), _lateness(submitted - late_due), _shown(late_due)
            ),
            instructor_notes=tuple(notes),
        )
    due = parse_timestamp(raw_due)
    if due is None:
        notes.append(f"Due date {raw_due!r} is missing or unreadable: no late penalty applied.")
        return LatePenalty(instructor_notes=tuple(notes))
    days = days_late(submitted, due)
    if days == 0:
        return LatePenalty(instructor_notes=tuple(notes))
    points = days * policy.points_per_day
    when = messages.days_late(
        _shown(submitted), _lateness(submitted - due), _shown(due), _plural(days, "day")
    )
    if points <= 0:
        message = messages.no_late_penalty(when)
    else:
        per_day = _plural(policy.points_per_day, "point")
        message = messages.late_penalty(when, per_day, _plural(points, "point"), points == 1)
    return LatePenalty(days_late=days, points=points, message=message, instructor_notes=tuple(notes))


def apply_penalty(results: GradingResults, penalty: LatePenalty) -> None:
    """Deduct ``penalty`` from graded ``results``, as a line of its own that says what was taken."""
    if not penalty.applies:
        return
    earned = results.score
    # Capped at what was earned so the lines add up to the total shown, which never goes below 0.
    deducted = min(penalty.points, earned)
    output = penalty.message
    if deducted <= 0:
        output += messages.nothing_to_deduct()
    elif deducted < penalty.points:
        output += messages.only_earned(earned, deducted)
    results.adjustments.append(
        TestResult(
            name=messages.penalty_name(penalty.days_late),
            max_score=0.0,
            score=-deducted,
            output=output,
            visibility="visible",
        )
    )
    if results.score_override is not None:
        results.score_override = max(0.0, results.score_override - deducted)


def _shown(moment: datetime) -> str:
    # To the minute, in the offset Gradescope gave, which is the course's time zone; how far past
    # the due date a submission is comes from _lateness, so seconds never need showing.
    offset = moment.isoformat()[-6:] if moment.utcoffset() else "+00:00"
    return f"{moment:%Y-%m-%d %H:%M} UTC{offset}"


def _lateness(delta: timedelta) -> str:
    """How long after a deadline, in days, hours and minutes, e.g. "2 days and less than a minute"."""
    minutes = delta // timedelta(minutes=1)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = [_plural(n, unit) for n, unit in ((days, "day"), (hours, "hour"), (minutes, "minute")) if n]
    if delta % timedelta(minutes=1) and not (hours or minutes):
        parts.append("less than a minute")
    if not parts:
        return "less than a minute"
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]

"""Regrading with a diff: whose score changed between two graded batches, by how much, and why.

When a test is fixed mid-semester the instructor grades everyone again into a new folder and
compares it with the old one: every submission whose total changed is listed with the tests that
flipped. Submissions are matched by id (the folder names ``grade-all`` writes).
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

RESULTS_FILE = "results.json"


@dataclass(frozen=True)
class FlippedTest:
    test: str  # "number name"
    before: float | None  # None: the test did not exist before
    after: float | None  # None: the test is gone
    max_score: float  # now (before, for a test that is gone)
    max_before: float | None = None  # the test's points in the old batch, when it existed

    @property
    def verdict(self) -> str:
        """What happened to the test: a verdict that changed, or only its points."""
        if self.before is None:
            return "new test"
        if self.after is None:
            return "removed"
        passed_before = self.before >= (self.max_before if self.max_before is not None else self.max_score)
        passed_after = self.after >= self.max_score
        if passed_before and passed_after:
            return "passes both times; its points changed"
        if not passed_before and not passed_after:
            return (
                "fails both times; its points changed" if self.before == 0 and self.after == 0 else "changed"
            )
        return "now passes" if passed_after else "now fails"


@dataclass(frozen=True)
class ScoreChange:
    submission: str
    before: float | None  # None: not graded in the old batch
    after: float | None
    tests: tuple[FlippedTest, ...] = ()
    who: str = ""  # the submitters' names, where the batch knows them

    @property
    def delta(self) -> float:
        return (self.after or 0.0) - (self.before or 0.0)


@dataclass
class Comparison:
    old: Path
    changed: list[ScoreChange] = field(default_factory=list)
    unchanged: int = 0


def was_graded(results: object) -> bool:
    """Whether a results.json is a finished grade: it lists tests and no internal error cut it
    short. One that is not (the assignment could not be told, the grader failed) is graded again
    by a rerun without --force."""
    if not isinstance(results, dict):
        return False
    extra = results.get("extra_data")
    tests = results.get("tests")
    return (
        isinstance(tests, list)
        and bool(tests)
        and not (isinstance(extra, dict) and extra.get("internal_error"))
    )


def _read(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _scores(results: dict[str, Any]) -> dict[str, tuple[float, float]]:
    scores = {}
    for test in results.get("tests") or []:
        if isinstance(test, dict) and test.get("max_score"):
            label = (
                f"{test.get('number')} {test.get('name', '')}"
                if test.get("number")
                else str(test.get("name", ""))
            )
            scores[label] = (float(test.get("score") or 0), float(test.get("max_score") or 0))
    return scores


def _changed_tests(old: dict[str, Any], new: dict[str, Any]) -> tuple[FlippedTest, ...]:
    before, after = _scores(old), _scores(new)
    changes = []
    for label in [*before, *(k for k in after if k not in before)]:
        b, a = before.get(label), after.get(label)
        if b is None or a is None or abs(b[0] - a[0]) > 1e-9 or abs(b[1] - a[1]) > 1e-9:
            changes.append(
                FlippedTest(label, b and b[0], a and a[0], (a or b or (0.0, 0.0))[1], b[1] if b else None)
            )
    return tuple(changes)


def compare(
    old: Path, new: Path, submissions: list[str], names: Mapping[str, str] | None = None
) -> Comparison:
    """The submissions in ``new`` (ids) whose score differs from the same id's in ``old``;
    ``names``: who submitted each, for the listing."""
    comparison = Comparison(Path(old))
    for sub in submissions:
        before, after = _read(Path(old) / sub / RESULTS_FILE), _read(Path(new) / sub / RESULTS_FILE)
        b = float(before.get("score") or 0) if before is not None else None
        a = float(after.get("score") or 0) if after is not None else None
        tests = _changed_tests(before or {}, after or {})
        if b is None or a is None or abs(a - b) > 1e-9:
            comparison.changed.append(ScoreChange(sub, b, a, tests, (names or {}).get(sub, "")))
        else:
            comparison.unchanged += 1
    comparison.changed.sort(key=lambda c: (c.delta, c.submission))
    return comparison


def _num(value: float | None) -> str:
    return "—" if value is None else f"{value:g}"


def _flip(change: FlippedTest) -> str:
    if change.before is None:
        return f"{change.test}: new test, {_num(change.after)}/{change.max_score:g}"
    if change.after is None:
        return f"{change.test}: removed (was {_num(change.before)}/{change.max_score:g})"
    worth = (
        f"{_num(change.before)}/{change.max_before:g} -> {_num(change.after)}/{change.max_score:g}"
        if change.max_before is not None and change.max_before != change.max_score
        else f"{_num(change.before)} -> {_num(change.after)}/{change.max_score:g}"
    )
    return f"{change.test}: {change.verdict} ({worth})"


def _named(change: ScoreChange) -> str:
    return f"{change.submission} ({change.who})" if change.who else change.submission


def as_text(comparison: Comparison) -> str:
    """For the terminal: one line per changed submission, one indented line per flipped test."""
    if not comparison.changed:
        return f"Compared with {comparison.old}: no score changed ({comparison.unchanged} submissions)."
    lines = [
        f"Compared with {comparison.old}: {len(comparison.changed)} score(s) changed, "
        f"{comparison.unchanged} unchanged."
    ]
    for change in comparison.changed:
        if change.before is None:
            lines.append(f"  {_named(change)}: {_num(change.after)} (not in the old batch)")
        elif change.after is None:
            lines.append(f"  {_named(change)}: {_num(change.before)} (not in the new batch)")
        else:
            lines.append(
                f"  {_named(change)}: {_num(change.before)} -> {_num(change.after)} ({change.delta:+g})"
            )
        lines += [f"      {_flip(t)}" for t in change.tests]
    return "\n".join(lines)


def as_html(comparison: Comparison) -> str:
    """The report's section on the comparison."""
    esc = html.escape
    head = f"<h2>Changes since {esc(str(comparison.old))}</h2>"
    if not comparison.changed:
        return head + f"<p>No score changed ({comparison.unchanged} submissions compared).</p>"
    rows = "".join(
        f'<tr><td><a href="#{esc("submission-" + c.submission)}">{esc(c.submission)}</a></td><td>{esc(c.who)}</td><td class="num">{_num(c.before)}</td><td class="num">{_num(c.after)}</td>'
        f'<td class="num">{c.delta:+g}</td><td>{"<br>".join(esc(_flip(t)) for t in c.tests)}</td></tr>'
        for c in comparison.changed
    )
    return (
        head + f"<p>{len(comparison.changed)} score(s) changed, {comparison.unchanged} unchanged.</p>"
        "<table><tr><th>submission</th><th>submitted by</th><th>before</th><th>after</th><th>change</th><th>tests that flipped</th></tr>"
        f"{rows}</table>"
    )

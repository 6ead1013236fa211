"""The numbers a batch report shows, computed from the submissions' records alone."""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass, field

from ..records import Record, SortKey, column_key, column_name


@dataclass(frozen=True)
class ScoreSummary:
    submissions: int
    full: float  # the most any submission could score
    mean: float
    median: float
    full_marks: int  # submissions that scored ``full`` (none when ``full`` is 0)
    zero: int


@dataclass
class PassRate:
    label: str  # a test's column name, or a function's name
    passed: int = 0
    graded: int = 0

    @property
    def rate(self) -> float:
        return self.passed / self.graded


@dataclass
class Diagnostic:
    line: str
    submissions: int = 0  # submissions whose failing tests show it, each counted once
    tests: Counter[str] = field(default_factory=Counter)  # test number (or name) -> failures showing it


def full_score(records: list[Record]) -> float:
    return max((r.max_score for r in records), default=0.0)


def score_summary(records: list[Record]) -> ScoreSummary | None:
    """Mean, median and the extremes of the scores; None without submissions."""
    if not records:
        return None
    scores = [r.score for r in records]
    full = full_score(records)
    return ScoreSummary(
        submissions=len(scores),
        full=full,
        mean=statistics.fmean(scores),
        median=statistics.median(scores),
        full_marks=sum(1 for s in scores if full and s >= full),
        zero=sum(1 for s in scores if s == 0),
    )


def pass_rates_per_test(records: list[Record]) -> list[PassRate]:
    """Every test any submission was graded on, in the tests' order."""
    rates: dict[str, PassRate] = {}
    order: dict[str, SortKey] = {}
    for record in records:
        for test in record.tests:
            column = column_name(test)
            order.setdefault(column, column_key(test))
            rate = rates.setdefault(column, PassRate(column))
            rate.passed += test.status == "passed"
            rate.graded += 1
    return sorted(rates.values(), key=lambda r: order[r.label])


def pass_rates_per_function(records: list[Record]) -> list[PassRate]:
    """Every tested function, its tests taken together, the least passed first."""
    rates: dict[str, PassRate] = {}
    for record in records:
        for test in record.tests:
            if test.function:
                rate = rates.setdefault(test.function, PassRate(test.function))
                rate.passed += test.status == "passed"
                rate.graded += 1
    return sorted(rates.values(), key=lambda r: r.rate)


def diagnostic(text: str) -> str:
    """The line that says what went wrong: the first line, or, after a "Calling f with" header and
    its indented arguments (different in every test), the first line that follows them."""
    lines = [line for line in str(text).splitlines() if line.strip()]
    if lines and lines[0].startswith("Calling ") and lines[0].rstrip().endswith(("with", ":")):
        for line in lines[1:]:
            if not line[0].isspace():
                return line.strip()
    return lines[0].strip() if lines else ""


def common_diagnostics(records: list[Record], top: int) -> list[Diagnostic]:
    """The ``top`` diagnostics of failing tests shown by the most submissions."""
    found: dict[str, Diagnostic] = {}
    for record in records:
        seen: set[str] = set()
        for test in record.tests:
            line = "" if test.status == "passed" else diagnostic(test.output)
            if not line:
                continue
            entry = found.setdefault(line, Diagnostic(line))
            if line not in seen:
                seen.add(line)
                entry.submissions += 1
            entry.tests[test.number or test.name] += 1
    counts = Counter({line: entry.submissions for line, entry in found.items()})
    return [found[line] for line, _ in counts.most_common(top)]


def failed_cells(records: list[Record]) -> list[tuple[Record, list[tuple[str, str]]]]:
    """The submissions with cells that did not run, each with those cells (number, status) in order."""
    failed = []
    for record in records:
        bad = {k: v for k, v in (record.cells or {}).items() if v != "ok"}
        if bad:
            failed.append((record, sorted(bad.items(), key=lambda kv: int(kv[0]) if kv[0].isdigit() else 0)))
    return failed


def internal_errors(records: list[Record]) -> list[Record]:
    return [r for r in records if r.internal_error]


def staff_notes(record: Record) -> list[str]:
    """What grading had to tell course staff about one submission (a test's own error, a clean-up
    that failed), as its results.json keeps it."""
    notes = record.results.extra_data.get("instructor_notes")
    return [str(note) for note in notes] if isinstance(notes, list) else []


def unisolated(records: list[Record]) -> list[Record]:
    """Graded by a worker without a file view of its own (no mount namespace): its code could
    read what the grading user can, the other submissions included."""
    return [
        r
        for r in records
        if r.cells is not None and "mount" not in (r.results.extra_data.get("protections") or [])
    ]


def ungraded(records: list[Record]) -> list[Record]:
    """Never ran: unreadable, no notebook, or the assignment unknown (graded notebooks list their cells)."""
    return [r for r in records if r.cells is None and not r.internal_error]


def slowest(records: list[Record], top: int) -> list[Record]:
    return sorted(records, key=lambda r: -r.results.execution_time)[:top]

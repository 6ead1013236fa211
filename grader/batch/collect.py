"""Collecting a batch's results: each submission's results.json read back, and grades.csv."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from pathlib import Path

from ..files import write_atomic
from ..results import GradingResults
from .grading import RESULTS_FILE, internal_error_results
from .inputs import Submission
from .records import Record, SortKey, column_key, column_name

GRADES_FILE = "grades.csv"
# A spreadsheet runs a cell starting with one of these (or a tab or carriage return before them)
# as a formula when the instructor opens grades.csv.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def read_results(path: Path) -> GradingResults:
    """A results.json read back; an internal error when it cannot be read."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return internal_error_results("no readable results.json")
    return GradingResults.from_dict(data if isinstance(data, dict) else {})


def load_records(out: Path, subs: Iterable[Submission]) -> list[Record]:
    return [
        Record(sub.id, sub.submitters, read_results(out / sub.id / RESULTS_FILE), sub.notes) for sub in subs
    ]


def write_grades_csv(path: Path, records: list[Record]) -> Path:
    """One row per submission, one column per test, readable by the instructor alone."""
    columns: dict[str, SortKey] = {}
    for record in records:
        for test in record.tests:
            columns.setdefault(column_name(test), column_key(test))
    ordered = sorted(columns, key=lambda c: columns[c])
    full = max((r.max_score for r in records), default=0.0)
    text = io.StringIO(newline="")
    writer = csv.writer(text)
    writer.writerow(
        [
            "submission",
            "names",
            "emails",
            "sids",
            "total",
            "max",
            "made for",
            "notes",
            *map(spreadsheet_text, ordered),
        ]
    )
    for record in records:
        scores = {column_name(t): t.score for t in record.tests}
        people = record.submitters
        writer.writerow(
            [
                *map(
                    spreadsheet_text,
                    (
                        record.id,
                        "; ".join(p.name for p in people if p.name),
                        "; ".join(p.email for p in people if p.email),
                        "; ".join(p.sid for p in people if p.sid),
                    ),
                ),
                number_text(record.score),
                number_text(record.max_score or full),
                spreadsheet_text(record.made_for),
                spreadsheet_text("; ".join(record.notes)),
                *(number_text(scores[c]) if c in scores else "" for c in ordered),
            ]
        )
    return write_atomic(path, text.getvalue(), mode=0o600)  # names and emails


def spreadsheet_text(text: str) -> str:
    """A text cell a spreadsheet shows as text, never runs as a formula."""
    return f"'{text}" if text[:1] in FORMULA_STARTS else text


def number_text(value: float) -> str:
    value = float(value)
    return str(int(value)) if value.is_integer() else f"{value:g}"

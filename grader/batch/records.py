"""A graded submission as a batch's outputs read it: its results and who submitted it.

grades.csv (:mod:`grader.batch.collect`) and report.html (:mod:`grader.batch.report`) both read these,
so neither imports the other.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..results import GradingResults, TestResult, number_key

SortKey = tuple[tuple[tuple[int | str, ...], ...], str]


@dataclass(frozen=True)
class Submitter:
    name: str = ""
    email: str = ""
    sid: str = ""


@dataclass(frozen=True)
class Record:
    """One submission's results with who submitted it: what grades.csv and the report read."""

    id: str
    submitters: tuple[Submitter, ...]
    results: GradingResults
    notes: tuple[str, ...] = ()  # for the instructor: what of the submission could not be read

    @property
    def score(self) -> float:
        """The total as its results.json states it, which may lie outside what the tests add up to."""
        stated = self.results.score_override
        return self.results.score if stated is None else stated

    @property
    def tests(self) -> list[TestResult]:
        """The tests worth points: not the lines, such as a late penalty, worth none."""
        return [t for t in self.results.tests if t.max_score]

    @property
    def max_score(self) -> float:
        return float(sum(t.max_score for t in self.tests))

    @property
    def internal_error(self) -> str:
        """Why the grader failed on this submission; "" when it did not."""
        detail = self.results.extra_data.get("internal_error")
        return str(detail) if detail else ""

    @property
    def made_for(self) -> str:
        """The other assignment the notebook's metadata names; "" when it names this one or none."""
        named = self.results.extra_data.get("made_for")
        return str(named)[:100] if named else ""

    @property
    def cells(self) -> dict[str, str] | None:
        """Each cell's status by its number; None when the notebook never ran."""
        if "cells" not in self.results.extra_data:
            return None
        cells = self.results.extra_data["cells"]
        return {str(k): str(v) for k, v in cells.items()} if isinstance(cells, dict) else {}


def column_name(test: TestResult) -> str:
    """A test's column in grades.csv and its label in the report: its number and its name."""
    return f"{test.number} {test.name}" if test.number else test.name


def column_key(test: TestResult) -> SortKey:
    """Where a test's column goes: by number ("2.10" after "2.9"), then by name."""
    return (number_key(test.number), test.name)

"""The one result model of a grading run, and its serialisation to Gradescope's results.json."""

from __future__ import annotations

import json
import math
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

# Gradescope truncates at 100,000 characters; our caps keep whole messages well under that.
MAX_TEST_OUTPUT = 5_000
MAX_TOP_OUTPUT = 20_000
VISIBILITIES = ("hidden", "after_due_date", "after_published", "visible")
INTERNAL_PROBLEM = ("The autograder ran into an internal problem while grading this submission. "
                    "This is not caused by your code; your instructor can see the details.")


def cap(text: str, limit: int) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if len(text) <= limit:
        return text
    note = f"\n[... {len(text) - limit} more characters not shown]"
    return text[: limit - len(note)] + note


@dataclass
class TestResult:
    __test__ = False  # a result, not a test, for pytest's collection in modules that import it

    name: str
    max_score: float
    score: float = 0.0
    output: str = ""
    number: str | None = None
    visibility: str = "visible"
    tags: tuple[str, ...] = ()
    function: str | None = None  # the student function the test checks
    outcome: str = "failed"  # passed | failed | error | skipped | timeout (instructor-facing detail)

    @property
    def status(self) -> str:
        return "passed" if self.outcome == "passed" and self.score >= self.max_score else "failed"

    def to_dict(self) -> dict:
        entry = {
            "name": self.name,
            "score": _number(self.score),
            "max_score": _number(self.max_score),
            "status": self.status,
            "output": cap(self.output, MAX_TEST_OUTPUT),
            "output_format": "text",
            "visibility": self.visibility,
        }
        if self.number:
            entry["number"] = self.number
        if self.tags:
            entry["tags"] = list(self.tags)
        extra = {"outcome": self.outcome}
        if self.function:
            extra["function"] = self.function
        entry["extra_data"] = extra
        return entry


def _number(value: float) -> float:
    if not math.isfinite(value):
        return 0.0
    return int(value) if float(value).is_integer() else round(float(value), 4)


@dataclass
class GradingResults:
    tests: list[TestResult] = field(default_factory=list)
    output: str = ""
    execution_time: float = 0.0
    score_override: float | None = None  # set when a policy (missing code, lateness) decides the total
    extra_data: dict = field(default_factory=dict)
    adjustments: list[TestResult] = field(default_factory=list)  # e.g. a late penalty, shown as its own line

    @property
    def tests_score(self) -> float:
        return sum(t.score for t in self.tests)

    @property
    def max_score(self) -> float:
        return sum(t.max_score for t in self.tests)

    @property
    def score(self) -> float:
        if self.score_override is not None:
            return max(0.0, self.score_override)
        return max(0.0, self.tests_score + sum(a.score for a in self.adjustments))

    def to_dict(self) -> dict:
        ordered = sorted(self.tests, key=lambda t: number_key(t.number))
        return {
            "score": _number(self.score),
            "execution_time": round(max(self.execution_time, 0.0), 3),
            "output": cap(self.output, MAX_TOP_OUTPUT),
            "output_format": "text",
            "test_output_format": "text",
            "visibility": "visible",
            "stdout_visibility": "hidden",
            "tests": [t.to_dict() for t in [*ordered, *self.adjustments]],
            "extra_data": self.extra_data,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n"


def number_key(number: str | None) -> tuple:
    """Sort key for test numbers such as "2.10" (after "2.9"); unnumbered tests go last."""
    if not number:
        return ((1 << 30,),)
    parts = []
    for piece in number.split("."):
        parts.append((int(piece), "") if piece.isdigit() else (1 << 30, piece))
    return tuple(parts)


def write_atomically(results: GradingResults, path: Path) -> None:
    """Write via a private temporary file and rename, so no reader ever sees a partial file and a
    file put there earlier by anyone else is replaced, not appended to or followed as a link."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".results-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(results.to_json())
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise

"""The one result model of a grading run, and its serialisation to Gradescope's results.json."""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .grading.grid import Grid, markdown, unfenced
from .text import plain

# Gradescope truncates at 100,000 characters; our caps keep whole messages well under that.
MAX_TEST_OUTPUT = 5_000
MAX_TOP_OUTPUT = 20_000
VISIBILITIES = ("hidden", "after_due_date", "after_published", "visible")
INTERNAL_PROBLEM = (
    "The autograder ran into an internal problem while grading this submission. "
    "This is not caused by your code; your instructor can see the details."
)


def cap(text: str, limit: int) -> str:
    text = plain(text.replace("\r\n", "\n").replace("\r", "\n"))
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
    grid: Grid | None = None  # a wrong 2-D answer: Gradescope shows the output as Markdown with a table

    @property
    def status(self) -> str:
        return "passed" if self.outcome == "passed" and self.score >= self.max_score else "failed"

    def to_dict(self) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "name": plain(self.name),
            "score": _number(self.score),
            "max_score": _number(self.max_score),
            "status": self.status,
            "output": cap(self.output, MAX_TEST_OUTPUT) if self.grid is None else self._markdown(),
            "output_format": "text" if self.grid is None else "md",  # a 16x16 table stays well inside 100,000
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

    def _markdown(self) -> str:
        assert self.grid is not None
        return markdown(cap(self.output, MAX_TEST_OUTPUT), self.grid)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TestResult:
        """A test as :meth:`to_dict` wrote it; one from before outcomes were kept keeps its status."""
        extra = data.get("extra_data")
        extra = extra if isinstance(extra, dict) else {}
        number, tags = data.get("number"), data.get("tags")
        passed = data.get("status") == "passed"
        return cls(
            name=str(data.get("name", "")),
            max_score=float(data.get("max_score") or 0),
            score=float(data.get("score") or 0),
            output=unfenced(str(data.get("output", "")))
            if data.get("output_format") == "md"
            else str(data.get("output", "")),
            number=str(number) if number else None,
            visibility=str(data.get("visibility", "visible")),
            tags=tuple(str(t) for t in tags) if isinstance(tags, list) else (),
            function=str(extra["function"]) if extra.get("function") else None,
            outcome=str(extra.get("outcome") or ("passed" if passed else "failed")),
        )


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
    extra_data: dict[str, Any] = field(default_factory=dict)
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

    def to_dict(self) -> dict[str, Any]:
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
            "extra_data": _plain_data(self.extra_data),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GradingResults:
        """Results as :meth:`to_dict` wrote them. The stated score is kept as the override: a policy
        (lateness, missing code) may have set it, and the tests then do not add up to it. Late
        penalties come back among the tests, as lines worth no points."""
        tests, extra, score = data.get("tests"), data.get("extra_data"), data.get("score")
        entries = tests if isinstance(tests, list) else []
        return cls(
            tests=[TestResult.from_dict(t) for t in entries if isinstance(t, dict)],
            output=unfenced(str(data.get("output", "")))
            if data.get("output_format") == "md"
            else str(data.get("output", "")),
            execution_time=float(data.get("execution_time") or 0),
            score_override=None if score is None else float(score),
            extra_data=dict(extra) if isinstance(extra, dict) else {},
        )


def _plain_data(value: object) -> object:
    """extra_data holds student-derived strings too (the graded file's name, cell statuses)."""
    if isinstance(value, str):
        return plain(value)
    if isinstance(value, dict):
        return {plain(str(k)) if isinstance(k, str) else k: _plain_data(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain_data(v) for v in value]
    return value


def number_key(number: str | None) -> tuple[tuple[int | str, ...], ...]:
    """Sort key for test numbers such as "2.10" (after "2.9"); unnumbered tests go last."""
    if not number:
        return ((1 << 30,),)
    parts: list[tuple[int | str, ...]] = []
    for piece in number.split("."):
        parts.append((int(piece), "") if piece.isdigit() else (1 << 30, piece))
    return tuple(parts)


# Room taken for results.json before any student code runs: a full disk then costs the student
# nothing. Capped outputs (4 bytes a character at most) of a few hundred tests fit.
RESERVED_BYTES = 2 << 20
STORE_PROBLEM = "The full feedback was too large to store; the scores are complete, the test output is not."


class ResultsFile:
    """results.json whose disk space is claimed now and which is written, later, all at once.

    The space is a private (0600) temporary file next to the target, preallocated, so writing
    into it later needs no free blocks; ``write`` truncates it to the results and renames it over
    the target, so no reader ever sees a partial file and a file put there earlier by anyone else
    is replaced, not appended to or followed as a link. Raises OSError now if not even the
    reservation fits.
    """

    def __init__(self, path: Path, reserve: int = RESERVED_BYTES):
        self.path = Path(path)
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.reserved = reserve
        fd, self.tmp = tempfile.mkstemp(prefix=".results-", dir=self.path.parent)
        try:
            os.posix_fallocate(fd, 0, reserve)
        except OSError:
            os.close(fd)
            os.unlink(self.tmp)
            raise
        self.fd: int | None = fd

    def write(self, results: GradingResults) -> None:
        if self.fd is None:
            raise ValueError("this results file was already written")
        data = results.to_json().encode("utf-8")
        try:
            self._store(data)
        except OSError:
            if len(data) <= self.reserved:
                raise
            self._store(_within(results, self.reserved))  # only the reserved space is certain
        os.replace(self.tmp, self.path)
        os.close(self.fd)
        self.fd = None

    def _store(self, data: bytes) -> None:
        fd = self.fd
        if fd is None:
            raise ValueError("this results file was already written")
        view = memoryview(data)
        offset = 0
        while offset < len(view):
            offset += os.pwrite(fd, view[offset:], offset)
        os.ftruncate(fd, len(data))
        os.fsync(fd)

    def discard(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
            try:
                os.unlink(self.tmp)
            except OSError:
                pass


def _within(results: GradingResults, limit: int) -> bytes:
    """The same scores without the test output, for results too large for their reservation."""
    bare = [replace(t, name=t.name[:200], output="") for t in results.tests]
    slim = GradingResults(
        tests=bare,
        output=STORE_PROBLEM,
        execution_time=results.execution_time,
        score_override=results.score_override,
        adjustments=results.adjustments,
    )
    data = slim.to_json().encode("utf-8")
    if len(data) > limit:
        data = GradingResults(output=STORE_PROBLEM, score_override=results.score).to_json().encode()
    return data


def write_results_now(results: GradingResults, path: Path) -> None:
    """results.json written at once: a :class:`ResultsFile` reserved and written on the spot (the one
    way results.json is written; :func:`grader.files.write_atomic` writes the batch's other files)."""
    target = ResultsFile(path, reserve=max(4096, len(results.to_json().encode("utf-8"))))
    try:
        target.write(results)
    finally:
        target.discard()

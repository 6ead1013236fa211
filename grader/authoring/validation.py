"""``grader validate``: the reference earns full marks and the stub nothing, as typed outcomes.

The stub graded is the one ``grader build`` writes now, built here: a handout that cannot be built
is not valid, and a missing or stale committed one is not what would be handed out.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ..api import grade_notebook
from ..config import Assignment
from ..results import GradingResults
from ..settings import Settings
from .build import BuildError, build_stub
from .handout import render


@dataclass(frozen=True)
class Case:
    """One notebook validated: the reference (``full``: it must earn every point) or the stub."""

    label: str
    path: Path
    results: GradingResults
    full: bool

    @property
    def errored(self) -> int:
        return sum(t.outcome == "error" for t in self.results.tests)

    @property
    def ok(self) -> bool:
        wanted = self.results.score == self.results.max_score if self.full else self.results.score == 0
        return bool(self.results.tests) and not self.errored and wanted


@dataclass
class Validation:
    cases: list[Case] = field(default_factory=list)
    build_error: str = ""  # why the stub cannot be built ("" when it can)
    stale: bool = False  # the committed handout is missing or not what build writes now
    numbering: list[str] = field(default_factory=list)  # tests sharing a number, or left without one

    @property
    def ok(self) -> bool:
        return not self.build_error and not self.numbering and all(case.ok for case in self.cases)


def numbering_problems(results: GradingResults) -> list[str]:
    """Test numbers order the feedback and name tests in the notebook's self-check: each must be
    unique, and either every test has one or none does."""
    seen: dict[str, str] = {}
    problems = []
    for test in results.tests:
        if test.number is None:
            continue
        if test.number in seen:
            problems.append(f"tests {seen[test.number]!r} and {test.name!r} are both numbered {test.number}")
        seen.setdefault(test.number, test.name)
    unnumbered = [test.name for test in results.tests if test.number is None]
    if seen and unnumbered:
        problems.append(f"{len(unnumbered)} tests have no @number while others do, e.g. {unnumbered[0]!r}")
    return problems


def validate(
    spec: Assignment, committed: Path, solutions_root: Path | None, settings: Settings
) -> Validation:
    """Grade the reference and the stub ``grader build`` would write for ``spec``; ``committed`` is
    where the handed-out notebook is."""
    found = Validation()
    try:
        stub_text: str | None = render(build_stub(spec))
    except (BuildError, ValueError) as exc:
        found.build_error, stub_text = str(exc), None
    if stub_text is not None:
        found.stale = not committed.is_file() or committed.read_text(encoding="utf-8") != stub_text
    with tempfile.TemporaryDirectory(prefix="grader-validate-") as scratch:
        notebooks = [("reference", spec.reference_notebook, True)]
        if stub_text is not None:
            stub = Path(scratch) / spec.notebook
            stub.write_text(stub_text, encoding="utf-8")
            notebooks.append(("stub", stub, False))
        for label, path, full in notebooks:
            results = grade_notebook(path, spec.name, solutions_root=solutions_root, settings=settings)
            found.cases.append(Case(label, path, results, full))
            if full:
                found.numbering = numbering_problems(results)
    return found

"""One source of truth: student notebooks are generated from the solution notebooks.

In a solution notebook, the parts students write stand between ``### BEGIN SOLUTION`` and
``### END SOLUTION`` lines and become ``raise NotImplementedError`` at the same indentation; cells
tagged ``solution_only`` are left out entirely. Outputs are cleared and the notebook's metadata
names the assignment, so a renamed file is still graded as the right assignment.

The build refuses (:class:`BuildError`) rather than writes a stub that still holds a marker (a
mistyped ``## BEGIN SOLUTION`` is not stripped, so its solution would ship), a line of the removed
solution code (also with other names, spacing or numbers: see :func:`shape_of`), or a line of the
hidden tests or their helpers (an oracle is a full solution).
"""

from __future__ import annotations

import io
import json
import keyword
import re
import tokenize
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..config import Assignment
from ..errors import GraderError
from . import selfcheck
from .handout import NotebookJson, StubCell, render

BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
HIDDEN_TAG = "solution_only"
STUB_LINE = "raise NotImplementedError"
PUBLIC_TEST_PREFIX = "test_public"  # public tests' examples may appear in the notebook's self-checks
_LEAK_MIN_CHARS = 24
# A near-copy (names, spacing or numbers changed) is a leak when the line is this long in tokens:
# shorter lines (``out = np.zeros(n)``) are shapes any notebook repeats.
_LEAK_MIN_TOKENS = 12
# Any mention of a marker left in a stub: a typo ("## BEGIN SOLUTION", "### Begin solution") means
# the block was not stripped and its solution would ship.
_MARKER_TEXT = re.compile(r"\b(BEGIN|END)\s+SOLUTION\b", re.IGNORECASE)
# Lines any notebook and test file may share: signatures students are given, imports, comments.
_COMMON_PREFIXES = ("#", "import ", "from ", '"""', "'''", "def ", "class ", "@")


class BuildError(GraderError):
    """The solution notebook is malformed or the stub would leak solution or test content."""


def _source(cell: StubCell | dict[str, Any]) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def strip_solutions(source: str, where: str) -> tuple[str, list[str]]:
    """The stub version of one cell's code, and the solution lines it removed."""
    out, removed, inside, indent = [], [], False, ""
    for line in source.splitlines():
        marker = line.strip()
        if marker == BEGIN:
            if inside:
                raise BuildError(f"{where}: {BEGIN} inside another solution block")
            inside, indent = True, line[: len(line) - len(line.lstrip())]
            out.append(f"{indent}# YOUR CODE HERE")
            out.append(f"{indent}{STUB_LINE}")
        elif marker == END:
            if not inside:
                raise BuildError(f"{where}: {END} without {BEGIN}")
            inside = False
        elif inside:
            removed.append(line)
        else:
            out.append(line)
    if inside:
        raise BuildError(f"{where}: {BEGIN} is never closed")
    return "\n".join(out), removed


def _significant(lines: Iterable[str]) -> set[str]:
    """The lines long and specific enough that finding one in a stub means it was copied there."""
    keep = set()
    for line in lines:
        text = line.strip()
        if len(text) >= _LEAK_MIN_CHARS and not text.startswith(_COMMON_PREFIXES):
            keep.add(text)
    return keep


def _tokens(line: str) -> list[str] | None:
    parts = []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(line.strip()).readline):
            if tok.type == tokenize.NAME:
                parts.append(tok.string if keyword.iskeyword(tok.string) else "N")
            elif tok.type in (tokenize.NUMBER, tokenize.STRING):
                parts.append("L")
            elif tok.type == tokenize.OP:
                parts.append(tok.string)
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return None
    return parts


def shape_of(line: str) -> str | None:
    """What a line computes, with every name, number and string replaced by a placeholder and a
    leading ``return`` or assignment target dropped, so that ``return np.convolve(x, k[::-1])`` and
    ``y = np.convolve(sig, w[::-1])`` have one shape. None for lines too short to be specific and
    for lines that are not complete Python tokens (a string that goes on)."""
    parts = _tokens(line)
    if parts is None:
        return None
    if parts[:1] == ["return"]:
        parts = parts[1:]
    elif "=" in parts and all(p in ("N", ",", "(", ")", "[", "]", ".") for p in parts[: parts.index("=")]):
        parts = parts[parts.index("=") + 1 :]
    return " ".join(parts) if len(parts) >= _LEAK_MIN_TOKENS else None


def _shapes(lines: Iterable[str]) -> dict[str, str]:
    shapes: dict[str, str] = {}
    for line in lines:
        text = line.strip()
        if text and not text.startswith(_COMMON_PREFIXES) and (shape := shape_of(text)):
            shapes.setdefault(shape, text)
    return shapes


def _near_copy(stub_line: str, solution_shapes: dict[str, str]) -> str | None:
    """The solution line whose computation ``stub_line`` repeats, also inside a larger expression
    (``print(...)`` around it), if any."""
    parts = _tokens(stub_line)
    if not parts:
        return None
    shape = f" {' '.join(parts)} "
    for core, line in solution_shapes.items():
        if f" {core} " in shape:
            return line
    return None


def build_stub(spec: Assignment) -> NotebookJson:
    """The student notebook for ``spec``, as notebook JSON."""
    solution = json.loads(spec.reference_notebook.read_text(encoding="utf-8"))
    cells: list[StubCell] = []
    removed: list[str] = []
    for position, cell in enumerate(solution.get("cells", []), start=1):
        tags = list(cell.get("metadata", {}).get("tags", []))
        if HIDDEN_TAG in tags:
            removed += _source(cell).splitlines()
            continue
        new, gone = _stub_cell(position, cell, tags)
        removed += gone
        cells.append(new)
    metadata = dict(solution.get("metadata", {}))
    metadata["grader"] = {"assignment": spec.name}
    # Cell ids exist from nbformat 4.5 on: a stub that has them must say so to be a valid notebook.
    minor = max(int(solution.get("nbformat_minor", 5)), 5)
    stub = NotebookJson(
        cells=selfcheck.fill(spec, cells), metadata=metadata, nbformat=4, nbformat_minor=minor
    )
    _refuse_leaks(spec, stub, removed)
    return stub


def _stub_cell(position: int, cell: dict[str, Any], tags: list[str]) -> tuple[StubCell, list[str]]:
    """A solution cell as students get it, and the solution lines taken out of it."""
    metadata = {k: v for k, v in cell.get("metadata", {}).items() if k != "tags"}
    if tags:  # other tags (for a book, slides or a linter) stay
        metadata["tags"] = tags
    new = StubCell(
        cell_type=cell["cell_type"],
        id=cell.get("id", f"cell-{position}"),
        metadata=metadata,
        source=_source(cell),
    )
    gone: list[str] = []
    if cell["cell_type"] == "code":
        new["source"], gone = strip_solutions(new["source"], f"cell {position}")
        new["execution_count"] = None
        new["outputs"] = []
    elif "attachments" in cell:  # images pasted into a markdown cell live here
        new["attachments"] = cell["attachments"]
    return new, gone


def _cell_of(stub: NotebookJson, line: str) -> str:
    """Where a stub line is, as the instructor finds it: the cell's number and its first line."""
    for number, cell in enumerate(stub["cells"], start=1):
        if line in (text.strip() for text in _source(cell).splitlines()):
            first = _source(cell).strip().splitlines()[0][:60]
            return f"{cell['cell_type']} cell {number} ({first!r})"
    return "a cell"


def _given(stub: NotebookJson) -> set[str]:
    """Lines the notebook's own text shows students on purpose: the contract table and the formulas
    of markdown cells (``w, b = gd_step(w, b, *neuron_gradients(X, y, w, b), lr)``)."""
    lines: set[str] = set()
    for cell in stub["cells"]:
        if cell["cell_type"] == "markdown":
            for text in _source(cell).splitlines():
                lines.add(text.strip())
                lines.update(part.strip() for part in re.findall(r"`([^`]+)`", text))
    return lines


def _refuse_leaks(spec: Assignment, stub: NotebookJson, removed: list[str]) -> None:
    text = "\n".join(_source(c) for c in stub["cells"])
    for line in text.splitlines():
        if _MARKER_TEXT.search(line):
            raise BuildError(
                f"the stub for {spec.name} still contains a solution marker: {line.strip()!r} in "
                f"{_cell_of(stub, line.strip())} (markers must read exactly {BEGIN!r} and {END!r}, "
                "each on a line of its own)"
            )
    given = _given(stub)
    removed = [line for line in removed if line.strip() not in given]
    stub_lines = {line.strip() for line in text.splitlines()} - given
    fix = "remove it there, or move that cell's code into a cell tagged 'solution_only'"
    leaked = _significant(removed) & stub_lines
    if leaked:
        line = sorted(leaked)[0]
        raise BuildError(
            f"the stub for {spec.name} would reveal solution code: {line!r} in {_cell_of(stub, line)}; {fix}"
        )
    solution_shapes = _shapes(removed)
    for line in sorted(stub_lines):
        if line and not line.startswith(_COMMON_PREFIXES) and (copied := _near_copy(line, solution_shapes)):
            raise BuildError(
                f"the stub for {spec.name} would reveal solution code: {line!r} in {_cell_of(stub, line)} "
                f"repeats {copied!r} with other names or numbers; {fix}"
            )
    for test_file in sorted(spec.tests_dir.rglob("*.py")):
        if test_file.name.startswith(PUBLIC_TEST_PREFIX):
            continue
        lines = test_file.read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines, start=1):
            if line.strip() in _significant([line]) & stub_lines:
                raise BuildError(
                    f"the stub for {spec.name} would reveal hidden-test code: {line.strip()!r} "
                    f"(line {number} of {test_file.relative_to(spec.root)}) in "
                    f"{_cell_of(stub, line.strip())}; remove it from the notebook, or move the example "
                    f"into a visible test (tests/{PUBLIC_TEST_PREFIX}*.py)"
                )


def stub_path(spec: Assignment, assignments_root: Path) -> Path:
    return assignments_root / spec.name / spec.notebook


def write_stub(spec: Assignment, assignments_root: Path) -> Path:
    path = stub_path(spec, assignments_root)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(build_stub(spec)), encoding="utf-8")
    return path

"""One source of truth: student notebooks are generated from the solution notebooks.

In a solution notebook, the parts students write stand between ``### BEGIN SOLUTION`` and
``### END SOLUTION`` lines and become ``raise NotImplementedError`` at the same indentation; cells
tagged ``solution_only`` are left out entirely. Outputs are cleared and the notebook's metadata
names the assignment, so a renamed file is still graded as the right assignment.
"""

from __future__ import annotations

import json
from pathlib import Path

from .config import Assignment

BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
HIDDEN_TAG = "solution_only"
STUB_LINE = "raise NotImplementedError"
_LEAK_MIN_CHARS = 24


class BuildError(Exception):
    """The solution notebook is malformed or the stub would leak solution or test content."""


def _source(cell: dict) -> str:
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


def _significant(lines) -> set[str]:
    keep = set()
    for line in lines:
        text = line.strip()
        if len(text) >= _LEAK_MIN_CHARS and not text.startswith(("#", "import ", "from ", '"""', "assert ")):
            keep.add(text)
    return keep


def build_stub(spec: Assignment) -> dict:
    """The student notebook for ``spec``, as notebook JSON."""
    solution = json.loads(spec.reference_notebook.read_text(encoding="utf-8"))
    cells, removed = [], []
    for position, cell in enumerate(solution.get("cells", []), start=1):
        tags = cell.get("metadata", {}).get("tags", [])
        if HIDDEN_TAG in tags:
            removed += _source(cell).splitlines()
            continue
        new = {"cell_type": cell["cell_type"], "id": cell.get("id", f"cell-{position}"),
               "metadata": {k: v for k, v in cell.get("metadata", {}).items() if k != "tags"},
               "source": _source(cell)}
        if cell["cell_type"] == "code":
            new["source"], gone = strip_solutions(new["source"], f"cell {position}")
            removed += gone
            new["execution_count"] = None
            new["outputs"] = []
        cells.append(new)
    metadata = dict(solution.get("metadata", {}))
    metadata["grader"] = {"assignment": spec.name}
    stub = {"cells": cells, "metadata": metadata, "nbformat": 4, "nbformat_minor": solution.get("nbformat_minor", 5)}
    _refuse_leaks(spec, stub, removed)
    return stub


def _refuse_leaks(spec: Assignment, stub: dict, removed: list[str]) -> None:
    text = "\n".join(_source(c) for c in stub["cells"])
    for marker in (BEGIN, END):
        if marker in text:
            raise BuildError(f"the stub for {spec.name} still contains {marker!r}")
    stub_lines = {line.strip() for line in text.splitlines()}
    leaked = _significant(removed) & stub_lines
    test_lines = []
    for test_file in sorted(spec.tests_dir.glob("*.py")):
        test_lines += test_file.read_text(encoding="utf-8").splitlines()
    leaked |= _significant(test_lines) & _significant(stub_lines)
    if leaked:
        sample = sorted(leaked)[0]
        raise BuildError(f"the stub for {spec.name} would reveal solution or hidden-test code: {sample!r}")


def render(notebook: dict) -> str:
    return json.dumps(notebook, indent=1, ensure_ascii=False) + "\n"


def stub_path(spec: Assignment, assignments_root: Path) -> Path:
    return assignments_root / spec.name / spec.notebook


def write_stub(spec: Assignment, assignments_root: Path) -> Path:
    path = stub_path(spec, assignments_root)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(build_stub(spec)), encoding="utf-8")
    return path



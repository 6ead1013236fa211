"""Making notebook fixtures for tests (small notebooks from code, one-bug variants of a reference),
and running the command line as an instructor or student does."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SOLUTIONS = REPO / "solutions"
ASSIGNMENTS = REPO / "assignments"


def write_notebook(
    path: Path, cells: list[str], assignment: str | None = None, nbformat_minor: int = 5
) -> Path:
    """A v4 notebook whose code cells are ``cells``; strings starting with '#md ' become markdown."""
    nb_cells = []
    for i, source in enumerate(cells):
        if source.startswith("#md "):
            nb_cells.append({"cell_type": "markdown", "id": f"c{i}", "metadata": {}, "source": source[4:]})
        else:
            nb_cells.append(
                {
                    "cell_type": "code",
                    "id": f"c{i}",
                    "metadata": {},
                    "execution_count": None,
                    "outputs": [],
                    "source": source,
                }
            )
    metadata = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
    if assignment:
        metadata["grader"] = {"assignment": assignment}
    notebook = {"cells": nb_cells, "metadata": metadata, "nbformat": 4, "nbformat_minor": nbformat_minor}
    path = Path(path)
    path.write_text(json.dumps(notebook, indent=1), encoding="utf-8")
    return path


def replace_function(reference: Path, name: str, new_definition: str, out: Path) -> Path:
    """Copy ``reference`` with the definition of ``name`` (a def or class block) replaced.

    The block runs from its ``def name(``/``class name`` line to the next line at the same or a
    lower indentation; ``new_definition`` is the whole replacement, including its own def line.
    """
    notebook = json.loads(Path(reference).read_text(encoding="utf-8"))
    pattern = re.compile(rf"^(def|class) {re.escape(name)}\b")
    for cell in notebook["cells"]:
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        lines = source.splitlines()
        for start, line in enumerate(lines):
            if pattern.match(line):
                end = start + 1
                while end < len(lines) and (not lines[end].strip() or lines[end].startswith((" ", "\t"))):
                    end += 1
                lines[start:end] = new_definition.rstrip("\n").splitlines() + [""]
                cell["source"] = "\n".join(lines)
                Path(out).write_text(json.dumps(notebook, indent=1), encoding="utf-8")
                return Path(out)
    raise ValueError(f"{name} is not defined at the top level of {reference}")


def run_grader(
    *args: str,
    solutions: Path | None = None,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    prefix: Sequence[str] = (),
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """`grader [--solutions SOLUTIONS] ARGS` in a process of its own, after ``prefix`` (runuser, ...)."""
    chosen = ["--solutions", str(solutions)] if solutions is not None else []
    return subprocess.run(
        [*prefix, sys.executable, "-m", "grader", *chosen, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
    )

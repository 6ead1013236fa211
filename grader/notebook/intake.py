"""Reading a notebook and preparing its code cells, as a pipeline of small steps.

Each step's work is linear in the notebook's size; nothing here parses or transforms code.

Reading takes the plain JSON route for the current format (nbformat 4) and hands anything older or
odd to nbformat to upgrade. Validation is deliberately lenient: Colab and old Jupyter versions
write notebooks that fail strict schema checks, and the grader needs only the code.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..errors import GraderError
from .self_checks import as_graded

MAX_NOTEBOOK_BYTES = 64 * 1024 * 1024
METADATA_KEY = "grader"


class NotebookError(GraderError):
    """The submission cannot be graded as a notebook; the message is written for the student."""


@dataclass(frozen=True)
class CodeCell:
    # 1-based position among the code cells: markdown cells have no number in Jupyter (In [n] after
    # Run All) and Colab shows none, so counting them would point students at the wrong cell.
    number: int
    source: str
    # The [n] Jupyter shows beside the cell after it ran (None when it never ran, or in a notebook
    # cleared of outputs): what the student sees, so messages name it too.
    execution_count: int | None = None


@dataclass(frozen=True)
class Notebook:
    path: Path
    cells: tuple[CodeCell, ...]
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def assignment(self) -> str | None:
        meta = self.metadata.get(METADATA_KEY)
        name = meta.get("assignment") if isinstance(meta, dict) else None
        return name if isinstance(name, str) and name else None


def _source_text(source: object) -> str:
    if isinstance(source, list):
        return "".join(str(part) for part in source)
    return source if isinstance(source, str) else ""


def _from_v4(path: Path, data: dict[str, Any]) -> Notebook:
    cells: list[CodeCell] = []
    for cell in data.get("cells", []):
        if isinstance(cell, dict) and cell.get("cell_type") == "code":
            count = cell.get("execution_count")
            shown = count if type(count) is int and 0 < count < 10**7 else None
            cells.append(CodeCell(len(cells) + 1, _source_text(cell.get("source", "")), shown))
    metadata = data.get("metadata")
    return Notebook(path, tuple(cells), metadata if isinstance(metadata, dict) else {})


def _upgraded(path: Path, text: str) -> dict[str, Any]:
    import nbformat  # only for old formats: it costs as much to import as numpy

    try:
        node = nbformat.reads(text, as_version=4)  # type: ignore[no-untyped-call]
    except Exception as exc:  # nbformat raises many types for malformed input
        raise NotebookError(f"{path.name} could not be read as a Jupyter notebook ({exc}).") from None
    data: dict[str, Any] = json.loads(json.dumps(node))
    return data


def read_notebook(path: Path) -> Notebook:
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_NOTEBOOK_BYTES:
            raise NotebookError(
                f"{path.name} is {size // (1024 * 1024)} MB; notebooks over "
                f"{MAX_NOTEBOOK_BYTES // (1024 * 1024)} MB are not graded. Clear the outputs "
                "(Edit > Clear All Outputs) and submit again."
            )
        raw = path.read_bytes()
    except FileNotFoundError:
        raise NotebookError(f"{path.name} was not found.") from None
    except IsADirectoryError:
        raise NotebookError(f"{path.name} is a folder, not a notebook file.") from None
    except OSError as exc:
        raise NotebookError(f"{path.name} could not be opened ({exc.strerror}).") from None
    try:
        text = raw.decode("utf-8-sig")
        data = json.loads(text)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise NotebookError(
            f"{path.name} is not a valid Jupyter notebook: it is not readable JSON ({exc}). "
            "Download the notebook again with File > Download > .ipynb and resubmit it."
        ) from None
    if not isinstance(data, dict):
        raise NotebookError(f"{path.name} is not a Jupyter notebook (its content is not a notebook object).")
    if data.get("nbformat") != 4 or not isinstance(data.get("cells"), list):
        data = _upgraded(path, text)
    return _from_v4(path, data)


# ---- preparation steps ------------------------------------------------------

Step = Callable[[Notebook], Notebook]


def drop_empty_cells(notebook: Notebook) -> Notebook:
    return replace(notebook, cells=tuple(c for c in notebook.cells if c.source.strip()))


# Per cell and for the whole notebook: what the grader sends to the worker, and replays after a
# restart. A cell over the cap is not run; it raises an error that says why.
MAX_CELL_CHARS = 1_000_000
MAX_CODE_CHARS = 8_000_000
MAX_CELLS = 2_000


def cap_cell_sizes(notebook: Notebook) -> Notebook:
    cells, total = [], 0
    for cell in notebook.cells[:MAX_CELLS]:
        total += len(cell.source)
        if len(cell.source) > MAX_CELL_CHARS or total > MAX_CODE_CHARS:
            too_long = (
                f"this cell has {len(cell.source):,} characters of code; cells over {MAX_CELL_CHARS:,} "
                f"characters, or beyond {MAX_CODE_CHARS:,} in the whole notebook, are not run"
            )
            cell = replace(cell, source=f"raise RuntimeError({too_long!r})")
        cells.append(cell)
    if len(notebook.cells) > MAX_CELLS:
        cut = notebook.cells[MAX_CELLS]
        cells.append(CodeCell(cut.number, f"raise RuntimeError({too_many(len(notebook.cells))!r})"))
    return replace(notebook, cells=tuple(cells))


def too_many(count: int) -> str:
    return f"the notebook has {count:,} code cells; only the first {MAX_CELLS:,} are run"


# Magics and shell lines are turned into Python by the worker (grader/sandbox/runtime/cells.py), within
# the cell's deadline: IPython's transformer costs too much on hostile cells to run here.
def stand_in_for_self_checks(notebook: Notebook) -> Notebook:
    """The handout's self-check engine cell, unedited, becomes a stand-in that checks nothing
    (:mod:`.self_checks`): grading runs the visible tests itself."""
    return replace(
        notebook, cells=tuple(replace(cell, source=as_graded(cell.source)) for cell in notebook.cells)
    )


DEFAULT_STEPS: tuple[Step, ...] = (drop_empty_cells, cap_cell_sizes, stand_in_for_self_checks)


def prepare(notebook: Notebook, steps: tuple[Step, ...] = DEFAULT_STEPS) -> Notebook:
    for step in steps:
        notebook = step(notebook)
    return notebook

"""Reading a notebook and preparing its code cells, as a pipeline of small steps.

Reading takes the plain JSON route for the current format (nbformat 4) and hands anything older or
odd to nbformat to upgrade. Validation is deliberately lenient: Colab and old Jupyter versions
write notebooks that fail strict schema checks, and the grader needs only the code.
"""

from __future__ import annotations

import ast
import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

MAX_NOTEBOOK_BYTES = 64 * 1024 * 1024
METADATA_KEY = "grader"


class NotebookError(Exception):
    """The submission cannot be graded as a notebook; the message is written for the student."""


@dataclass(frozen=True)
class CodeCell:
    # 1-based position among the code cells: markdown cells have no number in Jupyter (In [n] after
    # Run All) and Colab shows none, so counting them would point students at the wrong cell.
    number: int
    source: str


@dataclass(frozen=True)
class Notebook:
    path: Path
    cells: tuple[CodeCell, ...]
    metadata: dict = field(default_factory=dict)

    @property
    def assignment(self) -> str | None:
        meta = self.metadata.get(METADATA_KEY)
        name = meta.get("assignment") if isinstance(meta, dict) else None
        return name if isinstance(name, str) and name else None


def _source_text(source) -> str:
    if isinstance(source, list):
        return "".join(str(part) for part in source)
    return source if isinstance(source, str) else ""


def _from_v4(path: Path, data: dict) -> Notebook:
    cells = []
    for cell in data.get("cells", []):
        if isinstance(cell, dict) and cell.get("cell_type") == "code":
            cells.append(CodeCell(len(cells) + 1, _source_text(cell.get("source", ""))))
    metadata = data.get("metadata") if isinstance(data.get("metadata"), dict) else {}
    return Notebook(path, tuple(cells), metadata)


def _upgraded(path: Path, text: str) -> dict:
    import nbformat  # only for old formats: it costs as much to import as numpy

    try:
        node = nbformat.reads(text, as_version=4)
    except Exception as exc:  # nbformat raises many types for malformed input
        raise NotebookError(f"{path.name} could not be read as a Jupyter notebook ({exc}).") from None
    return json.loads(json.dumps(node))


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


def _parses(source: str) -> bool:
    try:
        ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return True


def neutralise_ipython_syntax(notebook: Notebook) -> Notebook:
    """Turn magics and shell lines into harmless ``get_ipython()`` calls with IPython's transformer.

    Cells that already parse as Python are left alone, so IPython is imported only for notebooks
    that use its syntax.
    """
    if all(_parses(cell.source) for cell in notebook.cells):
        return notebook
    from IPython.core.inputtransformer2 import TransformerManager

    manager = TransformerManager()

    def transformed(source: str) -> str:
        try:
            return manager.transform_cell(source)
        except Exception:  # IPython cannot read it either: the worker reports the SyntaxError
            return source

    cells = tuple(cell if _parses(cell.source) else replace(cell, source=transformed(cell.source))
                  for cell in notebook.cells)
    return replace(notebook, cells=cells)


def drop_empty_cells(notebook: Notebook) -> Notebook:
    return replace(notebook, cells=tuple(c for c in notebook.cells if c.source.strip()))


DEFAULT_STEPS: tuple[Step, ...] = (drop_empty_cells, neutralise_ipython_syntax)


def prepare(notebook: Notebook, steps: tuple[Step, ...] = DEFAULT_STEPS) -> Notebook:
    for step in steps:
        notebook = step(notebook)
    return notebook

"""A handout notebook as the build writes it: nbformat 4 JSON, typed, and its one rendering."""

from __future__ import annotations

import json
from typing import Any, TypedDict


class _Cell(TypedDict):
    cell_type: str
    id: str
    metadata: dict[str, Any]
    source: str


class StubCell(_Cell, total=False):
    """A cell of a student notebook: a code cell's empty outputs, a markdown cell's images."""

    execution_count: None
    outputs: list[Any]
    attachments: dict[str, Any]


class NotebookJson(TypedDict):
    """A student notebook, as nbformat 4 JSON."""

    cells: list[StubCell]
    metadata: dict[str, Any]
    nbformat: int
    nbformat_minor: int


def render(notebook: NotebookJson) -> str:
    return json.dumps(notebook, indent=1, ensure_ascii=False) + "\n"

"""A wrong 2-D answer (a convolution, a pooling, one channel of a layer) shown as a grid: expected
and got side by side, each differing value marked.

The same grid is plain text in the message (the terminal, the notebook's self-check and the test's
words are one text), and a Markdown table on Gradescope, where the test's output is Markdown: the
message in a fenced block that no text inside it can close, then the table. Only numbers the grading
process decoded go into a table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np

MAX_SIDE = 16  # rows and columns a grid shows; larger answers keep the first-difference line only


@dataclass(frozen=True)
class Grid:
    expected: list[list[float]]
    got: list[list[float]]
    differ: list[list[bool]]
    where: str  # which 2-D slice of a larger answer, e.g. "[0, 1]"; "" for a 2-D answer

    def to_dict(self) -> dict[str, Any]:
        return {"expected": self.expected, "got": self.got, "differ": self.differ, "where": self.where}


def grid_of(got: np.ndarray, want: np.ndarray, rtol: float, atol: float) -> Grid | None:
    """The 2-D slice of a wrong answer where it first differs, when it is small enough to show."""
    if got.shape != want.shape or want.ndim < 2 or want.size <= 4:
        return None
    rows, cols = want.shape[-2:]
    if rows > MAX_SIDE or cols > MAX_SIDE:
        return None
    with np.errstate(all="ignore"):
        wrong = ~np.isclose(got, want, rtol=rtol, atol=atol, equal_nan=True)
    if not wrong.any():
        return None
    lead = tuple(int(i) for i in np.argwhere(wrong)[0][:-2])
    g, w, d = got[lead], want[lead], wrong[lead]
    return Grid(
        expected=[[float(v) for v in row] for row in w],
        got=[[float(v) for v in row] for row in g],
        differ=[[bool(v) for v in row] for row in d],
        where=f"[{', '.join(map(str, lead))}]" if lead else "",
    )


def _cell(value: float) -> str:
    return f"{value:.4g}"


def grid_text(grid: Grid) -> str:
    """The grid as plain text (the notebook's self-check writes the same lines)."""
    width = max(len(_cell(v)) for row in grid.expected + grid.got for v in row)
    left = [" ".join(f"{_cell(v):>{width}}" for v in row) for row in grid.expected]
    right = [
        " ".join(f"{_cell(v):>{width}}{'*' if d else ' '}" for v, d in zip(row, marks))
        for row, marks in zip(grid.got, grid.differ)
    ]
    span = max(len(line) for line in left)
    where = f" of slice {grid.where}" if grid.where else ""
    lines = [f"Expected and got{where}, side by side; * marks a value that differs:"]
    lines.append(f"  {'expected':<{span}}   got")
    lines += [f"  {a:<{span}}   {b}".rstrip() for a, b in zip(left, right)]
    return "\n".join(lines)


def fenced(text: str) -> str:
    """``text`` as a Markdown code block whose fence is longer than any run of backticks in it."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{text}\n{fence}"


def unfenced(markdown: str) -> str:
    """The text of the first fenced block :func:`fenced` wrote (for results read back)."""
    match = re.match(r"(`{3,})text\n(.*?)\n\1(?:\n|$)", markdown, re.S)
    return match.group(2) if match else markdown


def markdown(text: str, grid: Grid) -> str:
    """A test's output for Gradescope: the message, then the grid as a table, differences in bold."""
    cols = len(grid.expected[0]) if grid.expected else 0
    where = f" (slice {grid.where})" if grid.where else ""
    head = "| row | " + " | ".join(f"col {c}" for c in range(cols)) + " |"
    rule = "|---:|" + "---:|" * cols
    rows = []
    for r, (want, got, marks) in enumerate(zip(grid.expected, grid.got, grid.differ)):
        cells = [
            f"**{_cell(g)}** (expected {_cell(w)})" if d else _cell(g) for w, g, d in zip(want, got, marks)
        ]
        rows.append(f"| {r} | " + " | ".join(cells) + " |")
    table = "\n".join([head, rule, *rows])
    return f"{fenced(text)}\n\nYour answer{where}, each differing value in bold with the expected one:\n\n{table}"

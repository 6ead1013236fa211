"""What running a notebook's cells came to, in words for the student: the cells that failed and
why, the imports the grader does not have, and each cell named as the student finds it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from ..text import one_line

if TYPE_CHECKING:
    from ..sandbox.supervisor.session import CellRun

COLAB_ONLY = ("google.colab", "/content/")  # Colab's modules (stand-ins here) and its files
COLAB_NOTE = (
    "  (Colab-only code and files (/content/...) are not in the grader; this is fine as long as your "
    "functions do not depend on it.)"
)
# What running out of the memory limit looks like when it is not a MemoryError: the dynamic loader
# cannot map a shared library (``import torch`` after a cell that holds large arrays), or C++ code
# fails to allocate.
OUT_OF_MEMORY = (
    "MemoryError",
    "cannot map zero-fill pages",
    "failed to map segment",
    "Cannot allocate memory",
    "std::bad_alloc",
    "DefaultCPUAllocator: can't allocate",
)


def cell_name(number: int, source: str, execution_count: int | None = None) -> str:
    """A cell as the student finds it: its position among code cells, the [n] Jupyter shows beside
    it where the notebook has one, and its first line."""
    first = next((line.strip() for line in source.splitlines() if line.strip()), "")
    if len(first) > 40:
        first = first[:37].rstrip() + " ..."
    name = f"code cell {number}" + (f" [{execution_count}]" if execution_count is not None else "")
    return f'{name}, starting "{first}"' if first else name


def import_report(runs: Sequence[CellRun], names: dict[int, str]) -> str:
    """Each module that could not be imported, once: the rest of its cell ran all the same."""
    missing: dict[str, list[str]] = {}
    for run in runs:
        for failed in run.failed_imports:
            key = one_line(str(failed["module"] or failed["message"]))[:200]
            where = names.get(run.index, f"code cell {run.index}")
            if where not in missing.setdefault(key, []):
                missing[key].append(where)
    if not missing:
        return ""
    lines = [f"- {name} (imported in {', '.join(cells)})" for name, cells in missing.items()]
    return (
        "Not available in the grader (the rest of each of these cells still ran; only code that "
        "uses them fails):\n" + "\n".join(lines)
    )


def lost_note(run: CellRun) -> str:
    if run.lost is None:
        return ""
    what = f"the names it defines ({', '.join(run.lost)})" if run.lost else "what it defines"
    return (
        f"  The process stopped with this cell, so it is not run again: later cells and tests ran "
        f"without {what}."
    )


def memory_hint(text: str, memory_mb: int) -> str:
    """A plain-words note when an error is the memory limit in disguise, else ''."""
    if not any(sign in text for sign in OUT_OF_MEMORY):
        return ""
    return (
        f"  (Your notebook ran out of memory: it may use {memory_mb} MB, and what earlier cells keep, "
        "large arrays or tensors above all, leaves too little for this step; an import such as "
        "`import torch` needs a few hundred MB of its own. Use smaller arrays, `del` the ones you "
        "no longer need, or move the import to the top of the notebook.)"
    )


def _cell_problem(run: CellRun, name: str, memory_mb: int) -> list[str]:
    from ..testing.explain import error_text

    if run.status == "timeout" and run.message:
        return [f"- {name} did not finish: {run.message}."]
    if run.status == "timeout":
        return [f"- {name} did not finish in time and was stopped."]
    if run.status == "stopped":
        return [f"- {name} was not run: {run.message}."]
    if run.status == "crashed":
        error: Mapping[str, object] = run.error or {}
        note = error.get("message", "the process running it stopped")
        return [f"- {name} stopped the process running your notebook: {note}."]
    text = error_text(run.error).replace("\n", "\n  ")
    lines = [f"- {name}, raised {text}" if "starting" in name else f"- {name} raised {text}"]
    hint = memory_hint(text, memory_mb)
    if hint:
        lines.append(hint)
    if any(sign in text for sign in COLAB_ONLY):
        lines.append(COLAB_NOTE)
    return lines


def cell_report(runs: Sequence[CellRun], names: dict[int, str], memory_mb: int) -> str:
    lines = []
    for run in runs:
        if run.status == "ok":
            continue
        name = names.get(run.index, f"code cell {run.index}")
        lines += _cell_problem(run, name[0].upper() + name[1:], memory_mb)
        lost = lost_note(run)
        if lost:
            lines.append(lost)
    if not lines:
        return ""
    return "Problems while running your notebook (later cells still ran):\n" + "\n".join(lines)

"""Runs corpus notebooks' code with a handout's self-check engine, as a student's kernel would, and
prints each visible test's verdict as JSON: ``{notebook: {test number: passed}}``.

    python selfcheck_replay.py OUT_JSON ENGINE_SOURCE_FILE FUNCTIONS_JSON NOTEBOOK...

A child process of the test, so that the notebooks' code never runs in pytest's own process; each
cell gets a few seconds (a notebook that loops loses the cell, as a student's kernel would be
interrupted), and lines that are magics or shell commands are dropped.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import re
import signal
import sys
from pathlib import Path

from grader.sandbox.runtime.imports import ALIASES

CELL_SECONDS = 10
ENGINE_HEADERS = ("# @title Self-check engine:", "# Self-check engine:")
VERDICT = re.compile(r"^([✓✗]) (\S+) ")


class CellTimeout(BaseException):
    pass


def _alarm(signum, frame):
    raise CellTimeout


def cells_of(path: Path) -> list[str]:
    notebook = json.loads(path.read_text(encoding="utf-8"))
    sources = []
    for cell in notebook.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else source
        if source.startswith(ENGINE_HEADERS) or "selfcheck-engine" in cell.get("metadata", {}).get(
            "tags", []
        ):
            continue
        lines = [line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))]
        sources.append("\n".join(lines))
    return sources


def verdicts(engine: str, functions: list[str], path: Path) -> dict[str, bool]:
    import torch

    torch.set_default_dtype(torch.float32)  # each notebook in a fresh kernel: undo the last one's
    namespace: dict = {"__name__": "__main__"}
    # The student's kernel had run the imports of cells since deleted: the grader's worker gives
    # a notebook the same usual aliases (grader.sandbox.runtime.imports.ALIASES).
    for alias, module in ALIASES.items():
        if alias not in namespace:
            namespace[alias] = importlib.import_module(module)
    exec(compile(engine, "<engine>", "exec"), namespace)
    selfcheck = namespace["selfcheck"]
    for source in cells_of(path):
        signal.alarm(CELL_SECONDS)
        try:
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                exec(compile(source, "<cell>", "exec"), namespace)
        except BaseException:  # the student's cell failed, as it may in a kernel; the rest still runs
            pass
        finally:
            signal.alarm(0)
    found: dict[str, bool] = {}
    for function in functions:
        printed = io.StringIO()
        signal.alarm(CELL_SECONDS * 3)
        try:
            with contextlib.redirect_stdout(printed):
                selfcheck(function, namespace)
        except CellTimeout:
            pass
        finally:
            signal.alarm(0)
        for line in printed.getvalue().splitlines():
            match = VERDICT.match(line)
            if match:
                found[match.group(2)] = match.group(1) == "✓"
    return found


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGALRM, _alarm)
    out, engine, functions = Path(argv[0]), Path(argv[1]).read_text(encoding="utf-8"), json.loads(argv[2])
    results = {}
    for name in argv[3:]:
        try:
            results[name] = verdicts(engine, functions, Path(name))
        except BaseException as exc:  # reported; the other notebooks go on
            results[name] = {"error": f"{type(exc).__name__}: {exc}"}
    # A file, not stdout: a notebook's code may have replaced sys.stdout.
    out.write_text(json.dumps(results), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

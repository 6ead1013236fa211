"""Reading and preparing a submission in a short-lived child process with its own limits.

A notebook file is hostile input: 64 MB of JSON made of tiny lists costs gigabytes as Python
objects, and an old format goes through nbformat. The child reads and prepares it under memory
and CPU limits and a deadline; only the prepared cells (bounded by the intake's caps) and the
assignment's name come back, so the grading process's memory and time stay bounded whatever
the file holds. It also keeps the file's other contents out of the process workers are forked from.
"""

from __future__ import annotations

import json
import os
import resource
import select
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..forked import end, fork_running, read_bounded, write_all
from ..processes import own_memory
from .intake import (
    MAX_CELLS,
    MAX_CODE_CHARS,
    METADATA_KEY,
    CodeCell,
    Notebook,
    NotebookError,
    prepare,
    read_notebook,
)

MEMORY_BYTES = 384 * 1024 * 1024  # what the child may allocate on top of what it was forked with
CPU_SECONDS = 2  # JSON of a 64 MB notebook of outputs takes well under a second
WALL_SECONDS = 20.0
# Every character as a JSON escape at worst, plus room for numbers and names.
MAX_REPLY_BYTES = 6 * MAX_CODE_CHARS + 64 * (MAX_CELLS + 1) + 4096


def _child(path: Path, write_end: int) -> None:
    resource.setrlimit(resource.RLIMIT_CPU, (CPU_SECONDS, CPU_SECONDS + 1))
    _limit_memory()
    try:
        notebook = prepare(read_notebook(path))
        reply = {
            "cells": [[c.number, c.source, c.execution_count] for c in notebook.cells],
            "assignment": notebook.assignment,
        }
    except NotebookError as exc:
        reply = {"error": str(exc)}
    except MemoryError:
        reply = {"error": "memory"}
    write_all(write_end, json.dumps(reply, ensure_ascii=False).encode())


def _too_much(path: Path) -> NotebookError:
    return NotebookError(
        f"{Path(path).name} could not be read within the grader's limits ({MEMORY_BYTES // (1024 * 1024)} MB "
        f"of memory, {CPU_SECONDS} s): it is too large or too complex. Clear the outputs "
        "(Edit > Clear All Outputs) and submit again."
    )


def read_prepared(path: Path) -> Notebook:
    """``prepare(read_notebook(path))``, computed in a child within memory, CPU and time limits."""
    read_end, write_end = os.pipe()
    pid = fork_running(lambda: _child(Path(path), write_end), [read_end])
    os.close(write_end)
    try:
        raw = read_bounded(read_end, time.monotonic() + WALL_SECONDS, MAX_REPLY_BYTES)
    finally:
        os.close(read_end)
        end(pid)
    return _read_reply(path, raw)


def _read_reply(path: Path, raw: bytes | None) -> Notebook:
    """The child's reply for ``path``, decoded: its prepared cells, or why it could not be read."""
    try:
        reply = json.loads(raw) if raw else None
    except ValueError:
        reply = None
    if not isinstance(reply, dict) or reply.get("error") == "memory":
        raise _too_much(path)
    if "error" in reply:
        raise NotebookError(str(reply["error"]))
    assignment = reply.get("assignment")
    metadata = {METADATA_KEY: {"assignment": assignment}} if isinstance(assignment, str) else {}
    cells = tuple(
        CodeCell(int(n), str(src), count if type(count) is int else None)
        for n, src, count in reply.get("cells", [])
    )
    return Notebook(Path(path), cells, metadata)


def read_or_error(path: Path) -> Notebook | NotebookError:
    """:func:`read_prepared`, with the reason a notebook cannot be graded as a value to pass along."""
    try:
        return read_prepared(path)
    except NotebookError as exc:
        return exc


# Choosing among an upload's notebooks: all of them are looked at in one child, within one allowance.
EACH_CPU_SECONDS = 1.0  # one candidate's share: a notebook that takes longer is "too complex"
SUMMARY_BYTES = 4096  # what one candidate's summary may take on the pipe

Summary = dict[str, Any]


class _OutOfTime(Exception):
    pass


def _on_cpu_alarm(_signum: int, _frame: object) -> None:
    raise _OutOfTime


def _limit_memory() -> None:
    limit = own_memory("VmData") + MEMORY_BYTES  # RLIMIT_DATA counts what this process already has
    soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
    if soft == resource.RLIM_INFINITY or soft > limit:
        resource.setrlimit(resource.RLIMIT_DATA, (limit, hard))


def _choosing_child(
    paths: list[Path], summary: Callable[[Notebook], Summary], write_end: int, pick_end: int
) -> None:
    budget = int(EACH_CPU_SECONDS * len(paths)) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (budget, budget + 1))
    _limit_memory()
    signal.signal(signal.SIGVTALRM, _on_cpu_alarm)
    kept: dict[int, Notebook] = {}  # prepared notebooks are capped by intake: a dozen fit
    for index, path in enumerate(paths):
        reply: dict[str, Any]
        try:
            signal.setitimer(signal.ITIMER_VIRTUAL, EACH_CPU_SECONDS)
            try:
                notebook = prepare(read_notebook(path))
                reply = {"summary": summary(notebook)}
            finally:
                signal.setitimer(signal.ITIMER_VIRTUAL, 0)
            kept[index] = notebook
        except NotebookError as exc:
            reply = {"error": str(exc)[:1000]}
        except (MemoryError, _OutOfTime):
            reply = {"error": "memory"}
        except Exception:  # one candidate that breaks reading (a bug's, a library's) costs only itself
            reply = {"error": "memory"}
        line = json.dumps(reply, ensure_ascii=False).encode()
        write_all(write_end, (line if len(line) < SUMMARY_BYTES else b'{"error": "memory"}') + b"\n")
    # The grading process chooses from the summaries and names the one to send whole.
    chosen = int(os.read(pick_end, 16) or b"-1")
    if chosen in kept:
        notebook = kept[chosen]
        cells = {
            "cells": [[c.number, c.source, c.execution_count] for c in notebook.cells],
            "assignment": notebook.assignment,
        }
        write_all(write_end, json.dumps(cells, ensure_ascii=False).encode())


def _summary_of(path: Path, line: bytes) -> Summary | NotebookError:
    try:
        reply = json.loads(line)
    except ValueError:
        reply = None
    if isinstance(reply, dict) and isinstance(reply.get("summary"), dict):
        return dict(reply["summary"])
    if isinstance(reply, dict) and reply.get("error") not in (None, "memory"):
        return NotebookError(str(reply["error"]))
    return _too_much(path)


def _summary_lines(read_end: int, count: int, deadline: float) -> list[bytes]:
    """The child's lines, one summary per candidate, as far as they came in time and in bounds."""
    raw = bytearray()
    while raw.count(b"\n") < count and len(raw) <= SUMMARY_BYTES * count:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not select.select([read_end], [], [], remaining)[0]:
            break
        chunk = os.read(read_end, SUMMARY_BYTES)
        if not chunk:
            break
        raw += chunk
    return bytes(raw).split(b"\n")


def choose_and_read(
    paths: list[Path],
    summary: Callable[[Notebook], Summary],
    pick: Callable[[list[Summary | NotebookError]], int],
) -> tuple[list[Summary | NotebookError], int, Notebook | NotebookError]:
    """Every notebook in ``paths`` read and prepared in ONE child, within one allowance of time
    and memory (a share of CPU each): ``summary`` of each comes back as small plain data,
    ``pick`` chooses from those here, and the chosen notebook comes back whole. Each file is
    read once, and an upload of many notebooks costs one process, not one each. A notebook the
    child could not get to, or that took it down, is a NotebookError saying so."""
    read_end, write_end = os.pipe()
    pick_read, pick_write = os.pipe()
    chosen_paths = [Path(p) for p in paths]
    pid = fork_running(
        lambda: _choosing_child(chosen_paths, summary, write_end, pick_read), [read_end, pick_write]
    )
    os.close(write_end)
    os.close(pick_read)
    deadline = time.monotonic() + WALL_SECONDS
    try:
        lines = _summary_lines(read_end, len(paths), deadline)
        seen = [_summary_of(path, line) for path, line in zip(paths, lines[: len(paths)])]
        seen += [_too_much(path) for path in paths[len(seen) :]]
        chosen = pick(seen)
        read: Notebook | NotebookError
        if isinstance(seen[chosen], NotebookError):
            read = seen[chosen]  # type: ignore[assignment]
        else:
            try:
                write_all(pick_write, str(chosen).encode())
                rest = b"\n".join(lines[len(paths) :])
                whole = read_bounded(read_end, deadline, MAX_REPLY_BYTES)
                read = _read_reply(paths[chosen], rest + (whole or b""))
            except NotebookError as exc:
                read = exc
            except OSError:  # the child is gone (its time or memory ran out): no notebook from it
                read = _too_much(paths[chosen])
        return seen, chosen, read
    finally:
        os.close(read_end)
        os.close(pick_write)
        end(pid)

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
from pathlib import Path

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


def _data_in_use() -> int:
    """The data segment this process already has (RLIMIT_DATA counts it too)."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmData:"):
                return int(line.split()[1]) * 1024
    return 0


def _child(path: Path, write_end: int) -> None:
    resource.setrlimit(resource.RLIMIT_CPU, (CPU_SECONDS, CPU_SECONDS + 1))
    limit = _data_in_use() + MEMORY_BYTES
    soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
    if soft == resource.RLIM_INFINITY or soft > limit:
        resource.setrlimit(resource.RLIMIT_DATA, (limit, hard))
    try:
        notebook = prepare(read_notebook(path))
        reply = {"cells": [[c.number, c.source] for c in notebook.cells], "assignment": notebook.assignment}
    except NotebookError as exc:
        reply = {"error": str(exc)}
    except MemoryError:
        reply = {"error": "memory"}
    payload = json.dumps(reply, ensure_ascii=False).encode()
    view = memoryview(payload)
    while view:
        view = view[os.write(write_end, view) :]


def _collect(read_end: int, pid: int) -> bytes | None:
    deadline = time.monotonic() + WALL_SECONDS
    chunks: list[bytes] = []
    size = 0
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not select.select([read_end], [], [], remaining)[0]:
            return None
        chunk = os.read(read_end, 1 << 20)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > MAX_REPLY_BYTES:
            return None
        chunks.append(chunk)


def _too_much(path: Path) -> NotebookError:
    return NotebookError(
        f"{Path(path).name} could not be read within the grader's limits ({MEMORY_BYTES // (1024 * 1024)} MB "
        f"of memory, {CPU_SECONDS} s): it is too large or too complex. Clear the outputs "
        "(Edit > Clear All Outputs) and submit again."
    )


def read_prepared(path: Path) -> Notebook:
    """``prepare(read_notebook(path))``, computed in a child within memory, CPU and time limits."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # never returns
        code = 0
        try:
            os.close(read_end)
            _child(Path(path), write_end)
        except BaseException:
            code = 70
        finally:
            os._exit(code)
    os.close(write_end)
    try:
        raw = _collect(read_end, pid)
    finally:
        os.close(read_end)
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        os.waitpid(pid, 0)
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
    cells = tuple(CodeCell(int(n), str(src)) for n, src in reply.get("cells", []))
    return Notebook(Path(path), cells, metadata)


def read_or_error(path: Path) -> Notebook | NotebookError:
    """:func:`read_prepared`, with the reason a notebook cannot be graded as a value to pass along."""
    try:
        return read_prepared(path)
    except NotebookError as exc:
        return exc

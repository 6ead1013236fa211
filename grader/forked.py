"""Computing something in a short-lived child so that only its answer reaches this process.

The grading process is what the sandbox's first worker is forked from: whatever it ever held
(freed memory is not wiped) a worker could read. What must never be there, the reference solution
or a student's earlier results, is handled in a child that sends back only the small answer needed.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import time
from collections.abc import Callable, Sequence
from typing import Any

WALL_SECONDS = 20.0  # what reading a metadata file or fingerprinting a handout ever takes, and more
MAX_ANSWER_BYTES = 4 << 20


def fork_running(body: Callable[[], None], close_in_child: Sequence[int] = ()) -> int:
    """A child that closes ``close_in_child`` (the parent's ends of its pipes), runs ``body()`` and
    exits: 0, or 70 when it raised. Returns its pid; :func:`end` kills and reaps it."""
    pid = os.fork()
    if pid == 0:  # never returns
        code = 0
        try:
            for fd in close_in_child:
                os.close(fd)
            body()
        except BaseException:
            code = 70
        finally:
            os._exit(code)
    return pid


def end(pid: int) -> int:
    """Kill the child (if it is still there) and reap it; its exit code (negative: a signal)."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def read_bounded(fd: int, deadline: float, max_bytes: int) -> bytes | None:
    """Everything until end of file, or None when ``deadline`` passes or more than ``max_bytes``
    arrive first: a child's answer is whole and in time, or there is none."""
    chunks: list[bytes] = []
    size = 0
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
            return None
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > max_bytes:
            return None
        chunks.append(chunk)


def in_child(
    compute: Callable[[], Any], *, seconds: float = WALL_SECONDS, max_bytes: int = MAX_ANSWER_BYTES
) -> Any:
    """``compute()`` run in a short-lived child; only its JSON answer reaches this process: what the
    child read or built is never in this process's memory. None when there is no answer: the
    child raised, ran past ``seconds`` or answered more than ``max_bytes`` (it is then killed)."""
    read_end, write_end = os.pipe()
    pid = fork_running(lambda: write_all(write_end, json.dumps(compute()).encode("utf-8")), [read_end])
    os.close(write_end)
    try:
        raw = read_bounded(read_end, time.monotonic() + seconds, max_bytes)
    finally:
        os.close(read_end)
        code = end(pid)
    if code not in (0, -signal.SIGKILL) or not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None

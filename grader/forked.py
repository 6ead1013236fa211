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
from collections.abc import Callable
from typing import Any

WALL_SECONDS = 20.0  # what reading a metadata file or fingerprinting a handout ever takes, and more
MAX_ANSWER_BYTES = 4 << 20


def in_child(
    compute: Callable[[], Any], *, seconds: float = WALL_SECONDS, max_bytes: int = MAX_ANSWER_BYTES
) -> Any:
    """``compute()`` run in a short-lived child; only its JSON answer reaches this process: what the
    child read or built is never in this process's memory. None when there is no answer: the
    child raised, ran past ``seconds`` or answered more than ``max_bytes`` (it is then killed)."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # never returns
        code = 0
        try:
            os.close(read_end)
            payload = json.dumps(compute()).encode("utf-8")
            view = memoryview(payload)
            while view:
                view = view[os.write(write_end, view) :]
        except BaseException:
            code = 70
        finally:
            os._exit(code)
    os.close(write_end)
    deadline = time.monotonic() + seconds
    raw = bytearray()
    try:
        while len(raw) <= max_bytes:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([read_end], [], [], remaining)[0]:
                raw = bytearray()  # cut short: no answer
                break
            chunk = os.read(read_end, 1 << 16)
            if not chunk:
                break
            raw += chunk
        else:
            raw = bytearray()
    finally:
        os.close(read_end)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) not in (0, -signal.SIGKILL) or not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None

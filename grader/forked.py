"""Computing something in a short-lived child so that only its answer reaches this process.

The grading process is what the sandbox's first worker is forked from: whatever it ever held
(freed memory is not wiped) a worker could read. What must never be there, the reference solution
or a student's earlier results, is handled in a child that sends back only the small answer needed.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any


def in_child(compute: Callable[[], Any]) -> Any:
    """``compute()`` run in a short-lived child; only its JSON answer reaches this process (None
    when there is none): what the child read or built is never in this process's memory."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(read_end)
            payload = json.dumps(compute())
            with os.fdopen(write_end, "w", encoding="utf-8") as pipe:
                pipe.write(payload)
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "r", encoding="utf-8") as pipe:
        raw = pipe.read()
    os.waitpid(pid, 0)
    try:
        return json.loads(raw)
    except ValueError:
        return None

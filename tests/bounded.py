"""Running a function in a child whose memory and CPU time are capped, for tests of runaway input."""

from __future__ import annotations

import json
import os
from pathlib import Path


def bounded(function, seconds: float = 30.0, memory: int = 512 << 20):
    """Run ``function`` in a child with its memory and CPU capped; its JSON-able answer, or None."""
    import resource
    import select
    import signal
    import time

    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.close(read)
            vm = int(Path("/proc/self/status").read_text().split("VmSize:")[1].split()[0]) * 1024
            resource.setrlimit(resource.RLIMIT_AS, (vm + memory, vm + memory))
            resource.setrlimit(resource.RLIMIT_CPU, (int(seconds), int(seconds)))
            os.write(write, json.dumps(function()).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write)
    deadline, answer = time.monotonic() + seconds, b""
    while time.monotonic() < deadline:
        ready, _, _ = select.select([read], [], [], 0.5)
        if ready:
            chunk = os.read(read, 1 << 20)
            if not chunk:
                break
            answer += chunk
    os.close(read)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    os.waitpid(pid, 0)
    return json.loads(answer) if answer else None

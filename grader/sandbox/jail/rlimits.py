"""The worker's resource limits: memory, CPU time, processes, file sizes, open files."""

from __future__ import annotations

import os
import resource

from ...processes import own_memory
from .isolation import Isolation


def set_limit(which: int, value: int, hard: int | None = None) -> None:
    """Lower a limit; never above the hard limit already in force, which an unprivileged process
    cannot raise."""
    try:
        _, old_hard = resource.getrlimit(which)
        hard = value if hard is None else hard
        if old_hard != resource.RLIM_INFINITY:
            value, hard = min(value, old_hard), min(hard, old_hard)
        resource.setrlimit(which, (value, hard))
    except (ValueError, OSError):
        pass


def apply_limits(iso: Isolation, own_user_namespace: bool = False) -> None:
    set_limit(resource.RLIMIT_CORE, 0)
    set_limit(resource.RLIMIT_DATA, iso.memory_bytes)
    # RLIMIT_DATA misses the stack and shared mappings (the filter refuses those): the whole
    # address space is capped too, at what the worker maps now plus the memory limit plus room
    # for libraries (code is mapped, not allocated, and torch maps ~500 MB of it).
    set_limit(resource.RLIMIT_AS, _address_space() + iso.memory_bytes + iso.library_bytes)
    set_limit(resource.RLIMIT_MSGQUEUE, 0)  # POSIX message queues: kernel memory no limit counts
    # SIGXCPU at the limit (reported as "used up its CPU time"), SIGKILL a second later.
    set_limit(resource.RLIMIT_CPU, iso.cpu_seconds, iso.cpu_seconds + 1)
    set_limit(resource.RLIMIT_FSIZE, iso.file_bytes)
    set_limit(resource.RLIMIT_NOFILE, iso.open_files)
    processes = iso.processes
    if iso.uid is None and not own_user_namespace:
        # RLIMIT_NPROC counts every task of the real uid: as an ordinary user, everything the
        # user already runs counts too, so the worker gets that many more.
        processes += _tasks_of(os.getuid())
    set_limit(resource.RLIMIT_NPROC, processes)


def _address_space() -> int:
    return own_memory("VmSize") or 1 << 30


def _tasks_of(uid: int) -> int:
    count = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if os.stat(f"/proc/{entry}").st_uid == uid:
                count += len(os.listdir(f"/proc/{entry}/task"))
        except OSError:
            pass
    return count

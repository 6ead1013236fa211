"""Processes: stopping one and everything it started, whatever it did to its process group, and
reading this process's own memory figures."""

from __future__ import annotations

import os
import signal


def kill_group(pid: int) -> None:
    """SIGKILL ``pid``'s process group, and ``pid`` itself in case it left the group.

    A process that is already gone, or that another uid now owns, is no error: the caller waits for
    it next and learns how it ended from that.
    """
    for kill in (os.killpg, os.kill):
        try:
            kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def own_memory(field: str) -> int:
    """A size this process's /proc status gives in kB (``VmSize``, ``VmData``), in bytes; 0 if unknown."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(f"{field}:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0

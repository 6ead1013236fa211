"""Stopping a process and everything it started, whatever it did to its process group."""

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

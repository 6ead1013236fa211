"""Processes an ordinary user's worker starts, found and killed however they detached.

Without root there is no uid of the worker's own to sweep, and without a user namespace no PID
namespace whose end kills everything. A child subreaper gets them instead: whatever the worker's
processes fork and orphan (a double fork, ``setsid``) is re-parented to the grading process, not
to init, so every one of them stays a descendant that can be listed and killed.
"""

from __future__ import annotations

import os
import signal
import time

from ..jail.kernel import prctl

PR_SET_CHILD_SUBREAPER = 36
_ROUNDS = 50  # a fork bomb is bounded by RLIMIT_NPROC; each round kills everything it sees
_REAP_SECONDS = 2.0


def become_subreaper(on: bool = True) -> bool:
    """Make this process (``on=False``: no longer) the reaper of its descendants' orphans."""
    return prctl(PR_SET_CHILD_SUBREAPER, int(on))


def children_of(pid: int) -> set[int]:
    found: set[int] = set()
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/children", encoding="ascii") as handle:
                found.update(int(n) for n in handle.read().split())
        except (OSError, ValueError):
            pass
    return found


def _descendants(spare: set[int]) -> tuple[set[int], set[int]]:
    """(every descendant of this process outside ``spare``, those of them that are its children)."""
    direct = children_of(os.getpid()) - spare
    seen, todo = set(direct), list(direct)
    while todo:
        for child in children_of(todo.pop()) - seen:
            seen.add(child)
            todo.append(child)
    return seen, direct


def kill_descendants(spare: set[int]) -> bool:
    """Kill every descendant of this process but the children in ``spare`` (and theirs), and reap
    them. True when none is left."""
    for _ in range(_ROUNDS):
        found, direct = _descendants(spare)
        if not found:
            return True
        for pid in found:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        _reap(direct)
    return not _descendants(spare)[0]


def _reap(pids: set[int]) -> None:
    deadline = time.monotonic() + _REAP_SECONDS
    left = set(pids)
    while left and time.monotonic() < deadline:
        for pid in list(left):
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                done = pid
            if done:
                left.discard(pid)
        if left:
            time.sleep(0.005)

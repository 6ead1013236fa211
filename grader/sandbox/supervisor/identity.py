"""The unprivileged identities workers run as: one uid per concurrent grading process, taken and
given up by the grading process, and everything a uid still runs, killed at once.
"""

from __future__ import annotations

import fcntl
import os
import pwd
import signal
import sys
from typing import NamedTuple

from ...errors import GraderError
from . import reaper

FALLBACK_UID = 61000  # used when the dedicated user does not exist (outside the image)
SLOT_DIR = "/tmp/grader-slots"
MAX_SLOTS = 4096


NON_ROOT_WARNING = (
    "grader: warning: not running as root, so student code runs as your own user and "
    "could read or change your files; file isolation needs root or the container"
)
NO_REAPER_WARNING = (
    "grader: warning: this system refuses a child subreaper, so processes student "
    "code detaches may outlive grading unless it runs in a PID namespace"
)
_warned = False  # the warnings are printed once per grading process, not once per notebook


class NoFreeSlot(GraderError, RuntimeError):
    """Every worker uid slot on this machine is held by another grading process."""


class Identity(NamedTuple):
    """Who a sandbox's workers run as: an unprivileged uid of a slot this process holds (as root),
    or this process's own user, with this process as the subreaper of what they detach."""

    uid: int | None
    gid: int | None
    slot_lock: int | None  # the descriptor whose lock holds the slot
    subreaper: bool


def claim_identity(user: str) -> Identity:
    global _warned
    if os.geteuid() == 0:
        slot, lock = claim_slot()
        uid, gid = sandbox_ids(user, slot)
        return Identity(uid, gid, lock, subreaper=False)
    # Whatever the worker's processes orphan comes back to this process, to be killed.
    subreaper = reaper.become_subreaper()
    if not _warned:
        _warned = True
        print(NON_ROOT_WARNING, file=sys.stderr, flush=True)
        if not subreaper:
            print(NO_REAPER_WARNING, file=sys.stderr, flush=True)
    return Identity(None, None, None, subreaper)


def sandbox_ids(user: str, slot: int = 0) -> tuple[int, int]:
    """The unprivileged uid/gid for worker slot ``slot`` (parallel graders never share a uid).

    Slot 0 is the dedicated ``user``; further slots take uids from a high range no account uses,
    never the dedicated user's uid plus one, which could be a person's (the uid sweep kills all of
    a uid's processes).
    """
    try:
        entry = pwd.getpwnam(user)
        uid, gid = entry.pw_uid, entry.pw_gid
    except KeyError:
        uid = gid = FALLBACK_UID
    if slot == 0:
        return uid, gid
    return FALLBACK_UID + slot, gid


def claim_slot() -> tuple[int, int]:
    """A worker uid slot no other grading process on this machine holds, and the lock holding it.

    Killing "every process of the sandbox user" is only safe if no concurrent grader's worker
    runs under the same uid, so each grading process locks a slot for its lifetime.
    """
    os.makedirs(SLOT_DIR, mode=0o700, exist_ok=True)
    for slot in range(MAX_SLOTS):
        fd = os.open(os.path.join(SLOT_DIR, f"{slot}.lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return slot, fd
        except BlockingIOError:
            os.close(fd)
    raise NoFreeSlot("no free sandbox slot")


def sweep_user(uid: int) -> None:
    """Kill every process of ``uid``: a child that takes the uid and signals -1 reaches them all at once."""
    for _ in range(5):
        pid = os.fork()
        if pid == 0:
            try:
                os.setgroups([])
                os.setresuid(uid, uid, uid)
                os.kill(-1, signal.SIGKILL)
                os._exit(0)
            except ProcessLookupError:
                os._exit(3)  # nothing left to kill
            except BaseException:
                os._exit(1)
        _, status = os.waitpid(pid, 0)
        if os.waitstatus_to_exitcode(status) == 3:
            return

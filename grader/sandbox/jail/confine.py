"""Confining the worker process: namespaces, hidden files, limits, a clean environment, an unprivileged user.

Each step is best effort where the kernel or the container may refuse it (Docker's default seccomp
profile forbids namespaces), and what was achieved is reported back so that the grading process
can tell an instructor which protections were in force. docs/security.md has the threat model.
The steps live in :mod:`.namespaces`, :mod:`.rlimits`, :mod:`.ids` and :mod:`.seccomp`;
:func:`confine` runs them in the one order that is safe.
"""

from __future__ import annotations

import ctypes
import os
import select
import signal

from ...settings import single_threaded
from .isolation import Isolation
from .kernel import PR_SET_NO_NEW_PRIVS, PR_SET_PDEATHSIG, prctl
from .namespaces import become_pid_namespace_init, enter_namespaces, namespaces_available, private_file_view
from .privileges import drop_capabilities, drop_privileges
from .rlimits import apply_limits
from .seccomp import FILTER_PROTECTIONS, forbid_sockets

# enter_namespaces and forbid_sockets are looked up here when confine() runs, so that a test or a
# benchmark can switch one off; namespaces_available is what batch grading asks before it starts.
__all__ = [
    "Isolation",
    "clean_environment",
    "confine",
    "enter_namespaces",
    "forbid_sockets",
    "namespaces_available",
]


def clean_environment(scratch: str) -> None:
    """A fresh environment: no inherited tokens, secrets or paths to the grader's files.

    os.environ is cleared, and so is the original environment block the kernel keeps on the
    stack (what /proc/self/environ shows): a forked worker would otherwise still hold the
    grading process's environment in memory.
    """
    _scrub_environ_block()
    os.environ.clear()
    single_threaded(os.environ, force=True)
    os.environ.update(
        {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "HOME": scratch,
            "TMPDIR": scratch,
            "LANG": "C.UTF-8",
            "MPLBACKEND": "Agg",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
    )


def _scrub_environ_block() -> None:
    try:
        with open("/proc/self/stat", "rb") as handle:
            fields = handle.read().rsplit(b")", 1)[1].split()
        # Fields 50 and 51 of stat (env_start, env_end), counted from the state at index 0 = field 3.
        start, end = int(fields[47]), int(fields[48])
        if 0 < start < end and end - start < 1 << 24:
            ctypes.memset(start, 0, end - start)
    except (OSError, IndexError, ValueError):
        pass


def isolate_descriptors(keep_fd: int) -> None:
    """Only the worker's socket stays open; 0, 1 and 2 point at /dev/null."""
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        if fd != devnull:
            os.dup2(devnull, fd)
    if devnull > 2:
        os.close(devnull)
    os.closerange(3, keep_fd)
    os.closerange(keep_fd + 1, 1 << 16)


def _die_with_parent(sock_fd: int) -> None:
    parent = os.getppid()
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    # The parent died before the signal was armed: the worker was given another parent, or, as the
    # init of a PID namespace (whose parent pid reads 0), its socket's other end is closed.
    if os.getppid() != parent or hung_up(sock_fd):
        os._exit(1)


def hung_up(fd: int) -> bool:
    """Whether the other end of the socket ``fd`` is closed."""
    poll = select.poll()
    poll.register(fd, select.POLLHUP)
    return any(events & select.POLLHUP for _, events in poll.poll(0))


def confine(iso: Isolation, sock_fd: int) -> list[str]:
    """Runs in the freshly forked worker before any student code. Returns the protections in force."""
    os.setsid()
    _die_with_parent(sock_fd)
    as_root = os.geteuid() == 0
    achieved = enter_namespaces(as_root)
    own_user_namespace = not as_root and bool(achieved)
    if "pid" in achieved and os.getpid() != 1:  # not forked into its namespace by the grading process
        become_pid_namespace_init()
        _die_with_parent(sock_fd)
    isolate_descriptors(sock_fd)
    if "mount" in achieved:
        achieved += private_file_view(iso, new_proc="pid" in achieved)
    os.chdir(iso.scratch)
    clean_environment(iso.scratch)
    apply_limits(iso, own_user_namespace)
    achieved.append("limits")
    drop_privileges(iso.uid, iso.gid)
    if iso.uid is not None:
        achieved.append("user")
    elif own_user_namespace:
        drop_capabilities()
    # Changing uid clears the parent-death signal and makes the process undumpable: arm it again.
    _die_with_parent(sock_fd)
    if not prctl(PR_SET_NO_NEW_PRIVS, 1):
        # Fail closed: without it a setuid program could regain what was dropped above.
        raise OSError("the kernel refused PR_SET_NO_NEW_PRIVS")
    if forbid_sockets():
        achieved += FILTER_PROTECTIONS
    os.umask(0o077)
    return achieved

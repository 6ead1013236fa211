"""Confining the worker process: namespaces, limits, a clean environment, an unprivileged user.

Each step is best effort where the kernel or the container may refuse it (Docker's default seccomp
profile forbids namespaces), and what was achieved is reported back so that the grading process
can tell an instructor which protections were in force.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import pwd
import resource
import signal
from dataclasses import dataclass

CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_NO_NEW_PRIVS = 38

DEFAULT_SANDBOX_USER = "grader-student"
FALLBACK_UID = 61000  # used when the dedicated user does not exist (outside the image)

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


@dataclass(frozen=True)
class Isolation:
    """How the worker is to be confined; decided once by the grading process."""

    uid: int | None  # None: keep the current user (not running as root)
    gid: int | None
    scratch: str
    memory_bytes: int
    cpu_seconds: int
    processes: int
    file_bytes: int
    open_files: int


def sandbox_ids(slot: int = 0) -> tuple[int, int]:
    """The unprivileged uid/gid for worker slot ``slot`` (parallel graders never share a uid)."""
    name = os.environ.get("GRADER_SANDBOX_USER", DEFAULT_SANDBOX_USER)
    try:
        entry = pwd.getpwnam(name)
        uid, gid = entry.pw_uid, entry.pw_gid
    except KeyError:
        uid = gid = FALLBACK_UID
    return uid + slot, gid


SLOT_DIR = "/tmp/grader-slots"
MAX_SLOTS = 4096


def claim_slot() -> tuple[int, int]:
    """A worker uid slot no other grading process on this machine holds, and the lock holding it.

    Killing "every process of the sandbox user" is only safe if no concurrent grader's worker
    runs under the same uid, so each grading process locks a slot for its lifetime.
    """
    import fcntl

    os.makedirs(SLOT_DIR, mode=0o700, exist_ok=True)
    for slot in range(MAX_SLOTS):
        fd = os.open(os.path.join(SLOT_DIR, f"{slot}.lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return slot, fd
        except BlockingIOError:
            os.close(fd)
    raise RuntimeError("no free sandbox slot")


def _unshare(flags: int) -> bool:
    return _libc.unshare(flags) == 0


def _prctl(option: int, value: int) -> None:
    _libc.prctl(option, value, 0, 0, 0)


def _set_limit(which: int, value: int) -> None:
    try:
        soft, hard = resource.getrlimit(which)
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        resource.setrlimit(which, (value, value))
    except (ValueError, OSError):
        pass


def enter_namespaces(as_root: bool) -> list[str]:
    """Detach from the network and start a PID namespace; returns what was achieved."""
    achieved = []
    flags = CLONE_NEWNET | CLONE_NEWPID
    if not as_root:
        flags |= CLONE_NEWUSER
    if _unshare(flags):
        achieved += ["network", "pid"]
    elif _unshare(CLONE_NEWNET | (0 if as_root else CLONE_NEWUSER)):
        achieved.append("network")
    return achieved


def become_pid_namespace_init() -> None:
    """After unshare(CLONE_NEWPID) only children enter the namespace: fork, and let the parent wait.

    The parent stays as a plain waiter so the grading process can kill the whole group; when the
    child (PID 1 inside) dies, the kernel kills every process left in the namespace.
    """
    pid = os.fork()
    if pid == 0:
        return
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        _, status = os.waitpid(pid, 0)
        code = os.waitstatus_to_exitcode(status)
    except ChildProcessError:
        code = 1
    os._exit(code if code >= 0 else 128 - code)


def apply_limits(iso: Isolation) -> None:
    _set_limit(resource.RLIMIT_CORE, 0)
    _set_limit(resource.RLIMIT_DATA, iso.memory_bytes)
    _set_limit(resource.RLIMIT_CPU, iso.cpu_seconds)
    _set_limit(resource.RLIMIT_FSIZE, iso.file_bytes)
    _set_limit(resource.RLIMIT_NOFILE, iso.open_files)
    _set_limit(resource.RLIMIT_NPROC, iso.processes)


def clean_environment(scratch: str) -> None:
    keep = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    os.environ.clear()
    os.environ.update(keep)
    os.environ.update({
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": scratch,
        "TMPDIR": scratch,
        "LANG": "C.UTF-8",
        "MPLBACKEND": "Agg",
        "PYTHONDONTWRITEBYTECODE": "1",
    })


def drop_privileges(iso: Isolation) -> None:
    if iso.uid is None:
        return
    os.setgroups([])
    os.setgid(iso.gid)
    os.setuid(iso.uid)


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


def confine(iso: Isolation, sock_fd: int) -> list[str]:
    """Runs in the freshly forked worker before any student code. Returns the protections in force."""
    os.setsid()
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    as_root = os.geteuid() == 0
    achieved = enter_namespaces(as_root)
    if "pid" in achieved:
        become_pid_namespace_init()
        _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    isolate_descriptors(sock_fd)
    os.chdir(iso.scratch)
    clean_environment(iso.scratch)
    apply_limits(iso)
    achieved.append("limits")
    drop_privileges(iso)
    if iso.uid is not None:
        achieved.append("user")
    _prctl(PR_SET_NO_NEW_PRIVS, 1)
    os.umask(0o077)
    return achieved


def sweep_user(uid: int) -> None:
    """Kill every process of ``uid``: a child that takes the uid and signals -1 reaches them all at once."""
    for _ in range(3):
        pid = os.fork()
        if pid == 0:
            try:
                os.setgroups([])
                os.setuid(uid)
                os.kill(-1, signal.SIGKILL)
                os._exit(0)
            except ProcessLookupError:
                os._exit(3)  # nothing left to kill
            except BaseException:
                os._exit(1)
        _, status = os.waitpid(pid, 0)
        if os.waitstatus_to_exitcode(status) == 3:
            return

"""What a worker leaves behind outside its processes: SysV IPC objects, files in the places anyone
may write to, and its scratch tree. Killing processes removes none of them.

Everything here runs after the worker's processes are gone, as the grading process, and never
follows a link: a student may have planted links to the grader's own files.
"""

from __future__ import annotations

import os
import stat

from ...errors import GraderError
from ..jail.kernel import libc

# Where an unprivileged uid can leave files without a mount namespace of its own.
SHARED_PLACES = ("/tmp", "/var/tmp", "/dev/shm", "/dev/mqueue", "/run/lock")
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_IPC_RMID = 0
_IPC_TABLES = (
    ("/proc/sysvipc/shm", "shmid", "shmctl"),
    ("/proc/sysvipc/msg", "msqid", "msgctl"),
    ("/proc/sysvipc/sem", "semid", "semctl"),
)
_WALK_DEPTH = 8  # world-writable directories inside the shared places are few and shallow


class TreeMoved(GraderError, OSError):
    """A directory changed place while it was being removed: stop rather than delete elsewhere."""


def remove_tree(path: str) -> None:
    """Delete ``path`` and everything under it, however deep (3,000 levels are no problem)."""
    parent = os.open(os.path.dirname(os.path.abspath(path)), _DIR_FLAGS)
    try:
        _remove_entry(parent, os.path.basename(os.path.abspath(path)))
    except FileNotFoundError:
        pass
    finally:
        os.close(parent)


def _remove_entry(parent: int, name: str) -> None:
    info = os.stat(name, dir_fd=parent, follow_symlinks=False)
    if stat.S_ISDIR(info.st_mode):
        _remove_dir(parent, name)
    else:
        os.unlink(name, dir_fd=parent)


def _open_dir(parent: int, name: str) -> int:
    try:
        return os.open(name, _DIR_FLAGS, dir_fd=parent)
    except PermissionError:  # an ordinary user's student may have made it unreadable
        os.chmod(name, 0o700, dir_fd=parent)
        return os.open(name, _DIR_FLAGS, dir_fd=parent)


def _clear_files(fd: int) -> list[str]:
    """Unlink every entry of ``fd`` that is not a directory; return the subdirectories' names."""
    subdirs = []
    with os.scandir(fd) as entries:
        found = list(entries)
    for entry in found:
        if entry.is_dir(follow_symlinks=False):
            subdirs.append(entry.name)
            continue
        try:
            os.unlink(entry.name, dir_fd=fd)
        except PermissionError:
            os.chmod(fd, 0o700)
            os.unlink(entry.name, dir_fd=fd)
    return subdirs


def _remove_dir(parent: int, name: str) -> None:
    # Iterative, holding one descriptor at a time and climbing back through "..": recursion and
    # one descriptor per level would both run out on a deep enough tree. Each level's identity is
    # checked on the way back up.
    fd = _open_dir(parent, name)
    levels = [(name, os.fstat(fd), _clear_files(fd))]  # (name in its parent, identity, subdirectories left)
    try:
        while True:
            here, identity, pending = levels[-1]
            if pending:
                sub = pending.pop()
                child = _open_dir(fd, sub)
                os.close(fd)
                fd = child
                levels.append((sub, os.fstat(fd), _clear_files(fd)))
                continue
            more = _clear_files(fd)  # nothing should have appeared; if something did, go round again
            if more:
                levels[-1] = (here, identity, more)
                continue
            levels.pop()
            if not levels:
                os.close(fd)
                fd = -1
                os.rmdir(here, dir_fd=parent)
                return
            up = os.open("..", _DIR_FLAGS, dir_fd=fd)
            upper, expected = os.fstat(up), levels[-1][1]
            if (upper.st_dev, upper.st_ino) != (expected.st_dev, expected.st_ino):
                os.close(up)
                raise TreeMoved(f"{name}: a directory moved while it was being removed")
            os.close(fd)
            fd = up
            os.rmdir(here, dir_fd=fd)
    finally:
        if fd >= 0:
            os.close(fd)


def remove_ipc_of(uid: int) -> int:
    """Remove every SysV shared memory segment, message queue and semaphore set ``uid`` owns or
    created (in this IPC namespace). Returns how many were removed."""
    removed = 0
    refused: list[tuple[str, tuple[int, int, int | None]]] = []
    for table, id_column, control in _IPC_TABLES:
        try:
            with open(table, encoding="ascii") as handle:
                lines = handle.read().splitlines()
        except OSError:
            continue
        if not lines:
            continue
        header = lines[0].split()
        for line in lines[1:]:
            row = dict(zip(header, line.split()))
            try:
                owners = {int(row["uid"]), int(row["cuid"])}
                ident = int(row[id_column])
            except (KeyError, ValueError):
                continue
            if uid in owners:
                args = (ident, 0, _IPC_RMID) if control == "semctl" else (ident, _IPC_RMID, None)
                if getattr(libc, control)(*args) == 0:
                    removed += 1
                else:
                    refused.append((control, args))
    if refused:
        # Root without CAP_SYS_ADMIN (a container's default) may not remove another uid's objects;
        # their owner may: a child that becomes the sandbox uid removes them.
        removed += _remove_as(uid, refused)
    return removed


def _remove_as(uid: int, controls: list[tuple[str, tuple[int, int, int | None]]]) -> int:
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.setgroups([])
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)
            code = 0 if all(getattr(libc, control)(*args) == 0 for control, args in controls) else 1
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return len(controls) if os.waitstatus_to_exitcode(status) == 0 else 0


def remove_files_of(uid: int, places: tuple[str, ...] = SHARED_PLACES) -> int:
    """Remove what ``uid`` owns in ``places`` (and in world-writable folders inside them)."""
    removed = 0
    for place in places:
        try:
            fd = os.open(place, _DIR_FLAGS)
        except OSError:
            continue
        try:
            removed += _sweep(fd, uid, 0)
        finally:
            os.close(fd)
    return removed


def _sweep(fd: int, uid: int, depth: int) -> int:
    removed = 0
    with os.scandir(fd) as entries:
        found = list(entries)
    for entry in found:
        try:
            info = entry.stat(follow_symlinks=False)
            if info.st_uid == uid:
                _remove_entry(fd, entry.name)
                removed += 1
            elif stat.S_ISDIR(info.st_mode) and info.st_mode & stat.S_IWOTH and depth < _WALK_DEPTH:
                inner = os.open(entry.name, _DIR_FLAGS, dir_fd=fd)
                try:
                    removed += _sweep(inner, uid, depth + 1)
                finally:
                    os.close(inner)
        except OSError:
            continue  # gone meanwhile, or not ours to touch
    return removed

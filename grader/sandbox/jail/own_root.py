"""The worker's own root file system: what it needs of the host, read-only, and nothing else.

A denylist of secret paths cannot know every copy of a secret (another clone's hidden tests, an
older term's solutions, a packaged zip). So, where a mount namespace is available, the worker
gets a fresh root built from an allowlist: the system's programs and libraries, the interpreter
and the packages on sys.path, the grader's own modules, a few devices, and mount points for its
private scratch space. Everything else of the host (/home, /root, /srv, /tmp, /var, /mnt, /opt,
the checkout, the submissions) is simply not there. Secrets inside an allowed path are still
covered afterwards by :mod:`.namespaces`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from .kernel import (
    MS_BIND,
    MS_NODEV,
    MS_NOSUID,
    MS_RDONLY,
    MS_REC,
    MS_REMOUNT,
    mount,
    pivot_root,
    umount_detached,
)

# The system's programs, libraries and configuration (merged-/usr systems make some symlinks).
SYSTEM = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc", "/sys")
DEVICES = ("null", "zero", "full", "random", "urandom")
DEVICE_LINKS = {
    "fd": "/proc/self/fd",
    "stdin": "/proc/self/fd/0",
    "stdout": "/proc/self/fd/1",
    "stderr": "/proc/self/fd/2",
}
# Empty directories the rest of the confinement mounts private file systems on.
MOUNT_POINTS = ("/tmp", "/var/tmp", "/dev/shm", "/proc")
# Flags a bind mount keeps from its source: asking to drop one (in a user namespace) is refused.
_KEPT = ((os.ST_NOEXEC, 8), (os.ST_NOATIME, 1024), (os.ST_NODIRATIME, 2048), (os.ST_RELATIME, 1 << 21))


def _outermost(paths: Iterable[str]) -> list[str]:
    """The paths not inside another of them, shortest first."""
    chosen: list[str] = []
    for path in sorted(set(paths), key=len):
        if not any(path == top or path.startswith(top.rstrip("/") + "/") for top in chosen):
            chosen.append(path)
    return chosen


def _inside(root: str, path: str) -> str:
    return os.path.join(root, path.lstrip("/"))


def _make_dirs(root: str, path: str) -> str:
    target = _inside(root, path)
    os.makedirs(target, mode=0o755, exist_ok=True)
    return target


def _read_only(target: str) -> bool:
    flags = MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV
    try:
        have = os.statvfs(target).f_flag
    except OSError:
        return False
    for st_flag, ms_flag in _KEPT:
        if have & st_flag:
            flags |= ms_flag
    return mount(None, target, None, flags)


def build_root(needed: Iterable[str], scratch: str, new_proc: bool) -> bool:
    """Makes the current mount namespace's root a tmpfs holding only the needed paths; returns
    whether it did. On a refusal midway nothing has changed that the caller relies on: the
    tmpfs is taken off again and the host's view stays, for the denylist to cover."""
    system = [path for path in SYSTEM if os.path.lexists(path)]
    links = {path: os.readlink(path) for path in system if os.path.islink(path)}
    scratch = os.path.realpath(scratch)
    wanted = [os.path.realpath(p) for p in (*system, *needed) if p not in links]
    binds = [p for p in _outermost(wanted) if p != scratch and os.path.exists(p) and p != "/"]
    devices = [f"/dev/{name}" for name in DEVICES if os.path.exists(f"/dev/{name}")]
    if not new_proc:
        binds.append("/proc")  # no PID namespace of its own: a fresh proc cannot be mounted
    # Opened before the tmpfs covers the scratch path: the binds are made from these descriptors,
    # so a path under the scratch's parent (a checkout in /tmp) is still reachable.
    handles = {path: os.open(path, os.O_PATH | os.O_CLOEXEC) for path in [*binds, *devices]}
    try:
        if not mount("none", scratch, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,nr_inodes=4096,mode=755"):
            return False
        if _populate(scratch, [*MOUNT_POINTS, scratch], binds, devices, links, handles) and _pivot(scratch):
            return True
        umount_detached(scratch)
        return False
    finally:
        for handle in handles.values():
            os.close(handle)


def _populate(
    root: str,
    mount_points: list[str],
    binds: list[str],
    devices: list[str],
    links: dict[str, str],
    handles: dict[str, int],
) -> bool:
    try:
        for path in binds:
            if os.path.isdir(path):
                target = _make_dirs(root, path)
            else:
                _make_dirs(root, os.path.dirname(path))
                target = _inside(root, path)
                open(target, "a").close()
            if not mount(f"/proc/self/fd/{handles[path]}", target, None, MS_BIND | MS_REC):
                return False
            if path != "/proc":
                _read_only(target)  # best effort: the worker's own uid cannot write there anyway
        dev = _make_dirs(root, "/dev")
        for path in devices:
            target = _inside(root, path)
            open(target, "a").close()
            if not mount(f"/proc/self/fd/{handles[path]}", target, None, MS_BIND):
                return False
        for name, points_to in DEVICE_LINKS.items():
            os.symlink(points_to, os.path.join(dev, name))
        for path, points_to in links.items():
            os.symlink(points_to, _inside(root, path))
        for path in mount_points:
            _make_dirs(root, path)
        return True
    except OSError:
        return False


def _pivot(root: str) -> bool:
    """The tmpfs at ``root`` becomes "/", and the host's root is detached from this namespace."""
    os.chdir(root)
    if not pivot_root(".", "."):
        os.chdir("/")
        return False
    # The old root now sits on top of the new one at "/": detaching it leaves only the new.
    umount_detached(".")
    os.chdir("/")
    return True


def seal_root() -> bool:
    """The new root's own tmpfs read-only, once every mount point in it exists."""
    return mount(None, "/", None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)

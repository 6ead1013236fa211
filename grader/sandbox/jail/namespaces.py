"""The worker's namespaces: no network, its own PID space and IPC, and a private view of the files.

As root the namespaces belong to the host's user namespace; an ordinary user needs a user
namespace of its own (mapping only itself), which many kernels and containers refuse. Each step
is best effort, and what held is returned for the grading process to report.
"""

from __future__ import annotations

import ctypes
import os
import signal

from .isolation import Isolation
from .kernel import (
    CLONE_NEWIPC,
    CLONE_NEWNET,
    CLONE_NEWNS,
    CLONE_NEWPID,
    CLONE_NEWUSER,
    MS_BIND,
    MS_NODEV,
    MS_NOEXEC,
    MS_NOSUID,
    MS_PRIVATE,
    MS_RDONLY,
    MS_REC,
    MS_REMOUNT,
    mount,
    setns,
    unshare,
)
from .own_root import build_root, seal_root

# Directories anyone may write to: the worker gets fresh, small, private ones instead.
SHARED_WRITABLE = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock")


def _write(path: str, text: str) -> bool:
    try:
        with open(path, "w") as handle:
            handle.write(text)
        return True
    except OSError:
        return False


def enter_namespaces(as_root: bool) -> list[str]:
    """Detach from the network, the file system view, IPC and the PID space; returns what was achieved.

    A process that is already PID 1 was forked into a new PID namespace by the grading process
    (:func:`next_child_starts_a_pid_namespace`): it keeps that one, and needs no fork of its own."""
    uid, gid = os.getuid(), os.getgid()
    extra = 0 if as_root else CLONE_NEWUSER
    init = ["pid"] if os.getpid() == 1 else []
    new_pid = 0 if init else CLONE_NEWPID
    attempts = [
        (CLONE_NEWNET | new_pid | CLONE_NEWNS | CLONE_NEWIPC, ["network", "pid", "mount"]),
        (CLONE_NEWNET | CLONE_NEWNS | CLONE_NEWIPC, ["network", "mount", *init]),
        (CLONE_NEWNET, ["network", *init]),
        (CLONE_NEWNS, ["mount", *init]),
    ]
    for flags, names in attempts:
        if unshare(flags | extra):
            if not as_root:
                # Map only ourselves: files keep their owner, and setgroups stays impossible.
                _write("/proc/self/setgroups", "deny")
                _write("/proc/self/uid_map", f"{uid} {uid} 1")
                _write("/proc/self/gid_map", f"{gid} {gid} 1")
            return names
    return init


def next_child_starts_a_pid_namespace() -> int | None:
    """As root, make the next child this process forks the init of a new PID namespace: the worker
    is then that child itself, where entering the namespace on its own would cost it a second fork
    of this whole process. Returns a descriptor of this process's own namespace, which
    :func:`back_to_own_pid_namespace` must be given right after the fork (in the parent only);
    None where the kernel or a container refuses, and the worker tries on its own."""
    if os.geteuid() != 0:
        return None
    try:
        own = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    # Going back must be allowed before leaving (a container's seccomp profile may refuse setns).
    if not (setns(own, CLONE_NEWPID) and unshare(CLONE_NEWPID)):
        os.close(own)
        return None
    return own


def back_to_own_pid_namespace(own: int | None) -> None:
    """Later children of this process are born in its own PID namespace again."""
    if own is None:
        return
    try:
        # Without this, every later fork would fail once the worker (that namespace's init) is gone.
        if not setns(own, CLONE_NEWPID):
            raise OSError(ctypes.get_errno(), "setns back to the grading process's PID namespace failed")
    finally:
        os.close(own)


def namespaces_available() -> bool:
    """Whether a worker started now would get its mount and PID namespaces (tried in a child)."""
    extra = 0 if os.geteuid() == 0 else CLONE_NEWUSER
    pid = os.fork()
    if pid == 0:
        os._exit(0 if unshare(CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWIPC | extra) else 1)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) == 0


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


def covered(path: str, roots: list[str]) -> bool:
    return any(path == root or path.startswith(root.rstrip("/") + "/") for root in roots)


def _hide_dir(path: str, keep: list[str]) -> bool:
    """An empty read-only tmpfs over ``path``, with the needed paths inside it bound back.

    A folder that also holds the interpreter or its packages (results written next to a venv)
    is hidden all the same: everything in it but those paths disappears.
    """
    flags = MS_NOSUID | MS_NODEV | MS_NOEXEC
    if not keep:
        return mount("none", path, "tmpfs", MS_RDONLY | flags, "size=4k,nr_inodes=16,mode=000")
    options = f"size=64k,nr_inodes={16 + 64 * len(keep)},mode=711"
    return _tmpfs_keeping(path, keep, flags, options) and mount(
        None, path, None, MS_REMOUNT | MS_RDONLY | flags
    )


def _private_dir(path: str, keep: list[str], options: str) -> bool:
    """A private writable tmpfs over ``path``, with the paths ``keep`` inside it bound back."""
    mounted, bound = _tmpfs_keeping(path, keep, MS_NOSUID | MS_NODEV, options)
    return mounted and bound


def _tmpfs_keeping(path: str, keep: list[str], flags: int, options: str) -> tuple[bool, bool]:
    """A tmpfs over ``path`` with the paths ``keep`` inside it bound back from what they were:
    whether the tmpfs is on, and whether every path came back."""
    keep = [need for need in keep if not covered(need, [k for k in keep if k != need])]
    # Opened before the tmpfs covers them: the bind mounts are made from these descriptors.
    handles = [os.open(need, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC) for need in keep]
    try:
        if not mount("none", path, "tmpfs", flags, options):
            return False, False
        ok = True
        for need, handle in zip(keep, handles):
            target = path
            for part in os.path.relpath(need, path).split(os.sep):
                target = os.path.join(target, part)
                if not os.path.isdir(target):
                    os.mkdir(target, 0o711)  # traversable, not listable
            ok &= mount(f"/proc/self/fd/{handle}", need, None, MS_BIND | MS_REC)
        return True, ok
    finally:
        for handle in handles:
            os.close(handle)


def _hide_secrets(iso: Isolation) -> tuple[bool, list[str]]:
    """Secret directories get an empty read-only tmpfs on top, secret files /dev/null. Returns
    whether every secret is hidden, and the paths now covered."""
    hidden_ok = True
    done: list[str] = []
    for path in sorted({os.path.realpath(p) for p in iso.hidden}, key=len):
        bound_back = any(covered(path, [need]) and covered(need, done) for need in iso.needed)
        if (covered(path, done) and not bound_back) or not os.path.exists(path):
            continue
        if path in iso.needed:
            hidden_ok = False  # it is the interpreter or its packages: left visible, reported
            continue
        if os.path.isdir(path):
            ok = _hide_dir(path, [need for need in iso.needed if covered(need, [path])])
        else:
            ok = mount("/dev/null", path, None, MS_BIND)
        hidden_ok &= ok
        if ok:
            done.append(path)
    return hidden_ok, done


def _private_scratch(iso: Isolation, done: list[str]) -> bool:
    """Small private tmpfs mounts on the shared writable directories and the scratch directory,
    so that nothing the worker writes outlives it or reaches anyone else."""
    size = max(iso.file_bytes, 1 << 20)
    flags = MS_NOSUID | MS_NODEV
    private_ok = True
    scratch = os.path.realpath(iso.scratch)
    for path in SHARED_WRITABLE:
        if not os.path.isdir(path) or os.path.islink(path) or covered(path, done):
            continue
        inside = [need for need in iso.needed if need != scratch and covered(need, [os.path.realpath(path)])]
        # The interpreter or its packages may live there (a checkout in /tmp): the private tmpfs
        # goes on top all the same, and only they are bound back, so nothing else there is seen.
        private_ok &= _private_dir(path, inside, f"size={size},mode=1777")
    os.makedirs(iso.scratch, mode=0o700, exist_ok=True)
    owner = "" if iso.uid is None else f",uid={iso.uid},gid={iso.gid}"
    private_ok &= mount("none", iso.scratch, "tmpfs", flags, f"size={2 * size},mode=700{owner}")
    return private_ok


def private_file_view(iso: Isolation, new_proc: bool) -> list[str]:
    """In the worker's own mount namespace: a root of only what it needs, the secret paths inside
    that hidden, private scratch space. Returns what held."""
    achieved: list[str] = []
    if not mount(None, "/", None, MS_REC | MS_PRIVATE):
        return achieved
    own_root = build_root(iso.needed, iso.scratch, new_proc)
    if own_root:
        achieved.append("only-needed-files")
    # First: binding the paths kept below goes through /proc/self/fd.
    if new_proc and mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC):
        achieved.append("private-proc")
    hidden_ok, done = _hide_secrets(iso)
    if hidden_ok and iso.hidden:
        achieved.append("hidden-files")
    if _private_scratch(iso, done):
        achieved.append("private-tmp")
    if own_root and not seal_root():
        achieved.remove("only-needed-files")
    return achieved

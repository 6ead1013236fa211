"""The few Linux system calls the sandbox makes that Python's os module does not offer.

Each wrapper returns whether the call succeeded instead of raising: every caller treats a refusal
(a container's seccomp profile, an old kernel) as a protection it reports as missing.
"""

from __future__ import annotations

import ctypes
import os

CLONE_NEWNS = 0x00020000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
PR_SET_PDEATHSIG = 1
PR_SET_SECCOMP = 22
PR_SET_NO_NEW_PRIVS = 38

MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18


def _load_libc() -> ctypes.CDLL:
    # find_library runs ldconfig in a subprocess (and importing it imports subprocess): only when
    # the usual name is not there.
    try:
        return ctypes.CDLL("libc.so.6", use_errno=True)
    except OSError:
        from ctypes.util import find_library

        return ctypes.CDLL(find_library("c"), use_errno=True)


libc = _load_libc()
libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]


def unshare(flags: int) -> bool:
    return bool(libc.unshare(flags) == 0)


def setns(fd: int, nstype: int) -> bool:
    return bool(libc.setns(fd, nstype) == 0)


def prctl(option: int, value: int) -> bool:
    """Whether the kernel took the setting."""
    return bool(libc.prctl(option, value, 0, 0, 0) == 0)


def _encoded(text: str | None) -> bytes | None:
    return None if text is None else text.encode()


def mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> bool:
    return bool(libc.mount(_encoded(source), _encoded(target), _encoded(fstype), flags, _encoded(data)) == 0)


MNT_DETACH = 2
# pivot_root has no libc wrapper: its number, by architecture (the others lack the call here).
_SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "riscv64": 41, "ppc64le": 203, "s390x": 217}


def pivot_root(new_root: str, put_old: str) -> bool:
    number = _SYS_PIVOT_ROOT.get(os.uname().machine)
    return number is not None and libc.syscall(number, new_root.encode(), put_old.encode()) == 0


def umount_detached(target: str) -> bool:
    return bool(libc.umount2(target.encode(), MNT_DETACH) == 0)

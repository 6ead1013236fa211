"""Namespaces refused as Docker's default seccomp profile refuses them (Gradescope's containers).

``refuse_namespaces()`` installs, in this process and everything it starts, a seccomp filter that
fails unshare() and setns() with EPERM, clone() with a namespace flag with EPERM and clone3()
with ENOSYS (so that libc falls back to clone). Used as a script it runs a command that way:

    python tests/without_namespaces.py COMMAND ARGS...

and with GRADER_TEST_REFUSE_NAMESPACES=1 the whole test session runs that way (conftest.py).
"""

from __future__ import annotations

import ctypes
import os
import sys

_AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
_NR = {
    "x86_64": {"unshare": 272, "setns": 308, "clone": 56, "clone3": 435},
    "aarch64": {"unshare": 97, "setns": 268, "clone": 220, "clone3": 435},
}
# CLONE_NEWTIME, NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET
_NAMESPACE_FLAGS = (
    0x80 | 0x20000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000
)
_ALLOW, _EPERM, _ENOSYS = 0x7FFF0000, 0x00050000 | 1, 0x00050000 | 38
_LD, _JEQ, _JSET, _RET = 0x20, 0x15, 0x45, 0x06
PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 38, 22, 2


class _Filter(ctypes.Structure):
    _fields_ = [
        ("code", ctypes.c_ushort),
        ("jt", ctypes.c_ubyte),
        ("jf", ctypes.c_ubyte),
        ("k", ctypes.c_uint),
    ]


class _Program(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_Filter))]


def _program(machine: str) -> list[tuple[int, int, int, int]]:
    nr = _NR[machine]
    return [
        (_LD, 0, 0, 4),  # 0 architecture
        (_JEQ, 0, 8, _AUDIT_ARCH[machine]),  # 1 another ABI: allow (10)
        (_LD, 0, 0, 0),  # 2 syscall number
        (_JEQ, 8, 0, nr["unshare"]),  # 3 -> 12 EPERM
        (_JEQ, 7, 0, nr["setns"]),  # 4 -> 12 EPERM
        (_JEQ, 5, 0, nr["clone3"]),  # 5 -> 11 ENOSYS
        (_JEQ, 0, 2, nr["clone"]),  # 6 clone: check its flags (7), else allow (9)
        (_LD, 0, 0, 16),  # 7 clone's flags, low 32 bits
        (_JSET, 3, 0, _NAMESPACE_FLAGS),  # 8 a namespace flag -> 12 EPERM
        (_RET, 0, 0, _ALLOW),  # 9
        (_RET, 0, 0, _ALLOW),  # 10
        (_RET, 0, 0, _ENOSYS),  # 11
        (_RET, 0, 0, _EPERM),  # 12
    ]


def refuse_namespaces() -> None:
    machine = os.uname().machine
    program = _program(machine)
    filters = (_Filter * len(program))(*[_Filter(*ins) for ins in program])
    libc = ctypes.CDLL(None, use_errno=True)
    fprog = ctypes.byref(_Program(len(program), filters))
    # With CAP_SYS_ADMIN (root on a host) no_new_privs is not needed, and is left off so that
    # setuid helpers behave as usual; without it (a container's root, a user) it is.
    if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, fprog, 0, 0) != 0:
        libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
        if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, fprog, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "the namespace filter could not be installed")


if __name__ == "__main__":
    refuse_namespaces()
    os.execvp(sys.argv[1], sys.argv[1:])

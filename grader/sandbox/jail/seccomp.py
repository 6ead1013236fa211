"""The worker's seccomp filter: no sockets, no memory that no rlimit counts.

Where no network namespace can be had (Docker's and podman's default profiles refuse unshare, and
Gradescope runs containers with network access), the filter makes socket() fail for every address
family, AF_UNIX included: a Unix socket reaches a user's D-Bus, systemd or docker.sock, abstract
ones even through a private mount view. The worker's own socket exists before the filter;
socketpair() stays allowed (it reaches nothing). The filter also refuses memory no rlimit counts:
shared mappings, SysV shared memory, memfd files. It needs no privilege once no_new_privs is set.
"""

from __future__ import annotations

import ctypes
import os
from typing import ClassVar

from .kernel import PR_SET_SECCOMP, libc

_AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
_SYSCALLS = {
    "x86_64": {"socket": 41, "io_uring_setup": 425, "shmget": 29, "memfd_create": 319, "mmap": 9},
    "aarch64": {"socket": 198, "io_uring_setup": 425, "shmget": 194, "memfd_create": 279, "mmap": 222},
}
_REFUSED = ("socket", "io_uring_setup", "shmget", "memfd_create")  # io_uring opens sockets unseen
_MAP_SHARED = 0x01  # MAP_SHARED_VALIDATE (0x03) has the bit too
_X32_BIT = 0x40000000
_RET_ALLOW = 0x7FFF0000
_RET_EACCES = 0x00050000 | 13
_LD_ABS, _JEQ, _JGE, _JSET, _RET = 0x20, 0x15, 0x35, 0x45, 0x06
_MMAP_FLAGS = 16 + 3 * 8  # seccomp_data.args[3], its low 32 bits
SECCOMP_MODE_FILTER = 2
FILTER_PROTECTIONS = ["no-inet-sockets", "no-unix-sockets", "no-shared-memory"]

# One instruction with symbolic jumps: its own label, the opcode, the labels to jump to when true and
# when false (None: on to the next instruction), and k.
_Labelled = tuple[str | None, int, str | None, str | None, int]


class _SockFilter(ctypes.Structure):
    _fields_: ClassVar = [
        ("code", ctypes.c_ushort),
        ("jt", ctypes.c_ubyte),
        ("jf", ctypes.c_ubyte),
        ("k", ctypes.c_uint),
    ]


class _SockFprog(ctypes.Structure):
    _fields_: ClassVar = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_SockFilter))]


def _labelled_program(machine: str) -> list[_Labelled]:
    nr = _SYSCALLS[machine]
    refused: list[_Labelled] = [(None, _JEQ, "deny", None, nr[name]) for name in _REFUSED]
    return [
        (None, _LD_ABS, None, None, 4),  # architecture
        (None, _JEQ, None, "deny", _AUDIT_ARCH[machine]),  # another ABI (i386's socketcall): deny
        (None, _LD_ABS, None, None, 0),  # syscall number
        (None, _JGE, "deny", None, _X32_BIT),  # x32 numbering would dodge the checks
        *refused,
        (None, _JEQ, "mmap", None, nr["mmap"]),
        (None, _RET, None, None, _RET_ALLOW),
        ("mmap", _LD_ABS, None, None, _MMAP_FLAGS),
        (None, _JSET, "deny", None, _MAP_SHARED),
        (None, _RET, None, None, _RET_ALLOW),
        ("deny", _RET, None, None, _RET_EACCES),
    ]


def filter_program(machine: str) -> list[tuple[int, int, int, int]]:
    """The BPF program: (code, jump if true, jump if false, k) per instruction."""
    program = _labelled_program(machine)
    labels = {label: i for i, (label, *_) in enumerate(program) if label is not None}

    def jump(here: int, target: str | None) -> int:
        return 0 if target is None else labels[target] - here - 1

    return [(code, jump(i, jt), jump(i, jf), k) for i, (_, code, jt, jf, k) in enumerate(program)]


def forbid_sockets() -> bool:
    machine = os.uname().machine
    if machine not in _SYSCALLS:
        return False
    program = filter_program(machine)
    filters = (_SockFilter * len(program))(*[_SockFilter(*ins) for ins in program])
    fprog = _SockFprog(len(program), filters)
    return bool(libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) == 0)

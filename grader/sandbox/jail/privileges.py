"""Giving up privileges in the worker: the unprivileged uid and gid, and every capability."""

from __future__ import annotations

import ctypes
import os
from typing import ClassVar

from ...errors import GraderError
from .kernel import libc


def drop_privileges(uid: int | None, gid: int | None) -> None:
    if uid is None:
        return
    if gid is None:  # a uid without its group: refuse to start rather than keep root's groups
        raise GraderError("a sandbox uid without a gid")
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)


class _CapHeader(ctypes.Structure):
    _fields_: ClassVar = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_: ClassVar = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


def drop_capabilities() -> bool:
    """Give up every capability (those a user namespace grants its creator included)."""
    header = _CapHeader(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3
    data = (_CapData * 2)()
    return bool(libc.capset(ctypes.byref(header), data) == 0)

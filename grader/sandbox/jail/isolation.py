"""The worker's confinement as plain values, decided by the grading process and applied in the worker.

Its own module because every confinement step reads it and the worker's fresh interpreter loads it
before anything else.
"""

from __future__ import annotations

from dataclasses import dataclass


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
    library_bytes: int = 0  # address space for libraries student code loads (torch: ~500 MB)
    hidden: tuple[str, ...] = ()  # paths the worker must not see (solutions, tests, results, submission)
    needed: tuple[str, ...] = ()  # paths the worker must keep (the interpreter, its packages)

"""Ending a sandbox: every step runs whatever became of the others, and each failure is recorded
for the instructor (the scores stand; the grading process computed them)."""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from . import leftovers
from .identity import sweep_user


class CleanupStep(enum.Enum):
    GOODBYE = "goodbye"
    KILL = "kill"
    DESCENDANTS = "descendants"  # an ordinary user's detached processes
    PROCESSES = "processes"  # the sandbox uid's
    IPC = "ipc"
    FILES = "files"  # in the shared writable places
    SLOT = "slot"
    SCRATCH = "scratch"


@dataclass(frozen=True)
class CleanupProblem:
    """A step of ending a sandbox that failed; the steps after it still ran."""

    step: CleanupStep
    detail: str


Step = tuple[CleanupStep, Callable[[], object]]


def uid_steps(uid: int, *, processes: bool = True) -> list[Step]:
    """Whatever escaped the worker's process group (a double fork, an init that left it) still has
    the uid; IPC objects and files in shared places outlive every process. ``processes``: False
    when every worker ran in a PID namespace of its own, which the kernel empties when its init
    dies: nothing of the uid can be left to sweep, and the sweep's fork costs a tenth of a small
    grading's CPU."""
    steps: list[Step] = [(CleanupStep.PROCESSES, lambda: sweep_user(uid))] if processes else []
    return steps + [
        (CleanupStep.IPC, lambda: leftovers.remove_ipc_of(uid)),
        (CleanupStep.FILES, lambda: leftovers.remove_files_of(uid)),
    ]


def run_steps(steps: Sequence[Step]) -> list[CleanupProblem]:
    problems = []
    for name, run in steps:
        try:
            run()
        except Exception as exc:
            problems.append(CleanupProblem(name, f"{type(exc).__name__}: {exc}"[:300]))
    return problems

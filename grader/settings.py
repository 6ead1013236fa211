"""Policy read from the environment, once, at an edge: the CLI, the Gradescope entry, a batch server,
and the core API's functions when their caller passes no settings (a script keeps every hidden path).

Modules below the edge take a :class:`Settings` (or the one value they need) as a parameter and never
read ``os.environ`` themselves, so a test can set any policy without touching the process.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path

SOLUTIONS_ENV = "GRADER_SOLUTIONS"
HIDDEN_ENV = "GRADER_HIDDEN_PATHS"
SANDBOX_USER_ENV = "GRADER_SANDBOX_USER"
DEBUG_WORKER_ENV = "GRADER_DEBUG_WORKER"
DEFAULT_SANDBOX_USER = "grader-student"

# Grading works on small arrays with half a CPU. BLAS and OpenMP thread pools only add start-up cost
# (OpenBLAS's pool doubles numpy's import time) and give student code threads it should not have.
THREAD_LIMITS: Mapping[str, str] = {
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
}


def single_threaded(env: MutableMapping[str, str], *, force: bool = False) -> MutableMapping[str, str]:
    """``env`` with the thread pools limited: kept as the caller set them unless ``force``."""
    for name, value in THREAD_LIMITS.items():
        if force:
            env[name] = value
        else:
            env.setdefault(name, value)
    return env


@dataclass(frozen=True)
class Settings:
    """What an instructor or an image may set around one grading run."""

    solutions_root: Path | None = None  # where solutions/<assignment>/ live; None: the default places
    hidden_paths: tuple[str, ...] = ()  # more paths student code must not see
    sandbox_user: str = DEFAULT_SANDBOX_USER  # the unprivileged account student code runs as, as root
    debug_worker: Path | None = None  # where a worker that fails to start leaves its traceback

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        solutions = env.get(SOLUTIONS_ENV)
        debug = env.get(DEBUG_WORKER_ENV)
        return cls(
            solutions_root=Path(solutions) if solutions else None,
            hidden_paths=tuple(p for p in env.get(HIDDEN_ENV, "").split(os.pathsep) if p),
            sandbox_user=env.get(SANDBOX_USER_ENV) or DEFAULT_SANDBOX_USER,
            debug_worker=Path(debug) if debug else None,
        )

    def to_environ(self, env: MutableMapping[str, str]) -> MutableMapping[str, str]:
        """``env`` carrying these settings to a child grading process (a batch's server)."""
        env.pop(SOLUTIONS_ENV, None)
        if self.solutions_root is not None:
            env[SOLUTIONS_ENV] = str(self.solutions_root)
        env[HIDDEN_ENV] = os.pathsep.join(self.hidden_paths)
        env[SANDBOX_USER_ENV] = self.sandbox_user
        if self.debug_worker is not None:
            env[DEBUG_WORKER_ENV] = str(self.debug_worker)
        return env

"""The production venv that test_production_install grades with, made by setup.sh's own steps.

Its dependency layer (torch, scipy, matplotlib, ...) takes half a minute to install in a fresh
clone, so the session starts it in the background as soon as it knows the tests that need it will
run (see conftest.py), at the lowest CPU and I/O priority so that it only takes what the tests
leave idle; it is kept between runs under .cache/, keyed by pyproject.toml and setup.sh.
The grader itself is always installed afresh from this checkout, when the tests ask for it.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from nbtools import REPO

SETUP = REPO / "grader" / "gradescope" / "templates" / "setup.sh"
SYSTEM_PYTHON = "/usr/bin/python3" if os.access("/usr/bin/python3", os.X_OK) else sys.executable
KEY = hashlib.sha256((REPO / "pyproject.toml").read_bytes() + SETUP.read_bytes()).hexdigest()[:16]
VENV = REPO / ".cache" / f"production-venv-{KEY}"
DONE = VENV / ".dependencies-installed"
IDLE = ["nice", "-n", "19", *(["ionice", "-c", "3"] if shutil.which("ionice") else [])]

LOCK = REPO / ".cache" / "production-venv.lock"

_building: subprocess.Popen[bytes] | None = None
_scratch: Path | None = None
_lock: int | None = None  # held (and passed to the build) while this session builds


def source_copy(target: Path) -> Path:
    """What the zip route unpacks to /autograder/source, copied so that building touches no checkout."""
    target.mkdir(parents=True, exist_ok=True)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, target / name)
    shutil.copytree(REPO / "grader", target / "grader", ignore=shutil.ignore_patterns("__pycache__"))
    return target


def setup_env(source: Path) -> dict[str, str]:
    return {**os.environ, "GRADER_SOURCE": str(source), "GRADER_VENV": str(VENV), "TORCH_INDEX_URL": ""}


def _take_lock(wait: float) -> bool:
    """The build lock, within ``wait`` seconds. A build holds it for as long as it runs, also one
    whose session was killed, so that no session deletes or builds over a build in progress."""
    global _lock
    VENV.parent.mkdir(exist_ok=True)
    fd = os.open(LOCK, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    deadline = time.monotonic() + wait
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            _lock = fd
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                os.close(fd)
                return False
            time.sleep(1.0)


def _release_lock() -> None:
    global _lock
    if _lock is not None:
        os.close(_lock)
        _lock = None


def start() -> None:
    """Start installing the dependency layer, unless it is there or on its way (here or elsewhere)."""
    global _building, _scratch
    if _building is not None or DONE.exists() or not _take_lock(0):
        return
    if DONE.exists():  # finished by a build that held the lock a moment ago
        _release_lock()
        return
    for stale in (REPO / ".cache").glob("production-venv-*"):
        shutil.rmtree(stale, ignore_errors=True)
    _scratch = Path(tempfile.mkdtemp(prefix="production-venv-"))
    script = f'"$1" -m venv "{VENV}" && bash "{SETUP}" python slim && echo {KEY} > "{DONE}"'
    with open(_scratch / "build.log", "wb") as log:
        _building = subprocess.Popen(
            [*IDLE, "bash", "-c", script, "build", SYSTEM_PYTHON],
            env=setup_env(source_copy(_scratch / "source")),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            pass_fds=[_lock] if _lock is not None else [],  # the lock lives as long as the build
            start_new_session=True,  # its own group, so that stop() ends pip and its children too
        )


def dependencies(timeout: float = 1800) -> Path:
    """The venv with its dependency layer installed (waiting for a build, or making it now)."""
    start()
    if _building is None and not DONE.exists():  # another session's build holds the lock: wait for it
        assert _take_lock(timeout), "another session's build of the production venv did not finish"
        _release_lock()
        start()
    if _building is not None:
        code = _building.wait(timeout=timeout)
        log = (_scratch / "build.log").read_text(errors="replace")[-3000:] if _scratch else ""
        _finish()
        assert code == 0 and DONE.exists(), f"setup.sh python slim failed ({code}):\n{log}"
    return VENV


def _finish() -> None:
    _release_lock()
    if _scratch is not None:
        shutil.rmtree(_scratch, ignore_errors=True)


def stop() -> None:
    """At the session's end: a build still running (the tests that wanted it never came) is undone."""
    if _building is not None and _building.poll() is None:
        os.killpg(_building.pid, signal.SIGKILL)
        _building.wait()
        shutil.rmtree(VENV, ignore_errors=True)
    _finish()

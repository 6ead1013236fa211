"""A grading server: a long-lived process that forks one child per submission and reports how it ended.

The server imports the grader, numpy and pytest once. The child, not the server, loads the hidden
tests, so every sandbox worker is still forked from a process that has never held test code or an
oracle, and each child claims its own sandbox slot.
"""

from __future__ import annotations

import gc
import os
import select
import signal
import sys
import time
import traceback
from pathlib import Path
from typing import NoReturn

from ..processes import kill_group
from ..results import ResultsFile
from ..settings import Settings
from .grading import grade_submission, write_internal_error
from .protocol import READY, SUBMISSION_SECONDS, Reply, Status, Task, encode, read_task

LOG_FILE = "grader-log.txt"


def serve(preload: tuple[str, ...] = ()) -> None:
    """Read tasks (JSON lines) on stdin, answer one JSON line per task on stdout.

    A server is an entry point: the policy the batch passed on in its environment is read here, once."""
    settings = Settings.from_environ()
    proto_fd = os.dup(1)
    proto = os.fdopen(proto_fd, "w", encoding="utf-8", buffering=1)
    os.dup2(2, 1)  # anything else printed must not get mixed into the answers
    sys.stdout = sys.stderr
    _load_once(preload)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the batch decides when servers stop
    proto.write(encode(READY))
    for line in sys.stdin:
        if not line.strip():
            continue
        task = read_task(line)
        if task.get("fault") == "server-dies":
            os._exit(9)
        try:
            status, detail = run_child(task, proto_fd, settings)
        except Exception as exc:  # the fork or the log file failed: report it, keep serving
            status, detail = "crashed", f"the grading process could not be started: {exc}"
            write_internal_error(Path(task["results"]), detail)
        proto.write(encode(Reply(id=task["id"], status=status, detail=detail)))


def _load_once(preload: tuple[str, ...]) -> None:
    """What every grading child needs, loaded once: the grader, numpy and the test helpers (pytest
    too, where the assignment's tests need it). Never an assignment's tests: those are loaded by
    each child, after its sandbox worker forked."""
    import numpy  # noqa: F401

    from .. import api, results  # noqa: F401
    from ..notebook import choice as submission  # noqa: F401
    from ..notebook import intake  # noqa: F401
    from ..sandbox.runtime import start  # noqa: F401
    from ..sandbox.supervisor import session  # noqa: F401
    from ..testing import explain, feedback, proxy, run  # noqa: F401

    # A notebook's plots go nowhere in grading: pyplot imported here must pick the headless backend
    # the worker sets for itself.
    os.environ.setdefault("MPLBACKEND", "Agg")
    for name in preload:
        try:
            __import__(name)
        except ImportError:
            pass
    # Children share what is loaded with the server until they write to it, and a collection (the
    # sandbox runs one in every new worker) would touch, and so copy, every page: 0.1 s a submission.
    gc.collect()
    gc.freeze()


def run_child(task: Task, proto_fd: int, settings: Settings) -> tuple[Status, str]:
    """Fork a child that grades ``task``; wait for it. Returns (status, detail)."""
    result_path = Path(task["results"])
    result_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(result_path.parent, 0o700)
    log_path = result_path.parent / LOG_FILE
    log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        _child(task, result_path, log_fd, proto_fd, settings)
    os.close(log_fd)
    status, detail = wait_child(pid, float(task.get("timeout", SUBMISSION_SECONDS)))
    try:
        if log_path.stat().st_size == 0:
            log_path.unlink()
    except OSError:
        pass
    if status != "graded":
        write_internal_error(result_path, detail)
    return status, detail


def _child(task: Task, result_path: Path, log_fd: int, proto_fd: int, settings: Settings) -> NoReturn:
    """Grade, write, and leave without running the server's clean-up."""
    code = 0
    target = None
    try:
        os.setpgid(0, 0)  # so a stuck child and anything it started can be killed as a group
        os.close(proto_fd)  # a dead server must show as end-of-file at once
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(log_fd, 1)
        os.dup2(log_fd, 2)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        if task.get("fault") == "child-dies":
            os._exit(9)
        target = ResultsFile(result_path)  # before any student code runs: a full disk costs nothing
        solutions = task.get("solutions")
        results = grade_submission(
            Path(task["source"]),
            str(task["assignment"]),
            solutions_root=Path(solutions) if solutions else None,
            settings=settings,
        )
        target.write(results)
    except BaseException:
        code = 70
        try:
            traceback.print_exc()
            if target is not None:
                target.discard()  # the server writes the internal-error result instead
        except BaseException:
            pass
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def wait_child(pid: int, timeout: float) -> tuple[Status, str]:
    """Wait for a grading child; one that takes longer than ``timeout`` is killed with its group."""
    deadline = time.monotonic() + timeout
    pidfd = None
    try:
        pidfd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        pass
    try:
        while True:
            done, raw = os.waitpid(pid, os.WNOHANG)
            if done:
                code = os.waitstatus_to_exitcode(raw)
                if code == 0:
                    return "graded", ""
                if code < 0:
                    return "crashed", f"the grading process died from signal {signal.Signals(-code).name}"
                return "crashed", f"the grading process exited with code {code}"
            left = deadline - time.monotonic()
            if left <= 0:
                kill_group(pid)
                os.waitpid(pid, 0)
                return "timeout", f"grading did not finish within {timeout:g} seconds and was stopped"
            if pidfd is not None:
                select.select([pidfd], [], [], left)
            else:
                time.sleep(min(left, 0.01))
    finally:
        if pidfd is not None:
            os.close(pidfd)

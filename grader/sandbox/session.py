"""The grading process's side of the worker: start it, run cells, call functions, restart it.

The first worker is forked from the grading process before any test code is loaded, so it costs
no new interpreter and holds nothing worth stealing. A worker that crashes or hangs is killed and
replaced by a fresh interpreter (``python -m grader.sandbox.start``), never by a fork of a
process that has since seen tests; the new worker replays what ran before (whole cells that
finished, the statements before the one that stopped a cell that did not). Every request carries
one deadline for sending and receiving, within the submission's budget for all of them.
"""

from __future__ import annotations

import enum
import gc
import json
import math
import os
import re
import signal
import socket
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any

from ..config import HIDDEN_ENV, Limits
from ..errors import GraderError
from . import confine, imports, leftovers, reaper, replies
from .values import EncodeError, Value, decode_value
from .wire import PeerGarbled, PeerTimedOut, PeerTooLarge, WireError, recv_message, send_message

# Extra wall-clock time the worker gets to report its own (soft) time-out before it is killed;
# generous because a loaded machine (a batch on every core) delays the worker's answer.
GRACE_SECONDS = 2.0
# Importing torch: about 3 s of CPU, so 6 s on Gradescope's half CPU, more on a loaded machine.
PRELOAD_SECONDS = 60.0
HEAVY_IMPORT = re.compile(r"\btorch\b")


@dataclass
class CellRun:
    index: int
    status: str  # ok | error | timeout | crashed | stopped (no time or restarts left to run it)
    output: str = ""
    error: dict | None = None
    failed_imports: list[dict] = field(default_factory=list)  # {"module", "message", "line"}
    message: str = ""  # for stopped, and a time-out cut short by the submission's budget: why
    # The line of the top-level statement that stopped an unfinished cell: a replay after a
    # restart runs the statements before it, so what the cell defined so far exists again.
    ran_until: int | None = None
    # The worker died with the cell, so a restart cannot replay it: these names it binds are
    # missing for later cells and tests.
    lost: tuple[str, ...] | None = None


@dataclass
class CallOutcome:
    """What became of one call into student code. ``status`` is one of:

    ok, raised, timeout, crashed, missing, not_callable, unsendable, refused, and stopped (not
    called: the submission's time budget or its restarts are used up, or the function already
    stopped the worker twice; ``message`` says which).
    """

    status: str
    value: Value | None = None
    error: dict | None = None
    output: str = ""
    mutated: list[str] = field(default_factory=list)
    message: str = ""
    data: Any = None  # plain data answering a non-call request (names, model parameters)
    warnings: list[str] = field(default_factory=list)  # "RuntimeWarning: overflow encountered in exp"


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


# Always hidden from student code where a mount namespace is available: the image's layout.
GRADESCOPE_SECRETS = (
    "/autograder/source",
    "/autograder/results",
    "/autograder/submission",
    "/autograder/submission_metadata.json",
)
NON_ROOT_WARNING = (
    "grader: warning: not running as root, so student code runs as your own user and "
    "could read or change your files; file isolation needs root or the container"
)
NO_REAPER_WARNING = (
    "grader: warning: this system refuses a child subreaper, so processes student "
    "code detaches may outlive grading unless it runs in a PID namespace"
)
_warned = False


def hidden_paths(extra=()) -> tuple[str, ...]:
    """What the worker must not see: the given paths, the solutions, Gradescope's directories."""
    from ..config import default_solutions_root

    paths = [str(p) for p in extra]
    paths += [str(default_solutions_root()), *GRADESCOPE_SECRETS]
    paths += [p for p in os.environ.get(HIDDEN_ENV, "").split(os.pathsep) if p]
    return tuple(dict.fromkeys(os.path.abspath(p) for p in paths))


def essential_paths(scratch: str) -> tuple[str, ...]:
    """What the worker cannot run without: the interpreter, the grader's own modules, its scratch."""
    paths = [
        sys.prefix,
        sys.base_prefix,
        sys.exec_prefix,
        os.path.dirname(os.path.dirname(__file__)),
        scratch,
    ]
    return tuple(dict.fromkeys(os.path.realpath(p) for p in paths))


def needed_paths(scratch: str) -> tuple[str, ...]:
    """What the worker should keep: the essential paths and everything on sys.path (packages)."""
    paths = [p for p in sys.path if p and os.path.isdir(p)]
    return tuple(dict.fromkeys([*essential_paths(scratch), *(os.path.realpath(p) for p in paths)]))


class CannotHide(GraderError, ValueError):
    """A path to hide is itself one the worker cannot run without (the interpreter, the grader's
    package): grading would show the worker what it was meant not to see, so the sandbox refuses
    to start."""


class Sandbox:
    def __init__(self, cells: list[tuple[int, str]], limits: Limits, *, hidden=()):
        """``hidden``: paths the grading process names as secret (solutions, tests, results, the
        submission's folder); they are hidden from the worker on top of :func:`hidden_paths`."""
        global _warned
        # (number, source): the number is the cell's position in the notebook, used in messages.
        self.cells = dict(cells)
        self.limits = limits
        self.as_root = os.geteuid() == 0
        self.slot_lock: int | None = None
        self.uid = self.gid = None
        self.subreaper = False
        self.spare = reaper.children_of(os.getpid())  # this process's own children, not the worker's
        self.cleanup_problems: list[CleanupProblem] = []
        if self.as_root:
            slot, self.slot_lock = confine.claim_slot()
            self.uid, self.gid = confine.sandbox_ids(slot)
        else:
            # Whatever the worker's processes orphan comes back to this process, to be killed.
            self.subreaper = reaper.become_subreaper()
            if not _warned:
                _warned = True
                print(NON_ROOT_WARNING, file=sys.stderr, flush=True)
                if not self.subreaper:
                    print(NO_REAPER_WARNING, file=sys.stderr, flush=True)
        try:
            self.scratch = tempfile.mkdtemp(prefix="grader-work-")
            if self.uid is not None:
                os.chown(self.scratch, self.uid, self.gid)
        except BaseException:
            if self.slot_lock is not None:
                os.close(self.slot_lock)
            raise
        # A sys.path entry that is also secret (the folder `python -m` was started in, holding the
        # submission) stays hidden; the interpreter itself cannot be.
        secret = {os.path.realpath(p) for p in hidden_paths(hidden)}
        needed = tuple(p for p in needed_paths(self.scratch) if p not in secret)
        clash = sorted(secret & set(essential_paths(self.scratch)))
        if clash:
            leftovers.remove_tree(self.scratch)
            if self.slot_lock is not None:
                os.close(self.slot_lock)
            raise CannotHide(
                f"{clash[0]} should be hidden from student code but holds the Python "
                "the worker runs; write results and keep submissions elsewhere"
            )
        self.isolation = confine.Isolation(
            uid=self.uid,
            gid=self.gid,
            scratch=self.scratch,
            memory_bytes=limits.memory_mb * 1024 * 1024,
            library_bytes=limits.libraries_mb * 1024 * 1024,
            cpu_seconds=limits.cpu_seconds,
            processes=limits.processes,
            file_bytes=limits.file_size_mb * 1024 * 1024,
            open_files=limits.open_files,
            hidden=hidden_paths(hidden),
            needed=needed,
        )
        self.sock: socket.socket | None = None
        self.pid: int | None = None
        self.popen = None  # subprocess.Popen of a replacement worker
        self.protections: list[str] = []
        self.cell_runs: list[CellRun] = []
        self.restarts = 0
        self.timeouts_by_name: dict[str, int] = {}
        self.crashes_by_name: dict[str, int] = {}
        self.deadline = math.inf  # of the whole submission: set when the first worker starts
        self.stopped = ""  # why no more student code runs (the budget or the restarts are spent)

    # ---- lifecycle --------------------------------------------------------
    def _settings(self) -> dict:
        return {
            "isolation": self.isolation.__dict__,
            "output_chars": self.limits.output_chars,
            "value_bytes": self.limits.value_mb * 1024 * 1024,
        }

    def _fork_worker(self) -> None:
        parent, child = socket.socketpair()
        sys.stdout.flush()
        sys.stderr.flush()
        # Objects that exist now are never collected in the child: its garbage collector would
        # otherwise touch, and so copy, every page it shares with this process.
        already_frozen = gc.get_freeze_count() > 0  # a batch server froze its start-up objects
        gc.freeze()
        pid = os.fork()
        if pid == 0:  # the worker; never returns
            code = 0
            try:
                parent.close()
                from .start import serve_confined

                settings = self._settings()
                _forget_callers(sys._getframe())
                serve_confined(child, settings)
            except BaseException:
                code = 70
                _debug_note()
            finally:
                os._exit(code)
        if not already_frozen:
            gc.unfreeze()  # the grading process keeps collecting as usual
        child.close()
        self.sock, self.pid, self.popen = parent, pid, None

    def _exec_worker(self) -> None:
        parent, child = socket.socketpair()
        # Only what starting the interpreter needs: the grader's environment stays with the grader.
        env = {key: os.environ[key] for key in ("PATH", "PYTHONPATH", "LANG") if key in os.environ}
        env.update(
            {
                "OPENBLAS_NUM_THREADS": "1",
                "OMP_NUM_THREADS": "1",
                "MKL_NUM_THREADS": "1",
                "GRADER_WORKER_SETTINGS": json.dumps(self._settings()),
            }
        )
        import subprocess  # only replacements need it

        # -I and cwd "/": the scratch directory the worker can write to must never be on the new
        # interpreter's sys.path, or a planted numpy.py would run as root before confinement.
        self.popen = subprocess.Popen(
            [sys.executable, "-I", "-m", "grader.sandbox.start", str(child.fileno())],
            pass_fds=[child.fileno()],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd="/",
        )
        child.close()
        self.sock, self.pid = parent, self.popen.pid
        self.restarts += 1

    def _hello(self, deadline: float) -> None:
        header, _ = recv_message(self.sock, deadline=deadline)
        self.protections = list(header.get("protections", []))

    def remaining(self) -> float:
        """Seconds left of the submission's budget for cells, replays and calls together."""
        return self.deadline - time.monotonic()

    def _stop(self, why: str) -> str:
        if not self.stopped:
            if why == "budget":
                self.stopped = (
                    f"the time for running your whole notebook ({self.limits.total_seconds:g} s for "
                    "its cells and all calls to your functions) ran out"
                )
            else:
                self.stopped = (
                    f"the process running your notebook had to be restarted "
                    f"{self.limits.max_restarts} times, so it was not started again"
                )
        return self.stopped

    def start(self) -> list[CellRun]:
        """Start the first worker and run every cell in order."""
        self.deadline = time.monotonic() + self.limits.total_seconds
        if _TESTS_HAVE_RUN or _tests_loaded(self.isolation.hidden):
            # A fork would carry the tests and oracles of an earlier grading in this process
            # (batch grading, validate): a fresh interpreter instead.
            self._exec_worker()
            self.restarts -= 1
        else:
            self._fork_worker()
        try:
            self._hello(min(time.monotonic() + 30, self.deadline))
        except WireError:
            self._kill()
            self.cell_runs = [
                CellRun(n, "crashed", error={"type": "WorkerError", "message": "the worker did not start"})
                for n in self.cells
            ]
            return self.cell_runs
        self._preload()
        for number, source in self.cells.items():
            if not self._ensure_worker():
                if self.stopped:
                    self.cell_runs.append(CellRun(number, "stopped", message=self.stopped))
                else:
                    self.cell_runs.append(
                        CellRun(
                            number,
                            "crashed",
                            error={"type": "WorkerError", "message": "the worker could not be restarted"},
                        )
                    )
                continue
            self.cell_runs.append(self._run_cell(number, source))
        for run in self.cell_runs:
            if run.status in ("timeout", "crashed") and run.ran_until is None:
                outcome = self.request(
                    {"op": "bindings", "source": self.cells[run.index]},
                    [],
                    self.limits.call_seconds,
                    "bindings",
                )
                run.lost = tuple(replies.bound_names(outcome.data))
        return self.cell_runs

    def _ensure_worker(self) -> bool:
        if self.sock is not None and self.remaining() > 0:
            return True
        if self.stopped:
            return False
        if self.remaining() <= 0:
            self._stop("budget")
            return False
        if self.restarts >= self.limits.max_restarts:
            self._stop("restarts")
            return False
        self._exec_worker()
        try:
            self._hello(min(time.monotonic() + 60, self.deadline))
        except WireError:
            self._kill()
            return False
        self._preload()
        if self.sock is None:
            return False
        # Replay what ran before, so the names it defined exist again: whole cells that finished,
        # and the statements before the one that stopped a cell that did not.
        for run in self.cell_runs:
            if run.status == "ok" or run.ran_until is not None:
                self._run_cell(run.index, self.cells[run.index], until_line=run.ran_until)
                if self.sock is None:
                    return False
        return True

    def _preload(self) -> None:
        """Import torch in the worker before any cell of a notebook that mentions it: importing it
        takes seconds on half a CPU, which a cell's or a function's own time limit should not pay."""
        if not any(
            HEAVY_IMPORT.search(source)
            for source in self.cells.values()
            if not source.startswith(imports.ENGINE_HEADER)
        ):
            return
        try:
            self._exchange({"op": "preload", "modules": ["torch"]}, [], PRELOAD_SECONDS)
        except WireError:
            self._timed_out()

    def _exchange(self, header: dict, blobs, timeout: float, max_bytes: int = 64 * 1024 * 1024):
        """One request and its reply, both under the request's deadline (within the budget's):
        a worker that does not take its request in time is as late as one that does not answer."""
        soft = max(min(timeout, self.remaining()), 0.001)
        deadline = time.monotonic() + soft + GRACE_SECONDS
        send_message(self.sock, {**header, "timeout": soft}, blobs, deadline=deadline)
        return recv_message(self.sock, deadline=deadline, max_bytes=max_bytes)

    def _timed_out(self) -> str:
        """Kill a worker that ran out of time; the budget's reason if the budget is what ran out."""
        self._kill()
        return self._stop("budget") if self.remaining() <= 0 else ""

    def _run_cell(self, index: int, source: str, until_line: int | None = None) -> CellRun:
        header = {"op": "cell", "index": index, "source": source}
        if until_line is not None:
            header["until_line"] = until_line
        try:
            reply, _ = self._exchange(header, [], self.limits.cell_seconds)
        except PeerTimedOut:
            return CellRun(index, "timeout", message=self._timed_out())
        except PeerGarbled:
            return CellRun(
                index, "error", error={"type": "WorkerError", "message": "its report could not be read back"}
            )
        except WireError:
            return CellRun(index, "crashed", error=self._death_note())
        status = reply.get("status")
        output = _plain_text(reply.get("output"), self.limits.output_chars + 200)
        failed = _clean_failed_imports(reply.get("imports_failed"))
        ran_until = reply.get("ran_until")
        ran_until = ran_until if type(ran_until) is int and 0 < ran_until < 2**31 else None
        if status == "ok":
            return CellRun(index, "ok", output, failed_imports=failed)
        if status == "timeout":
            return CellRun(index, "timeout", output, failed_imports=failed, ran_until=ran_until)
        return CellRun(index, "error", output, _clean_error(reply.get("error")), failed, ran_until=ran_until)

    def _death_note(self) -> dict:
        """Why the worker went away, in words a student can act on."""
        status = self._kill()
        if status is not None and status < 0:
            sig = -status
            if sig == signal.SIGXCPU:
                return {"type": "CPULimit", "message": "your code used up its CPU time limit"}
            if sig == signal.SIGKILL:
                return {
                    "type": "Killed",
                    "message": "the process was killed for using too much memory or CPU time",
                }
            if sig in (signal.SIGABRT, signal.SIGSEGV, signal.SIGBUS):
                return {
                    "type": "Crashed",
                    "message": (
                        f"the process crashed ({signal.Signals(sig).name}); with large arrays or models this "
                        f"usually means it ran out of memory (the limit is {self.limits.memory_mb} MB)"
                    ),
                }
            return {"type": "Crashed", "message": f"the process died from signal {signal.Signals(sig).name}"}
        return {"type": "Exited", "message": "it exited (exit(), os._exit() or a crash) before finishing"}

    def _await_exit(self, seconds: float) -> None:
        """Let a worker that was asked to leave exit by itself: then it is reaped in order and its
        CPU time is accounted to the grading process (a killed PID-namespace init's is not)."""
        deadline = time.monotonic() + seconds
        while self.pid is not None and time.monotonic() < deadline:
            pid, raw = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                if self.popen is not None:
                    self.popen.returncode = os.waitstatus_to_exitcode(raw)
                self.pid = None
                return
            time.sleep(0.002)

    def _kill(self) -> int | None:
        """Stop the current worker and everything it started; returns its wait status code."""
        status = None
        if self.sock is not None:
            self.sock.close()
            self.sock = None
        if self.pid is not None:
            # The PID namespace's init is the waiter's child: killed by its host pid, it takes the
            # whole namespace with it, even if student code moved it out of the process group.
            for child in _children_of(self.pid):
                try:
                    os.kill(child, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            for target in (
                lambda: os.killpg(self.pid, signal.SIGKILL),
                lambda: os.kill(self.pid, signal.SIGKILL),
            ):
                try:
                    target()
                except (ProcessLookupError, PermissionError):
                    pass
            try:
                _, raw = os.waitpid(self.pid, 0)
                status = os.waitstatus_to_exitcode(raw)
            except ChildProcessError:
                pass
            if self.popen is not None:
                self.popen.returncode = status
            self.pid = None
        return status

    def close(self) -> None:
        """End the worker and every process it started, remove what its uid left behind, release
        the slot, remove the scratch directory. Each step runs whatever became of the others; the
        slot is released only after the steps that need the uid to be this sandbox's alone, and
        before the scratch removal, which depends on what the student left there."""
        step = CleanupStep
        steps = [
            (step.GOODBYE, self._say_goodbye),
            (step.KILL, self._kill),
            (step.DESCENDANTS, self._end_descendants),
        ]
        if self.uid is not None:
            uid = self.uid
            # Whatever escaped the group (a double fork, an init that left it) still has the uid;
            # IPC objects and files in shared places outlive every process.
            steps += [
                (step.PROCESSES, lambda: confine.sweep_user(uid)),
                (step.IPC, lambda: leftovers.remove_ipc_of(uid)),
                (step.FILES, lambda: leftovers.remove_files_of(uid)),
            ]
        steps += [
            (step.SLOT, self._release_slot),
            (step.SCRATCH, lambda: leftovers.remove_tree(self.scratch)),
        ]
        for name, run in steps:
            try:
                run()
            except Exception as exc:
                self.cleanup_problems.append(CleanupProblem(name, f"{type(exc).__name__}: {exc}"[:300]))

    def _say_goodbye(self) -> None:
        if self.sock is not None:
            try:
                send_message(self.sock, {"op": "bye"}, deadline=time.monotonic() + 0.5)
                self._await_exit(0.5)
            except (OSError, WireError):
                pass

    def _end_descendants(self) -> None:
        if not self.subreaper:
            return
        ended = reaper.kill_descendants(self.spare)
        # Later orphans of this process's other children are not this sandbox's to collect.
        self.subreaper = not reaper.become_subreaper(False)
        if not ended:
            raise ProcessLookupError("processes the notebook started could not all be stopped")

    def _release_slot(self) -> None:
        if self.slot_lock is not None:
            lock, self.slot_lock = self.slot_lock, None
            os.close(lock)  # releases the slot for the next grading process

    # ---- requests ---------------------------------------------------------
    def request(self, header: dict, blobs: list[bytes], timeout: float, label: str) -> CallOutcome:
        if not self._ensure_worker():
            if self.stopped:
                return CallOutcome("stopped", message=self.stopped)
            return CallOutcome(
                "crashed", error={"type": "WorkerError", "message": "the worker could not be restarted"}
            )
        value_bytes = self.limits.value_mb * 1024 * 1024
        try:
            reply, reply_blobs = self._exchange(header, blobs, timeout, max_bytes=value_bytes + 1024 * 1024)
        except PeerTimedOut:
            why = self._timed_out()
            return CallOutcome("stopped", message=why) if why else CallOutcome("timeout")
        except PeerTooLarge:
            self._kill()  # the rest of that message is still in the socket: start afresh
            return CallOutcome(
                "unsendable", message=f"an answer larger than the {self.limits.value_mb} MB limit"
            )
        except PeerGarbled as exc:
            return CallOutcome("unsendable", message=f"its answer could not be read back: {exc}")
        except (WireError, OSError):
            self.crashes_by_name[label] = self.crashes_by_name.get(label, 0) + 1
            return CallOutcome("crashed", error=self._death_note())
        return _outcome(reply, reply_blobs, self.limits.output_chars, value_bytes)

    def call(
        self,
        name: str | None,
        args: list,
        kwargs: dict,
        *,
        handle: int | None = None,
        method: str | None = None,
        encoded: tuple[list, dict, list[bytes]] | None = None,
    ) -> CallOutcome:
        label = name or f"handle {handle}.{method}"
        if self.timeouts_by_name.get(label, 0) >= 2:
            return CallOutcome("timeout", message="skipped: this function already timed out twice")
        if self.crashes_by_name.get(label, 0) >= 2:
            # Each crash costs a restart and a replay of the notebook: a third is not worth it.
            return CallOutcome(
                "stopped",
                message="it already stopped the process running your notebook twice, "
                "so it was not called again",
            )
        args_nodes, kwargs_nodes, blobs = encoded
        header = {
            "op": "call",
            "name": name,
            "handle": handle,
            "method": method,
            "args": args_nodes,
            "kwargs": kwargs_nodes,
        }
        outcome = self.request(header, blobs, self.limits.call_seconds, label)
        if outcome.status == "timeout":
            self.timeouts_by_name[label] = self.timeouts_by_name.get(label, 0) + 1
        return outcome

    def names(self) -> dict[str, str]:
        outcome = self.request({"op": "names"}, [], self.limits.call_seconds, "names")
        return replies.names(outcome.data)


def _children_of(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children", encoding="ascii") as handle:
            return [int(n) for n in handle.read().split()]
    except (OSError, ValueError):
        return []


_TESTS_HAVE_RUN = False


def mark_tests_run() -> None:
    """Called when an assignment's tests run in this process: later workers must not be its forks."""
    global _TESTS_HAVE_RUN
    _TESTS_HAVE_RUN = True


def _tests_loaded(hidden: tuple[str, ...]) -> bool:
    """Whether this process has imported an assignment's tests or anything else under a hidden path."""
    roots = tuple(path.rstrip("/") + "/" for path in hidden)
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if not isinstance(path, str):
            continue
        if path.startswith(roots):
            return True
        folder = os.path.dirname(path)
        if os.path.basename(folder) == "tests" and os.path.isfile(
            os.path.join(os.path.dirname(folder), "assignment.toml")
        ):
            return True
    return False


def _forget_callers(frame) -> None:
    """In a freshly forked worker: drop what the grading process's callers hold in their frames.

    The fork is a copy of the whole call stack (the command line's arguments, the Gradescope
    entry's submission metadata with the previous submission's results ...). The worker never
    returns into those frames, so their local variables are set to None and the objects freed
    before student code could reach them through sys._getframe() or gc.get_objects().
    """
    import ctypes
    import gc

    to_fast = getattr(ctypes.pythonapi, "PyFrame_LocalsToFast", None) if sys.version_info < (3, 13) else None
    caller = frame.f_back
    while caller is not None:
        try:
            local_vars = caller.f_locals
            for name in list(local_vars):
                local_vars[name] = None
            if to_fast is not None:
                to_fast(ctypes.py_object(caller), ctypes.c_int(0))
        except Exception:
            pass
        caller = caller.f_back
    del caller, frame
    gc.collect()


def _debug_note() -> None:
    """With GRADER_DEBUG_WORKER=FILE, a worker that fails to start leaves its traceback there."""
    target = os.environ.get("GRADER_DEBUG_WORKER")
    if target:
        import traceback

        with open(target, "a", encoding="utf-8") as handle:
            handle.write(traceback.format_exc())


def _plain_text(value: Any, limit: int) -> str:
    """Text the worker sent; anything else (a number, a nested list) counts as no text."""
    return value[:limit] if isinstance(value, str) else ""


def _clean_error(error: Any) -> dict:
    if not isinstance(error, dict):
        return {"type": "Error", "message": "", "frames": []}
    frames = []
    for frame in error.get("frames", [])[:8] if isinstance(error.get("frames"), list) else []:
        if isinstance(frame, dict):
            frames.append(
                {
                    key: _plain_text(frame.get(key), 300)
                    if key != "line"
                    else (str(frame.get(key)) if type(frame.get(key)) is int else "")
                    for key in ("cell", "line", "function", "code")
                }
            )
    return {
        "type": _plain_text(error.get("type"), 100) or "Error",
        "message": _plain_text(error.get("message"), 1000),
        "frames": frames,
    }


def _clean_failed_imports(raw: Any) -> list[dict]:
    if not isinstance(raw, list):
        return []
    cleaned = []
    for item in raw[:20]:
        if isinstance(item, dict):
            line = item.get("line")
            cleaned.append(
                {
                    "module": _plain_text(item.get("module"), 100),
                    "message": _plain_text(item.get("message"), 300),
                    "line": line if type(line) is int and 0 <= line < 10**7 else None,
                }
            )
    return cleaned


def _outcome(reply: dict, blobs: list, output_chars: int, value_bytes: int) -> CallOutcome:
    try:
        outcome = _decode_outcome(reply, blobs, output_chars, value_bytes)
    except Exception as exc:
        return CallOutcome("unsendable", message=f"its answer could not be read back ({type(exc).__name__})")
    raw = reply.get("warnings")
    if isinstance(raw, list):
        outcome.warnings = [w[:300] for w in raw[:20] if isinstance(w, str)]
    return outcome


def _decode_outcome(reply: dict, blobs: list, output_chars: int, value_bytes: int) -> CallOutcome:
    status = reply.get("status")
    output = _plain_text(reply.get("output"), output_chars + 200)
    raw_mutated = reply.get("mutated")
    mutated = (
        [m[:100] for m in raw_mutated[:20] if isinstance(m, str)] if isinstance(raw_mutated, list) else []
    )
    if status == "ok":
        if "value" not in reply:
            if "data" not in reply:
                return CallOutcome("refused", output=output, message="an answer without a value")
            return CallOutcome("ok", output=output, mutated=mutated, data=reply.get("data"))
        try:
            value = decode_value(reply["value"], blobs, value_bytes)
        except Exception as exc:
            reason = str(exc) if isinstance(exc, EncodeError) else type(exc).__name__
            return CallOutcome(
                "unsendable",
                output=output,
                mutated=mutated,
                message=f"its answer could not be read back: {reason[:200]}",
            )
        return CallOutcome("ok", value=value, output=output, mutated=mutated)
    if status == "raised":
        return CallOutcome("raised", error=_clean_error(reply.get("error")), output=output, mutated=mutated)
    if status in ("timeout", "missing", "not_callable", "unsendable", "refused"):
        message = _plain_text(reply.get("message"), 500) or _plain_text(reply.get("type"), 500)
        return CallOutcome(status, output=output, mutated=mutated, message=message)
    return CallOutcome("refused", message="the worker sent an answer the grader does not understand")

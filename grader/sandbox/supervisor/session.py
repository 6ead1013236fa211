"""The grading process's side of the worker: start it, run cells, call functions, restart it.

The first worker is forked from the grading process (:mod:`.spawn`) unless the caller cannot vouch
that this process holds no assignment's tests. A worker that crashes or hangs is killed and replaced
by a fresh interpreter; the new worker replays what ran before (whole cells that finished, the
statements before the one that stopped a cell that did not). Every request carries one deadline for
sending and receiving, within the submission's budget for all of them.
"""

from __future__ import annotations

import math
import os
import re
import socket
import tempfile
import time
from collections.abc import Iterable, Sequence
from typing import Literal

from ...config import Limits
from ...notebook.self_checks import ENGINE_HEADERS
from ..jail.isolation import Isolation
from ..wire import replies
from ..wire.messages import (
    Message,
    PeerClosed,
    PeerGarbled,
    PeerTimedOut,
    PeerTooLarge,
    WireError,
    recv_message,
    send_message,
)
from ..wire.protocol import (
    CallOutcome,
    CallRequest,
    CellRequest,
    CellRun,
    EncodedArgs,
    ErrorInfo,
    QueryRequest,
    Request,
    WorkerSettings,
    call_outcome,
    cell_run,
    worker_error,
)
from . import leftovers, reaper
from .cleanup import CleanupProblem, CleanupStep, Step, run_steps, uid_steps
from .identity import claim_identity
from .spawn import WorkerProcess, death_note, exec_worker, fork_worker, tests_loaded
from .spec import CannotHide, IsolationSpec, file_view

__all__ = ["CallOutcome", "CannotHide", "CellRun", "CleanupProblem", "CleanupStep", "Sandbox"]

# Extra wall-clock time the worker gets to report its own (soft) time-out before it is killed;
# generous because a loaded machine (a batch on every core) delays the worker's answer.
GRACE_SECONDS = 2.0
# Importing torch: about 3 s of CPU, so 6 s on Gradescope's half CPU, more on a loaded machine.
PRELOAD_SECONDS = 60.0
HEAVY_IMPORT = re.compile(r"\btorch\b")
MB = 1024 * 1024
# Room, beyond what the arrays sent count as, for a call's arguments sent back after it.
AFTER_MARGIN = 64 * 1024


class Sandbox:
    """One notebook's worker, from its first cell to the removal of what it left behind.

    Use it as a context manager: leaving the ``with`` block calls :meth:`close`.
    """

    def __init__(
        self, cells: Iterable[tuple[int, str]], limits: Limits, spec: IsolationSpec, *, fork: bool = False
    ) -> None:
        """``cells``: (number, source), the number being the cell's position in the notebook, used
        in messages. ``fork``: the first worker may be a fork of this process; only a caller that
        knows this process has run no assignment's tests may say so (a fork would carry them)."""
        self.cells = dict(cells)
        self.limits = limits
        self.spec = spec
        self.fork = fork
        self.spare = reaper.children_of(os.getpid())  # this process's own children, not the worker's
        self.cleanup_problems: list[CleanupProblem] = []
        identity = claim_identity(spec.sandbox_user)
        self.uid, self.gid, self.slot_lock = identity.uid, identity.gid, identity.slot_lock
        self.subreaper = identity.subreaper
        self.scratch = self._make_scratch()
        self.isolation = self._isolation()
        self.worker: WorkerProcess | None = None
        self.protections: list[str] = []
        # Every worker so far ran in a PID namespace of its own (see cleanup.uid_steps).
        self.pid_namespaces_only = True
        self.cell_runs: list[CellRun] = []
        self.restarts = 0
        self.timeouts_by_name: dict[str, int] = {}
        self.crashes_by_name: dict[str, int] = {}
        self.deadline = math.inf  # of the whole submission: set when the first worker starts
        self.stopped = ""  # why no more student code runs (the budget or the restarts are spent)

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- set-up -----------------------------------------------------------
    def _make_scratch(self) -> str:
        try:
            scratch = tempfile.mkdtemp(prefix="grader-work-")
            if self.uid is not None and self.gid is not None:
                os.chown(scratch, self.uid, self.gid)
        except BaseException:
            self._release_slot()
            raise
        return scratch

    def _isolation(self) -> Isolation:
        try:
            hidden, needed = file_view(self.spec, self.scratch)
        except CannotHide:
            leftovers.remove_tree(self.scratch)
            self._release_slot()
            raise
        limits = self.limits
        return Isolation(
            uid=self.uid,
            gid=self.gid,
            scratch=self.scratch,
            memory_bytes=limits.memory_mb * MB,
            library_bytes=limits.libraries_mb * MB,
            cpu_seconds=limits.cpu_seconds,
            processes=limits.processes,
            file_bytes=limits.file_size_mb * MB,
            open_files=limits.open_files,
            hidden=hidden,
            needed=needed,
        )

    def _settings(self) -> WorkerSettings:
        return {
            "isolation": vars(self.isolation),
            "output_chars": self.limits.output_chars,
            "value_bytes": self.limits.value_mb * MB,
        }

    # ---- running the notebook ---------------------------------------------
    def remaining(self) -> float:
        """Seconds left of the submission's budget for cells, replays and calls together."""
        return self.deadline - time.monotonic()

    def _stop(self, why: Literal["budget", "restarts"]) -> str:
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
        if self.fork and not tests_loaded(self.isolation.hidden):
            self.worker = fork_worker(self._settings(), self.spec.debug_worker)
        else:
            # A fork would carry the tests and oracles of an earlier grading in this process
            # (batch grading, validate): a fresh interpreter instead.
            self.worker = exec_worker(self._settings())
        try:
            self._hello(min(time.monotonic() + 30, self.deadline))
        except WireError:
            self._kill()
            self.cell_runs = [
                CellRun(n, "crashed", error=worker_error("the worker did not start")) for n in self.cells
            ]
            return self.cell_runs
        self._preload()
        for number, source in self.cells.items():
            self.cell_runs.append(self._run_or_skip(number, source))
        self._name_what_was_lost()
        return self.cell_runs

    def _run_or_skip(self, number: int, source: str) -> CellRun:
        if self._ensure_worker():
            return self._run_cell(number, source)
        if self.stopped:
            return CellRun(number, "stopped", message=self.stopped)
        return CellRun(number, "crashed", error=worker_error("the worker could not be restarted"))

    def _name_what_was_lost(self) -> None:
        """For each cell a restart cannot replay: the names it binds, which later code lacked."""
        for run in self.cell_runs:
            if run.status in ("timeout", "crashed") and run.ran_until is None:
                bindings: QueryRequest = {"op": "bindings", "source": self.cells[run.index]}
                outcome = self.request(bindings, [], "bindings")
                run.lost = tuple(replies.bound_names(outcome.data))

    def _hello(self, deadline: float) -> None:
        header, _ = recv_message(self._sock(), deadline=deadline)
        self.protections = list(header.get("protections", []))
        # Seen by this process in /proc, not taken from the worker's word.
        held = self.worker is not None and self.worker.in_own_pid_namespace()
        self.pid_namespaces_only = self.pid_namespaces_only and held

    def _alive(self) -> bool:
        return self.worker is not None and self.worker.sock is not None

    def _sock(self) -> socket.socket:
        if self.worker is None or self.worker.sock is None:
            raise PeerClosed("no worker is running")
        return self.worker.sock

    def _ensure_worker(self) -> bool:
        if self._alive() and self.remaining() > 0:
            return True
        if self.stopped:
            return False
        if self.remaining() <= 0:
            self._stop("budget")
            return False
        if self.restarts >= self.limits.max_restarts:
            self._stop("restarts")
            return False
        self.worker = exec_worker(self._settings())
        self.restarts += 1
        try:
            self._hello(min(time.monotonic() + 60, self.deadline))
        except WireError:
            self._kill()
            return False
        self._preload()
        return self._alive() and self._replay()

    def _replay(self) -> bool:
        """Run again what ran before, so the names it defined exist again: whole cells that
        finished, and the statements before the one that stopped a cell that did not."""
        for run in self.cell_runs:
            if run.status == "ok" or run.ran_until is not None:
                self._run_cell(run.index, self.cells[run.index], until_line=run.ran_until)
                if not self._alive():
                    return False
        return True

    def _preload(self) -> None:
        """Import torch in the worker before any cell of a notebook that mentions it: importing it
        takes seconds on half a CPU, which a cell's or a function's own time limit should not pay."""
        if not any(
            HEAVY_IMPORT.search(source)
            for source in self.cells.values()
            # The engine cell mentions torch for its checks of models: no sign the notebook uses it.
            if not source.startswith(ENGINE_HEADERS)
        ):
            return
        preload: QueryRequest = {"op": "preload", "modules": ["torch"]}
        try:
            self._exchange(preload, [], PRELOAD_SECONDS)
        except WireError:
            self._timed_out()

    def _exchange(
        self, header: Request, blobs: Sequence[bytes], timeout: float, max_bytes: int = 64 * MB
    ) -> tuple[Message, list[memoryview]]:
        """One request and its reply, both under the request's deadline (within the budget's):
        a worker that does not take its request in time is as late as one that does not answer."""
        soft = max(min(timeout, self.remaining()), 0.001)
        deadline = time.monotonic() + soft + GRACE_SECONDS
        sock = self._sock()
        send_message(sock, {**header, "timeout": soft}, blobs, deadline=deadline)
        return recv_message(sock, deadline=deadline, max_bytes=max_bytes)

    def _timed_out(self) -> str:
        """Kill a worker that ran out of time; the budget's reason if the budget is what ran out."""
        self._kill()
        return self._stop("budget") if self.remaining() <= 0 else ""

    def _run_cell(self, index: int, source: str, until_line: int | None = None) -> CellRun:
        header: CellRequest = {"op": "cell", "index": index, "source": source}
        if until_line is not None:
            header["until_line"] = until_line
        try:
            reply, _ = self._exchange(header, [], self.limits.cell_seconds)
        except PeerTimedOut:
            return CellRun(index, "timeout", message=self._timed_out())
        except PeerGarbled:
            return CellRun(index, "error", error=worker_error("its report could not be read back"))
        except WireError:
            return CellRun(index, "crashed", error=self._death_note())
        return cell_run(index, reply)

    def _death_note(self) -> ErrorInfo:
        return death_note(self._kill(), self.limits.memory_mb)

    def _kill(self) -> int | None:
        """Stop the current worker and everything it started; returns its exit code."""
        return None if self.worker is None else self.worker.kill()

    # ---- ending -----------------------------------------------------------
    def close(self) -> None:
        """End the worker and every process it started, remove what its uid left behind, release
        the slot, remove the scratch directory. Each step runs whatever became of the others; the
        slot is released only after the steps that need the uid to be this sandbox's alone, and
        before the scratch removal, which depends on what the student left there."""
        steps: list[Step] = [
            (CleanupStep.GOODBYE, self._say_goodbye),
            (CleanupStep.KILL, self._kill),
            (CleanupStep.DESCENDANTS, self._end_descendants),
        ]
        if self.uid is not None:
            steps += uid_steps(self.uid, processes=not self.pid_namespaces_only)
        steps += [
            (CleanupStep.SLOT, self._release_slot),
            (CleanupStep.SCRATCH, lambda: leftovers.remove_tree(self.scratch)),
        ]
        self.cleanup_problems += run_steps(steps)

    def _say_goodbye(self) -> None:
        if self.worker is not None:
            self.worker.say_goodbye()

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
    def request(
        self, header: Request, blobs: Sequence[bytes], label: str, after_bytes: int = 0
    ) -> CallOutcome:
        """Send one request under the call time limit; ``label`` counts the worker's crashes.
        ``after_bytes``: what a call's arguments may take when sent back after it."""
        if not self._ensure_worker():
            if self.stopped:
                return CallOutcome("stopped", message=self.stopped)
            return CallOutcome("crashed", error=worker_error("the worker could not be restarted"))
        value_bytes = self.limits.value_mb * MB
        try:
            reply, reply_blobs = self._exchange(
                header, blobs, self.limits.call_seconds, max_bytes=value_bytes + after_bytes + MB
            )
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
        return call_outcome(reply, reply_blobs, self.limits.output_chars, value_bytes, after_bytes)

    def call(
        self, name: str | None, encoded: EncodedArgs, *, handle: int | None = None, method: str | None = None
    ) -> CallOutcome:
        """Call the student's function ``name`` (or ``handle``'s ``method``, or ``handle`` itself)
        with arguments the grading process has already encoded."""
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
        args_nodes, kwargs_nodes, blobs, counted = encoded
        after_bytes = counted + AFTER_MARGIN
        header: CallRequest = {
            "op": "call",
            "name": name,
            "handle": handle,
            "method": method,
            "args": args_nodes,
            "kwargs": kwargs_nodes,
            "after_bytes": after_bytes,
        }
        outcome = self.request(header, blobs, label, after_bytes)
        if outcome.status == "timeout":
            self.timeouts_by_name[label] = self.timeouts_by_name.get(label, 0) + 1
        return outcome

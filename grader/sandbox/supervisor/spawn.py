"""Starting and ending one worker process.

The first worker is forked from the grading process before any test code is loaded, so it costs
no new interpreter and holds nothing worth stealing. A replacement is a fresh interpreter
(``python -m grader.sandbox.runtime.start``), never a fork of a process that has since seen tests.
"""

from __future__ import annotations

import gc
import json
import os
import signal
import socket
import sys
import time
from types import FrameType
from typing import TYPE_CHECKING

from ...processes import kill_group
from ...settings import single_threaded
from ..jail.namespaces import back_to_own_pid_namespace, next_child_starts_a_pid_namespace
from ..wire.messages import WireError, send_message
from ..wire.protocol import ByeRequest, ErrorInfo, WorkerSettings
from .reaper import children_of

if TYPE_CHECKING:
    import subprocess


class WorkerProcess:
    """A running worker: the socket to it and the pid to kill (with a PID namespace the worker
    entered itself, the waiter whose child is the namespace's init)."""

    def __init__(self, sock: socket.socket, pid: int, popen: subprocess.Popen[bytes] | None = None):
        self.sock: socket.socket | None = sock
        self.pid: int | None = pid
        self.popen = popen  # a replacement's, so that its exit status is recorded where it lives

    def _reaped(self, raw: int) -> int:
        status = os.waitstatus_to_exitcode(raw)
        if self.popen is not None:
            self.popen.returncode = status
        self.pid = None
        return status

    def in_own_pid_namespace(self) -> bool:
        """Whether the worker is, itself, the init of a PID namespace other than this process's:
        once it is reaped, the kernel has ended every process of that namespace. (A worker behind
        a waiter, a replacement, is not: killing the waiter does not wait for the namespace.)"""
        if self.pid is None or self.popen is not None:
            return False
        try:
            # /proc must be this PID namespace's own for its numbers to name this process's children.
            if os.readlink("/proc/self") != str(os.getpid()):
                return False
            return os.readlink(f"/proc/{self.pid}/ns/pid") != os.readlink("/proc/self/ns/pid")
        except OSError:  # gone, or not ours to look at: the uid is swept
            return False

    def await_exit(self, seconds: float) -> None:
        """Let a worker that was asked to leave exit by itself: then it is reaped in order and its
        CPU time is accounted to the grading process (a killed PID-namespace init's is not)."""
        deadline = time.monotonic() + seconds
        while self.pid is not None and time.monotonic() < deadline:
            pid, raw = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self._reaped(raw)
                return
            time.sleep(0.002)

    def kill(self) -> int | None:
        """Stop the worker and everything it started; returns its exit code, if it was reaped."""
        status = None
        if self.sock is not None:
            self.sock.close()
            self.sock = None
        if self.pid is not None:
            # The PID namespace's init is the waiter's child: killed by its host pid, it takes the
            # whole namespace with it, even if student code moved it out of the process group.
            for child in children_of(self.pid):
                try:
                    os.kill(child, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            kill_group(self.pid)
            try:
                _, raw = os.waitpid(self.pid, 0)
                status = os.waitstatus_to_exitcode(raw)
            except ChildProcessError:
                pass
            if self.popen is not None:
                self.popen.returncode = status
            self.pid = None
        return status

    def say_goodbye(self) -> None:
        if self.sock is not None:
            try:
                bye: ByeRequest = {"op": "bye"}
                send_message(self.sock, bye, deadline=time.monotonic() + 0.5)
                self.await_exit(0.5)
            except (OSError, WireError):
                pass


def fork_worker(settings: WorkerSettings, debug_worker: str | None) -> WorkerProcess:
    """The first worker: a fork of this process, confined before it serves anything."""
    parent, child = socket.socketpair()
    sys.stdout.flush()
    sys.stderr.flush()
    # Objects that exist now are never collected in the child: its garbage collector would
    # otherwise touch, and so copy, every page it shares with this process.
    already_frozen = gc.get_freeze_count() > 0  # a batch server froze its start-up objects
    gc.freeze()
    pid, own_pid_namespace = -1, None
    # No signal handler may run while this process's children would be born in the worker's
    # namespace: from unshare to setns back (handlers run when the mask is restored).
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, signal.valid_signals())
    try:
        own_pid_namespace = next_child_starts_a_pid_namespace()
        pid = os.fork()
        if pid == 0:  # the worker; never returns
            code = 0
            try:
                signal.pthread_sigmask(signal.SIG_SETMASK, mask)
                parent.close()
                from ..runtime.start import serve_confined

                forget_callers(sys._getframe())
                serve_confined(child, settings)
            except BaseException:
                code = 70
                debug_note(debug_worker)
            finally:
                os._exit(code)
    except BaseException:
        parent.close()  # no worker: neither end of its socket is anyone's
        raise
    finally:
        # Never in the worker, the init of its namespace.
        if pid != 0:
            try:
                back_to_own_pid_namespace(own_pid_namespace)
            except OSError:
                if pid > 0:  # a worker this process could not go on from: not left running
                    kill_group(pid)
                    os.waitpid(pid, 0)
                parent.close()
                raise
            finally:
                signal.pthread_sigmask(signal.SIG_SETMASK, mask)
                if not already_frozen:
                    gc.unfreeze()  # the grading process keeps collecting as usual
                child.close()
    return WorkerProcess(parent, pid)


def exec_worker(settings: WorkerSettings) -> WorkerProcess:
    """A worker in a fresh interpreter, which holds nothing of this process's memory."""
    import subprocess  # only replacements need it

    parent, child = socket.socketpair()
    # Only what starting the interpreter needs: the grader's environment stays with the grader.
    env = {key: os.environ[key] for key in ("PATH", "PYTHONPATH", "LANG") if key in os.environ}
    single_threaded(env, force=True)
    env["GRADER_WORKER_SETTINGS"] = json.dumps(settings)
    # -I and cwd "/": the scratch directory the worker can write to must never be on the new
    # interpreter's sys.path, or a planted numpy.py would run as root before confinement.
    popen = subprocess.Popen(
        [sys.executable, "-I", "-m", "grader.sandbox.runtime.start", str(child.fileno())],
        pass_fds=[child.fileno()],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd="/",
    )
    child.close()
    return WorkerProcess(parent, popen.pid, popen)


def death_note(status: int | None, memory_mb: int) -> ErrorInfo:
    """Why a worker that exited with ``status`` went away, in words a student can act on."""
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
                    f"usually means it ran out of memory (the limit is {memory_mb} MB)"
                ),
            }
        return {"type": "Crashed", "message": f"the process died from signal {signal.Signals(sig).name}"}
    return {"type": "Exited", "message": "it exited (exit(), os._exit() or a crash) before finishing"}


def tests_loaded(hidden: tuple[str, ...]) -> bool:
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


def forget_callers(frame: FrameType) -> None:
    """In a freshly forked worker: drop what the grading process's callers hold in their frames.

    The fork is a copy of the whole call stack (the command line's arguments, the Gradescope
    entry's submission metadata with the previous submission's results ...). The worker never
    returns into those frames, so their local variables are set to None and the objects freed
    before student code could reach them through sys._getframe() or gc.get_objects().
    """
    import ctypes

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


def debug_note(target: str | None) -> None:
    """With a debug-worker file, a worker that fails to start leaves its traceback there."""
    if target:
        import traceback

        with open(target, "a", encoding="utf-8") as handle:
            handle.write(traceback.format_exc())

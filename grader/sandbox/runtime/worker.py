"""The worker: executes a student's notebook cells and calls their functions on request.

Everything here runs inside the sandbox, after :mod:`grader.sandbox.jail.confine` has dropped
privileges and set limits. The worker holds no expected values and no test code; it answers
requests with plain data only. It is written to survive student code that raises anything,
replaces ``sys.stdout`` or catches ``BaseException``: the grading process's deadlines are the
backstop when it does not.
"""

from __future__ import annotations

import builtins
import dis
import functools
import inspect
import linecache
import signal
import socket
import sys
import time
import traceback
import types
import warnings
from collections.abc import Callable
from types import FrameType
from typing import Any, Literal, NamedTuple

import numpy as np

from ..wire.messages import Message, WireError, recv_message, send_message
from ..wire.protocol import Answer, Reply, WorkerError, WorkerFrame
from ..wire.values import EncodeError, Encoder, Node, decode_plain
from . import cells, imports, ipython_shim, models

# A reply and the array data it refers to.

CELL_PREFIX = "<cell "


class SoftTimeout(BaseException):
    """Raised into student code when its time is up; BaseException so ``except Exception`` misses it."""


def _on_alarm(signum: int, frame: FrameType | None) -> None:
    raise SoftTimeout()


class CappedText:
    """A stand-in for sys.stdout that keeps only the first ``limit`` characters."""

    def __init__(self, limit: int):
        self.limit = limit
        self.parts: list[str] = []
        self.size = 0
        self.dropped = 0

    def write(self, text: object) -> int:
        text = str(text)
        room = self.limit - self.size
        if room > 0:
            kept = text[:room]
            self.parts.append(kept)
            self.size += len(kept)
        self.dropped += max(0, len(text) - max(room, 0))
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False

    def getvalue(self) -> str:
        text = "".join(self.parts)
        if self.dropped:
            text += f"\n[... {self.dropped} more characters of output not shown]"
        return text


def _first_line(filename: str) -> str:
    """A cell's first line that is not blank, as the student sees the cell (from the line cache
    the cell's source was put in to run it)."""
    for number in range(1, 30):
        text = linecache.getline(filename, number).strip()
        if text:
            return text[:60]
    return ""


def student_traceback(exc: BaseException) -> WorkerError:
    """The exception with only the student's own frames: the worker's frames teach nothing."""
    frames = [
        WorkerFrame(
            cell=f.filename[len(CELL_PREFIX) : -1],
            line=f.lineno,
            function=f.name,
            code=(f.line or "").strip(),
            first=_first_line(f.filename),
        )
        for f in traceback.extract_tb(exc.__traceback__)
        if f.filename.startswith(CELL_PREFIX)
    ][-8:]
    try:
        message = str(exc)
    except BaseException:  # a hostile __str__
        message = ""
    return {"type": type(exc).__name__, "message": message[:1000], "frames": frames}


class Guarded(NamedTuple):
    """How a guarded piece of student code ended: its result, or the exception (or "timeout")
    that stopped it, and what it printed."""

    result: Any
    error: BaseException | Literal["timeout"] | None
    out: CappedText


class Worker:
    def __init__(self, sock: socket.socket, *, output_chars: int, value_bytes: int):
        self.sock = sock
        self.output_chars = output_chars
        self.value_bytes = value_bytes
        self.namespace: dict[str, Any] = {
            "__name__": "__main__",
            "__builtins__": builtins,
            "get_ipython": ipython_shim.get_ipython,
        }
        ipython_shim.bind(self.namespace)
        self.failed_imports = imports.FailedImports()
        self.namespace[imports.FAILED_IMPORT_HOOK] = self.failed_imports
        self.namespace["display"] = ipython_shim.display
        self.handles: dict[int, Any] = {}
        self.real_stdout, self.real_stderr = sys.stdout, sys.stderr

    # ---- value conversion -------------------------------------------------
    def _handle_for(self, obj: Any) -> Node:
        if callable(obj) and not isinstance(obj, type) and not hasattr(obj, "parameters"):
            return {"k": "other", "type": type(obj).__name__}
        return {"k": "handle", "id": self.keep(obj), "type": type(obj).__qualname__}

    def keep(self, obj: Any) -> int:
        """A new handle for an object that stays here (a model, an instance of the student's class)."""
        handle = len(self.handles) + 1
        self.handles[handle] = obj
        return handle

    def _special(self, node: Node) -> Any:
        kind = node.get("k")
        if kind == "fn":
            source, name = node.get("src"), str(node.get("name"))
            if source == "student":
                return self.namespace[name]
            if source == "numpy":
                return getattr(np, name)
            if source == "builtin":
                return ipython_shim.BUILTIN_FUNCTIONS[name]
        if kind == "ref":
            return self.handles[int(node["id"])]
        raise EncodeError(f"unknown argument kind {kind!r}")

    def encode(self, value: Any) -> tuple[Node, list[bytes]]:
        encoder = Encoder(self._handle_for, max_bytes=self.value_bytes)
        return encoder.encode(value), encoder.blobs

    # ---- running student code --------------------------------------------
    def run_guarded(self, fn: Callable[[], Any], timeout: float) -> Guarded:
        """Run student code (``fn``) with its output captured, its warnings recorded and a soft
        time limit; whatever it raises is returned, never propagated."""
        out = CappedText(self.output_chars)
        sys.stdout = sys.stderr = out
        signal.signal(signal.SIGALRM, _on_alarm)
        # Every warning of this call is recorded, not printed once per line as Python would.
        catcher = warnings.catch_warnings(record=True)
        self.warnings = catcher.__enter__()
        warnings.simplefilter("always")
        signal.setitimer(signal.ITIMER_REAL, max(timeout, 0.001))
        try:
            return Guarded(fn(), None, out)
        except SoftTimeout:
            return Guarded(None, "timeout", out)
        except BaseException as exc:  # SystemExit and KeyboardInterrupt are student errors too
            return Guarded(None, exc, out)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            sys.stdout, sys.stderr = self.real_stdout, self.real_stderr
            try:
                catcher.__exit__(None, None, None)
            except BaseException:
                pass

    def _warning_texts(self) -> list[str]:
        texts = []
        for record in list(getattr(self, "warnings", []))[:20]:
            try:
                texts.append(f"{record.category.__name__}: {record.message}"[:300])
            except BaseException:
                pass
        return sorted(set(texts))

    def run_cell(self, request: Message) -> Answer:
        began = time.monotonic()  # turning magics into Python counts against the cell's time
        index, source = int(request["index"]), str(request["source"])
        filename = f"{CELL_PREFIX}{index}>"
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        try:
            code = cells.compile_cell(source, filename, request.get("until_line"))
        except SyntaxError as exc:
            return {
                "status": "raised",
                "error": {
                    "type": "SyntaxError",
                    "message": str(exc.msg),
                    "frames": [
                        {
                            "cell": str(index),
                            "line": exc.lineno,
                            "function": "<module>",
                            "code": (exc.text or "").strip(),
                            "first": next((t.strip()[:60] for t in source.splitlines() if t.strip()), ""),
                        }
                    ],
                },
            }, []
        except (ValueError, RecursionError, MemoryError) as exc:  # null bytes, absurd nesting
            return {
                "status": "raised",
                "error": {
                    "type": "SyntaxError",
                    "message": f"the cell cannot be read as Python ({type(exc).__name__})",
                    "frames": [],
                },
            }, []
        self.failed_imports.take()
        stopped_by: list[BaseException] = []

        def run() -> None:
            try:
                exec(code, self.namespace)
            except BaseException as exc:
                stopped_by.append(exc)  # where it stopped the cell: what a replay may run again
                raise

        timeout = request.get("timeout", 10) - (time.monotonic() - began)
        _, error, out = self.run_guarded(run, timeout)
        reply = self.reply_for(error, out)
        reply["imports_failed"] = self.failed_imports.take()
        line = cells.stopping_line(stopped_by[0] if stopped_by else None, filename)
        if error is not None and line is not None:
            reply["ran_until"] = line
        return reply, []

    def reply_for(self, error: BaseException | Literal["timeout"] | None, out: CappedText) -> Reply:
        """The reply for guarded student code that ended with ``error`` (None: it returned)."""
        reply: Reply = {"output": out.getvalue(), "warnings": self._warning_texts()}
        if error is None:
            return {"status": "ok", **reply}
        if error == "timeout":
            return {"status": "timeout", **reply}
        return {"status": "raised", "error": student_traceback(error), **reply}

    def call(self, request: Message, blobs: list[memoryview]) -> Answer:
        name = request.get("name")
        if request.get("handle") is not None:
            target = self.handles.get(int(request["handle"]))
            if target is None:
                return {"status": "refused", "message": "unknown handle"}, []
        else:
            if name not in self.namespace:
                return {"status": "missing", "message": f"{name} is not defined"}, []
            target = self.namespace[name]
        if request.get("method"):
            target = getattr(target, str(request["method"]), None)
        if not callable(target):
            return {"status": "not_callable", "type": type(target).__name__}, []
        args = decode_plain({"k": "list", "items": request.get("args", [])}, blobs, self._special)
        kwargs = decode_plain({"k": "dict", "items": request.get("kwargs", {})}, blobs, self._special)
        if request.get("handle") is not None and hasattr(
            self.handles.get(int(request["handle"])), "named_parameters"
        ):
            # A torch model takes tensors: arrays sent to one become float32 tensors.
            args, kwargs = models.as_tensors(args), models.as_tensors(kwargs)
        result, error, out = self.run_guarded(lambda: target(*args, **kwargs), request.get("timeout", 5))
        reply = self.reply_for(error, out)
        # What the arguments hold after the call goes back as plain data, encoded before the answer
        # (encoding an answer may run its code, which must not put an argument back first): the
        # grading process, which kept its own copy, decides whether the call changed them. They get
        # their own allowance, what they were sent as (and a little); the answer gets the value cap.
        encoder = Encoder(self._handle_for, max_bytes=max(0, int(request.get("after_bytes", 0))))
        try:
            after: Node | None = encoder.encode([list(args), dict(kwargs)])
        except (EncodeError, RecursionError, ValueError, TypeError):
            after = None  # grown beyond what was sent: the grading process sees no "after"
            encoder.blobs.clear()
            encoder.bytes = encoder.nodes = 0
        encoder.max_bytes = encoder.bytes + self.value_bytes
        if error is None:
            try:
                reply["value"] = encoder.encode(result)
            except (EncodeError, RecursionError, ValueError, TypeError) as exc:
                return {
                    "status": "unsendable",
                    "message": str(exc),
                    "type": type(result).__name__,
                    "output": reply["output"],
                }, []
        if after is not None:
            reply["after"] = after
        return reply, encoder.blobs

    def signatures(self) -> Answer:
        found = {}
        for key, val in list(self.namespace.items())[:2000]:
            if key.startswith("_") or not inspect.isfunction(val):
                continue
            try:
                found[key] = list(inspect.signature(val).parameters)[:20]
            except (TypeError, ValueError):
                pass
        return {"status": "ok", "data": found}, []

    def preload(self, request: Message) -> Answer:
        """Import the heavy modules a notebook will use, before its cells run (see the session)."""
        for name in request.get("modules", []) if isinstance(request.get("modules"), list) else []:
            if name in imports.PRELOADABLE:
                self.run_guarded(functools.partial(imports.preload, name), request.get("timeout", 60))
        return {"status": "ok", "data": None}, []

    def uses(self, request: Message) -> Answer:
        """The global names a function's code refers to (its own and its nested functions')."""
        target = self.namespace.get(str(request.get("name")))
        code = getattr(target, "__code__", None)
        found: list[str] = []
        pending = [code] if isinstance(code, types.CodeType) else []
        while pending and len(found) < 500:
            current = pending.pop()
            # Globals loaded, not every name in co_names: `F.conv2d` is an attribute, not a call
            # of the student's conv2d.
            found.extend(
                ins.argval
                for ins in dis.get_instructions(current)
                if ins.opname in ("LOAD_GLOBAL", "LOAD_NAME") and ins.argval not in found
            )
            pending.extend(c for c in current.co_consts if isinstance(c, types.CodeType))
        return {"status": "ok", "data": [str(n) for n in found[:500]]}, []

    def serve(self) -> None:
        handlers: dict[str, Callable[[Message, list[memoryview]], Answer]] = {
            "cell": lambda req, blobs: self.run_cell(req),
            "call": self.call,
            "signatures": lambda req, blobs: self.signatures(),
            "uses": lambda req, blobs: self.uses(req),
            "preload": lambda req, blobs: self.preload(req),
            "bindings": lambda req, blobs: (
                {"status": "ok", "data": cells.bound_names(str(req["source"]))},
                [],
            ),
            "model": lambda req, blobs: model_request(self, req, blobs),
        }
        while True:
            try:
                request, blobs = recv_message(self.sock)
            except WireError:
                return
            op: Any = request.get("op")
            if op == "bye":
                return
            try:
                reply, reply_blobs = handlers[op](request, blobs)
            except BaseException as exc:  # never let a bad request or odd value kill the loop
                reply, reply_blobs = (
                    {"status": "refused", "message": f"{type(exc).__name__}: {exc}"[:500]},
                    [],
                )
            try:
                send_message(self.sock, reply, reply_blobs)
            except (OSError, ValueError):
                return


def model_request(worker: Worker, request: Message, blobs: list[memoryview]) -> Answer:
    return models.handle(worker, request, blobs)  # torch itself is imported on the first request


def main(sock: socket.socket, *, output_chars: int, value_bytes: int) -> None:
    imports.install()
    Worker(sock, output_chars=output_chars, value_bytes=value_bytes).serve()

"""The worker protocol: the requests the grading process sends, the replies the worker sends back,
and what the grading process makes of them (cell runs, call outcomes, error reports).

Everything here crosses :mod:`grader.sandbox.wire.messages` as JSON. Statuses are plain strings on the wire
and in results.json; their ``Literal`` types only tell the type checker which strings exist. The
worker may be hostile, so each reader of a reply checks every field's type and bounds every size.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypedDict

from ...text import one_line
from .values import EncodeError, Value, decode_value

# What became of a cell; ``stopped``: not run, no time or restarts were left.
CellStatus = Literal["ok", "error", "timeout", "crashed", "stopped"]
# What became of a call or another request; ``stopped``: not sent (see CallOutcome).
CallStatus = Literal[
    "ok", "raised", "timeout", "crashed", "missing", "not_callable", "unsendable", "refused", "stopped"
]
# The statuses a worker may itself report for a call (the others are the grading process's verdicts).
WORKER_STATUSES = ("timeout", "missing", "not_callable", "unsendable", "refused")


# ---- requests: the grading process to the worker -----------------------------------------------
class CellRequest(TypedDict, total=False):
    op: Literal["cell"]
    index: int
    source: str
    until_line: int  # replay only the top-level statements that end before this line
    timeout: float


class CallRequest(TypedDict, total=False):
    op: Literal["call"]
    name: str | None
    handle: int | None
    method: str | None
    args: list[dict[str, Any]]
    kwargs: dict[str, dict[str, Any]]
    # What the arguments may take when sent back after the call: what was sent, and a little.
    # Unchanged arguments always fit; ones that grew do not, which itself shows they changed.
    after_bytes: int
    timeout: float


class QueryRequest(TypedDict, total=False):
    """A question answered with plain data: names, signatures, uses, bindings, preload."""

    op: Literal["signatures", "uses", "bindings", "preload"]
    name: str  # uses: the function
    source: str  # bindings: the cell
    modules: list[str]  # preload
    timeout: float


class ModelRequest(TypedDict, total=False):
    op: Literal["model"]
    action: Literal["build", "params", "layers", "load", "forward"]
    handle: int
    layers: list[Any]
    names: list[str]
    state: dict[str, Any]
    input: dict[str, Any]
    timeout: float


class ByeRequest(TypedDict):
    op: Literal["bye"]


Request = CellRequest | CallRequest | QueryRequest | ModelRequest | ByeRequest
# The arguments of a call as the grading process encoded them: argument nodes, keyword nodes, blobs.
# Arguments encoded by the grading process: the nodes of args and kwargs, their arrays' bytes, and
# what those arrays count as, 8 bytes per element, as every Encoder counts them (the allowance for the
# arguments sent back after the call).
EncodedArgs = tuple[list[dict[str, Any]], dict[str, dict[str, Any]], list[bytes], int]


class WorkerSettings(TypedDict):
    """What a worker is told at its start (through its environment when it is a fresh interpreter)."""

    isolation: dict[str, Any]  # the fields of confine.Isolation
    output_chars: int
    value_bytes: int


# ---- replies: the worker to the grading process ------------------------------------------------
class WorkerFrame(TypedDict):
    cell: str
    line: int | None
    function: str
    code: str
    first: str  # the cell's first line, as a student finds the cell


class WorkerError(TypedDict):
    type: str
    message: str
    frames: list[WorkerFrame]


class Reply(TypedDict, total=False):
    """A worker's answer; which fields it has depends on the request and its status."""

    status: str
    output: str
    warnings: list[str]
    error: WorkerError
    value: dict[str, Any]
    after: dict[str, Any]  # the call's arguments after it, as [args, kwargs]
    data: Any
    message: str
    type: str
    imports_failed: list[FailedImport]
    ran_until: int


# A worker's reply and the array bytes that go with it.
Answer = tuple[Reply, list[bytes]]


# ---- what the grading process keeps ------------------------------------------------------------
class Frame(TypedDict):
    """One of the student's own frames, as checked text (``line`` is "" when unknown)."""

    cell: str
    line: str
    function: str
    code: str
    first: str


class _ErrorInfo(TypedDict):
    type: str
    message: str


class ErrorInfo(_ErrorInfo, total=False):
    """What went wrong, for feedback: an exception's type, message and the student's frames, or
    the grading process's own words for a worker that died (``type`` WorkerError, Killed ...)."""

    frames: list[Frame]


class FailedImport(TypedDict):
    module: str
    message: str
    line: int | None


@dataclass
class CellRun:
    index: int
    status: CellStatus
    error: ErrorInfo | None = None
    failed_imports: list[FailedImport] = field(default_factory=list)
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

    status: CallStatus
    value: Value | None = None
    error: ErrorInfo | None = None
    output: str = ""
    mutated: list[str] = field(default_factory=list)  # decided by the grading process, from ``after``
    message: str = ""
    data: Any = None  # plain data answering a non-call request (names, model parameters)
    after: Value | None = None  # the call's arguments as the worker says they are after it
    warnings: list[str] = field(default_factory=list)  # "RuntimeWarning: overflow encountered in exp"


def worker_error(message: str) -> ErrorInfo:
    """The grading process's own report of a worker that could not do what was asked."""
    return {"type": "WorkerError", "message": message}


# ---- reading replies ---------------------------------------------------------------------------
def plain_text(value: Any, limit: int) -> str:
    """Text the worker sent; anything else (a number, a nested list) counts as no text."""
    return value[:limit] if isinstance(value, str) else ""


def _frame(raw: dict[str, Any]) -> Frame:
    line = raw.get("line")
    return {
        "cell": plain_text(raw.get("cell"), 300),
        "line": str(line) if type(line) is int else "",
        "function": plain_text(raw.get("function"), 300),
        "code": plain_text(raw.get("code"), 300),
        "first": one_line(plain_text(raw.get("first"), 60)),
    }


def clean_error(error: Any) -> ErrorInfo:
    if not isinstance(error, dict):
        return {"type": "Error", "message": "", "frames": []}
    raw_frames = error.get("frames")
    frames = (
        [_frame(f) for f in raw_frames[:8] if isinstance(f, dict)] if isinstance(raw_frames, list) else []
    )
    return {
        "type": plain_text(error.get("type"), 100) or "Error",
        "message": plain_text(error.get("message"), 1000),
        "frames": frames,
    }


def clean_failed_imports(raw: Any) -> list[FailedImport]:
    if not isinstance(raw, list):
        return []
    cleaned: list[FailedImport] = []
    for item in raw[:20]:
        if isinstance(item, dict):
            line = item.get("line")
            cleaned.append(
                {
                    "module": plain_text(item.get("module"), 100),
                    "message": plain_text(item.get("message"), 300),
                    "line": line if type(line) is int and 0 <= line < 10**7 else None,
                }
            )
    return cleaned


def cell_run(index: int, reply: dict[str, Any]) -> CellRun:
    """The run of cell ``index`` as its worker reported it."""
    failed = clean_failed_imports(reply.get("imports_failed"))
    ran_until = reply.get("ran_until")
    ran_until = ran_until if type(ran_until) is int and 0 < ran_until < 2**31 else None
    status = reply.get("status")
    if status == "ok":
        return CellRun(index, "ok", failed_imports=failed)
    if status == "timeout":
        return CellRun(index, "timeout", failed_imports=failed, ran_until=ran_until)
    return CellRun(index, "error", clean_error(reply.get("error")), failed, ran_until=ran_until)


def _after(reply: dict[str, Any], blobs: Sequence[memoryview], after_bytes: int) -> Value | None:
    """The arguments as the worker sent them back after a call; None when absent or unreadable."""
    if "after" not in reply:
        return None
    try:
        return decode_value(reply["after"], blobs, after_bytes)
    except Exception:  # unreadable: no verdict on changed inputs can be taken from it
        return None


def call_outcome(
    reply: dict[str, Any],
    blobs: Sequence[memoryview],
    output_chars: int,
    value_bytes: int,
    after_bytes: int = 0,
) -> CallOutcome:
    """What a call or question came to, as its worker reported it; never raises."""
    try:
        outcome = _decode_outcome(reply, blobs, output_chars, value_bytes, after_bytes)
    except Exception as exc:
        return CallOutcome("unsendable", message=f"its answer could not be read back ({type(exc).__name__})")
    raw = reply.get("warnings")
    if isinstance(raw, list):
        outcome.warnings = [w[:300] for w in raw[:20] if isinstance(w, str)]
    return outcome


def _decode_outcome(
    reply: dict[str, Any], blobs: Sequence[memoryview], output_chars: int, value_bytes: int, after_bytes: int
) -> CallOutcome:
    status = reply.get("status")
    output = plain_text(reply.get("output"), output_chars + 200)
    # The worker's own word on changed inputs is never taken: the grading process compares.
    mutated: list[str] = []
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
        return CallOutcome("ok", value=value, output=output, after=_after(reply, blobs, after_bytes))
    if status == "raised":
        return CallOutcome(
            "raised",
            error=clean_error(reply.get("error")),
            output=output,
            after=_after(reply, blobs, after_bytes),
        )
    if status in WORKER_STATUSES:
        message = plain_text(reply.get("message"), 500) or plain_text(reply.get("type"), 500)
        return CallOutcome(status, output=output, mutated=mutated, message=message)
    return CallOutcome("refused", message="the worker sent an answer the grader does not understand")

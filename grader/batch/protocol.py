"""What the batch and its grading servers say to each other: one JSON object a line.

The batch writes a :class:`Task` to a server's stdin; the server answers on its stdout, first
``{"ready": true}`` once it has loaded what every grading child needs, then one :class:`Reply` per
task.
"""

from __future__ import annotations

import json
from typing import Literal, TypedDict

# A submission that has not finished after this long is stopped: more than any honest notebook
# needs with the per-cell and per-call limits, and more than Gradescope's default 10 minutes.
SUBMISSION_SECONDS = 1200.0

Status = Literal["graded", "crashed", "timeout"]
# Tests make a grading process die on purpose, to check that the batch recovers: "child-dies" in
# the forked child before it grades, "server-dies" in the server before it forks.
Fault = Literal["child-dies", "server-dies"]
READY = {"ready": True}


class _TaskFields(TypedDict):
    id: str
    source: str  # the notebook, or the submission's folder
    results: str  # where its results.json goes
    assignment: str  # resolved once by the batch's entry
    solutions: str | None
    timeout: float  # seconds the child may take


class Task(_TaskFields, total=False):
    fault: Fault


class Reply(TypedDict):
    id: str
    status: Status
    detail: str  # why, for an internal error; "" when graded


def encode(message: Task | Reply | dict[str, bool]) -> str:
    return json.dumps(message) + "\n"


def read_task(line: str) -> Task:
    task: Task = json.loads(line)
    return task


def read_reply(line: str) -> Reply | None:
    """The reply on ``line``; None for the server's "ready"."""
    data = json.loads(line)
    if data.get("ready"):
        return None
    return Reply(
        id=str(data.get("id", "")), status=data.get("status", "crashed"), detail=data.get("detail", "")
    )

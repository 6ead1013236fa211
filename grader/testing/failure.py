"""Why a test failed, as data: a :class:`GradingFailure` carries a :class:`FailureKind` and the
details that go with it, so that code deciding what to do next never reads the student's message.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any

from ..grading.grid import Grid
from ..sandbox.supervisor.session import CallOutcome
from .explain import call_failure, unfinished_function


class FailureKind(str, enum.Enum):
    """What became of the check that failed."""

    WRONG_ANSWER = "wrong_answer"  # the call returned, and a check on its answer failed
    NOT_RAISED = "not_raised"  # to_raise: the call returned instead of raising
    WRONG_EXCEPTION = "wrong_exception"  # to_raise: it raised another exception
    WRONG_MESSAGE = "wrong_message"  # to_raise: the right exception, a message without ``match``
    RAISED = "raised"  # the student's code raised
    NOT_IMPLEMENTED = "not_implemented"  # it still raises NotImplementedError (or a helper does)
    TIMEOUT = "timeout"
    CRASHED = "crashed"  # the worker died during the call
    MISSING = "missing"  # the notebook defines no such name
    NOT_CALLABLE = "not_callable"
    STOPPED = "stopped"  # not called: the submission's time or restarts are used up
    UNSENDABLE = "unsendable"  # the answer is something the grader cannot examine
    REFUSED = "refused"  # the worker's reply could not be used
    UNREADABLE = "unreadable"  # a model's parameters or layers could not be read back
    UNAVAILABLE = "unavailable"  # the notebook could not be run at all
    FAILED = "failed"  # the test itself said so: fail(message)


# Statuses of a call that produced no value, as kinds; "raised" is told apart by its exception.
_BY_STATUS = {
    "timeout": FailureKind.TIMEOUT,
    "crashed": FailureKind.CRASHED,
    "missing": FailureKind.MISSING,
    "not_callable": FailureKind.NOT_CALLABLE,
    "stopped": FailureKind.STOPPED,
    "unsendable": FailureKind.UNSENDABLE,
    "refused": FailureKind.REFUSED,
}


class GradingFailure(AssertionError):
    """A test failed for a reason the student can act on; the message is shown as is.

    ``kind`` says what happened. The details, where they apply: ``function``, the student's function
    (or model call) concerned; ``exception``, the name of the exception the student's code raised;
    ``unfinished``, the function that still raises NotImplementedError (the one called, or a helper
    of the student's it calls); ``mistakes``, the likely mistakes the message names; ``outcome``,
    the call's raw outcome; ``grid``, a wrong 2-D answer beside the right one, for Gradescope's table;
    ``noted``, whether a note of the test's (:mod:`grader.testing.explaining`) already follows the message.
    """

    def __init__(
        self,
        message: str,
        kind: FailureKind = FailureKind.FAILED,
        *,
        function: str | None = None,
        exception: str | None = None,
        unfinished: str | None = None,
        mistakes: tuple[str, ...] = (),
        outcome: CallOutcome | None = None,
        grid: Grid | None = None,
    ):
        super().__init__(message)
        self.grid = grid
        self.kind = kind
        self.function = function
        self.exception = exception
        self.unfinished = unfinished
        self.mistakes = mistakes
        self.outcome = outcome
        self.noted = False


def call_kind(outcome: CallOutcome) -> FailureKind:
    if outcome.status == "raised":
        error: Mapping[str, object] = outcome.error or {}
        return (
            FailureKind.NOT_IMPLEMENTED if error.get("type") == "NotImplementedError" else FailureKind.RAISED
        )
    # A status the sandbox adds later is still a call that produced nothing usable.
    return _BY_STATUS.get(outcome.status, FailureKind.REFUSED)


def failed_call(
    label: str, args: tuple[Any, ...], kwargs: Mapping[str, Any], outcome: CallOutcome, params: list[str]
) -> GradingFailure:
    """The failure of a call that produced no value: why, in words and as data."""
    kind = call_kind(outcome)
    name = label.split("(")[0]
    error: Mapping[str, object] = outcome.error or {}
    raised = kind in (FailureKind.RAISED, FailureKind.NOT_IMPLEMENTED)
    return GradingFailure(
        call_failure(label, args, kwargs, outcome, params),
        kind,
        function=name,
        exception=str(error.get("type", "")) if raised else None,
        unfinished=unfinished_function(name, error) if kind is FailureKind.NOT_IMPLEMENTED else None,
        outcome=outcome,
    )

"""``expect_call``: a call that should raise, and the check that it did (``.to_raise``)."""

from __future__ import annotations

import builtins
import re
from collections.abc import Mapping
from typing import Any, NoReturn

from . import explain
from .failure import FailureKind, GradingFailure, failed_call
from .feedback import Invocation
from .proxy import RemoteFunction


class Call(Invocation):
    """A call whose answer is not needed up front, for checks a failing call can pass (``to_raise``)."""

    def to_raise(self, *exceptions: type[BaseException] | str, match: str | None = None) -> str:
        """The call raised one of ``exceptions`` (classes or names; a built-in's subclasses count),
        with a message that contains the regular expression ``match`` if given; returns the message."""
        if not exceptions:
            raise TypeError("to_raise() needs at least one exception type, e.g. to_raise(ValueError)")
        names = [e if isinstance(e, str) else e.__name__ for e in exceptions]
        wanted = " or ".join(names)
        name = self.fn.name
        error: Mapping[str, object] = self.outcome.error or {}
        context = explain.call_text(name, self.args, self.kwargs, self.params)
        if self.outcome.status == "ok" and self.outcome.value is not None:
            self._fail(
                f"{name} should raise {wanted} here, but it returned a value.\n{context}\n"
                f"got: {explain.show_value(self.outcome.value)}",
                FailureKind.NOT_RAISED,
            )
        if self.outcome.status != "raised" or error.get("type") == "NotImplementedError":
            raise failed_call(name, self.args, self.kwargs, self.outcome, self.params)
        raised = str(error.get("type", ""))
        message = str(error.get("message", ""))
        if not any(_is_kind(raised, e) for e in exceptions):
            self._fail(
                f"{name} should raise {wanted} here, but it raised {explain.error_text(error)}\n{context}",
                FailureKind.WRONG_EXCEPTION,
                raised,
            )
        if match is not None and not re.search(match, message):
            self._fail(
                f"{name} raised {raised} as it should, but its message {message!r} "
                f"does not say what went wrong (expected it to mention {match!r}).\n{context}",
                FailureKind.WRONG_MESSAGE,
                raised,
            )
        return message

    def _fail(self, message: str, kind: FailureKind, raised: str | None = None) -> NoReturn:
        raise GradingFailure(message, kind, function=self.fn.name, exception=raised, outcome=self.outcome)


def _is_kind(raised: str, expected: type[BaseException] | str) -> bool:
    """Only the name of a student's exception crosses over: built-ins are matched by class, so that
    to_raise(ArithmeticError) admits ZeroDivisionError; the student's own classes by name."""
    name = expected if isinstance(expected, str) else expected.__name__
    if raised == name:
        return True
    builtin = getattr(builtins, raised, None)
    return (
        not isinstance(expected, str)
        and isinstance(builtin, type)
        and issubclass(builtin, BaseException)
        and issubclass(builtin, expected)
    )


def expect_call(fn: RemoteFunction, *args: Any, **kwargs: Any) -> Call:
    """Call ``fn`` in the worker now, for a check that the call fails: ``.to_raise(ValueError)``.

    ``expect`` fails a test as soon as the call raises; this one does not.
    """
    if not isinstance(fn, RemoteFunction):
        raise TypeError("expect_call() takes a student function, e.g. expect_call(student.frames, x, 0)")
    return Call(fn, args, kwargs)

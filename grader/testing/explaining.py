"""Words a test adds to the failures of the calls it checks::

    with on_raise(batch_note):                      # a call made inside that raises
        call = expect(student.conv2d_layer, x, w)
    with on_raise((("shapes cannot be multiplied",), FIT_NOTE)):  # an error holding one of these words
        call = expect(model.forward, x)
    with on_failure(BATCH_HINT):                    # a failure that names no likely mistake
        expect(student.forward, x, layers).to_equal(want)

A block declares notes for the calls *made* inside it: each ``expect`` takes the notes active
when it is called (:func:`active`) and adds them to its own failures, those of the call and of the
checks on its answer, wherever those checks run. The notebook's self-checks and the student kit,
which replay the calls a visible test records, take the same notes at the same moment, so every
engine adds the same words.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Concatenate, ParamSpec, Protocol, TypeVar

from .failure import FailureKind, GradingFailure

# How much of an error's message is searched for a note's words: as much as the worker sends back.
ERROR_CHARS = 1000


@dataclass(frozen=True)
class RaiseNote:
    """``note`` follows a call that raised an error whose text holds one of ``words`` (any, if none)."""

    words: tuple[str, ...]
    note: str

    def applies(self, error: str) -> bool:
        return not self.words or any(word in error for word in self.words)


@dataclass(frozen=True)
class Notes:
    """The notes active for a call: raise notes, innermost first, and the innermost hint."""

    raised: tuple[RaiseNote, ...] = ()
    hint: str = ""


_active: list[Notes] = []


def active() -> Notes:
    """The notes of every ``on_raise`` and ``on_failure`` block the current call is made in."""
    raised = tuple(note for notes in reversed(_active) for note in notes.raised)
    hint = next((notes.hint for notes in reversed(_active) if notes.hint), "")
    return Notes(raised, hint)


def error_text(failure: GradingFailure) -> str | None:
    """``"Type: message"`` of the student's error, for a call that raised; None for any other failure."""
    if failure.kind is not FailureKind.RAISED or failure.outcome is None:
        return None
    error: Mapping[str, object] = failure.outcome.error or {}
    return f"{error.get('type', '')}: {str(error.get('message', ''))[:ERROR_CHARS]}"


def _with_note(failure: GradingFailure, note: str) -> GradingFailure:
    noted = GradingFailure(
        f"{failure}\n{note}",
        failure.kind,
        function=failure.function,
        exception=failure.exception,
        unfinished=failure.unfinished,
        mistakes=failure.mistakes,
        outcome=failure.outcome,
        grid=failure.grid,
    )
    noted.noted = True
    return noted


def noted(failure: GradingFailure, notes: Notes) -> GradingFailure:
    """``failure`` of a call made under ``notes``, with the note it gets: the first raise note
    whose words its error holds; else, for a wrong answer or a raise whose message names no likely
    mistake, the hint; else none (a function not implemented or not defined, a time-out)."""
    if failure.noted or failure.function is None:
        return failure
    error = error_text(failure)
    note = next((n.note for n in notes.raised if error is not None and n.applies(error)), None)
    if note is not None:
        return _with_note(failure, note)
    if notes.hint and not failure.mistakes and failure.kind in (FailureKind.WRONG_ANSWER, FailureKind.RAISED):
        return _with_note(failure, notes.hint)
    return failure


@contextmanager
def _declared(notes: Notes) -> Iterator[None]:
    _active.append(notes)
    try:
        yield
    finally:
        # By identity: a generator suspended in a block may close after blocks opened since.
        index = next((i for i in range(len(_active) - 1, -1, -1) if _active[i] is notes), None)
        if index is not None:
            del _active[index]


def on_raise(*notes: str | tuple[Sequence[str], str]) -> AbstractContextManager[None]:
    """A call made inside that raises is followed by the first note that applies: a plain text
    applies to any error, ``(words, text)`` to an error whose type or message holds one of the words."""
    declared = tuple(
        RaiseNote((), note) if isinstance(note, str) else RaiseNote(tuple(note[0]), note[1]) for note in notes
    )
    return _declared(Notes(raised=declared))


def on_failure(hint: str) -> AbstractContextManager[None]:
    """A call made inside that gives a wrong answer or raises ends with ``hint``, unless its message
    names a likely mistake or a raise note explains it. Other failures (a function not implemented
    or not defined, a time-out) and the test's own ``fail(...)`` are left as they are."""
    return _declared(Notes(hint=hint))


class _Noted(Protocol):
    notes: Notes


S = TypeVar("S", bound=_Noted)
P = ParamSpec("P")
R = TypeVar("R")


def with_notes(check: Callable[Concatenate[S, P], R]) -> Callable[Concatenate[S, P], R]:
    """A check of an expectation (which holds its call's ``notes``) whose failure gets them."""

    def checked(self: S, /, *args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return check(self, *args, **kwargs)
        except GradingFailure as caught:
            caught.__context__ = None  # what it replaced (to_equal's overflow words) is done with
            failure = noted(caught, self.notes)
        # Raised out of the except block and no longer held by this frame: a failure chained to the
        # one it replaces, or held by the frame its traceback holds, would keep the answers in its
        # frames alive until the cyclic collector ran.
        try:
            raise failure
        finally:
            del failure

    checked.__name__, checked.__qualname__, checked.__doc__ = (
        check.__name__,
        check.__qualname__,
        check.__doc__,
    )
    return checked

"""Words a test adds to the failures of the calls it checks::

    with on_raise(batch_note):                      # a call inside that raised
        call = expect(student.conv2d_layer, x, w)
    with on_raise((("shapes cannot be multiplied",), FIT_NOTE)):  # an error holding one of these words
        call = expect(model.forward, x)
    with on_failure(BATCH_HINT):                    # a failure that names no likely mistake
        expect(student.forward, x, layers).to_equal(want)

They are declared around the calls rather than caught after them so that the notebook's
self-checks and the student kit, which replay the calls a visible test records, add the same words:
the recorder reads the notes active when a call is made (:func:`active`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

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


@contextmanager
def _declared(notes: Notes) -> Iterator[None]:
    _active.append(notes)
    try:
        yield
    finally:
        _active.pop()


@contextmanager
def on_raise(*notes: str | tuple[Sequence[str], str]) -> Iterator[None]:
    """A call checked inside that raises is followed by the first note that applies: a plain text
    applies to any error, ``(words, text)`` to an error whose type or message holds one of the words."""
    declared = tuple(
        RaiseNote((), note) if isinstance(note, str) else RaiseNote(tuple(note[0]), note[1]) for note in notes
    )
    with _declared(Notes(raised=declared)):
        try:
            yield
        except GradingFailure as failure:
            error = error_text(failure)
            note = next((n.note for n in declared if error is not None and n.applies(error)), None)
            if note is None or failure.noted:
                raise
            raise _with_note(failure, note) from None


@contextmanager
def on_failure(hint: str) -> Iterator[None]:
    """A call checked inside that gave a wrong answer or raised ends with ``hint``, unless its
    message names a likely mistake or a raise note explains it. Other failures (a function not
    implemented or not defined, a time-out) and the test's own ``fail(...)`` are left as they are."""
    with _declared(Notes(hint=hint)):
        try:
            yield
        except GradingFailure as failure:
            error = error_text(failure)
            if (
                not hint
                or failure.noted
                or failure.mistakes
                or failure.kind not in (FailureKind.WRONG_ANSWER, FailureKind.RAISED)
                # An on_raise block around this one adds its note instead, whichever is nested in which.
                or (error is not None and any(note.applies(error) for note in active().raised))
            ):
                raise
            raise _with_note(failure, hint) from None

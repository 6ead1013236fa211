"""What grading has to say, carried as data until the end and rendered once.

Every step of the pipeline may have something to tell the student (which file was graded, a late
penalty, a cell that raised) or course staff (an unreadable metadata file). Steps return notes
with their results instead of editing ``results.output``, so the order and the layout of the text
are decided in one place: :meth:`Graded.rendered` for the student, the Gradescope entry for staff.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field

from ..results import GradingResults


class Audience(enum.Enum):
    STUDENT = "student"  # results.json's output, which the student reads
    INSTRUCTOR = "instructor"  # stdout and extra_data, which only course staff see


@dataclass(frozen=True)
class Note:
    text: str
    audience: Audience = Audience.STUDENT
    # Adjacent notes of one named paragraph are lines of it; any other note is a paragraph of its own.
    paragraph: str | None = None


REPORT = "report"  # the paragraph of grading's own report: the graded file, cell problems, tests
STAFF_NOTE_CHARS = 4000  # of each note for course staff kept in results.json's extra_data


def student(text: str, paragraph: str | None = None) -> Note:
    return Note(text, Audience.STUDENT, paragraph)


def instructor(text: str) -> Note:
    return Note(text, Audience.INSTRUCTOR)


def render(notes: Iterable[Note]) -> str:
    """The student's notes as one text: a newline within a paragraph, a blank line between them."""
    text, previous = "", None
    for note in notes:
        if note.audience is not Audience.STUDENT or not note.text:
            continue
        if text:
            text += "\n" if note.paragraph is not None and note.paragraph == previous else "\n\n"
        text += note.text
        previous = note.paragraph
    return text


def for_instructor(notes: Iterable[Note]) -> list[str]:
    return [note.text for note in notes if note.audience is Audience.INSTRUCTOR and note.text]


@dataclass
class Graded:
    """Results whose output is still to be written, and the notes it will be written from."""

    results: GradingResults
    notes: list[Note] = field(default_factory=list)

    def rendered(self) -> GradingResults:
        """The results with the student's notes as their output, and the staff's in extra_data
        (``instructor_notes``: the one way they travel, for an edge to show them)."""
        self.results.output = render(self.notes)
        staff = for_instructor(self.notes)
        if staff:
            self.results.extra_data["instructor_notes"] = [note[:STAFF_NOTE_CHARS] for note in staff]
        return self.results

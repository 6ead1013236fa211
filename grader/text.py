"""Student-derived text made unable to lie: what it says is all a reader sees.

Terminal escapes (ESC, CSI and OSC sequences: colours, cursor moves, window titles, the clipboard),
other C0 and C1 controls, carriage returns and bidirectional overrides could rewrite or reorder
what a terminal, an editor or a browser shows next to them (a fake PASS line, a fake total). Each
such character becomes U+FFFD; newlines and tabs stay, since feedback is multi-line text.
"""

from __future__ import annotations

import re

REPLACEMENT = "\ufffd"
_UNSAFE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f"  # C0 except tab and newline, DEL, C1 (CSI is \x9b)
    "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"  # bidi marks, embeddings, overrides, isolates
    "\u2028\u2029]"  # line and paragraph separators: line breaks some viewers honour
)


def plain(text: str) -> str:
    """``text`` with every control, escape and bidi character replaced by U+FFFD."""
    return _UNSAFE.sub(REPLACEMENT, text)


def one_line(text: str) -> str:
    """``text`` made plain and kept to one line: a name a student chose (a file, a module) can never
    start a line of its own in the grader's messages."""
    return plain(text).replace("\n", " ").replace("\t", " ")


QUOTE = "    "  # what every line of text a student's code produced begins with, in a message


def quoted(text: str) -> str:
    """Text a student's code produced (an exception's message, what it printed), every line after
    the first indented: it can never start a line of the grader's own (a PASS line, a score)."""
    return text.replace("\n", "\n" + QUOTE)

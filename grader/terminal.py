"""Results as a terminal shows them: one line per test, whole messages wrapped, never cut."""

from __future__ import annotations

import textwrap

from .results import GradingResults, number_key
from .text import plain

WIDTH = 100  # a terminal's usual width, with room for the indentation


def wrapped(text: str, indent: str) -> list[str]:
    """Every line of a message, wrapped and never cut: the likely-mistake line is often the last one."""
    out = []
    for line in text.splitlines():
        lead = line[: len(line) - len(line.lstrip())]
        out += textwrap.wrap(
            line,
            WIDTH,
            initial_indent=indent,
            subsequent_indent=indent + lead + "  ",
            break_long_words=False,
            break_on_hyphens=False,
            drop_whitespace=True,
        ) or [indent]
    return out


def summary(title: str, results: GradingResults, *, hidden: str = "") -> str:
    """The terminal's view of results, whole messages wrapped; student-derived text is made plain."""
    lines = [title]
    if results.output:
        lines += ["  " + line for line in results.output.splitlines()]
    lines.append("")
    for test in sorted(results.tests, key=lambda t: number_key(t.number)) + results.adjustments:
        mark = "PASS" if test.status == "passed" else "FAIL"
        label = f"{test.number} {test.name}" if test.number else test.name
        score = f"{test.score:g}/{test.max_score:g}"
        # A long name gets a line of its own rather than being cut mid-word.
        width = WIDTH - 8 - len(score) - 1
        if len(label) <= width:
            lines.append(f"  {mark}  {label:<{width}} {score}")
        else:
            # Wrapped once, at one width: the first line and the rest share no words.
            parts = textwrap.wrap(label, width)
            lines += [f"  {mark}  {parts[0]}", *wrapped(" ".join(parts[1:]), "        ")]
            lines[-1] = f"{lines[-1]:<{WIDTH - len(score)}} {score}"
        if test.status != "passed" and test.output:
            lines += wrapped(test.output, "          ")
    lines.append(f"\nScore: {results.score:g}/{results.max_score:g}")
    if hidden:
        lines.append(hidden)
    return plain("\n".join(lines))

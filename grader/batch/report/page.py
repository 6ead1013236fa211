"""The report as one HTML page: the statistics as tables, the plots embedded, nothing fetched."""

from __future__ import annotations

import html
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from string import Template
from typing import TYPE_CHECKING

from ...files import write_atomic
from ..records import Record
from . import stats
from .plots import bars, histogram, shorten

if TYPE_CHECKING:  # pragma: no cover
    from ..regrade import Comparison

TITLE = "Batch grading report"
TOP_DIAGNOSTICS = 15
TOP_SLOWEST = 10
PAGE = Template("""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>$title</title>
<style>
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 24px auto; max-width: 1100px;
       color: #222; padding: 0 16px; }
h1 { font-size: 26px; margin-bottom: 8px; }
h2 { font-size: 19px; margin-top: 28px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
img { max-width: 100%; }
.summary { display: flex; flex-wrap: wrap; gap: 8px; }
.stat { background: #f4f6f8; border-radius: 6px; padding: 8px 12px; flex: 1 1 0; min-width: 90px; }
.stat .value { font-size: 19px; font-weight: 600; white-space: nowrap; }
.stat .label { font-size: 12px; color: #555; }
table { border-collapse: collapse; width: 100%; font-size: 13px; margin-top: 6px; }
th, td { border: 1px solid #ddd; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f4f6f8; }
.warning { background: #fdecea; border-left: 4px solid #c62828; padding: 8px 12px; }
td.num { text-align: right; white-space: nowrap; }
details summary { cursor: pointer; color: #2e86c1; margin: 6px 0; }
details:target { background: #fffbe6; }
pre { white-space: pre-wrap; font-size: 12px; background: #f8f8f8; padding: 6px; }
</style>
</head>
<body>
$body
</body>
</html>
""")


def _esc(value: object) -> str:
    return html.escape(str(value), quote=True)


class _Link:
    """A submission's id in a table, linking to its own feedback further down the page."""

    def __init__(self, submission: str):
        self.submission = submission

    def html(self) -> str:
        return f'<a href="#{_anchor(self.submission)}">{_esc(self.submission)}</a>'


def _anchor(submission: str) -> str:
    return _esc("submission-" + submission)


def _cell(value: object) -> str:
    return value.html() if isinstance(value, _Link) else _esc(value)


def _table(
    headers: list[str], rows: Iterable[Sequence[object]], numeric: frozenset[int] = frozenset()
) -> str:
    head = "".join(f"<th>{_esc(h)}</th>" for h in headers)
    body = []
    for row in rows:
        cells = "".join(
            f'<td class="{"num" if i in numeric else ""}">{_cell(v)}</td>' for i, v in enumerate(row)
        )
        body.append(f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _image(alt: str, png: str) -> str:
    return f'<img alt="{alt}" src="data:image/png;base64,{png}">'


def _who(record: Record) -> str:
    return ", ".join(p.name or p.email for p in record.submitters if p.name or p.email)


def _first_line(text: str) -> str:
    for line in str(text).splitlines():
        if line.strip():
            return line.strip()
    return ""


def _summary(records: list[Record]) -> list[str]:
    summary = stats.score_summary(records)
    if summary is None:
        return ["<p>No submissions.</p>"]
    full = summary.full
    boxes = [
        ("submissions", summary.submissions),
        ("mean score", f"{summary.mean:.2f} / {full:g}"),
        ("median score", f"{summary.median:g} / {full:g}"),
        ("full marks", summary.full_marks),
        ("zero", summary.zero),
        ("with a failing cell", len(stats.failed_cells(records))),
        ("could not be graded", len(stats.ungraded(records))),
        ("internal errors", len(stats.internal_errors(records))),
    ]
    stat = '<div class="stat"><div class="value">{}</div><div class="label">{}</div></div>'
    return [
        '<section class="summary">' + "".join(stat.format(_esc(v), _esc(k)) for k, v in boxes) + "</section>",
        "<h2>Scores</h2>",
        _image("Histogram of scores", histogram([r.score for r in records], full)),
    ]


def _isolation_warning(records: list[Record]) -> list[str]:
    unconfined = stats.unisolated(records)
    if not unconfined:
        return []
    return [
        f'<p class="warning"><strong>{len(unconfined)} of {len(records)} submissions were graded without '
        "a mount namespace</strong> (grade-all --without-namespaces): their code could read the other "
        "submissions and their results. Grade again where namespaces are available to rule that out.</p>"
    ]


def _pass_rates(records: list[Record]) -> list[str]:
    parts = []
    per_test = stats.pass_rates_per_test(records)
    if per_test:
        rates = [r.rate for r in per_test]
        parts.append("<h2>Pass rate per test</h2>")
        parts.append(
            _image("Pass rate per test", bars([r.label for r in per_test], rates, "Pass rate per test"))
        )
        rows = [[r.label, r.passed, r.graded, f"{100 * r.rate:.0f}%"] for r in per_test]
        table = _table(["test", "passed", "graded", "pass rate"], rows, frozenset({1, 2, 3}))
        parts.append(f"<details><summary>As a table</summary>{table}</details>")
    per_function = stats.pass_rates_per_function(records)
    if per_function:
        plot = bars(
            [r.label for r in per_function],
            [r.rate for r in per_function],
            "Pass rate per function (all its tests)",
        )
        parts.append("<h2>Pass rate per function</h2>")
        parts.append(_image("Pass rate per function", plot))
        rows = [[r.label, r.passed, r.graded, f"{100 * r.rate:.0f}%"] for r in per_function]
        parts.append(
            _table(["function", "tests passed", "tests graded", "pass rate"], rows, frozenset({1, 2, 3}))
        )
    return parts


def _diagnostics(records: list[Record]) -> list[str]:
    found = stats.common_diagnostics(records, TOP_DIAGNOSTICS)
    if not found:
        return ["<h2>Most common diagnostics</h2>", "<p>No failing tests.</p>"]
    rows = []
    for entry in found:
        where = ", ".join(f"{t} ({n})" if n > 1 else str(t) for t, n in entry.tests.most_common(6))
        rows.append([entry.submissions, shorten(entry.line, 220), where])
    headers = ["submissions", "diagnostic (first line of the failing tests' output)", "tests (how often)"]
    return ["<h2>Most common diagnostics</h2>", _table(headers, rows, frozenset({0}))]


def _problems(records: list[Record]) -> list[str]:
    parts = ["<h2>Submissions whose cells failed to run</h2>"]
    failed = stats.failed_cells(records)
    if failed:
        rows = [
            [_Link(r.id), _who(r), f"{r.score:g}", ", ".join(f"#{k} {v}" for k, v in cells)]
            for r, cells in failed
        ]
        parts.append(_table(["submission", "submitted by", "score", "cells (status)"], rows, frozenset({2})))
    else:
        parts.append("<p>Every notebook ran without a cell error.</p>")
    ungraded, internal = stats.ungraded(records), stats.internal_errors(records)
    if ungraded or internal:
        parts.append("<h2>Submissions that could not be graded</h2>")
        rows = [[_Link(r.id), _who(r), shorten(_first_line(r.results.output), 200)] for r in ungraded]
        rows += [[_Link(r.id), _who(r), "internal error: " + r.internal_error] for r in internal]
        parts.append(_table(["submission", "submitted by", "why"], rows))
    staff = [(r, notes) for r in records if (notes := stats.staff_notes(r))]
    if staff:
        parts.append("<h2>Notes for course staff</h2>")
        rows = [
            [
                _Link(r.id),
                _who(r),
                shorten(notes[0], 300) + (f" (and {len(notes) - 1} more)" if len(notes) > 1 else ""),
            ]
            for r, notes in staff
        ]
        parts.append(
            _table(["submission", "submitted by", "note (a test's own error, a clean-up that failed)"], rows)
        )
    noted = [r for r in records if r.notes]
    if noted:
        parts.append("<h2>Submissions with files that could not be read</h2>")
        rows = [[_Link(r.id), _who(r), "; ".join(r.notes)] for r in noted]
        parts.append(_table(["submission", "submitted by", "what was skipped"], rows))
    other = [r for r in records if r.made_for]
    if other:
        parts.append("<h2>Notebooks made for another assignment</h2>")
        rows = [[_Link(r.id), _who(r), r.made_for, f"{r.score:g}"] for r in other]
        parts.append(
            _table(["submission", "submitted by", "its metadata names", "score"], rows, frozenset({3}))
        )
    return parts


FEEDBACK_CHARS = 1500  # of one test's feedback in the report; the whole is in the submission's results.json


def _feedback(records: list[Record]) -> list[str]:
    """Every submission's own feedback, each under an anchor the tables above link to."""
    parts = ["<h2>Every submission</h2>"]
    for record in records:
        failed = [t for t in record.tests if t.score < t.max_score]
        lines = (
            [f"<pre>{_esc(record.results.output.strip()[:FEEDBACK_CHARS])}</pre>"]
            if record.results.output.strip()
            else []
        )
        for test in failed:
            label = f"{test.number} {test.name}" if test.number else test.name
            lines.append(
                f"<p><b>{_esc(label)}</b> ({test.score:g}/{test.max_score:g})</p>"
                f"<pre>{_esc(test.output.strip()[:FEEDBACK_CHARS])}</pre>"
            )
        who = f" ({_esc(_who(record))})" if _who(record) else ""
        summary = f"{_esc(record.id)}{who}: {record.score:g}/{record.max_score:g}"
        parts.append(
            f'<details id="{_anchor(record.id)}"><summary>{summary}</summary>'
            + ("".join(lines) or "<p>Every test passed.</p>")
            + "</details>"
        )
    return parts


def _slowest(records: list[Record]) -> list[str]:
    rows = [
        [_Link(r.id), _who(r), f"{r.results.execution_time:.2f}", f"{r.score:g}"]
        for r in stats.slowest(records, TOP_SLOWEST)
    ]
    return [
        "<h2>Slowest submissions</h2>",
        _table(["submission", "submitted by", "seconds", "score"], rows, frozenset({2, 3})),
    ]


def build_report(records: list[Record], title: str = TITLE, comparison: Comparison | None = None) -> str:
    """The report as one HTML string; ``comparison`` adds the submissions whose score changed since
    an earlier batch, after the summary."""
    parts = [f"<h1>{_esc(title)}</h1>", *_isolation_warning(records), *_summary(records)]
    if comparison is not None:
        from ..regrade import as_html

        parts.append(as_html(comparison))
    parts += [*_pass_rates(records), *_diagnostics(records), *_problems(records), *_slowest(records)]
    parts += _feedback(records)
    return PAGE.substitute(title=_esc(title), body="\n".join(parts))


def write_report(
    path: Path, records: list[Record], title: str = TITLE, comparison: Comparison | None = None
) -> Path:
    with warnings.catch_warnings():
        # pyparsing 3.3 deprecates names matplotlib 3.10 still uses: nothing to act on here.
        warnings.filterwarnings("ignore", message=r".*deprecated - use", category=DeprecationWarning)
        text = build_report(records, title, comparison)
    return write_atomic(Path(path), text, mode=0o600)  # names, like grades.csv

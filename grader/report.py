"""A self-contained HTML report on a graded batch: one file, plots embedded as PNG, no network.

Sections: a summary, the score histogram, the pass rate of every test and of every function, the
most common diagnostics (the first line of failing tests' outputs, counted once per submission), the submissions
whose cells failed to run or that could not be graded at all, and the slowest submissions.
matplotlib (the ``report`` extra) is imported only here, with the Agg backend.
"""

from __future__ import annotations

import base64
import html
import io
import os
import statistics
import warnings
from collections import Counter, defaultdict
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from .batch import Record

TOP_DIAGNOSTICS = 15
TOP_SLOWEST = 10
PASS_COLOURS = ("#c0392b", "#e67e22", "#f1c40f", "#27ae60")  # <40%, <70%, <90%, >=90%


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _png(fig) -> str:
    buffer = io.BytesIO()
    # No timestamps or software names in the file: the same batch gives the same bytes.
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight", metadata={"Software": None})
    _pyplot().close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _colour(rate: float) -> str:
    if rate < 0.4:
        return PASS_COLOURS[0]
    if rate < 0.7:
        return PASS_COLOURS[1]
    if rate < 0.9:
        return PASS_COLOURS[2]
    return PASS_COLOURS[3]


def _histogram(scores: list[float], full: float) -> str:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(9, 3.6))
    top = max(full, max(scores, default=0.0), 1.0)
    bins = min(20, max(5, int(round(top)))) if top else 10
    ax.hist(scores, bins=bins, range=(0, top), color="#2e86c1", edgecolor="white")
    if scores:
        mean = statistics.fmean(scores)
        ax.axvline(mean, color="#c0392b", linestyle="--", linewidth=1.5, label=f"mean {mean:.2f}")
        ax.legend(frameon=False)
    ax.set_xlabel(f"score (out of {full:g})")
    ax.set_ylabel("submissions")
    ax.set_title("Score distribution")
    ax.spines[["top", "right"]].set_visible(False)
    return _png(fig)


def _bars(labels: list[str], rates: list[float], title: str) -> str:
    plt = _pyplot()
    height = max(2.0, 0.28 * len(labels) + 1.0)
    fig, ax = plt.subplots(figsize=(9, height))
    positions = range(len(labels))
    ax.barh(list(positions), [100 * r for r in rates], color=[_colour(r) for r in rates], height=0.7)
    ax.set_yticks(list(positions), [_short(label, 60) for label in labels], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel("% of submissions passing")
    ax.set_title(title)
    for y, rate in zip(positions, rates):
        ax.text(min(100 * rate + 1, 92), y, f"{100 * rate:.0f}%", va="center", fontsize=7)
    ax.spines[["top", "right"]].set_visible(False)
    return _png(fig)


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _first_line(text: str) -> str:
    for line in str(text).splitlines():
        if line.strip():
            return line.strip()
    return ""


def diagnostic(text: str) -> str:
    """The line that says what went wrong: the first line, or, after a "Calling f with" header and
    its indented arguments (different in every test), the first line that follows them."""
    lines = [line for line in str(text).splitlines() if line.strip()]
    if lines and lines[0].startswith("Calling ") and lines[0].rstrip().endswith(("with", ":")):
        for line in lines[1:]:
            if not line[0].isspace():
                return line.strip()
    return lines[0].strip() if lines else ""


def _esc(value) -> str:
    return html.escape(str(value), quote=True)


def _table(headers: list[str], rows: list[list], numeric: set[int] = frozenset()) -> str:
    head = "".join(f"<th>{_esc(h)}</th>" for h in headers)
    body = []
    for row in rows:
        cells = "".join(
            f'<td class="{"num" if i in numeric else ""}">{_esc(v)}</td>' for i, v in enumerate(row)
        )
        body.append(f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _who(record: Record) -> str:
    names = [p.name or p.email for p in record.submitters if p.name or p.email]
    return ", ".join(names)


def _stats(records: list[Record]):
    per_test: dict[str, list[int]] = {}
    order: dict[str, tuple] = {}
    per_function: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    diagnostics: Counter = Counter()  # line -> submissions showing it (each counted once)
    diagnostic_tests: dict[str, Counter] = defaultdict(Counter)
    from .batch import _column_key, test_column

    for record in records:
        seen: set[str] = set()
        for test in record.tests:
            column = test_column(test)
            order.setdefault(column, _column_key(test))
            passed = test.get("status") == "passed"
            counts = per_test.setdefault(column, [0, 0])
            counts[0] += passed
            counts[1] += 1
            function = (test.get("extra_data") or {}).get("function")
            if function:
                per_function[function][0] += passed
                per_function[function][1] += 1
            if not passed:
                line = diagnostic(test.get("output", ""))
                if line:
                    if line not in seen:
                        seen.add(line)
                        diagnostics[line] += 1
                    diagnostic_tests[line][test.get("number") or test.get("name", "")] += 1
    tests = sorted(per_test, key=lambda c: order[c])
    return tests, per_test, dict(per_function), diagnostics, diagnostic_tests


def build_report(records: list[Record], title: str = "Batch grading report", comparison=None) -> str:
    """The report as one HTML string; ``comparison`` (:class:`grader.regrade.Comparison`) adds
    the submissions whose score changed since an earlier batch, after the summary."""
    scores = [r.score for r in records]
    full = max((r.max_score for r in records), default=0.0)
    tests, per_test, per_function, diagnostics, diagnostic_tests = _stats(records)
    internal = [r for r in records if (r.results.get("extra_data") or {}).get("internal_error")]
    # Never ran: unreadable, no notebook, or the assignment unknown (graded notebooks list their cells).
    ungraded = [
        r for r in records if "cells" not in (r.results.get("extra_data") or {}) and r not in internal
    ]
    failed_cells = []
    for record in records:
        cells = (record.results.get("extra_data") or {}).get("cells") or {}
        bad = {str(k): v for k, v in cells.items() if v != "ok"}
        if bad:
            failed_cells.append((record, bad))

    parts = [f"<h1>{_esc(title)}</h1>"]
    if scores:
        summary = [
            ["submissions", len(records)],
            ["mean score", f"{statistics.fmean(scores):.2f} / {full:g}"],
            ["median score", f"{statistics.median(scores):g} / {full:g}"],
            ["full marks", sum(1 for s in scores if full and s >= full)],
            ["zero", sum(1 for s in scores if s == 0)],
            ["with a failing cell", len(failed_cells)],
            ["could not be graded", len(ungraded)],
            ["internal errors", len(internal)],
        ]
        parts.append(
            '<section class="summary">'
            + "".join(
                f'<div class="stat"><div class="value">{_esc(v)}</div><div class="label">{_esc(k)}</div></div>'
                for k, v in summary
            )
            + "</section>"
        )
        parts.append("<h2>Scores</h2>")
        parts.append(
            f'<img alt="Histogram of scores" src="data:image/png;base64,{_histogram(scores, full)}">'
        )
    else:
        parts.append("<p>No submissions.</p>")
    if comparison is not None:
        from .regrade import as_html

        parts.append(as_html(comparison))

    if tests:
        rates = [per_test[t][0] / per_test[t][1] for t in tests]
        parts.append("<h2>Pass rate per test</h2>")
        parts.append(
            f'<img alt="Pass rate per test" src="data:image/png;base64,{_bars(tests, rates, "Pass rate per test")}">'
        )
        parts.append(
            "<details><summary>As a table</summary>"
            + _table(
                ["test", "passed", "graded", "pass rate"],
                [[t, per_test[t][0], per_test[t][1], f"{100 * r:.0f}%"] for t, r in zip(tests, rates)],
                {1, 2, 3},
            )
            + "</details>"
        )
    if per_function:
        names = sorted(per_function, key=lambda f: per_function[f][0] / per_function[f][1])
        rates = [per_function[f][0] / per_function[f][1] for f in names]
        parts.append("<h2>Pass rate per function</h2>")
        parts.append(
            f'<img alt="Pass rate per function" src="data:image/png;base64,'
            f'{_bars(names, rates, "Pass rate per function (all its tests)")}">'
        )
        parts.append(
            _table(
                ["function", "tests passed", "tests graded", "pass rate"],
                [
                    [f, per_function[f][0], per_function[f][1], f"{100 * r:.0f}%"]
                    for f, r in zip(names, rates)
                ],
                {1, 2, 3},
            )
        )

    parts.append("<h2>Most common diagnostics</h2>")
    if diagnostics:
        rows = []
        for line, count in diagnostics.most_common(TOP_DIAGNOSTICS):
            where = ", ".join(
                f"{t} ({n})" if n > 1 else str(t) for t, n in diagnostic_tests[line].most_common(6)
            )
            rows.append([count, _short(line, 220), where])
        parts.append(
            _table(
                ["submissions", "diagnostic (first line of the failing tests' output)", "tests (how often)"],
                rows,
                {0},
            )
        )
    else:
        parts.append("<p>No failing tests.</p>")

    parts.append("<h2>Submissions whose cells failed to run</h2>")
    if failed_cells:
        rows = [
            [
                r.id,
                _who(r),
                f"{r.score:g}",
                ", ".join(
                    f"#{k} {v}"
                    for k, v in sorted(bad.items(), key=lambda kv: int(kv[0]) if kv[0].isdigit() else 0)
                ),
            ]
            for r, bad in failed_cells
        ]
        parts.append(_table(["submission", "submitted by", "score", "cells (status)"], rows, {2}))
    else:
        parts.append("<p>Every notebook ran without a cell error.</p>")
    if ungraded or internal:
        parts.append("<h2>Submissions that could not be graded</h2>")
        rows = [[r.id, _who(r), _short(_first_line(r.results.get("output", "")), 200)] for r in ungraded]
        rows += [
            [r.id, _who(r), "internal error: " + str(r.results["extra_data"]["internal_error"])]
            for r in internal
        ]
        parts.append(_table(["submission", "submitted by", "why"], rows))

    parts.append("<h2>Slowest submissions</h2>")
    timed = sorted(records, key=lambda r: -float(r.results.get("execution_time", 0) or 0))[:TOP_SLOWEST]
    parts.append(
        _table(
            ["submission", "submitted by", "seconds", "score"],
            [
                [r.id, _who(r), f"{float(r.results.get('execution_time', 0) or 0):.2f}", f"{r.score:g}"]
                for r in timed
            ],
            {2, 3},
        )
    )
    return _page(title, "\n".join(parts))


def _page(title: str, body: str) -> str:
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{_esc(title)}</title>
<style>
body {{ font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 24px auto; max-width: 1100px;
       color: #222; padding: 0 16px; }}
h1 {{ font-size: 26px; margin-bottom: 8px; }}
h2 {{ font-size: 19px; margin-top: 28px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }}
img {{ max-width: 100%; }}
.summary {{ display: flex; flex-wrap: wrap; gap: 8px; }}
.stat {{ background: #f4f6f8; border-radius: 6px; padding: 8px 12px; flex: 1 1 0; min-width: 90px; }}
.stat .value {{ font-size: 19px; font-weight: 600; white-space: nowrap; }}
.stat .label {{ font-size: 12px; color: #555; }}
table {{ border-collapse: collapse; width: 100%; font-size: 13px; margin-top: 6px; }}
th, td {{ border: 1px solid #ddd; padding: 4px 8px; text-align: left; vertical-align: top; }}
th {{ background: #f4f6f8; }}
td.num {{ text-align: right; white-space: nowrap; }}
details summary {{ cursor: pointer; color: #2e86c1; margin: 6px 0; }}
</style>
</head>
<body>
{body}
</body>
</html>
"""


def write_report(
    path: Path, records: list[Record], title: str = "Batch grading report", comparison=None
) -> Path:
    path = Path(path)
    with warnings.catch_warnings():
        # pyparsing 3.3 deprecates names matplotlib 3.10 still uses: nothing to act on here.
        warnings.filterwarnings("ignore", message=r".*deprecated - use", category=DeprecationWarning)
        text = build_report(records, title, comparison)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path

"""A self-contained HTML report on a graded batch: one file, plots embedded as PNG, no network.

Sections: a summary, the score histogram, the pass rate of every test and of every function, the
most common diagnostics (the first line of failing tests' outputs, counted once per submission),
the submissions whose cells failed to run or that could not be graded at all, and the slowest
submissions. :mod:`~grader.batch.report.stats` computes the numbers, :mod:`~grader.batch.report.plots` draws
them (matplotlib, imported only there), :mod:`~grader.batch.report.page` lays out the page.
"""

from __future__ import annotations

from .page import TOP_DIAGNOSTICS, TOP_SLOWEST, build_report, write_report
from .stats import diagnostic

__all__ = ["TOP_DIAGNOSTICS", "TOP_SLOWEST", "build_report", "diagnostic", "write_report"]

"""Batch grading: a folder of notebooks or a Gradescope export, graded in parallel and resumably.

Input is one of

* a folder of ``.ipynb`` files: each file is a submission, named by its stem;
* a Gradescope "Export Submissions" zip, or the folder it unpacks to: one folder per submission
  (``submission_123456/``) with the student's files, and ``submission_metadata.yml`` naming the
  submitters. Within a submission folder the notebook is chosen by the same rules as on
  Gradescope (:mod:`grader.notebook.choice`).

Output, under ``out``: ``<submission>/results.json`` (exactly what ``grader grade --out`` writes for
the same notebook), ``grades.csv`` (one row per submission, one column per test) and
``report.html``. A submission whose results.json is newer than its input is not graded again
unless ``force`` is set, so an interrupted batch picks up where it stopped.

How the work is spread: ``jobs`` long-lived grading servers (:mod:`grader.batch.server`) import
the grader, numpy and pytest once, and fork a child for each submission, which grades it and
exits. A child that dies is reported as an internal error for that submission only; a server that
dies is replaced (:mod:`grader.batch.pool`).

Modules: :mod:`~grader.batch.inputs` (what to grade), :mod:`~grader.batch.protocol`,
:mod:`~grader.batch.server` and :mod:`~grader.batch.pool` (grading it),
:mod:`~grader.batch.collect` (reading it back, grades.csv), :mod:`~grader.batch.run` (all of it).
"""

from __future__ import annotations

from .collect import GRADES_FILE, load_records, spreadsheet_text, write_grades_csv
from .grading import RESULTS_FILE, batch_assignment, grade_submission, internal_error_results
from .inputs import METADATA_FILE, Submission, discover, parse_metadata, safe_id, unpack_zip
from .protocol import SUBMISSION_SECONDS, Fault
from .records import Record, Submitter, column_name
from .run import (
    ISOLATION_NEEDED,
    REPORT_FILE,
    BatchSummary,
    IsolationUnavailable,
    grade_all,
    require_isolation,
)
from .server import serve

__all__ = [
    "GRADES_FILE",
    "ISOLATION_NEEDED",
    "METADATA_FILE",
    "REPORT_FILE",
    "RESULTS_FILE",
    "SUBMISSION_SECONDS",
    "BatchSummary",
    "Fault",
    "IsolationUnavailable",
    "Record",
    "Submission",
    "Submitter",
    "batch_assignment",
    "column_name",
    "discover",
    "grade_all",
    "grade_submission",
    "internal_error_results",
    "load_records",
    "parse_metadata",
    "require_isolation",
    "safe_id",
    "serve",
    "spreadsheet_text",
    "unpack_zip",
    "write_grades_csv",
]

"""A whole batch: what to grade, the pool that grades it, grades.csv and the report."""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
import time
import traceback
import zipfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import GraderError
from ..sandbox.supervisor.leftovers import remove_tree
from ..settings import Settings
from .collect import GRADES_FILE, load_records, write_grades_csv
from .grading import RESULTS_FILE, batch_assignment
from .inputs import Submission, discover, export_submissions
from .pool import PoolConfig, grade_in_pool, server_environ
from .protocol import Fault
from .records import Record
from .regrade import Comparison, was_graded

REPORT_FILE = "report.html"
TORCH_IMPORT = re.compile(r"^\s*(import torch|from torch)\b", re.MULTILINE)


@dataclass
class BatchSummary:
    out: Path
    submissions: int = 0
    graded: int = 0  # graded in this run
    skipped: int = 0  # results from an earlier run kept
    internal_errors: int = 0  # submissions whose grading process failed (score 0 with an explanation)
    seconds: float = 0.0  # wall clock of the whole batch
    grades_csv: Path | None = None
    report: Path | None = None
    report_problem: str = ""  # why no report was written (matplotlib missing), if it was not
    report_seconds: float = 0.0
    scores: dict[str, float] = field(default_factory=dict)
    comparison: Comparison | None = None  # set when compared with an earlier batch (--compare)


class IsolationUnavailable(GraderError, RuntimeError):
    """Batch grading was refused: this system gives the worker no mount and PID namespaces."""


ISOLATION_NEEDED = (
    "grade-all needs mount and PID namespaces to keep each student's code away from the other "
    "submissions and their results, and this system refuses them (a container's default seccomp "
    "profile, or user namespaces disabled). Run it as root on the host, or as a user allowed user "
    "namespaces (sysctl kernel.unprivileged_userns_clone=1; on Ubuntu also "
    "kernel.apparmor_restrict_unprivileged_userns=0), or in a container started with "
    "--cap-add SYS_ADMIN --security-opt seccomp=unconfined. To grade here all the same, accepting that "
    "each student's code could read the other submissions, add --without-namespaces."
)


def require_isolation() -> None:
    """Without mount and PID namespaces a worker can find the batch's input in /proc and read
    (and run) a classmate's notebook: batch grading refuses rather than grade like that."""
    from ..sandbox.jail.confine import namespaces_available

    if not namespaces_available():
        raise IsolationUnavailable(ISOLATION_NEEDED)


def _named_assignments(subs: list[Submission]) -> set[str]:
    """The assignments the submissions' notebooks name in their metadata."""
    from ..notebook.choice import notebook_assignments

    return {name for name in notebook_assignments(_some_notebooks(subs)) if name}


def _some_notebooks(subs: list[Submission], per_submission: int = 3) -> list[Path]:
    """A few notebooks of each submission, found within the walk's caps."""
    from ..notebook.walk import walk

    notebooks = []
    for sub in subs:
        if sub.source.is_dir():
            notebooks += [p for p in walk(sub.source).files if p.suffix.lower() == ".ipynb"][:per_submission]
        else:
            notebooks.append(sub.source)
    return notebooks


# Modules a notebook of this course imports at top level, by the package an assignment's
# environment may leave out: the batch's servers import them once for every grading child.
COLAB_IMPORTS = {"matplotlib": "matplotlib.pyplot", "scipy": "scipy.signal"}
MENTION_BYTES = 4 << 20  # of each notebook, searched for the names above


def preloads(subs: list[Submission], assignment: str | None, solutions_root: Path | None) -> tuple[str, ...]:
    """What the servers import once: IPython's input transformer (every notebook's magics go
    through it), torch where the assignment uses it, pytest where its tests need it, and the
    course's usual imports that the notebooks mention and the assignment's environment has."""
    from ..config import ConfigError, load_assignment
    from ..testing.direct import pytest_needed

    modules = ["IPython.core.inputtransformer2"]
    if uses_torch(subs, assignment, solutions_root):
        modules.append("torch")
    omitted: tuple[str, ...] = ()
    if assignment:
        try:
            spec = load_assignment(assignment, solutions_root)
        except ConfigError:
            pass
        else:
            omitted = spec.environment.omit
            if pytest_needed(spec.tests_dir):
                modules.append("pytest")
    wanted = {package for package in COLAB_IMPORTS if package not in omitted}
    mentioned: set[str] = set()
    for path in _some_notebooks(subs[:500], per_submission=1):
        try:
            with open(path, "rb") as handle:
                text = handle.read(MENTION_BYTES)
        except OSError:
            continue
        mentioned |= {package for package in wanted if package.encode() in text}
        if mentioned == wanted:
            break
    return (*modules, *(COLAB_IMPORTS[package] for package in sorted(mentioned)))


def uses_torch(subs: list[Submission], assignment: str | None, solutions_root: Path | None) -> bool:
    """Whether the notebooks import torch: then the servers load it once, for every child."""
    from ..config import ConfigError, available_assignments, load_assignment

    known = available_assignments(solutions_root)
    names = [assignment] if assignment else sorted(_named_assignments(subs) & set(known))
    for name in names:
        try:
            spec = load_assignment(name, solutions_root)
            cells = json.loads(spec.reference_notebook.read_text(encoding="utf-8")).get("cells", [])
        except (ConfigError, OSError, ValueError):
            continue
        for cell in cells:
            source = cell.get("source", "")
            source = "".join(source) if isinstance(source, list) else str(source)
            if TORCH_IMPORT.search(source):
                return True
    return False


def is_current(sub: Submission, results_path: Path) -> bool:
    """Whether an earlier run's results for ``sub`` stand: newer than its input, and a finished grade."""
    try:
        if results_path.stat().st_mtime <= sub.input_mtime:
            return False
        return was_graded(json.loads(results_path.read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return False


@contextmanager
def _submissions(input: Path, out: Path) -> Iterator[tuple[list[Submission], tuple[Path, ...]]]:
    """The submissions in ``input``, and the paths student code must not see; a zip stays unpacked
    until the block ends."""
    if input.is_file() and zipfile.is_zipfile(input):
        unpacked = Path(tempfile.mkdtemp(prefix="grader-export-"))
        try:
            yield export_submissions(input, unpacked), (input, unpacked, out)
        finally:
            try:
                remove_tree(str(unpacked))  # any depth a zip's paths have
            except OSError:
                traceback.print_exc(file=sys.stderr)
    elif input.is_dir():
        yield discover(input, exclude=out), (input, out)
    else:
        raise FileNotFoundError(f"{input} is neither a folder nor a zip file")


def grade_all(
    input: Path,
    out: Path,
    *,
    jobs: int | None = None,
    force: bool = False,
    assignment: str | None = None,
    solutions_root: Path | None = None,
    progress: bool = True,
    report: bool = True,
    compare: Path | None = None,
    settings: Settings | None = None,
    faults: Mapping[str, Fault] | None = None,
    without_namespaces: bool = False,
) -> BatchSummary:
    """Grade every submission in ``input`` into ``out`` (see :mod:`grader.batch`).

    ``compare``: an earlier output folder whose scores the report and ``summary.comparison`` set
    against these. ``settings``: what the servers pass on to their children (default: from the
    environment). ``faults``: grading processes that die on purpose, by submission id (tests).
    ``without_namespaces``: grade even where the system refuses the worker its namespaces (the
    instructor accepts that each submission's code could read the others; the report says so)."""
    started = time.monotonic()
    assignment = batch_assignment(assignment, solutions_root)
    input, out = Path(input), Path(out)
    if not out.is_dir():
        out.mkdir(mode=0o700, parents=True)
    os.chmod(out, os.stat(out).st_mode & 0o700)  # every result and every name: the instructor's only
    summary = BatchSummary(out=out)
    with _submissions(input, out) as (subs, hidden):
        summary.submissions = len(subs)
        todo = [s for s in subs if force or not is_current(s, out / s.id / RESULTS_FILE)]
        summary.skipped = len(subs) - len(todo)
        if todo:
            if not without_namespaces:
                require_isolation()
            config = PoolConfig(
                out,
                assignment,
                solutions_root,
                env=server_environ(settings or Settings.from_environ(), hidden),
                preload=preloads(todo, assignment, solutions_root),
                faults=faults or {},
            )
            pool = grade_in_pool(todo, config, max(1, jobs or os.cpu_count() or 1), progress)
            summary.graded, summary.internal_errors = pool.graded, pool.internal_errors
    _collect(summary, load_records(out, subs), compare, report)
    summary.seconds = time.monotonic() - started
    return summary


def _collect(summary: BatchSummary, records: list[Record], compare: Path | None, report: bool) -> None:
    """grades.csv, the comparison with an earlier batch, and the report, into ``summary``."""
    out = summary.out
    summary.scores = {r.id: r.score for r in records}
    summary.grades_csv = write_grades_csv(out / GRADES_FILE, records)
    if compare is not None:
        from .regrade import compare as compare_batches

        names = {
            r.id: ", ".join(p.name or p.email for p in r.submitters if p.name or p.email) for r in records
        }
        summary.comparison = compare_batches(Path(compare), out, [r.id for r in records], names)
    if report:
        report_started = time.monotonic()
        try:
            from .report import write_report

            summary.report = write_report(out / REPORT_FILE, records, comparison=summary.comparison)
        except ImportError as exc:
            summary.report_problem = (
                f"no report: {exc} (report.html draws its plots with matplotlib: pip install matplotlib)"
            )
        summary.report_seconds = time.monotonic() - report_started

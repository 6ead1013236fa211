"""Shared fixtures: the demo assignment, schema validation, grading small notebooks."""

from __future__ import annotations

import json
import os
from pathlib import Path

import jsonschema
import pytest

from grader.api import grade_notebook
from grader.batch.collect import read_results
from grader.batch.grading import RESULTS_FILE
from grader.batch.inputs import discover
from grader.batch.run import grade_all
from grader.results import GradingResults
from nbtools import ASSIGNMENTS, REPO, SOLUTIONS, write_notebook

if os.environ.get("GRADER_TEST_REFUSE_NAMESPACES") == "1":  # the whole session as in Docker or on Gradescope
    from without_namespaces import refuse_namespaces

    refuse_namespaces()

CORE = Path(__file__).parent / "fixtures" / "core"

# The suite's tiers. `make test` (and CI) runs everything; `make test-fast` leaves out the files
# marked slow here: whole corpora, real Jupyter kernels, batches, builds in fresh interpreters and
# the attack suite, which together take most of the suite's time.
SLOW_FILES = frozenset(
    {
        "test_alternative_solutions.py",
        "test_attacks.py",
        "test_authoring_guide.py",
        "test_batch.py",
        "test_corpus.py",
        "test_export_edges.py",
        "test_production_install.py",
        "test_realistic_bugs.py",
        "test_regrade.py",
        "test_reproducible_build.py",
        "test_selfcheck.py",
        "test_selfcheck_corpus.py",
    }
)


# Tests that install the grader with pip into a fresh venv, from the package index (or the
# find-links folder): `-m "not index"` leaves them out where no index is reachable.
INDEX_FILES = frozenset({"test_production_install.py"})


def pytest_collection_finish(session):
    # The production venv's dependencies install in the background while the tests before them run.
    if any(item.path.name in INDEX_FILES for item in session.items):
        import production_venv

        production_venv.start()


def pytest_sessionfinish(session):
    import production_venv

    production_venv.stop()


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.path.name in SLOW_FILES:
            item.add_marker(pytest.mark.slow)
        if item.path.name in INDEX_FILES:
            item.add_marker(pytest.mark.index)
        # What only root (or the container) can show: skipped for an ordinary user, marked to be seen.
        reasons = [str(mark.kwargs.get("reason", "")) for mark in item.iter_markers("skipif")]
        if any("root" in reason or "namespace" in reason for reason in reasons):
            item.add_marker(pytest.mark.root)


SCHEMA = json.loads((REPO / "grader" / "schema" / "results.schema.json").read_text())

DEMO_OK = {
    "relu": "def relu(z):\n    return np.maximum(z, 0.0)",
    "scale": "def scale(x, factor):\n    return np.asarray(x) * factor",
    "count": "def count(n):\n    return n",
}


def assert_schema_valid(results: GradingResults | dict) -> dict:
    data = results if isinstance(results, dict) else json.loads(results.to_json())
    jsonschema.validate(data, SCHEMA)
    return data


def grade_valid(path: Path, assignment: str | None = None, **kwargs) -> GradingResults:
    """Grade a notebook in this process and check its results.json against the schema."""
    results = grade_notebook(path, assignment, **kwargs)
    assert_schema_valid(results)
    return results


@pytest.fixture(scope="session")
def handout_graded():
    """``handout_graded(assignment, "reference" | "stub")``: the reference solution's or the
    handout's results, graded once per session (several test files read them)."""
    cache: dict[tuple[str, str], GradingResults] = {}

    def get(assignment: str, which: str = "reference") -> GradingResults:
        if (assignment, which) not in cache:
            root = SOLUTIONS if which == "reference" else ASSIGNMENTS
            cache[(assignment, which)] = grade_valid(root / assignment / f"{assignment}.ipynb", assignment)
        return cache[(assignment, which)]

    return get


@pytest.fixture
def grade_demo(tmp_path):
    """Grade a demo-assignment notebook made of ``cells`` (defaults fill in missing functions)."""

    def grade(*cells: str, keep_defaults: bool = True, **kwargs) -> GradingResults:
        sources = ["import numpy as np", *cells]
        if keep_defaults:
            defined = "\n".join(cells)
            sources += [code for name, code in DEMO_OK.items() if f"def {name}(" not in defined]
        path = write_notebook(tmp_path / "submission.ipynb", sources, assignment="demo")
        results = grade_notebook(path, solutions_root=CORE, **kwargs)
        assert_schema_valid(results)
        return results

    return grade


class BatchGradings:
    """Bundled and generated notebooks graded once per test session, a folder at a time, as an
    instructor's `grade-all` grades it: the grading servers import numpy and torch once and fork a
    grading process per notebook, on every core, which costs a fraction of grading each notebook
    in a fresh interpreter."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.results: dict[Path, GradingResults] = {}

    def __call__(self, path: Path, assignment: str) -> GradingResults:
        """A notebook's results; its whole folder is graded the first time one of it is asked for."""
        path = path.resolve()
        if path not in self.results:
            self.folder(path.parent, assignment)
        return self.results[path]

    def folder(self, folder: Path, assignment: str) -> dict[Path, GradingResults]:
        """The results of every notebook in ``folder``, by its resolved path."""
        out = self.out / f"{assignment}-{len(list(self.out.iterdir()))}"
        # Namespaces or not, as the session runs (a refused namespace is tested on purpose).
        summary = grade_all(
            folder, out, assignment=assignment, progress=False, report=False, without_namespaces=True
        )
        # A grading process that failed leaves results without tests, which proves nothing.
        assert summary.internal_errors == 0 and summary.graded == summary.submissions > 0, summary
        graded = {}
        for sub in discover(folder):
            results = read_results(out / sub.id / RESULTS_FILE)
            assert_schema_valid(results)
            assert "internal_error" not in results.extra_data, (sub.source, results.extra_data)
            graded[sub.source.resolve()] = results
        self.results.update(graded)
        return graded


@pytest.fixture(scope="session")
def batch_graded(tmp_path_factory) -> BatchGradings:
    """``batch_graded(path, assignment)``: a notebook's results, its folder graded once per session."""
    return BatchGradings(tmp_path_factory.mktemp("batches"))


def by_function(results: GradingResults) -> dict[str, float]:
    """Points lost per function."""
    lost: dict[str, float] = {}
    for test in results.tests:
        lost[test.function] = lost.get(test.function, 0.0) + test.max_score - test.score
    return lost


class NotebookReads:
    def __init__(self, log: Path) -> None:
        self.log = log
        log.write_text("")

    def names(self) -> list[str]:
        """The names of the notebooks read, in order."""
        return self.log.read_text().splitlines()

    def clear(self) -> None:
        self.log.write_text("")


@pytest.fixture
def notebook_reads(monkeypatch, tmp_path_factory) -> NotebookReads:
    """The notebooks intake reads from now on (in intake's children: each read is noted in a file)."""
    from grader.notebook import isolated

    reads = NotebookReads(tmp_path_factory.mktemp("reads") / "log")
    real = isolated.read_notebook

    def counting(path):
        with open(reads.log, "a") as handle:
            handle.write(Path(path).name + "\n")
        return real(path)

    monkeypatch.setattr(isolated, "read_notebook", counting)
    return reads

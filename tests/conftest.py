"""Shared fixtures: the demo assignment, schema validation, grading small notebooks."""

from __future__ import annotations

import json
import os
from pathlib import Path

import jsonschema
import pytest

from grader.api import grade_notebook
from grader.results import GradingResults
from nbtools import REPO, write_notebook

if os.environ.get("GRADER_TEST_REFUSE_NAMESPACES") == "1":  # the whole session as in Docker or on Gradescope
    from without_namespaces import refuse_namespaces

    refuse_namespaces()

CORE = Path(__file__).parent / "fixtures" / "core"
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


_CORPUS_RESULTS: dict[Path, GradingResults] = {}


def graded_once(path: Path, assignment: str) -> GradingResults:
    """A bundled notebook's results, graded once per test session (several test files read them)."""
    if path not in _CORPUS_RESULTS:
        _CORPUS_RESULTS[path] = grade_valid(path, assignment)
    return _CORPUS_RESULTS[path]


def by_function(results: GradingResults) -> dict[str, float]:
    """Points lost per function."""
    lost: dict[str, float] = {}
    for test in results.tests:
        lost[test.function] = lost.get(test.function, 0.0) + test.max_score - test.score
    return lost


@pytest.fixture
def notebook_reads(monkeypatch) -> list[str]:
    """The names of the notebooks intake reads from now on, in order."""
    from grader.notebook import isolated

    reads: list[str] = []
    real = isolated.read_prepared

    def counting(path):
        reads.append(Path(path).name)
        return real(path)

    monkeypatch.setattr(isolated, "read_prepared", counting)
    return reads

"""Grading in the production install: a venv built by setup.sh's own steps, without dev extras.

The dev venv has everything a developer installs; the image and the zip route have only the
production dependency set of pyproject.toml. A module that a Colab notebook imports at top level
and that only the dev venv has would cost students points on Gradescope and nowhere here, so
these tests grade with the production venv: the references, Colab-preamble notebooks and the
implements-nothing family of the corpus.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import production_venv
import pytest

from nbtools import REPO, SOLUTIONS, write_notebook

CORPUS = Path(__file__).parent / "corpus"
# What students import in the first cell of a Colab notebook (issue reports and real notebooks).
COLAB_PREAMBLE = """%matplotlib inline
import matplotlib.pyplot as plt
import numpy as np
import scipy.signal
from IPython.display import Audio, display
"""
PLOT = "plt.figure(); plt.plot(np.arange(3)); plt.show()\ndisplay(Audio(np.zeros(800), rate=8000))\n"


@pytest.fixture(scope="session")
def production_grader(tmp_path_factory) -> Path:
    """The `grader` command of a venv made by `setup.sh python slim grader`, as the image makes it."""
    venv = production_venv.dependencies()
    source = production_venv.source_copy(tmp_path_factory.mktemp("source"))
    done = subprocess.run(
        ["bash", str(production_venv.SETUP), "grader"],
        env=production_venv.setup_env(source),
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert done.returncode == 0, f"setup.sh grader failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return venv / "bin" / "grader"


def grade(grader: Path, notebook: Path, assignment: str) -> dict:
    done = subprocess.run(
        [
            str(grader),
            "--solutions",
            str(SOLUTIONS),
            "grade",
            str(notebook),
            "--assignment",
            assignment,
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def unavailable(results: dict) -> str:
    """The report's list of modules the grader could not import ("" when there is none)."""
    output = results.get("output", "")
    return (
        output.split("Not available in the grader", 1)[1].split("\n\n")[0]
        if "Not available" in output
        else ""
    )


def colab_notebook(assignment: str, out: Path) -> Path:
    """The reference's functions, and those its handout gives (training's sigmoid), under Colab's
    usual first cell, each cell plotting before it defines."""
    reference = json.loads((SOLUTIONS / assignment / f"{assignment}.ipynb").read_text(encoding="utf-8"))
    cells = [COLAB_PREAMBLE]
    for cell in reference["cells"]:
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        engine = "selfcheck-engine" in cell.get("metadata", {}).get("tags", [])
        if cell["cell_type"] == "code" and not engine and re.search(r"^(def|class) ", source, re.M):
            cells.append(PLOT + "\n".join(line for line in source.splitlines() if "### " not in line))
    return write_notebook(out, cells)


def test_the_production_venv_lacks_the_dev_extras(production_grader):
    python = production_grader.parent / "python"
    done = subprocess.run([str(python), "-c", "import mutmut"], capture_output=True, timeout=60)
    assert done.returncode != 0


ASSIGNMENTS = sorted(path.parent.name for path in SOLUTIONS.glob("*/assignment.toml"))


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_a_correct_notebook_under_colabs_usual_first_cell_gets_full_marks_in_production(
    production_grader, tmp_path, assignment
):
    results = grade(production_grader, colab_notebook(assignment, tmp_path / "colab.ipynb"), assignment)
    assert unavailable(results) == ""
    assert results["score"] == sum(t["max_score"] for t in results["tests"]) > 0, results["output"]


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_the_reference_gets_full_marks_and_the_stub_zero_in_production(production_grader, assignment):
    reference = grade(production_grader, SOLUTIONS / assignment / f"{assignment}.ipynb", assignment)
    assert reference["score"] == sum(t["max_score"] for t in reference["tests"]) > 0
    stub = grade(production_grader, REPO / "assignments" / assignment / f"{assignment}.ipynb", assignment)
    assert stub["score"] == 0


def corpus_entries(expect: str | None = None, prefix: str = "") -> list[str]:
    manifest = json.loads((CORPUS / "manifest.json").read_text(encoding="utf-8"))
    return sorted(
        name
        for name, entry in manifest.items()
        if (expect is None or entry["expect"] == expect) and Path(name).name.startswith(prefix)
    )


@pytest.fixture(scope="session")
def graded_in_production_batches(production_grader, tmp_path_factory) -> dict[str, dict]:
    """The implements-nothing family, graded by the production venv's `grade-all`, one batch per
    assignment (as an instructor regrades an export): results.json by corpus name."""
    from grader.batch.inputs import discover

    found: dict[str, dict] = {}
    base = tmp_path_factory.mktemp("production-batches")
    for assignment in sorted({name.split("/")[0] for name in corpus_entries("zero")}):
        inputs, out = base / assignment, base / f"{assignment}-graded"
        inputs.mkdir()
        names = {Path(n).name: n for n in corpus_entries("zero") if n.startswith(f"{assignment}/")}
        for file_name in names:
            shutil.copy(CORPUS / names[file_name], inputs / file_name)
        command = ["--solutions", str(SOLUTIONS), "grade-all", str(inputs), "--out", str(out)]
        done = subprocess.run(
            [str(production_grader), *command, "--assignment", assignment],
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
        for sub in discover(inputs):
            found[names[sub.source.name]] = json.loads((out / sub.id / "results.json").read_text())
    return found


@pytest.mark.parametrize("name", corpus_entries("zero"))
def test_a_notebook_that_implements_nothing_scores_zero_in_production(graded_in_production_batches, name):
    results = graded_in_production_batches[name]
    assert results["tests"] and "internal_error" not in results.get("extra_data", {}), results
    assert results["score"] == 0, [t["name"] for t in results["tests"] if t["score"] > 0]


@pytest.mark.parametrize("name", corpus_entries("full", prefix="correct_colab"))
def test_a_corpus_notebook_with_a_colab_preamble_gets_full_marks_in_production(production_grader, name):
    results = grade(production_grader, CORPUS / name, name.split("/")[0])
    assert "matplotlib" not in unavailable(results) and "scipy" not in unavailable(results)
    assert results["score"] == sum(t["max_score"] for t in results["tests"]), [
        t["name"] for t in results["tests"] if t["score"] < t["max_score"]
    ]

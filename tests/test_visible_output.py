"""What the top of the feedback says is fixed before any hidden input reaches the notebook: a
notebook that stops the grading only on hidden inputs cannot make a visible note appear or not
(one bit of a hidden input per submission)."""

from __future__ import annotations

import shutil

from conftest import CORE, DEMO_OK, assert_schema_valid

from grader.api import grade_notebook
from nbtools import write_notebook

# scale is called by hidden tests only: each call ends the process running the notebook.
CRASHING_SCALE = "import os\n\ndef scale(x, factor):\n    os._exit(1)"


def demo_with_one_restart(tmp_path):
    root = tmp_path / "solutions"
    shutil.copytree(CORE / "demo", root / "demo", ignore=shutil.ignore_patterns("__pycache__"))
    toml = root / "demo" / "assignment.toml"
    toml.write_text(toml.read_text(encoding="utf-8") + "max_restarts = 1\n", encoding="utf-8")
    return root


def test_grading_stopped_by_hidden_inputs_is_not_reported_at_the_top_of_the_feedback(tmp_path):
    root = demo_with_one_restart(tmp_path)
    cells = ["import numpy as np", DEMO_OK["relu"], CRASHING_SCALE, DEMO_OK["count"]]
    results = grade_notebook(
        write_notebook(tmp_path / "n.ipynb", cells, assignment="demo"), solutions_root=root
    )
    assert_schema_valid(results)
    assert "Grading stopped early" not in results.output
    stopped = [t for t in results.tests if t.visibility != "visible" and "was not called" in t.output]
    assert stopped, [t.output for t in results.tests]  # the hidden tests themselves say so
    assert all(t.status == "passed" for t in results.tests if t.visibility == "visible")


def test_grading_stopped_before_the_hidden_tests_is_still_reported(tmp_path):
    root = demo_with_one_restart(tmp_path)
    crashing_relu = "import os\n\ndef relu(z):\n    os._exit(1)"
    cells = ["import numpy as np", crashing_relu, DEMO_OK["scale"], DEMO_OK["count"]]
    results = grade_notebook(
        write_notebook(tmp_path / "n.ipynb", cells, assignment="demo"), solutions_root=root
    )
    assert_schema_valid(results)
    relu_visible = [t for t in results.tests if t.visibility == "visible"]
    assert relu_visible and all(t.status != "passed" for t in relu_visible)


def test_a_notebook_that_patches_the_workers_own_checks_still_loses_points_for_changing_its_input(grade_demo):
    """Whether a call changed its input is decided in the grading process, from the arguments the
    worker sends back, not by any check the notebook could patch."""
    patch = (
        "import sys, types\n"
        "fake = types.ModuleType('grader.sandbox.mutations')\n"
        "fake.changed = lambda *args: []\n"
        "fake.snapshots = lambda *args: []\n"
        "sys.modules['grader.sandbox.mutations'] = fake\n"
        "import grader.sandbox.runtime.worker as _worker\n"
        "_worker.mutations = fake\n"
    )
    results = grade_demo(patch, "def relu(z):\n    z[z < 0] = 0\n    return z")
    leaves = [t for t in results.tests if t.name.startswith("relu: does not modify")]
    assert leaves and all(t.score == 0 for t in leaves)
    assert any("changed its input z in place" in t.output for t in leaves)

"""What surrounds the worker is bounded too: an upload's folder tree and its number of notebooks
cannot exhaust the stack or the time budget before grading starts (each case bounded: depths and
counts are capped here, and the files are tiny)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from test_gradescope_entry import BOTH, grade, submit_notebook, write_metadata

from grader.notebook import Notebook
from grader.notebook.choice import MAX_CANDIDATES, choose, submitted
from grader.notebook.walk import MAX_DEPTH, walk
from grader.sandbox.supervisor.leftovers import remove_tree

ON_TIME = "2025-03-07T20:00:00.000000-08:00"


def deep_folder(root: Path, depth: int) -> Path:
    """``depth`` nested folders named ``d`` (made with relative paths: no path gets long)."""
    here = os.getcwd()
    root.mkdir(parents=True, exist_ok=True)
    os.chdir(root)
    try:
        for _ in range(depth):
            os.mkdir("d")
            os.chdir("d")
        Path("deep.ipynb").write_text("{}", encoding="utf-8")
    finally:
        os.chdir(here)
    return root


@pytest.fixture
def deep_trees():
    """Deep trees made by a test, removed without recursion when it ends: pytest's own clean-up of
    old temporary folders recurses, and a 1,100-deep tree would make it fail a later run."""
    made: list[Path] = []
    yield made
    for tree in made:
        remove_tree(str(tree))


def test_a_folder_a_thousand_levels_deep_is_walked_without_recursion_and_cut_at_the_cap(tmp_path, deep_trees):
    deep_trees.append(deep_folder(tmp_path / "upload", 1100) / "d")
    (tmp_path / "upload" / "mine.ipynb").write_text("{}", encoding="utf-8")
    found = walk(tmp_path / "upload")
    assert [p.name for p in found.files] == ["mine.ipynb"]
    assert found.stopped == f"folders nested more than {MAX_DEPTH} levels deep"


def test_a_correct_notebook_beside_a_deep_folder_is_graded_and_the_student_told(
    tmp_path, solutions, deep_trees
):
    root = tmp_path / "autograder"
    (root / "results").mkdir(parents=True)
    submit_notebook(root, code=BOTH)
    deep_trees.append(deep_folder(root / "submission" / "junk", 1100) / "d")
    write_metadata(root, ON_TIME)
    results, data = grade(root, solutions)
    assert results.score == 4
    assert "nested more than" in data["output"]


def test_an_entry_cap_stops_a_walk_of_a_huge_upload(tmp_path):
    for i in range(60):
        (tmp_path / f"f{i:03d}.txt").write_text("", encoding="utf-8")
    found = walk(tmp_path, max_entries=50)
    assert len(found.files) == 50 and found.stopped == "more than 50 files and folders"


def test_hundreds_of_tiny_notebooks_are_not_each_read_before_grading(tmp_path):
    upload = tmp_path / "upload"
    upload.mkdir()
    old = {"cells": [], "metadata": {}, "nbformat": 3, "nbformat_minor": 0, "worksheets": [{"cells": []}]}
    for i in range(150):
        (upload / f"copy{i:03d}.ipynb").write_text(json.dumps(old), encoding="utf-8")
    mine = upload / "tiny.ipynb"
    mine.write_text(
        json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}), encoding="utf-8"
    )
    os.utime(mine, (time.time() + 60, time.time() + 60))
    forks: list[int] = []
    real_fork = os.fork

    def counted_fork() -> int:
        forks.append(1)
        return real_fork()

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(os, "fork", counted_fork)
        choice = choose(submitted(upload).files, "tiny", "tiny.ipynb", upload)
    assert choice.notebook == mine and isinstance(choice.read, Notebook)
    assert f"{151 - MAX_CANDIDATES} more notebooks were not considered" in choice.message
    assert len(forks) == 1  # every candidate looked at, and the chosen one read, in one child


@pytest.fixture(scope="module")
def solutions(tmp_path_factory):
    from test_gradescope_entry import make_assignment

    root = tmp_path_factory.mktemp("solutions")
    make_assignment(root, "tiny")
    return root


def test_a_notebook_that_breaks_the_engine_check_costs_only_itself(tmp_path):
    """An engine-like cell nested too deep to walk is not the engine; the other notebook is graded."""
    upload = tmp_path / "upload"
    upload.mkdir()
    from grader.notebook.self_checks import is_engine_cell
    from nbtools import ASSIGNMENTS

    handout = json.loads((ASSIGNMENTS / "nn_basics" / "nn_basics.ipynb").read_text(encoding="utf-8"))
    engine = next(
        "".join(c["source"]) if isinstance(c["source"], list) else c["source"]
        for c in handout["cells"]
        if c["cell_type"] == "code"
        and is_engine_cell("".join(c["source"]) if isinstance(c["source"], list) else c["source"])
    )
    deep = engine.replace("del _selfcheck_engine", "del _selfcheck_engine" + ".a" * 1500)
    cell = {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": []}
    bad = {"cells": [{**cell, "source": deep}], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    (upload / "aa_broken.ipynb").write_text(json.dumps(bad), encoding="utf-8")
    good = {"cells": [{**cell, "source": "x = 1"}], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    mine = upload / "tiny.ipynb"
    mine.write_text(json.dumps(good), encoding="utf-8")
    os.utime(mine, (time.time() + 60, time.time() + 60))
    choice = choose(submitted(upload).files, "tiny", "tiny.ipynb", upload)
    assert choice.notebook == mine and isinstance(choice.read, Notebook), choice.message

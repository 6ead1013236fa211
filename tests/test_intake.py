"""Notebook intake: reading, upgrading old formats; the worker neutralising IPython syntax."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import CORE, DEMO_OK, assert_schema_valid

from grader.api import grade_notebook
from grader.notebook import NotebookError, prepare, read_notebook
from grader.notebook.intake import CodeCell, Notebook
from grader.sandbox.runtime.cells import python_source
from nbtools import REPO, write_notebook


def test_magics_and_shell_lines_become_harmless_calls():
    source = python_source("%matplotlib inline\n!pip install torch\nx = !ls\nimport numpy as np")
    assert "get_ipython().run_line_magic('matplotlib', 'inline')" in source
    assert "get_ipython().system('pip install torch')" in source
    assert "import numpy as np" in source


def test_plain_python_cells_are_left_exactly_as_written(tmp_path):
    code = "def relu(z):\n    return z * (z > 0)  # keep me"
    path = write_notebook(tmp_path / "n.ipynb", [code])
    assert prepare(read_notebook(path)).cells[0].source == code


def test_a_notebook_with_magics_grades_like_one_without(grade_demo):
    results = grade_demo("%matplotlib inline\n!pip install numpy\n%%capture\nprint('hidden')")
    assert results.score == results.max_score


def test_a_cell_magic_still_runs_its_python_body(grade_demo):
    results = grade_demo("%%time\ndef count(n):\n    return n")
    assert results.score == results.max_score


def test_markdown_and_empty_cells_are_skipped_and_numbers_count_only_code_cells(tmp_path):
    path = write_notebook(tmp_path / "n.ipynb", ["#md # Title", "   ", "x = 1"])
    cells = prepare(read_notebook(path)).cells
    assert [(c.number, c.source) for c in cells] == [(2, "x = 1")]


def test_an_nbformat_3_notebook_is_upgraded_and_graded(tmp_path):
    code = "import numpy as np\n" + "\n".join(DEMO_OK.values())
    v3 = {
        "nbformat": 3,
        "nbformat_minor": 0,
        "metadata": {"grader": {"assignment": "demo"}},
        "worksheets": [
            {
                "cells": [
                    {"cell_type": "code", "input": code, "language": "python", "outputs": [], "metadata": {}}
                ],
                "metadata": {},
            }
        ],
    }
    path = tmp_path / "old.ipynb"
    path.write_text(json.dumps(v3))
    results = grade_notebook(path, solutions_root=CORE)
    assert_schema_valid(results)
    assert results.score == results.max_score


def test_source_stored_as_a_list_of_lines_is_joined(tmp_path):
    path = write_notebook(tmp_path / "n.ipynb", ["x = 1"])
    data = json.loads(path.read_text())
    data["cells"][0]["source"] = ["x = 1\n", "y = 2"]
    path.write_text(json.dumps(data))
    assert read_notebook(path).cells[0].source == "x = 1\ny = 2"


@pytest.mark.parametrize(
    "content, phrase",
    [
        (b"this is not json", "not readable JSON"),
        (b"\xff\xfe\x00garbage", "not readable JSON"),
        (b"[1, 2, 3]", "not a Jupyter notebook"),
        (b'{"nbformat": 4, "cells": "nope"}', "could not be read as a Jupyter notebook"),
    ],
)
def test_an_unreadable_notebook_is_explained_to_the_student(tmp_path, content, phrase):
    path = tmp_path / "broken.ipynb"
    path.write_bytes(content)
    with pytest.raises(NotebookError, match=phrase):
        read_notebook(path)


def test_an_unreadable_notebook_scores_zero_and_still_lists_every_test(tmp_path):
    path = tmp_path / "broken.ipynb"
    path.write_text("{ not json")
    results = grade_notebook(path, "demo", solutions_root=CORE)
    assert_schema_valid(results)
    assert results.score == 0 and len(results.tests) == 5
    assert "not readable JSON" in results.output
    assert all("not readable JSON" in t.output for t in results.tests)


def test_the_assignment_comes_from_metadata_so_a_renamed_file_grades_the_same(tmp_path):
    cells = ["import numpy as np", *DEMO_OK.values()]
    path = write_notebook(tmp_path / "My Homework (1).ipynb", cells, assignment="demo")
    results = grade_notebook(path, solutions_root=CORE)
    assert results.score == results.max_score == 7


def test_a_notebook_without_an_assignment_name_is_refused_with_a_clear_message(tmp_path):
    path = write_notebook(tmp_path / "n.ipynb", ["x = 1"])
    other = tmp_path / "solutions"
    for name in ("one", "two"):
        (other / name).mkdir(parents=True)
        (other / name / "assignment.toml").write_text("")
    results = grade_notebook(path, solutions_root=other)
    assert_schema_valid(results)
    assert results.score == 0 and "does not say which assignment" in results.output


def test_an_assignment_name_from_metadata_cannot_point_outside_the_solutions(tmp_path):
    outside = tmp_path / "mine"
    (outside / "tests").mkdir(parents=True)
    (outside / "assignment.toml").write_text("")
    (outside / "tests" / "test_free.py").write_text("def test_free():\n    pass\n")
    path = write_notebook(tmp_path / "n.ipynb", ["x = 1"], assignment=str(outside))
    results = grade_notebook(path, solutions_root=CORE)
    assert_schema_valid(results)
    assert results.score == 0 and not results.tests
    assert "is not an assignment name" in results.output


def test_a_cell_that_ran_is_named_with_the_count_jupyter_shows_beside_it(tmp_path):
    path = write_notebook(
        tmp_path / "n.ipynb", ["import numpy as np", "raise ValueError('boom')"], assignment="demo"
    )
    data = json.loads(path.read_text(encoding="utf-8"))
    data["cells"][1]["execution_count"] = 7
    path.write_text(json.dumps(data), encoding="utf-8")
    assert [c.execution_count for c in read_notebook(path).cells] == [None, 7]
    output = grade_notebook(path, solutions_root=CORE).output
    assert "Code cell 2 [7], starting \"raise ValueError('boom')\"" in output, output


def test_an_execution_count_that_is_not_a_small_positive_integer_is_not_shown(tmp_path):
    path = write_notebook(tmp_path / "n.ipynb", ["x = 1", "y = 2", "z = 3"])
    data = json.loads(path.read_text(encoding="utf-8"))
    for cell, count in zip(data["cells"], [True, -3, "5\nPASS"]):
        cell["execution_count"] = count
    path.write_text(json.dumps(data), encoding="utf-8")
    assert [c.execution_count for c in read_notebook(path).cells] == [None, None, None]


def _handout_cells(assignment: str) -> list[str]:
    notebook = json.loads(
        (REPO / "assignments" / assignment / f"{assignment}.ipynb").read_text(encoding="utf-8")
    )
    return [
        "".join(c["source"]) if isinstance(c["source"], list) else c["source"]
        for c in notebook["cells"]
        if c["cell_type"] == "code"
    ]


@pytest.mark.parametrize("assignment", ["nn_basics", "cnn", "training"])
def test_the_handouts_self_check_engine_is_not_run_in_grading_but_stood_in_for(assignment):
    from grader.notebook.self_checks import STAND_IN, is_engine_cell

    engines = [source for source in _handout_cells(assignment) if is_engine_cell(source)]
    assert len(engines) == 1
    prepared = prepare(Notebook(Path("n.ipynb"), (CodeCell(1, engines[0]),), {}))
    assert prepared.cells[0].source == STAND_IN


@pytest.mark.parametrize(
    "edit",
    [
        lambda s: s + "\nimport os",  # a statement added at the end
        lambda s: s.replace(
            "    _RTOL, _ATOL = 1e-5, 1e-7", "    _RTOL, _ATOL = 1e-1, 1e-1"
        ),  # the runtime edited
        lambda s: s.replace("selfcheck, summary = _selfcheck_engine(", "selfcheck, summary = print("),
        lambda s: s.replace("__import__('json').loads(", "__import__('os').system(", 1),
        lambda s: "x = 1\n" + s,  # code before the header
    ],
)
def test_an_edited_engine_cell_runs_as_written(edit):
    from grader.notebook.self_checks import is_engine_cell

    engine = next(source for source in _handout_cells("nn_basics") if is_engine_cell(source))
    assert not is_engine_cell(edit(engine))


def test_a_self_check_call_on_a_function_that_never_returns_costs_its_cell_nothing(tmp_path):
    cells = [
        source.replace("    # YOUR CODE HERE\n    raise NotImplementedError", "    while True:\n        pass")
        if source.startswith("def relu(")
        else source
        for source in _handout_cells("nn_basics")
    ]
    path = write_notebook(tmp_path / "nn_basics.ipynb", cells, assignment="nn_basics")
    results = grade_notebook(path, "nn_basics")
    relu_check = next(i + 1 for i, source in enumerate(cells) if 'selfcheck("relu"' in source)
    assert results.extra_data["cells"][relu_check] == "ok", results.output
    assert any(t.outcome == "timeout" for t in results.tests if t.function == "relu")

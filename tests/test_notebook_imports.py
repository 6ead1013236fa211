"""A notebook's imports behave as they did in the student's Colab or Jupyter session.

A failed top-level import does not stop its cell, front-end modules (google.colab, widgets) are
inert stand-ins, and the usual aliases (np, torch, nn, F) still resolve when the cell importing
them was deleted after it ran. The unit tests run the worker's rules directly; the grading tests
run them in the sandbox.
"""

from __future__ import annotations

import ast
import json
import sys

import pytest
from conftest import grade_valid

from grader.sandbox.runtime import imports
from nbtools import SOLUTIONS, write_notebook


def run_guarded(source: str) -> tuple[dict, list[dict]]:
    failed = imports.FailedImports()
    namespace = {imports.FAILED_IMPORT_HOOK: failed}
    exec(compile(imports.guard_imports(ast.parse(source)), "<cell>", "exec"), namespace)
    return namespace, failed.take()


def test_a_missing_module_does_not_stop_the_rest_of_its_cell():
    namespace, failed = run_guarded("import not_installed_anywhere\nafter = 1")
    assert namespace["after"] == 1
    assert [f["module"] for f in failed] == ["not_installed_anywhere"]


def test_one_missing_name_of_a_combined_import_does_not_unbind_the_others():
    namespace, failed = run_guarded(
        "import not_installed_anywhere, json as j\nfrom math import pi, no_such_name"
    )
    assert namespace["j"] is json and "pi" in namespace
    assert len(failed) == 2 and "no_such_name" in failed[1]["message"]


def test_an_import_inside_a_function_still_raises_when_the_function_runs():
    namespace, failed = run_guarded("def f():\n    import not_installed_anywhere\n")
    assert failed == []
    try:
        namespace["f"]()
    except ModuleNotFoundError:
        return
    raise AssertionError("the import inside f was swallowed")


def test_a_cell_may_begin_with_a_future_import_as_in_jupyter_where_each_cell_compiles_on_its_own():
    source = '"""Typed helpers."""\nfrom __future__ import annotations\nimport not_installed_anywhere\n' + (
        "def f(x: Undefined) -> int:\n    return 1\nvalue = f(0)"
    )
    namespace, failed = run_guarded(source)
    assert namespace["value"] == 1  # the annotation is never evaluated: the future import took effect
    assert [entry["line"] for entry in failed] == [3]


def test_line_numbers_of_a_guarded_cell_are_the_students_own():
    try:
        run_guarded("import json\n\n1 / 0\n")
    except ZeroDivisionError as error:
        import traceback

        assert traceback.extract_tb(error.__traceback__)[-1].lineno == 3
        return
    raise AssertionError("the cell did not raise")


@pytest.fixture
def stand_ins():
    """The worker's stand-in finder, in this process for the length of one test only."""
    finder = imports.StandInFinder()
    sys.meta_path.insert(0, finder)
    yield
    sys.meta_path.remove(finder)
    for name in [m for m in sys.modules if m.split(".")[0] in ("google", "ipywidgets")]:
        if isinstance(sys.modules[name], imports.StandInModule):
            del sys.modules[name]


def test_front_end_modules_are_inert_stand_ins(stand_ins):
    namespace, failed = run_guarded(
        "from google.colab import drive, files\ndrive.mount('/content/drive')\n"
        "uploaded = files.upload()\nnames = list(uploaded)\nimport ipywidgets as w\n"
        "w.IntSlider(value=3)"
    )
    assert failed == [] and namespace["names"] == []


def stubs_only(assignment: str, out):
    """The reference's solution cells alone: no import cell, no checks, nothing the notebook "gives"."""
    notebook = json.loads((SOLUTIONS / assignment / f"{assignment}.ipynb").read_text(encoding="utf-8"))
    cells = []
    for cell in notebook["cells"]:
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        if cell["cell_type"] == "code" and "### BEGIN SOLUTION" in source:
            cells.append(
                "\n".join(
                    line
                    for line in source.splitlines()
                    if "### " not in line and not line.startswith(("import torch", "import numpy"))
                )
            )
    return write_notebook(out, cells)


def test_a_notebook_of_only_its_functions_without_any_import_gets_full_marks(tmp_path):
    for assignment in ("nn_basics", "cnn"):
        results = grade_valid(stubs_only(assignment, tmp_path / f"{assignment}.ipynb"), assignment)
        assert results.score == results.max_score, [t.name for t in results.tests if t.score < t.max_score]


def test_a_module_the_grader_lacks_is_reported_once_and_costs_only_the_code_using_it(tmp_path):
    reference = json.loads((SOLUTIONS / "nn_basics" / "nn_basics.ipynb").read_text(encoding="utf-8"))
    cells = ["import librosa\nimport numpy as np\ny = librosa.load('song.wav')"]
    cells += ["".join(c["source"]) for c in reference["cells"] if c["cell_type"] == "code"][1:]
    cells.insert(2, "import librosa.display")
    results = grade_valid(write_notebook(tmp_path / "librosa.ipynb", cells), "nn_basics")
    assert "Not available in the grader" in results.output
    assert (
        results.output.count(
            '- librosa (imported in code cell 1, starting "import librosa", '
            'code cell 3, starting "import librosa.display")'
        )
        == 1
    )
    assert "y = librosa.load('song.wav')" in results.output  # the line that uses it fails, and only that
    assert results.score == results.max_score

"""The grading core on a small demo assignment: outcomes, isolation of failures, feedback."""

from __future__ import annotations

from conftest import CORE, DEMO_OK, by_function

from grader.api import grade_notebook
from nbtools import write_notebook


def test_a_correct_notebook_gets_full_marks(grade_demo):
    results = grade_demo()
    assert results.score == results.max_score == 7
    assert all(t.status == "passed" for t in results.tests)


def test_an_empty_function_body_loses_points_only_in_that_function(grade_demo):
    results = grade_demo("def scale(x, factor):\n    pass")
    lost = by_function(results)
    assert lost["scale"] == 3 and lost["relu"] == 0 and lost["count"] == 0
    failing = [t for t in results.tests if t.function == "scale"][0]
    assert "returned None" in failing.output and "return" in failing.output


def test_a_not_implemented_stub_says_so(grade_demo):
    results = grade_demo("def relu(z):\n    raise NotImplementedError")
    relu_tests = [t for t in results.tests if t.function == "relu"]
    assert all("not implemented yet" in t.output for t in relu_tests)


def test_a_missing_function_is_named_in_the_feedback(grade_demo):
    results = grade_demo(
        "def skale(x, factor):\n    return x * factor",
        "def relu(z):\n    return np.maximum(z, 0.0)",
        "def count(n):\n    return n",
        keep_defaults=False,
    )
    scale_test = [t for t in results.tests if t.function == "scale"][0]
    assert "scale is not defined in your notebook" in scale_test.output


def test_a_failing_cell_does_not_sink_later_functions(grade_demo):
    results = grade_demo("volume = 1 / 0")
    assert results.score == results.max_score
    assert '- Code cell 2, starting "volume = 1 / 0", raised ZeroDivisionError' in results.output


def test_an_infinite_loop_in_a_function_times_out_that_test_only(grade_demo):
    results = grade_demo("def count(n):\n    while True:\n        pass")
    lost = by_function(results)
    assert lost == {"relu": 0, "scale": 0, "count": 2}
    count_test = [t for t in results.tests if t.function == "count"][0]
    assert count_test.outcome == "timeout" and "did not finish in time" in count_test.output


def test_an_infinite_loop_that_swallows_the_interrupt_is_killed_and_the_worker_replaced(grade_demo):
    stubborn = (
        "def relu(z):\n    while True:\n        try:\n            while True:\n                pass\n"
        "        except BaseException:\n            pass"
    )
    results = grade_demo(stubborn)
    lost = by_function(results)
    assert lost["relu"] == 2 and lost["scale"] == 0 and lost["count"] == 0
    assert results.extra_data["worker_restarts"] >= 1


def test_a_top_level_infinite_loop_is_stopped_and_later_cells_still_run(grade_demo):
    results = grade_demo("while True:\n    pass")
    assert results.score == results.max_score
    assert "did not finish in time" in results.output


def test_wrong_values_show_the_input_the_expected_and_the_actual_answer(grade_demo):
    results = grade_demo("def relu(z):\n    return np.abs(z)")
    failing = [t for t in results.tests if t.number == "1.1"][0]
    assert "relu returned the wrong values" in failing.output
    assert "z = [-2.  -0.5  0.   0.5  3. ]" in failing.output
    assert "expected:" in failing.output and "got:" in failing.output


def test_modifying_an_input_in_place_is_reported(grade_demo):
    results = grade_demo("def relu(z):\n    z[z < 0] = 0\n    return z")
    failing = [t for t in results.tests if t.number == "1.2"][0]
    assert failing.status == "failed"
    assert "changed its input z in place" in failing.output


def test_a_raised_exception_shows_the_students_own_line(grade_demo):
    results = grade_demo("def scale(x, factor):\n    y = x * factor\n    return y[10]")
    failing = [t for t in results.tests if t.number == "2.1"][0]
    assert "IndexError" in failing.output
    assert "return y[10]" in failing.output
    assert "grader/" not in failing.output  # only the student's frames


def test_partial_credit_is_kept_when_some_values_are_right(grade_demo):
    results = grade_demo("def count(n):\n    return n if n < 3 else 0")
    test = [t for t in results.tests if t.function == "count"][0]
    assert test.score == 1.0 and test.max_score == 2 and test.status == "failed"


def test_public_only_runs_just_the_visible_tests(grade_demo):
    results = grade_demo(public_only=True)
    assert [t.number for t in results.tests] == ["1.1"]


def test_hidden_tests_are_counted_for_the_student_without_their_content(grade_demo):
    results = grade_demo()
    hidden = [t for t in results.tests if t.visibility == "after_published"]
    assert len(hidden) == 4
    assert "4 hidden tests worth 6 points will be shown when grades are published" in results.output


def test_notes_are_rendered_once_lines_within_a_paragraph_and_blank_lines_between():
    from grader.grading.notes import REPORT, Graded, instructor, student
    from grader.results import GradingResults

    graded = Graded(
        GradingResults(),
        [
            student("intro"),
            instructor("staff only"),
            student(""),
            student("Graded x.", REPORT),
            student("hidden", REPORT),
        ],
    )
    assert graded.rendered().output == "intro\n\nGraded x.\nhidden"


def test_a_short_lived_child_answers_only_in_time_small_and_without_raising():
    import time

    from grader.forked import in_child

    assert in_child(lambda: {"due": "2026-12-01"}) == {"due": "2026-12-01"}
    assert in_child(lambda: 1 / 0) is None
    assert in_child(lambda: "x" * 5000, max_bytes=1000) is None
    started = time.monotonic()
    assert in_child(lambda: time.sleep(30), seconds=0.5) is None
    assert time.monotonic() - started < 5


BIG_INPUTS = '''
import numpy as np
from grader.testing import expect


def test_relu_leaves_a_large_uint8_array_alone(student):
    """relu: a large uint8 array is left as it was"""
    expect(student.relu, (np.arange(20000) % 200).astype(np.uint8)).to_leave_inputs_unchanged()


def test_relu_leaves_a_large_float32_array_alone(student):
    """relu: a large float32 array is left as it was"""
    expect(student.relu, np.linspace(-1, 1, 20000).astype(np.float32)).to_leave_inputs_unchanged()
'''


def test_large_arguments_of_any_dtype_come_back_within_their_allowance(tmp_path):
    """Both sides count an argument's elements at 8 bytes: a large uint8 or float32 input that a
    correct function leaves alone is never judged as changed."""
    import shutil

    solutions = tmp_path / "solutions"
    shutil.copytree(CORE, solutions, ignore=shutil.ignore_patterns("__pycache__"))
    (solutions / "demo" / "tests" / "test_big_inputs.py").write_text(BIG_INPUTS, encoding="utf-8")
    path = write_notebook(tmp_path / "n.ipynb", ["import numpy as np", *DEMO_OK.values()], assignment="demo")
    results = grade_notebook(path, "demo", solutions_root=solutions)
    big = [t for t in results.tests if "large" in t.name]
    assert len(big) == 2 and all(t.outcome == "passed" for t in big), [t.output for t in big]

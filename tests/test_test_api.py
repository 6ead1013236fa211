"""The parts of grader.testing an author writes hidden tests with: to_raise, the size helpers and
the built-in hints, graded through a small assignment of their own."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.api import grade_notebook
from grader.testing import conv_output_size, conv_shape_hint, pad_widths, pool_output_size, pool_shape_hint
from nbtools import write_notebook

TESTS = '''
import numpy as np
from grader.testing import expect, expect_call


def test_raises_value_error(student):
    """check: a negative size raises ValueError"""
    expect_call(student.check, -1).to_raise(ValueError)


def test_raises_with_a_message(student):
    """check: the message names the size"""
    expect_call(student.check, -1).to_raise(ValueError, match="size")


def test_raises_an_arithmetic_error(student):
    """divide: by zero raises an ArithmeticError"""
    expect_call(student.divide, 1, 0).to_raise(ArithmeticError)


def test_negated(student):
    """diff: differences of neighbours"""
    x = np.array([1.0, 4.0, 9.0, 16.0])
    expect(student.diff, x).to_equal(x[1:] - x[:-1])


def test_negated_and_named(student):
    """diff: differences of neighbours, a flipped kernel named"""
    x = np.array([1.0, 4.0, 9.0, 16.0])
    expect(student.diff, x).to_equal(x[1:] - x[:-1], likely={"the kernel is flipped": x[:-1] - x[1:]})
'''

RIGHT = """
import numpy as np

def check(size):
    if size < 0:
        raise ValueError(f"size must be at least 0, not {size}")
    return size

def divide(a, b):
    return a / b

def diff(x):
    return x[1:] - x[:-1]
"""


@pytest.fixture(scope="module")
def solutions(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("solutions")
    (root / "api" / "tests").mkdir(parents=True)
    (root / "api" / "assignment.toml").write_text('title = "API"\n', encoding="utf-8")
    (root / "api" / "tests" / "test_api.py").write_text(TESTS, encoding="utf-8")
    return root


def graded(solutions: Path, tmp_path: Path, code: str) -> dict[str, str]:
    path = write_notebook(tmp_path / "nb.ipynb", [code], assignment="api")
    results = grade_notebook(path, solutions_root=solutions)
    return {
        t.name.split(": ", 1)[1]: ("PASS " if t.status == "passed" else "FAIL ") + t.output
        for t in results.tests
    }


def test_to_raise_passes_when_the_call_raises_that_exception_or_a_built_in_subclass(solutions, tmp_path):
    outputs = graded(solutions, tmp_path, RIGHT)
    assert all(text.startswith("PASS") for text in outputs.values()), outputs


def test_to_raise_fails_a_call_that_returns_saying_what_came_back(solutions, tmp_path):
    outputs = graded(
        solutions,
        tmp_path,
        RIGHT.replace('raise ValueError(f"size must be at least 0, not {size}")', "return 0"),
    )
    assert outputs["a negative size raises ValueError"].startswith(
        "FAIL check should raise ValueError here, but it returned a value."
    )
    assert "size = -1" in outputs["a negative size raises ValueError"]


def test_to_raise_fails_another_exception_or_a_message_that_does_not_match(solutions, tmp_path):
    outputs = graded(
        solutions,
        tmp_path,
        RIGHT.replace('raise ValueError(f"size must', 'raise TypeError(f"size must').replace(
            "def divide(a, b):\n    return a / b", "def divide(a, b):\n    return a / b if b else None"
        ),
    )
    assert (
        "should raise ValueError here, but it raised TypeError: size must be at least 0"
        in outputs["a negative size raises ValueError"]
    )
    assert (
        "should raise ArithmeticError here, but it returned a value"
        in outputs["by zero raises an ArithmeticError"]
    )
    outputs = graded(solutions, tmp_path, RIGHT.replace("size must be at least 0, not {size}", "negative"))
    assert (
        "its message 'negative' does not say what went wrong (expected it to mention 'size')"
        in outputs["the message names the size"]
    )


def test_a_function_still_a_stub_is_told_so_rather_than_that_it_raised_the_wrong_exception(
    solutions, tmp_path
):
    outputs = graded(
        solutions,
        tmp_path,
        RIGHT.replace("    if size < 0:", "    raise NotImplementedError\n    if size < 0:"),
    )
    assert "check is not implemented yet" in outputs["a negative size raises ValueError"]


def test_an_answer_of_the_opposite_sign_is_noted_as_observed_and_a_likely_entry_names_the_cause(
    solutions, tmp_path
):
    outputs = graded(solutions, tmp_path, RIGHT.replace("return x[1:] - x[:-1]", "return x[:-1] - x[1:]"))
    assert (
        "Note: every value is the expected one with the opposite sign."
        in outputs["differences of neighbours"]
    )
    assert "Likely mistake" not in outputs["differences of neighbours"]
    named = outputs["differences of neighbours, a flipped kernel named"]
    assert "Likely mistake: the kernel is flipped" in named and "opposite sign" not in named


@pytest.mark.parametrize(
    "n, k, padding, stride, size",
    [
        (10, 3, "valid", 1, 8),
        (10, 3, "same", 1, 10),
        (10, 4, "same", 2, 5),
        (7, 3, 1, 2, 4),
        (9, 4, 1, 2, 4),
    ],
)
def test_the_output_size_is_the_floor_formula_with_same_padding_as_pytorch(n, k, padding, stride, size):
    assert conv_output_size(n, k, padding, stride) == size


def test_same_padding_puts_the_smaller_half_first_and_pooling_keeps_only_complete_windows():
    assert pad_widths(4, "same") == (1, 2) and pad_widths(3, 2) == (2, 2) and pad_widths(5) == (0, 0)
    assert pool_output_size(10, 3) == 3 and pool_output_size(10, 3, stride=1) == 8


def test_the_shape_hints_show_the_formula_for_each_axis_in_1d_and_2d():
    one = conv_shape_hint((12,), (3,), "valid", 2)((6,))
    assert "length: floor((12 + 0 − 3) / 2) + 1 = 5" in one and "leading axes" not in one
    two = conv_shape_hint((6, 8), (3, 2), "same", 1, lead=(4,))((6, 8))
    assert (
        "rows:    floor((6 + 2 − 3) / 1) + 1 = 6" in two and "columns: floor((8 + 1 − 2) / 1) + 1 = 8" in two
    )
    assert "The leading axes should be (4,)" in two
    pool = pool_shape_hint((10,), 3)((4,))
    assert "stride s = 3 (the default: s = kernel_size)" in pool and "floor((10 + 0 − 3) / 3) + 1 = 3" in pool

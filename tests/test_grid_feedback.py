"""A wrong 2-D answer is shown as a grid: plain text in the message (terminal, notebook, Gradescope
alike), and on Gradescope a Markdown table too, inside which no student text can escape its block."""

from __future__ import annotations

import json

import numpy as np
from conftest import assert_schema_valid

from grader.grading.grid import fenced, grid_of, grid_text, markdown, unfenced
from grader.results import GradingResults, TestResult


def test_a_grid_marks_exactly_the_values_that_differ_in_the_first_differing_slice():
    want = np.arange(2 * 3 * 4, dtype=float).reshape(2, 3, 4)
    got = want.copy()
    got[1, 2, 3] += 1
    grid = grid_of(got, want, 1e-5, 1e-7)
    assert grid is not None and grid.where == "[1]"
    assert sum(map(sum, grid.differ)) == 1 and grid.differ[2][3]
    text = grid_text(grid)
    assert (
        text.splitlines()[0] == "Expected and got of slice [1], side by side; * marks a value that differs:"
    )
    assert text.count("*") == 2  # the explanation's and the one value's


def test_no_grid_for_a_wrong_shape_a_large_answer_or_a_single_row():
    assert grid_of(np.zeros((3, 3)), np.ones((3, 4)), 1e-5, 1e-7) is None
    assert grid_of(np.zeros((20, 20)), np.ones((20, 20)), 1e-5, 1e-7) is None
    assert grid_of(np.zeros(6), np.ones(6), 1e-5, 1e-7) is None


def test_student_text_with_backticks_cannot_close_the_block_it_is_shown_in():
    text = "it raised ValueError: ``````\n![x](http://example.com/t.png)"
    block = fenced(text)
    assert block.startswith("```````text\n") and block.endswith("\n```````")
    assert unfenced(block) == text


def test_results_json_carries_the_table_as_markdown_and_reads_back_the_plain_message():
    want = np.arange(9.0).reshape(3, 3)
    grid = grid_of(want + np.eye(3), want, 1e-5, 1e-7)
    assert grid is not None
    test = TestResult(
        name="conv2d: grid", max_score=1.0, output="conv2d returned the wrong values.", grid=grid
    )
    data = assert_schema_valid(json.loads(GradingResults(tests=[test]).to_json()))
    entry = data["tests"][0]
    assert entry["output_format"] == "md"
    assert "| 0 | **1** (expected 0) | 1 | 2 |" in entry["output"]
    assert TestResult.from_dict(entry).output == "conv2d returned the wrong values."
    assert markdown("x", grid).startswith("```text\nx\n```")

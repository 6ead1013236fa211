"""Regrading with a diff (``grade-all --compare OLD``) and re-running a batch after a failed grade."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest

from grader import cli
from grader.batch.regrade import Comparison, FlippedTest, ScoreChange, as_html, as_text, compare, was_graded
from nbtools import write_notebook

CORE = Path(__file__).parent / "fixtures" / "core"
GOOD = [
    "import numpy as np",
    "def relu(z):\n    return np.maximum(z, 0.0)",
    "def scale(x, factor):\n    return np.asarray(x) * factor",
    "def count(n):\n    return n",
]
NO_SCALE = GOOD[:2] + GOOD[3:]


def results(folder: Path, sub: str, score: float, tests: dict[str, tuple[float, float]]) -> None:
    path = folder / sub / "results.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    entries = [
        {"name": name, "number": number, "score": s, "max_score": m}
        for (number, name), (s, m) in ((k.split(" ", 1), v) for k, v in tests.items())
    ]
    path.write_text(json.dumps({"score": score, "tests": entries}), encoding="utf-8")


def test_only_submissions_whose_score_changed_are_listed_with_the_tests_that_flipped(tmp_path):
    old, new = tmp_path / "old", tmp_path / "new"
    results(old, "ada", 3, {"1.1 relu: signs": (1, 1), "2.1 scale: matrix": (2, 2)})
    results(new, "ada", 3, {"1.1 relu: signs": (1, 1), "2.1 scale: matrix": (2, 2)})
    results(old, "bob", 1, {"1.1 relu: signs": (1, 1), "2.1 scale: matrix": (0, 2)})
    results(new, "bob", 3, {"1.1 relu: signs": (1, 1), "2.1 scale: matrix": (2, 2)})
    results(old, "cy", 3, {"1.1 relu: signs": (1, 1), "2.1 scale: matrix": (2, 2)})
    results(new, "cy", 2.5, {"1.1 relu: signs": (0.5, 1), "2.1 scale: matrix": (2, 2)})
    comparison = compare(old, new, ["ada", "bob", "cy"])
    assert comparison.unchanged == 1
    assert [(c.submission, c.before, c.after, c.delta) for c in comparison.changed] == [
        ("cy", 3, 2.5, -0.5),
        ("bob", 1, 3, 2),
    ]  # the largest loss first
    assert comparison.changed[1].tests == (FlippedTest("2.1 scale: matrix", 0, 2, 2, 2),)
    text = as_text(comparison)
    assert "2 score(s) changed, 1 unchanged" in text
    assert "bob: 1 -> 3 (+2)" in text and "2.1 scale: matrix: now passes (0 -> 2/2)" in text
    assert "cy: 3 -> 2.5 (-0.5)" in text and "1.1 relu: signs: now fails (1 -> 0.5/1)" in text


def test_a_weight_change_is_told_apart_from_a_verdict_change_and_submitters_are_named(tmp_path):
    old, new = tmp_path / "old", tmp_path / "new"
    results(old, "ada", 2, {"1.1 relu: signs": (2, 2), "2.1 scale: matrix": (0, 1)})
    results(new, "ada", 3, {"1.1 relu: signs": (3, 3), "2.1 scale: matrix": (0, 1)})
    results(old, "bob", 0, {"1.1 relu: signs": (0, 2)})
    results(new, "bob", 3, {"1.1 relu: signs": (3, 3)})
    text = as_text(compare(old, new, ["ada", "bob"], {"ada": "Ada Lovelace", "bob": "Bob"}))
    assert "ada (Ada Lovelace): 2 -> 3 (+1)" in text
    assert "1.1 relu: signs: passes both times; its points changed (2/2 -> 3/3)" in text
    assert "1.1 relu: signs: now passes (0/2 -> 3/3)" in text
    assert "now passes (2" not in text


def test_a_submission_new_in_the_regrade_and_a_test_added_are_listed_as_such(tmp_path):
    old, new = tmp_path / "old", tmp_path / "new"
    results(old, "ada", 1, {"1.1 relu: signs": (1, 1)})
    results(new, "ada", 2, {"1.1 relu: signs": (1, 1), "1.2 relu: large": (1, 1)})
    results(new, "dora", 2, {"1.1 relu: signs": (1, 1)})
    text = as_text(compare(old, new, ["ada", "dora"]))
    assert "1.2 relu: large: new test, 1/1" in text
    assert "dora: 2 (not in the old batch)" in text


def test_the_report_section_escapes_names_and_says_when_nothing_changed(tmp_path):
    change = ScoreChange("<b>x</b>", 1, 2, (FlippedTest("1.1 a <test>", 0, 1, 1),))
    section = as_html(Comparison(tmp_path, [change], 3))
    assert "&lt;b&gt;x&lt;/b&gt;" in section and "<b>x</b>" not in section and "+1" in section
    assert "No score changed (4 submissions compared)" in as_html(Comparison(tmp_path, [], 4))


def test_results_without_tests_or_with_an_internal_error_are_not_a_finished_grade():
    assert was_graded({"score": 1, "tests": [{"name": "a", "score": 1, "max_score": 1}]})
    assert not was_graded({"score": 0, "output": "could not tell which assignment", "tests": []})
    assert not was_graded({"score": 0, "tests": [{"name": "a"}], "extra_data": {"internal_error": "died"}})
    assert not was_graded(["not", "a", "dict"])


@pytest.fixture
def course(tmp_path):
    """Two assignments (so a notebook without metadata cannot be told), and three notebooks."""
    solutions = tmp_path / "solutions"
    shutil.copytree(CORE / "demo", solutions / "demo", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(CORE / "demo", solutions / "other", ignore=shutil.ignore_patterns("__pycache__"))
    inputs = tmp_path / "in"
    inputs.mkdir()
    write_notebook(inputs / "ada.ipynb", GOOD, assignment="demo")
    write_notebook(inputs / "bob.ipynb", NO_SCALE, assignment="demo")
    write_notebook(inputs / "cy.ipynb", GOOD)  # no metadata: fails to grade without --assignment
    return solutions, inputs


def test_a_fixed_test_regraded_with_compare_lists_whose_score_changed_in_the_terminal_and_the_report(
    course, tmp_path, capsys
):
    solutions, inputs = course
    tests = solutions / "demo" / "tests" / "test_demo.py"
    fixed = tests.read_text(encoding="utf-8")
    # The mistake being fixed: 2.2 expected the vector scaled by 3, not by 2.
    tests.write_text(fixed.replace("to_equal(scale(z, 2.0))", "to_equal(scale(z, 3.0))"), encoding="utf-8")
    base = ["--solutions", str(solutions), "grade-all", str(inputs), "--jobs", "2", "--assignment", "demo"]
    assert cli.main([*base, "--out", str(tmp_path / "old")]) == 0
    tests.write_text(fixed, encoding="utf-8")
    capsys.readouterr()
    assert cli.main([*base, "--out", str(tmp_path / "new"), "--compare", str(tmp_path / "old")]) == 0
    out = capsys.readouterr().out
    assert "2 score(s) changed, 1 unchanged" in out  # ada and cy gain 2.2; bob fails it either way
    assert "ada: 6 -> 7 (+1)" in out and "2.2 scale: works on a vector: now passes (0 -> 1/1)" in out
    assert "bob" not in out.split("Grades:")[0]
    report = (tmp_path / "new" / "report.html").read_text(encoding="utf-8")
    assert "Changes since" in report and "2.2 scale: works on a vector: now passes" in report


def test_compare_refuses_the_folder_it_is_about_to_overwrite(course, tmp_path, capsys):
    solutions, inputs = course
    assert (
        cli.main(
            [
                "--solutions",
                str(solutions),
                "grade-all",
                str(inputs),
                "--out",
                str(tmp_path / "o"),
                "--compare",
                str(tmp_path / "o"),
            ]
        )
        == 2
    )
    assert "another folder" in capsys.readouterr().err


def test_a_rerun_grades_again_a_submission_that_failed_to_grade_without_force(course, tmp_path, capsys):
    solutions, inputs = course
    base = [
        "--solutions",
        str(solutions),
        "grade-all",
        str(inputs),
        "--out",
        str(tmp_path / "out"),
        "--jobs",
        "2",
        "--assignment",
        "demo",
    ]
    assert cli.main(base) == 0
    # What an attempt that failed to grade leaves behind (an internal problem): no tests at all.
    failed = tmp_path / "out" / "cy" / "results.json"
    failed.write_text(
        json.dumps({"score": 0, "output": "The autograder had an internal problem.", "tests": []})
    )
    os.utime(
        failed, (time.time() + 60, time.time() + 60)
    )  # newer than the notebook: only the failure says "again"
    capsys.readouterr()
    assert cli.main(base) == 0
    assert "1 graded" in capsys.readouterr().out.split(" in ")[0]  # cy only; ada and bob are kept
    assert json.loads((tmp_path / "out" / "cy" / "results.json").read_text())["score"] == 7

"""The command line: exit codes, summaries and files, as an instructor or student sees them."""

from __future__ import annotations

import json
import subprocess

from conftest import CORE, DEMO_OK, assert_schema_valid

from nbtools import run_grader, write_notebook


def grader(*args: str) -> subprocess.CompletedProcess[str]:
    """The command line on the demo assignment's solutions."""
    return run_grader(*args, solutions=CORE)


def test_grade_prints_a_summary_writes_results_and_exits_zero_whatever_the_score(tmp_path):
    path = write_notebook(
        tmp_path / "n.ipynb", ["import numpy as np", "def relu(z):\n    return z"], assignment="demo"
    )
    out = tmp_path / "out" / "results.json"
    done = grader("grade", str(path), "--out", str(out))
    assert done.returncode == 0
    assert "FAIL  1.1 relu: negatives become 0" in done.stdout
    assert "Score: 1/7" in done.stdout
    data = assert_schema_valid(json.loads(out.read_text()))
    assert data["score"] == 1


def test_grade_json_prints_results_json(tmp_path):
    path = write_notebook(tmp_path / "n.ipynb", ["import numpy as np", *DEMO_OK.values()], assignment="demo")
    done = grader("grade", str(path), "--json")
    data = assert_schema_valid(json.loads(done.stdout))
    assert data["score"] == 7 and len(data["tests"]) == 5


def test_check_runs_only_the_public_tests(tmp_path):
    path = write_notebook(tmp_path / "n.ipynb", ["import numpy as np", *DEMO_OK.values()], assignment="demo")
    done = grader("check", str(path))
    assert done.returncode == 0
    assert "1.1 relu" in done.stdout and "2.1 scale" not in done.stdout


def test_an_unknown_assignment_is_an_error_that_names_the_known_ones(tmp_path):
    path = write_notebook(tmp_path / "n.ipynb", ["x = 1"])
    done = grader("grade", str(path), "--assignment", "nope")
    assert done.returncode == 1
    assert "no assignment named 'nope' (known: demo)" in done.stdout


def test_a_missing_notebook_file_still_produces_results(tmp_path):
    out = tmp_path / "results.json"
    done = grader("grade", str(tmp_path / "absent.ipynb"), "--assignment", "demo", "--out", str(out))
    assert done.returncode == 0
    data = assert_schema_valid(json.loads(out.read_text()))
    assert data["score"] == 0 and "was not found" in data["output"]


def test_grade_prints_every_line_of_a_failing_tests_message_wrapped_never_cut(tmp_path):
    long_message = "word " * 60 + "END"
    solutions = tmp_path / "solutions"
    (solutions / "wordy" / "tests").mkdir(parents=True)
    (solutions / "wordy" / "assignment.toml").write_text('title = "Wordy"\n')
    (solutions / "wordy" / "tests" / "test_wordy.py").write_text(
        "from grader.testing import fail\n\n\ndef test_long(student):\n"
        f'    """f: a long message"""\n    fail("\\n".join(["line %d" % i for i in range(12)]) + "\\n{long_message}")\n'
    )
    path = write_notebook(tmp_path / "n.ipynb", ["x = 1"], assignment="wordy")
    done = run_grader("grade", str(path), solutions=solutions)
    assert "line 11" in done.stdout and "END" in done.stdout and "..." not in done.stdout
    assert max(len(line) for line in done.stdout.splitlines()) <= 100


def test_a_long_test_name_wraps_without_repeating_a_word():
    from grader.results import GradingResults, TestResult
    from grader.terminal import summary as _summary

    name = "forward: three layers (3 -> 4 -> 4 -> 2) on a batch of 5 inputs, which it leaves as they were, inputs unchanged"
    results = GradingResults(tests=[TestResult(name=name, max_score=0.5, score=0.5, number="7.4")])
    lines = _summary("t", results).splitlines()[2:4]
    words = " ".join(line.strip() for line in lines).split()[2:]  # after the mark and the number
    assert words == [*name.split(), "0.5/0.5"]  # every word once, then the score


BROKEN_TEST = '''
from grader.testing import expect


def test_right(student):
    """double: doubles"""
    expect(student.double, 2).to_equal(4)


def test_broken(student):
    """double: a test with a bug of its own"""
    want = {"four": 4}["for"]
    expect(student.double, 2).to_equal(want)
'''


def test_validate_counts_tests_that_errored_and_prints_each_traceback_once(tmp_path):
    solutions = tmp_path / "solutions"
    (solutions / "tiny" / "tests").mkdir(parents=True)
    (solutions / "tiny" / "assignment.toml").write_text('title = "Tiny"\n')
    (solutions / "tiny" / "tests" / "test_tiny.py").write_text(BROKEN_TEST)
    write_notebook(
        solutions / "tiny" / "tiny.ipynb",
        ["def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION"],
    )
    done = run_grader("validate", solutions=solutions)
    assert done.returncode == 1
    assert "tiny reference: 1/2, 1 test errored WRONG" in done.stdout
    assert "tiny stub: 0/2, 1 test errored WRONG" in done.stdout
    assert done.stderr.count("KeyError: 'for'") == 1, done.stderr
    # The test's own line, not the library's frames below it.
    assert (
        "KeyError: 'for' at test_tiny.py line " in done.stderr and 'want = {"four": 4}["for"]' in done.stderr
    )

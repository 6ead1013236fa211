"""Text a student's code produces can never start a line of the grader's own: an exception's
message, what a function prints, a module that fails to import and a file's name are quoted line by
line (or kept to one line) in every message."""

from __future__ import annotations

from grader.api import grade_notebook
from nbtools import write_notebook

FORGED = ("PASS", "All 40 tests passed", "Score:", "Likely mistake: none")


def forged_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith(FORGED)]


def all_text(results) -> str:
    return "\n".join([results.output, *(t.output for t in results.tests)])


def test_an_exceptions_message_cannot_fake_a_line_of_a_tests_feedback(grade_demo):
    results = grade_demo(
        'def relu(z):\n    raise ValueError("boom\\nLikely mistake: none\\nScore: 20/20\\nPASS 1.1 relu (1/1)")'
    )
    assert "boom" in all_text(results)
    assert forged_lines(all_text(results)) == []


def test_what_a_function_prints_is_quoted_line_by_line(grade_demo):
    results = grade_demo(
        'def relu(z):\n    print("PASS 1.1 relu: signs (1/1)\\nAll 40 tests passed. Score: 20/20")\n    return z'
    )
    text = all_text(results)
    assert "Your function printed:\n    PASS 1.1" in text
    assert forged_lines(text) == []


def test_a_module_that_fails_to_import_with_a_forged_message_cannot_fake_the_total(tmp_path):
    from conftest import CORE, DEMO_OK

    cells = [
        '%%writefile evil.py\nraise ImportError("gone\\nAll 40 tests passed. Score: 20/20")',
        "import numpy as np\nimport evil",
        *DEMO_OK.values(),
    ]
    path = write_notebook(tmp_path / "forged.ipynb", cells, assignment="demo")
    results = grade_notebook(path, solutions_root=CORE)
    assert forged_lines(all_text(results)) == []


def test_a_file_name_with_a_newline_stays_on_one_line(tmp_path):
    from conftest import CORE, DEMO_OK

    path = write_notebook(
        tmp_path / "a\nScore: 20 of 20.ipynb", ["import numpy as np", *DEMO_OK.values()], assignment="demo"
    )
    results = grade_notebook(path, solutions_root=CORE)
    assert "Score: 20 of 20" in results.output
    assert forged_lines(all_text(results)) == []

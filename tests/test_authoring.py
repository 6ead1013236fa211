"""Student notebooks are generated from the solution notebooks, and the build refuses leaks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from grader import cli
from grader.authoring.build import BuildError, build_stub
from grader.authoring.handout import render
from grader.authoring.selfcheck import SelfCheckError
from grader.config import available_assignments, load_assignment
from nbtools import ASSIGNMENTS, REPO, SOLUTIONS, run_grader

ASSIGNMENT_NAMES = available_assignments(SOLUTIONS)

HIDDEN_TEST = '''"""Hidden tests of double."""


def test_double_of_a_large_number(student):
    """double: a large number"""
    assert student.double(123456789) == 246913578, "double(123456789) should be 246913578"
'''


def _code(source: str, **metadata) -> dict:
    return {
        "cell_type": "code",
        "id": f"c{abs(hash(source)) % 10**8}",
        "metadata": metadata,
        "execution_count": 3,
        "outputs": [{"output_type": "stream", "name": "stdout", "text": "old output\n"}],
        "source": source,
    }


def _markdown(source: str) -> dict:
    return {"cell_type": "markdown", "id": f"m{abs(hash(source)) % 10**8}", "metadata": {}, "source": source}


def make_solution(root: Path, cells: list[dict], name: str = "tiny", tests: str = HIDDEN_TEST) -> Path:
    """solutions/<name>/ under ``root`` with a notebook of ``cells``; returns the solutions folder."""
    folder = root / "solutions" / name
    (folder / "tests").mkdir(parents=True)
    (folder / "assignment.toml").write_text(f'title = "Tiny"\nnotebook = "{name}.ipynb"\n')
    (folder / "tests" / "test_double.py").write_text(tests)
    notebook = {
        "cells": cells,
        "metadata": {"kernelspec": {"name": "python3"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    (folder / f"{name}.ipynb").write_text(json.dumps(notebook))
    return root / "solutions"


DOUBLE = "def double(x):\n    ### BEGIN SOLUTION\n    return x * 2  # multiply by two\n    ### END SOLUTION\n"


def stub_of(root: Path, cells: list[dict], **kwargs) -> dict:
    return build_stub(load_assignment("tiny", make_solution(root, cells, **kwargs)))


@pytest.mark.parametrize("name", ASSIGNMENT_NAMES)
def test_the_committed_student_notebook_is_exactly_what_grader_build_generates(name):
    spec = load_assignment(name, SOLUTIONS)
    committed = ASSIGNMENTS / name / spec.notebook
    assert committed.is_file(), f"run `grader build {name}` and commit {committed}"
    assert committed.read_text(encoding="utf-8") == render(build_stub(spec)), f"run `grader build {name}`"


def test_grader_build_check_passes_on_the_checkout_and_build_writes_the_same_file(tmp_path, capsys):
    assert cli.main(["build", "--check"]) == 0
    solutions = make_solution(tmp_path, [_code("import numpy as np"), _code(DOUBLE)])
    assert cli.main(["--solutions", str(solutions), "build", "--check"]) == 1  # not built yet
    assert cli.main(["--solutions", str(solutions), "build"]) == 0
    assert (tmp_path / "assignments" / "tiny" / "tiny.ipynb").is_file()
    assert cli.main(["--solutions", str(solutions), "build", "--check"]) == 0
    assert "Wrote" in capsys.readouterr().out


def test_solution_blocks_become_not_implemented_at_their_indentation(tmp_path):
    stub = stub_of(tmp_path, [_code(DOUBLE)])
    source = stub["cells"][0]["source"]
    assert source == "def double(x):\n    # YOUR CODE HERE\n    raise NotImplementedError"
    assert "x * 2" not in json.dumps(stub)


def test_cells_tagged_solution_only_vanish_from_the_stub(tmp_path):
    cells = [
        _code(DOUBLE),
        _code("print('instructor check', double(21))", tags=["solution_only"]),
        _markdown("# End"),
    ]
    stub = stub_of(tmp_path, cells)
    assert [c["cell_type"] for c in stub["cells"]] == ["code", "markdown"]
    assert "instructor check" not in json.dumps(stub)


def test_outputs_and_execution_counts_are_cleared(tmp_path):
    stub = stub_of(tmp_path, [_code("import numpy as np"), _code(DOUBLE)])
    for cell in stub["cells"]:
        assert cell["outputs"] == [] and cell["execution_count"] is None
    assert "old output" not in json.dumps(stub)


def test_the_stub_metadata_names_the_assignment_and_keeps_the_kernel(tmp_path):
    stub = stub_of(tmp_path, [_code(DOUBLE)])
    assert stub["metadata"]["grader"] == {"assignment": "tiny"}
    assert stub["metadata"]["kernelspec"] == {"name": "python3"}
    assert stub["nbformat"] == 4 and stub["nbformat_minor"] >= 5


def test_other_cell_tags_and_markdown_attachments_survive(tmp_path):
    picture = {"score.png": {"image/png": "iVBORw0KGgo="}}
    markdown = {**_markdown("![score](attachment:score.png)"), "attachments": picture}
    stub = stub_of(tmp_path, [_code(DOUBLE, tags=["keep-me"]), markdown])
    assert stub["cells"][0]["metadata"] == {"tags": ["keep-me"]}
    assert stub["cells"][1]["attachments"] == picture


def test_a_stub_built_from_an_old_notebook_without_cell_ids_says_it_has_ids(tmp_path):
    solutions = make_solution(tmp_path, [])
    path = solutions / "tiny" / "tiny.ipynb"
    cell = {k: v for k, v in _code(DOUBLE).items() if k != "id"}
    path.write_text(json.dumps({"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 2}))
    stub = build_stub(load_assignment("tiny", solutions))
    assert stub["cells"][0]["id"] == "cell-1" and stub["nbformat_minor"] == 5


@pytest.mark.parametrize(
    "source, problem",
    [
        ("def double(x):\n    ### BEGIN SOLUTION\n    return x * 2\n", "never closed"),
        ("def double(x):\n    return x * 2\n    ### END SOLUTION\n", "without"),
        (
            "def f(x):\n    ### BEGIN SOLUTION\n    ### BEGIN SOLUTION\n    return x\n    ### END SOLUTION\n",
            "inside another",
        ),
    ],
)
def test_unbalanced_solution_markers_are_refused(tmp_path, source, problem):
    with pytest.raises(BuildError, match=problem):
        stub_of(tmp_path, [_code(source)])


@pytest.mark.parametrize("marker", ["## BEGIN SOLUTION", "### Begin Solution", "# END SOLUTION  "])
def test_a_mistyped_marker_is_refused_because_its_solution_would_ship(tmp_path, marker):
    source = f"def double(x):\n    {marker}\n    return x * 2\n"
    with pytest.raises(BuildError, match="solution marker"):
        stub_of(tmp_path, [_code(source)])


def test_solution_code_repeated_outside_its_block_is_refused(tmp_path):
    solution = (
        "def double(x):\n    ### BEGIN SOLUTION\n    doubled_value = x + x  # add x to itself\n"
        "    return doubled_value\n    ### END SOLUTION\n"
    )
    echo = "# a worked example\ndoubled_value = x + x  # add x to itself\n"
    with pytest.raises(BuildError, match="solution code"):
        stub_of(tmp_path, [_code(solution), _code(echo)])


def test_a_refusal_names_the_cell_that_would_leak_and_the_fix(tmp_path):
    solution = "def double(x):\n    ### BEGIN SOLUTION\n    doubled_value = x + x  # add x to itself\n    ### END SOLUTION\n"
    echo = "# a worked example\ndoubled_value = x + x  # add x to itself\n"
    with pytest.raises(BuildError) as refused:
        stub_of(tmp_path, [_code(solution), _code(echo)])
    assert "code cell 2 ('# a worked example')" in str(refused.value)
    assert "solution_only" in str(refused.value)


def test_the_contracts_own_call_in_a_markdown_cell_is_not_a_leak(tmp_path):
    contract = {
        "cell_type": "markdown",
        "id": "contract",
        "metadata": {},
        "source": "| `train` | each step is `w, b = gd_step(w, b, *neuron_gradients(X, y, w, b), lr)` |",
    }
    solution = (
        "def train(X, y, w, b, lr):\n    ### BEGIN SOLUTION\n"
        "    w, b = gd_step(w, b, *neuron_gradients(X, y, w, b), lr)\n    return w, b\n    ### END SOLUTION\n"
    )
    stub = stub_of(tmp_path, [contract, _code(solution)])
    assert "raise NotImplementedError" in "".join(c["source"] for c in stub["cells"])


def test_a_hidden_test_line_in_the_notebook_is_refused_with_its_file_and_line(tmp_path):
    echo = 'assert student.double(123456789) == 246913578, "double(123456789) should be 246913578"'
    with pytest.raises(BuildError) as refused:
        stub_of(tmp_path, [_code(DOUBLE), _code(echo)])
    assert "line 6 of tests/test_double.py" in str(refused.value)


def test_build_says_when_visible_tests_have_no_engine_cell_to_hold_them(tmp_path, capsys):
    solutions = make_solution(tmp_path, [_code(DOUBLE)])
    (solutions / "tiny" / "tests" / "test_public_tiny.py").write_text(
        'def test_example(student):\n    """double: 2"""\n', encoding="utf-8"
    )
    assert cli.main(["--solutions", str(solutions), "build", "tiny"]) == 0
    err = capsys.readouterr().err
    assert "no self-checks" in err and "selfcheck-engine" in err


def test_a_visible_test_the_notebook_cannot_repeat_is_refused_with_its_file_line_and_the_fix(tmp_path):
    engine = _code("def selfcheck(function, namespace):\n    pass\n", tags=["selfcheck-engine"])
    solutions = make_solution(tmp_path, [_code(DOUBLE), engine])
    (solutions / "tiny" / "tests" / "test_public_tiny.py").write_text(
        "from grader.testing import expect\n\n\n"
        "def test_double_is_finite(student):\n"
        '    """double: finite"""\n'
        "    expect(student.double, 2.0).to_be_finite()\n",
        encoding="utf-8",
    )
    with pytest.raises(SelfCheckError) as refused:
        build_stub(load_assignment("tiny", solutions))
    message = str(refused.value)
    assert "tests/test_public_tiny.py, line 4, test_double_is_finite" in message
    assert "to_be_finite()" in message and "move this check into a hidden test file" in message


def _with_visible_test(tmp_path, test_source: str, *cells) -> Path:
    engine = _code("def selfcheck(function, namespace):\n    pass\n", tags=["selfcheck-engine"])
    solutions = make_solution(tmp_path, [_code(DOUBLE), engine, *cells])
    (solutions / "tiny" / "tests" / "test_public_tiny.py").write_text(
        "import numpy as np\nfrom grader.testing import expect\n\n\n" + test_source, encoding="utf-8"
    )
    return solutions


def test_a_mistake_in_a_visible_test_is_reported_with_its_line_not_a_traceback(tmp_path):
    solutions = _with_visible_test(
        tmp_path, 'def test_double(student):\n    """double: zeros"""\n    x = np.zeroes(3)\n'
    )
    with pytest.raises(SelfCheckError) as refused:
        build_stub(load_assignment("tiny", solutions))
    assert "test_double raised AttributeError" in str(refused.value)
    assert "at line 7: x = np.zeroes(3)" in str(refused.value)


def test_a_visible_test_whose_docstring_names_no_function_is_refused(tmp_path):
    solutions = _with_visible_test(tmp_path, 'def test_double(student):\n    """The double of two"""\n')
    with pytest.raises(SelfCheckError, match="must start with the function it checks"):
        build_stub(load_assignment("tiny", solutions))


def test_names_that_do_not_name_the_parts_of_the_answer_are_refused(tmp_path):
    solutions = _with_visible_test(
        tmp_path,
        'def test_double(student):\n    """double: parts"""\n'
        '    expect(student.double, 2).to_equal((4, 0), names=("a", "b", "c"))\n',
    )
    with pytest.raises(SelfCheckError, match="does not name the parts"):
        build_stub(load_assignment("tiny", solutions))


def test_a_self_check_cell_naming_a_function_without_visible_tests_is_refused(tmp_path):
    solutions = _with_visible_test(
        tmp_path,
        'def test_double(student):\n    """double: two"""\n    expect(student.double, 2).to_equal(4)\n',
        _code('selfcheck("dubble", globals())'),
    )
    with pytest.raises(
        SelfCheckError, match=r"calls selfcheck\('dubble'\), but no visible test checks 'dubble'"
    ):
        build_stub(load_assignment("tiny", solutions))


def test_validate_fails_when_the_handout_cannot_be_built_and_grades_the_stub_build_writes(tmp_path, capsys):
    solutions = _with_visible_test(
        tmp_path,
        'def test_double(student):\n    """double: two"""\n    expect(student.double, 2).to_raise_no_warnings()\n',
    )
    assert cli.main(["--solutions", str(solutions), "validate", "tiny"]) == 1
    captured = capsys.readouterr()
    assert "tiny stub: cannot be built WRONG" in captured.err and "to_raise_no_warnings()" in captured.err


CONVOLVE = (
    "def smooth(x, kernel):\n    ### BEGIN SOLUTION\n"
    "    return np.convolve(np.asarray(x, dtype=float), kernel[::-1], mode='valid')\n"
    "    ### END SOLUTION\n"
)


@pytest.mark.parametrize(
    "echo",
    [
        "y = np.convolve(np.asarray(signal, dtype=float), k[::-1], mode='valid')",  # other names
        "print(np.convolve(np.asarray(x,dtype=float),kernel[::-1],mode = 'same'))",  # spacing and a literal
    ],
)
def test_a_near_copy_of_a_solution_line_is_refused_like_an_exact_one(tmp_path, echo):
    with pytest.raises(BuildError, match="with other names or numbers"):
        stub_of(tmp_path, [_code(CONVOLVE), _code(f"# check\nsignal, k = [1.0, 2.0], np.ones(2)\n{echo}")])


def test_short_lines_of_the_same_shape_as_a_solution_line_are_not_a_leak(tmp_path):
    solution = "def double(x):\n    ### BEGIN SOLUTION\n    y = np.zeros(3)\n    return x * 2\n    ### END SOLUTION\n"
    stub = stub_of(tmp_path, [_code(solution), _code("z = np.ones(4)\nprint(double(z))")])
    assert "z = np.ones(4)" in stub["cells"][1]["source"]


def test_solution_only_cell_content_repeated_elsewhere_is_refused(tmp_path):
    secret = "reference_answer = [double(n) for n in range(10)]"
    cells = [_code(DOUBLE), _code(secret, tags=["solution_only"]), _code(f"print('x')\n{secret}")]
    with pytest.raises(BuildError, match="solution code"):
        stub_of(tmp_path, cells)


def test_hidden_test_content_copied_into_the_notebook_is_refused(tmp_path):
    check = 'assert student.double(123456789) == 246913578, "double(123456789) should be 246913578"'
    with pytest.raises(BuildError, match="hidden-test code"):
        stub_of(tmp_path, [_code(DOUBLE), _code(check)])


def test_public_test_examples_may_appear_in_the_notebook(tmp_path):
    solutions = make_solution(tmp_path, [_code(DOUBLE), _code("assert double(123456789) == 246913578\n")])
    (solutions / "tiny" / "tests" / "test_double.py").rename(
        solutions / "tiny" / "tests" / "test_public_double.py"
    )
    public = solutions / "tiny" / "tests" / "test_public_double.py"
    public.write_text(
        public.read_text() + "\n\ndef test_example(student):\n    assert double(123456789) == 246913578\n"
    )
    stub = build_stub(load_assignment("tiny", solutions))
    assert "assert double(123456789) == 246913578" in stub["cells"][1]["source"]


def test_grader_build_reports_a_leak_and_writes_nothing(tmp_path, capsys):
    solutions = make_solution(tmp_path, [_code("def double(x):\n    ## BEGIN SOLUTION\n    return x * 2\n")])
    assert cli.main(["--solutions", str(solutions), "build", "tiny"]) == 2
    assert "solution marker" in capsys.readouterr().err
    assert not (tmp_path / "assignments" / "tiny" / "tiny.ipynb").exists()


@pytest.mark.parametrize("name", ASSIGNMENT_NAMES)
def test_grader_validate_proves_the_reference_scores_full_marks_and_the_stub_zero(name):
    # Its own process, as an instructor runs it: nothing graded earlier in this one can interfere.
    run = run_grader("validate", name, cwd=REPO, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"{name} reference:" in run.stdout and f"{name} stub: 0/" in run.stdout
    assert "WRONG" not in run.stdout


def test_validate_finds_two_tests_with_one_number():
    from grader.authoring.validation import numbering_problems
    from grader.results import GradingResults, TestResult

    def results(*numbers: str | None) -> GradingResults:
        return GradingResults(
            tests=[TestResult(name=f"t{i}", max_score=1, number=n) for i, n in enumerate(numbers)]
        )

    assert numbering_problems(results("1.1", "1.2", "2.1")) == []
    assert numbering_problems(results(None, None)) == []
    assert numbering_problems(results("1.1", "1.2", "1.1")) == ["tests 't0' and 't2' are both numbered 1.1"]
    assert numbering_problems(results("1.1", None)) == ["1 tests have no @number while others do, e.g. 't1'"]

"""The nn_basics assignment grades as intended: full marks, zero, and one bug costs one function.

The one-bug notebooks are made from the reference notebook at test time (one function's definition
replaced), so they always differ from the reference in exactly that function. Each notebook is
graded once per module.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from grader.api import grade_notebook
from grader.results import GradingResults
from grader.results import TestResult as GradedTest  # not collected as a test class
from nbtools import ASSIGNMENTS, SOLUTIONS, replace_function

REFERENCE = SOLUTIONS / "nn_basics" / "nn_basics.ipynb"
STUB = ASSIGNMENTS / "nn_basics" / "nn_basics.ipynb"
FUNCTIONS = [
    "step",
    "sigmoid",
    "tanh",
    "relu",
    "neuron",
    "dense",
    "forward",
    "count_connections",
    "count_parameters",
]
# bug name -> (function, its buggy definition)
BUGS = {
    "relu modifies its input": ("relu", "def relu(z):\n    z[z < 0] = 0.0\n    return z\n"),
    "sigmoid gives nan for large z": ("sigmoid", "def sigmoid(z):\n    return np.exp(z) / (1 + np.exp(z))\n"),
    "step(0) is 0": ("step", "def step(z):\n    return np.where(np.asarray(z) > 0, 1.0, 0.0)\n"),
    "neuron forgets the bias": (
        "neuron",
        "def neuron(x, w, b, activation):\n    return float(activation(np.dot(w, x)))\n",
    ),
    "dense uses W transposed": (
        "dense",
        "def dense(x, W, b, activation):\n    return activation(x @ W + b)\n",
    ),
    "forward applies the activation only at the end": (
        "forward",
        "def forward(x, layers):\n    h = x\n    for W, b, activation in layers:\n        h = h @ W.T + b\n"
        "    return activation(h)\n",
    ),
    "count_parameters forgets the biases": (
        "count_parameters",
        "def count_parameters(layer_sizes):\n    return count_connections(layer_sizes)\n",
    ),
}
# Bugs whose feedback names the overflow that Python's warnings reveal.
WARNING_BUGS = {"sigmoid gives nan for large z"}
TEXTBOOK_SIGMOID = "def sigmoid(z):\n    return 1 / (1 + np.exp(-z))\n"
LOOPING_TANH = "def tanh(z):\n    while True:\n        pass\n"


def grade(path: Path, solutions_root: Path = SOLUTIONS) -> GradingResults:
    return grade_notebook(path, "nn_basics", solutions_root=solutions_root)


def grade_with_cli(path: Path) -> GradingResults:
    """Grade with the command line, in a fresh process.

    Needed where a test depends on Python's warnings: the first worker is forked from the process
    that grades and inherits its warning filters and hooks, and pytest's (warnings are errors,
    warnings are recorded instead of printed) are not what a real grading run has.
    """
    command = [
        sys.executable,
        "-m",
        "grader",
        "--solutions",
        str(SOLUTIONS),
        "grade",
        str(path),
        "--assignment",
        "nn_basics",
        "--json",
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=True)
    data = json.loads(done.stdout)
    tests = [
        GradedTest(
            name=t["name"],
            max_score=t["max_score"],
            score=t["score"],
            output=t["output"],
            number=t.get("number"),
            visibility=t["visibility"],
            function=t["extra_data"].get("function"),
            outcome=t["extra_data"]["outcome"],
        )
        for t in data["tests"]
    ]
    return GradingResults(tests=tests, output=data.get("output", ""))


def points_lost(results: GradingResults) -> dict[str, float]:
    lost = dict.fromkeys(FUNCTIONS, 0.0)
    for test in results.tests:
        lost[test.function] += test.max_score - test.score
    return lost


def results_for(results: GradingResults, function: str):
    return [t for t in results.tests if t.function == function]


def output_of(results: GradingResults, number: str) -> str:
    return next(t.output for t in results.tests if t.number == number)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("nn_basics")


@pytest.fixture(scope="module")
def reference_results(handout_graded) -> GradingResults:
    return handout_graded("nn_basics")


@pytest.fixture(scope="module")
def stub_results(handout_graded) -> GradingResults:
    return handout_graded("nn_basics", "stub")


@pytest.fixture(scope="module")
def bug_results(workdir):
    graded: dict[str, GradingResults] = {}

    def results_of(bug: str) -> GradingResults:
        if bug not in graded:
            function, definition = BUGS[bug]
            path = replace_function(REFERENCE, function, definition, workdir / f"{function}_bug.ipynb")
            graded[bug] = grade_with_cli(path) if bug in WARNING_BUGS else grade(path)
        return graded[bug]

    return results_of


# ---- the reference and the stub ----------------------------------------------------


def test_the_reference_notebook_scores_full_marks(reference_results):
    assert reference_results.tests
    failed = {t.name: t.output for t in reference_results.tests if t.status != "passed"}
    assert failed == {}
    assert reference_results.score == reference_results.max_score == 20


def test_every_test_names_a_notebook_function_and_has_a_number(reference_results):
    for test in reference_results.tests:
        assert test.function in FUNCTIONS, test.name
        assert test.name.startswith(f"{test.function}: ")
        assert test.number and test.number.split(".")[0] == str(FUNCTIONS.index(test.function) + 1), test.name
    numbers = [t.number for t in reference_results.tests]
    assert len(numbers) == len(set(numbers))


def test_every_function_has_a_visible_test_and_hidden_tests(reference_results):
    for function in FUNCTIONS:
        visibilities = {t.visibility for t in results_for(reference_results, function)}
        assert visibilities == {"visible", "after_published"}, function


def test_the_untouched_stub_scores_zero(stub_results):
    assert stub_results.max_score == 20
    assert stub_results.score == 0


def test_the_stub_says_each_function_is_not_implemented_yet(stub_results):
    for function in FUNCTIONS:
        for test in results_for(stub_results, function):
            assert (
                test.output == f"{function} is not implemented yet: it still raises NotImplementedError."
            ), test.name


# ---- one bug costs points in one function ---------------------------------------------


@pytest.mark.parametrize("bug", BUGS)
def test_a_single_bug_loses_points_only_in_its_function(bug_results, bug):
    function = BUGS[bug][0]
    lost = points_lost(bug_results(bug))
    assert lost.pop(function) > 0
    assert lost == dict.fromkeys(lost, 0.0)


def test_relu_modifying_its_input_is_named_as_such(bug_results):
    results = bug_results("relu modifies its input")
    message = output_of(results, "4.4")
    assert message.startswith("relu modified its input.")
    assert "changed its input z in place" in message


def test_a_sigmoid_that_gives_nan_for_large_z_fails_the_extremes_and_names_the_overflow(bug_results):
    results = bug_results("sigmoid gives nan for large z")
    assert {t.number for t in results_for(results, "sigmoid") if t.status != "passed"} == {"2.4", "2.5"}
    message = output_of(results, "2.4")
    assert "overflow encountered in exp" in message and "np.exp(-np.abs(z)) never overflows" in message


def test_a_sigmoid_whose_overflow_does_not_change_its_values_gets_full_marks(workdir):
    # 1 / (1 + e^-z) overflows to 1 / inf = 0 for very negative z: right, whatever warnings say.
    path = replace_function(REFERENCE, "sigmoid", TEXTBOOK_SIGMOID, workdir / "sigmoid_textbook.ipynb")
    results = grade_with_cli(path)
    assert points_lost(results)["sigmoid"] == 0.0


def test_step_at_zero_explains_the_condition(bug_results):
    message = output_of(bug_results("step(0) is 0"), "1.2")
    assert "Likely mistake: step(0) must be 1: the condition is z >= 0" in message


def test_a_neuron_without_bias_is_told_so(bug_results):
    message = output_of(bug_results("neuron forgets the bias"), "5.3")
    assert "Likely mistake: the bias b is ignored" in message


def test_a_transposed_weight_matrix_is_recognised(bug_results):
    message = output_of(bug_results("dense uses W transposed"), "6.2")
    assert "Likely mistake: W is transposed" in message


def test_an_activation_applied_only_at_the_end_is_recognised(bug_results):
    results = bug_results("forward applies the activation only at the end")
    for number in ("7.3", "7.4"):
        assert "Likely mistake: the activation is applied only after the last layer" in output_of(
            results, number
        )


def test_forgotten_biases_are_recognised(bug_results):
    results = bug_results("count_parameters forgets the biases")
    for number in ("9.1", "9.2", "9.3", "9.4"):
        assert "Likely mistake: the biases are missing" in output_of(results, number)


# ---- helpers the student calls ------------------------------------------------------


def test_neuron_is_tested_with_the_graders_own_sigmoid_so_an_unfinished_sigmoid_costs_only_sigmoid(workdir):
    unfinished = "def sigmoid(z):\n    # YOUR CODE HERE\n    raise NotImplementedError\n"
    path = replace_function(REFERENCE, "sigmoid", unfinished, workdir / "sigmoid_unfinished.ipynb")
    results = grade(path)
    assert points_lost(results) == {**dict.fromkeys(FUNCTIONS, 0.0), "sigmoid": 3.0}


# ---- failures elsewhere in the notebook ----------------------------------------------


def test_a_colab_only_cell_runs_against_inert_stand_ins_and_costs_nothing(workdir):
    notebook = json.loads(REFERENCE.read_text(encoding="utf-8"))
    first_code = next(i for i, cell in enumerate(notebook["cells"]) if cell["cell_type"] == "code")
    notebook["cells"].insert(
        first_code + 1,
        {
            "cell_type": "code",
            "id": "colab-drive",
            "metadata": {},
            "execution_count": None,
            "outputs": [],
            "source": "from google.colab import drive\ndrive.mount('/content/drive')",
        },
    )
    path = workdir / "colab.ipynb"
    path.write_text(json.dumps(notebook), encoding="utf-8")
    results = grade(path)
    assert "Code cell 3" not in results.output and "google" not in results.output
    assert results.score == results.max_score


@pytest.fixture(scope="module")
def quick_solutions(workdir) -> Path:
    """A copy of the assignment with short time limits, so that a looping function fails fast."""
    root = workdir / "solutions"
    shutil.copytree(SOLUTIONS / "nn_basics", root / "nn_basics")
    toml = root / "nn_basics" / "assignment.toml"
    text = re.sub(r"(?ms)^\[limits\].*?(?=^\[|\Z)", "", toml.read_text(encoding="utf-8"))
    toml.write_text(text + "\n[limits]\ncall_seconds = 1.0\ncell_seconds = 2.0\n", encoding="utf-8")
    return root


def test_an_infinite_loop_fails_only_that_functions_tests_with_a_time_out(workdir, quick_solutions):
    path = replace_function(REFERENCE, "tanh", LOOPING_TANH, workdir / "tanh_loops.ipynb")
    results = grade(path, quick_solutions)
    lost = points_lost(results)
    assert lost.pop("tanh") == 2.0
    assert lost == dict.fromkeys(lost, 0.0)
    for test in results_for(results, "tanh"):
        assert test.outcome == "timeout"
        assert "did not finish in time" in test.output or "ran out of time" in test.output


def test_a_forward_that_empties_the_callers_list_of_layers_loses_points_for_changing_its_input(tmp_path):
    from conftest import grade_valid

    from nbtools import SOLUTIONS, replace_function

    popping = (
        "def forward(x, layers):\n    h = x\n    while layers:\n        W, b, activation = layers.pop(0)\n"
        "        h = activation(h @ W.T + b)\n    return h"
    )
    path = replace_function(
        SOLUTIONS / "nn_basics" / "nn_basics.ipynb", "forward", popping, tmp_path / "pop.ipynb"
    )
    results = grade_valid(path, "nn_basics")
    failed = [t for t in results.tests if t.score < t.max_score]
    assert [t.function for t in failed] == ["forward"]
    assert "changed its input layers in place" in failed[0].output

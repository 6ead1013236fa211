"""The handed-out notebooks check themselves with the visible tests, in a kernel without the grader.

Each notebook here is the built stub with the reference code filled in and one common mistake per
function. It runs in a real Jupyter kernel (nbclient) where ``import grader`` fails, as in Colab;
its self-check output must name every mistake, and say the same as the visible Gradescope feedback
of the same notebook.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from grader.api import grade_notebook
from grader.authoring.build import build_stub
from grader.authoring.selfcheck import SelfCheckError, hidden_sentence, hidden_total, hidden_totals, record
from grader.authoring.selfcheck_record import load_visible
from grader.config import load_assignment
from nbtools import REPO

NO_GRADER = "import sys\nsys.modules['grader'] = None  # as in Colab: the grader is not installed"

# (function, old reference code, mistaken code, the likely-mistake words the student must see)
NN_MISTAKES = [
    ("relu", "return np.maximum(z, 0.0)", "z[z < 0] = 0\n    return z", "changed its input z in place"),
    (
        "sigmoid",
        "e = np.exp(-np.abs(z))  # never overflows: the exponent is <= 0\n    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))",
        "return np.exp(z) / (1 + np.exp(z))",
        "the result contains nan or inf where the true values are finite",
    ),
    (
        "tanh",
        "e = np.exp(-2 * np.abs(z))\n    return np.sign(z) * (1 - e) / (1 + e)",
        "return (np.exp(z) - np.exp(-z)) / (np.exp(z) + np.exp(-z))",
        "the result contains nan or inf",
    ),
    (
        "neuron",
        "return float(activation(np.dot(w, x) + b))",
        "return float(activation(np.dot(w, x)))",
        "Likely mistake: the bias b is ignored",
    ),
    (
        "dense",
        "return activation(x @ W.T + b)",
        "return activation(x @ W + b)",
        "Likely mistake: W is transposed",
    ),
    (
        "count_parameters",
        "return count_connections(layer_sizes) + sum(layer_sizes[1:])",
        "return count_connections(layer_sizes)",
        "Likely mistake: the biases are missing",
    ),
]
CNN_FLIP = "np.sum(padded[r:r + kh, c:c + kw] * kernel)"
CNN_MISTAKES = [
    [
        (
            "conv2d",
            CNN_FLIP,
            "np.sum(padded[r:r + kh, c:c + kw] * kernel[::-1, ::-1])",
            "Likely mistake: the kernel is flipped on both axes",
        ),
        (
            "conv_output_size",
            "return (n + total - kernel_size) // stride + 1",
            "return (n + total - kernel_size) + 1",
            "Likely mistake: the stride is ignored",
        ),
        (
            "conv2d_layer",
            "top, left = (kh - 1) // 2, (kw - 1) // 2\n        bottom, right = kh - 1 - top, kw - 1 - left",
            "top, left = kh // 2, kw // 2\n        bottom, right = kh // 2, kw // 2",
            "'same' padding puts K // 2 zeros on every side",
        ),
        (
            "max_pool2d",
            "if stride is None:\n        stride = kernel_size",
            "if stride is None:\n        stride = 1",
            "Likely mistake: the windows move one step at a time",
        ),
        (
            "conv2d_params",
            "    if bias:\n        per_kernel += 1\n",
            "",
            "Likely mistake: the bias is missing",
        ),
        (
            "count_parameters",
            "for p in model.parameters() if p.requires_grad)",
            "for p in model.parameters())",
            "Likely mistake: frozen parameters (requires_grad is False) are counted",
        ),
    ],
    [
        (
            "conv_output_size",
            "return (n + total - kernel_size) // stride + 1",
            "return -(-(n + total - kernel_size) // stride) + 1",
            "the division by the stride is rounded up",
        ),
        (
            "max_pool2d",
            "out_h = (h - kernel_size) // stride + 1\n    out_w = (w - kernel_size) // stride + 1",
            "out_h = -(-(h - kernel_size) // stride) + 1\n    out_w = -(-(w - kernel_size) // stride) + 1\n"
            "    x = np.pad(x, [(0, 0)] * (x.ndim - 2) + [(0, kernel_size), (0, kernel_size)], constant_values=-np.inf)",
            "incomplete windows at the bottom or right edge are kept",
        ),
    ],
    [
        (
            "max_pool2d",
            ".max(axis=(-2, -1))",
            ".mean(axis=(-2, -1))",
            "Likely mistake: the windows are averaged",
        ),
        (
            "CNN",
            "self.fc = nn.Linear(128 * 4 * 4, n_classes)",
            "self.fc = nn.Linear(128 * 8 * 8, n_classes)",
            "The flattened features do not fit fc.",
        ),
    ],
]


def mistaken_notebook(name: str, mistakes, folder: Path) -> Path:
    """The built stub, its functions filled in from the reference, with the given mistakes."""
    stub = build_stub(load_assignment(name))
    reference = {
        c["id"]: "".join(c["source"])
        for c in json.loads((REPO / "solutions" / name / f"{name}.ipynb").read_text(encoding="utf-8"))[
            "cells"
        ]
    }
    applied = set()
    for cell in stub["cells"]:
        if cell["cell_type"] == "code" and "raise NotImplementedError" in cell["source"]:
            code = "\n".join(line for line in reference[cell["id"]].splitlines() if "### " not in line)
            for function, old, new, _ in mistakes:
                if (f"def {function}(" in code or f"class {function}(" in code) and old in code:
                    code = code.replace(old, new)
                    applied.add(function)
            cell["source"] = code
    assert applied == {m[0] for m in mistakes}, "a mistake no longer matches the reference code"
    stub["cells"].insert(
        0,
        {
            "cell_type": "code",
            "id": "no-grader",
            "metadata": {},
            "execution_count": None,
            "outputs": [],
            "source": NO_GRADER,
        },
    )
    path = folder / f"{name}_mistakes.ipynb"
    path.write_text(json.dumps(stub), encoding="utf-8")
    return path


def self_check_output(path: Path) -> str:
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(notebook, timeout=120, kernel_name="python3", allow_errors=False).execute()
    return "".join(
        out.get("text", "")
        for cell in notebook.cells
        if cell.cell_type == "code"
        for out in cell.outputs
        if out.get("output_type") == "stream"
    )


def notebook_messages(output: str) -> dict[str, str]:
    """Test number -> the message the notebook printed under its ✗ line."""
    messages, current = {}, None
    for line in output.splitlines():
        mark = re.match(r"✗ (\S+) ", line)
        if mark:
            current = mark.group(1)
            messages[current] = []
        elif current and line.startswith("    "):
            messages[current].append(line[4:])
        else:
            current = None
    return {number: "\n".join(lines) for number, lines in messages.items()}


# The common mistakes issue 21 found invisible before the deadline: each now fails a visible test.
NN_MORE_MISTAKES = [
    (
        "relu",
        "return np.maximum(z, 0.0)",
        "out = z.copy()\n    out[out < 0] = 0\n    return out",
        "'float' object has no attribute 'copy'",
    ),
    (
        "dense",
        "return activation(x @ W.T + b)",
        "return activation(W @ x + b)",
        "Hint: a batch x has shape (batch, n_in)",
    ),
]
CNN_MORE_MISTAKES = [
    ("CNN", 'kernel_size=3, padding="same")', "kernel_size=3)", 'the convolutions have no padding="same"'),
    (  # the columns' stride forgotten: a window past the edge is empty, and multiplying it raises
        "conv2d",
        "out_w = (padded.shape[1] - kw) // stride + 1",
        "out_w = padded.shape[1] - kw + 1",
        "the window has too few columns",
    ),
    (  # a single example only: the batch of 3.5 fails inside np.pad
        "conv2d_layer",
        "padded = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)))",
        "padded = np.pad(x[0], ((0, 0), (top, bottom), (left, right)))[np.newaxis] if single else np.pad(x, ((0, 0), (top, bottom), (left, right)))",
        "Note: x here is a batch of shape (N, C_in, H, W) = (2, 2, 7, 6)",
    ),
    (
        "conv_output_size",
        "total = kernel_size - 1",
        "total = 2 * ((kernel_size - 1) // 2)",
        "conv_output_size",
    ),
    (
        "linear_params",
        "return (in_features + (1 if bias else 0)) * out_features",
        "return (in_features + 1) * out_features",
        "bias",
    ),
]

# Answers made of parts: the part that differs is named, and a wrong gradient costs train nothing.
TRAINING_MISTAKES = [
    (
        "mse",
        "return float(np.mean(diff * diff))",
        "return float(np.sum(diff * diff))",
        "Likely mistake: summed, not averaged",
    ),
    (
        "neuron_gradients",
        "return X.T @ error / len(error), float(np.mean(error))",
        "return -X.T @ error / len(error), -float(np.mean(error))",
        "Likely mistake: the sign is flipped",
    ),
    (
        "gd_step",
        "return w - lr * dw, float(b - lr * db)",
        "w -= lr * dw\n    return w, float(b - lr * db)",
        "changed its input w in place",
    ),
    (
        "accuracy",
        "return float(np.mean(np.asarray(y_pred) == np.asarray(y)))",
        "return float(np.sum(np.asarray(y_pred) == np.asarray(y)))",
        "Likely mistake: this is the count of right labels",
    ),
]
TRAINING_PARTS = [
    (
        "neuron_gradients",
        "return X.T @ error / len(error), float(np.mean(error))",
        "return X.T @ error / len(error), np.array([np.mean(error)])",
        "returned a wrong db (the second of its 2 values): shape (1,), but a single number was expected",
    ),
    (
        "train",
        "return w, b",
        "return w",
        "but a tuple of 2 (w, b) was expected",
    ),
]


@pytest.mark.parametrize(
    "name, mistakes",
    [
        ("nn_basics", NN_MISTAKES),
        *[("cnn", m) for m in CNN_MISTAKES],
        ("training", TRAINING_MISTAKES),
        ("training", TRAINING_PARTS),
        ("nn_basics", NN_MORE_MISTAKES),
        ("cnn", CNN_MORE_MISTAKES),
    ],
    ids=["nn_basics", "cnn-a", "cnn-b", "cnn-c", "training", "training-parts", "nn_basics-more", "cnn-more"],
)
def test_each_common_mistake_fails_its_self_check_and_its_visible_test_with_the_same_words(
    name, mistakes, tmp_path
):
    path = mistaken_notebook(name, mistakes, tmp_path)
    output = self_check_output(path)
    shown = notebook_messages(output)
    graded = grade_notebook(path, name, public_only=True)
    failed = {t.number: t for t in graded.tests if t.status != "passed"}
    for function, _, _, words in mistakes:
        in_notebook = [n for n, text in shown.items() if words in text]
        on_gradescope = [t.number for t in failed.values() if t.function == function and words in t.output]
        assert in_notebook, f"{function}: the self-check does not say {words!r}\n{output}"
        assert on_gradescope, f"{function}: the visible feedback does not say {words!r}"
    # The same wrong function, the same words: every failed visible test reads the same, raised errors too.
    assert set(shown) == set(failed)
    for number, text in shown.items():
        assert text == failed[number].output, number
    # The hidden tests in the words and numbers Gradescope states them (grader.grading.messages.hidden_summary).
    count, points = hidden_total(load_assignment(name).tests_dir)
    assert output.splitlines()[-1].endswith(hidden_sentence(count, points))


@pytest.mark.parametrize("name", ["nn_basics", "cnn", "training"])
def test_the_notebook_the_kit_and_gradescope_state_the_same_hidden_count_and_points(name, handout_graded):
    results = handout_graded(name)
    hidden = [t for t in results.tests if t.visibility != "visible"]
    sentence = hidden_sentence(len(hidden), sum(t.max_score for t in hidden))
    assert sentence in results.output
    assert hidden_total(load_assignment(name).tests_dir) == (len(hidden), sum(t.max_score for t in hidden))
    engine = [
        c
        for c in build_stub(load_assignment(name))["cells"]
        if "selfcheck-engine" in c["metadata"].get("tags", [])
    ]
    assert sentence in engine[0]["source"]


def test_the_reference_notebooks_pass_every_self_check_without_the_grader(tmp_path):
    output = self_check_output(mistaken_notebook("nn_basics", [], tmp_path))
    assert "✗" not in output and output.count("✓") == 15


def test_the_engine_defines_only_selfcheck_and_summary_and_survives_a_students_own_private_names(tmp_path):
    path = mistaken_notebook("nn_basics", NN_MISTAKES[4:5], tmp_path)  # dense computes x @ W
    notebook = json.loads(path.read_text(encoding="utf-8"))
    engine = next(
        i for i, c in enumerate(notebook["cells"]) if "selfcheck-engine" in c["metadata"].get("tags", [])
    )
    clobber = "_np = _show = _Call = _TESTS = lambda *a: None  # a student's own helpers\nprint(sorted(n for n in globals() if 'elfcheck' in n or n == 'summary'))"
    notebook["cells"].insert(
        engine + 1,
        {
            "cell_type": "code",
            "id": "mine",
            "metadata": {},
            "execution_count": None,
            "outputs": [],
            "source": clobber,
        },
    )
    path.write_text(json.dumps(notebook), encoding="utf-8")
    output = self_check_output(path)
    assert "['selfcheck', 'summary']" in output  # nothing else of the engine's in the notebook's globals
    assert "Likely mistake: W is transposed" in output and "has no attribute" not in output
    assert "Visible tests: 12 of 15 passed (6 of 7.5 points)." in output
    assert "Failed: 6.1, 6.2, 6.4 (see the self-check under each function)." in output


def test_the_engine_cell_opens_collapsed_in_jupyterlab_and_as_a_titled_form_in_colab():
    stub = build_stub(load_assignment("nn_basics"))
    engine = next(c for c in stub["cells"] if "selfcheck-engine" in c["metadata"].get("tags", []))
    assert engine["metadata"]["jupyter"] == {"source_hidden": True}
    assert engine["metadata"]["cellView"] == "form"
    assert engine["source"].startswith("# @title Self-check engine:")


def test_the_self_checks_never_read_a_hidden_test():
    spec = load_assignment("cnn")
    with pytest.raises(SelfCheckError, match="not a visible test"):
        load_visible(spec.tests_dir / "test_conv.py", [])


def test_hidden_totals_are_counted_per_function_from_the_source():
    totals = hidden_totals(load_assignment("cnn").tests_dir)
    assert (totals["CNN"].count, totals["CNN"].points) == (5, 4.0)
    assert sum(t.points for t in totals.values()) == 15


def test_the_student_kit_holds_no_solution_and_grader_check_runs_in_it(tmp_path, capsys):
    from grader.cli import main

    kit = tmp_path / "kit"
    assert main(["package", "nn_basics", "--student", "--out", str(kit)]) == 0
    files = sorted(p.relative_to(kit).as_posix() for p in kit.rglob("*") if p.is_file())
    assert files == [
        "nn_basics/assignment.toml",
        "nn_basics/nn_basics.ipynb",
        "nn_basics/tests/hidden_tests.json",
        "nn_basics/tests/selfcheck_tests.json",
        "nn_basics/tests/test_public_nn_basics.py",
    ]
    text = "\n".join((kit / f).read_text(encoding="utf-8") for f in files)
    assert "oracle" not in text.replace("no oracle", "") and "BEGIN SOLUTION" not in text
    bug = mistaken_notebook("nn_basics", NN_MISTAKES[4:5], tmp_path)  # dense computes x @ W
    capsys.readouterr()
    main(["--solutions", str(kit), "check", str(bug)])
    in_kit = capsys.readouterr().out
    main(["check", str(bug)])
    in_checkout = capsys.readouterr().out
    assert "Likely mistake: W is transposed" in in_kit
    assert in_kit.splitlines()[-2:] == [
        "Score: 6/7.5",
        "25 hidden tests worth 12.5 points will be shown when grades are published.",
    ]
    assert in_kit.splitlines()[2:] == in_checkout.splitlines()[2:]


def test_a_self_check_does_not_fail_a_function_for_its_helpers_mistake(tmp_path):
    counts_biases = [
        (
            "count_connections",
            "return sum(n_in * n_out for n_in, n_out in zip(layer_sizes[:-1], layer_sizes[1:]))",
            "return sum(n_in * n_out + n_out for n_in, n_out in zip(layer_sizes[:-1], layer_sizes[1:]))",
            "",
        )
    ]
    output = self_check_output(mistaken_notebook("nn_basics", counts_biases, tmp_path))
    assert "✗ 8.1 count_connections" in output
    assert "✓ 9.1 count_parameters" in output  # right given its own count_connections: 8.1 takes the points


def test_a_function_that_does_not_call_the_wrong_helper_gets_no_credit_for_it_anywhere(tmp_path):
    both_wrong = [
        (
            "count_connections",
            "return sum(n_in * n_out for n_in, n_out in zip(layer_sizes[:-1], layer_sizes[1:]))",
            "return sum(n_in * n_out + n_out for n_in, n_out in zip(layer_sizes[:-1], layer_sizes[1:]))",
            "",
        ),
        (  # the same mistake written out again, without calling count_connections
            "count_parameters",
            "return count_connections(layer_sizes) + sum(layer_sizes[1:])",
            "return sum(a * b + b for a, b in zip(layer_sizes[:-1], layer_sizes[1:])) + sum(layer_sizes[1:])",
            "",
        ),
    ]
    path = mistaken_notebook("nn_basics", both_wrong, tmp_path)
    output = self_check_output(path)
    graded = grade_notebook(path, "nn_basics", public_only=True)
    on_gradescope = {t.number: t.status for t in graded.tests if t.function == "count_parameters"}
    assert "✗ 9.1 count_parameters" in output
    assert on_gradescope["9.1"] != "passed"


def test_grader_check_in_the_cnn_kit_builds_the_students_cnn_and_explains_a_wrong_fc(tmp_path, capsys):
    from grader.cli import main

    kit = tmp_path / "kit"
    assert main(["package", "cnn", "--student", "--out", str(kit)]) == 0
    bug = mistaken_notebook("cnn", CNN_MISTAKES[2][1:], tmp_path)  # fc = nn.Linear(128 * 8 * 8, n_classes)
    capsys.readouterr()
    main(["--solutions", str(kit), "check", str(bug)])
    out = capsys.readouterr().out
    assert "FAIL  7.6 CNN" in out and "The flattened features do not fit fc." in out
    assert out.splitlines()[-2:] == [
        "Score: 11.5/11.5",
        "26 hidden tests worth 15 points will be shown when grades are published.",
    ]


@pytest.mark.parametrize("name", ["nn_basics", "cnn"])
def test_the_notebooks_own_text_states_the_visible_points_the_self_checks_count(name):
    import re

    text = (REPO / "solutions" / name / f"{name}.ipynb").read_text(encoding="utf-8")
    points = sum(t["points"] for t in record(load_assignment(name)))
    stated = re.findall(r"visible tests, worth ([0-9.]+) points", text)
    assert stated and all(float(value) == points for value in stated), (stated, points)

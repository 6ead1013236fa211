"""The training assignment: answers made of parts (``(dw, db)``, ``(w, b)``), graded part by part,
and one mistake costing one function even when train calls the function that is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import by_function, grade_valid

from nbtools import SOLUTIONS, replace_function

REFERENCE = SOLUTIONS / "training" / "training.ipynb"


def graded(tmp_path: Path, name: str, definition: str, *more: tuple[str, str]):
    path = replace_function(REFERENCE, name, definition, tmp_path / "first.ipynb")
    for other, source in more:
        path = replace_function(path, other, source, tmp_path / f"{other}.ipynb")
    results = grade_valid(path, "training")
    return results, by_function(results), {t.number: t for t in results.tests}


def test_a_db_of_shape_one_is_named_as_the_second_part_and_costs_only_neuron_gradients(tmp_path):
    _results, lost, tests = graded(
        tmp_path,
        "neuron_gradients",
        "def neuron_gradients(X, y, w, b):\n    e = sigmoid(X @ w + b) - y\n    return X.T @ e / len(e), np.array([np.mean(e)])",
    )
    assert (
        "returned a wrong db (the second of its 2 values): shape (1,), but a single number was expected"
        in tests["3.1"].output
    )
    assert "A one-element array is not a number: use float(...) or .item()." in tests["3.1"].output
    assert {name for name, points in lost.items() if points} <= {"neuron_gradients", "train"}
    # train raises inside the reference gd_step because of that db: its hidden tests are not lost.
    assert all(tests[n].status == "passed" for n in ("5.3", "5.4", "5.5"))


def test_a_list_where_the_contract_says_tuple_is_accepted(tmp_path):
    results, lost, _ = graded(
        tmp_path,
        "neuron_gradients",
        "def neuron_gradients(X, y, w, b):\n    e = sigmoid(X @ w + b) - y\n    return [X.T @ e / len(e), float(np.mean(e))]",
    )
    assert results.score == results.max_score, lost


def test_a_missing_part_says_what_the_contract_returns(tmp_path):
    _, _, tests = graded(tmp_path, "gd_step", "def gd_step(w, b, dw, db, lr):\n    return w - lr * dw")
    assert "but a tuple of 2 (w, b) was expected" in tests["4.1"].output
    assert "Return w, b together, separated by commas (`return w, b`)." in tests["4.1"].output


def test_a_sign_error_in_the_gradient_is_named_and_costs_train_nothing(tmp_path):
    _results, lost, tests = graded(
        tmp_path,
        "neuron_gradients",
        "def neuron_gradients(X, y, w, b):\n    e = y - sigmoid(X @ w + b)\n    return X.T @ e / len(e), float(np.mean(e))",
    )
    assert "Likely mistake: the sign is flipped" in tests["3.1"].output
    assert [name for name, points in lost.items() if points] == ["neuron_gradients"]


def test_train_that_inlines_the_same_wrong_gradient_loses_its_own_points(tmp_path):
    wrong = "def neuron_gradients(X, y, w, b):\n    e = y - sigmoid(X @ w + b)\n    return X.T @ e / len(e), float(np.mean(e))"
    inline = (
        "def train(X, y, lr=0.1, epochs=100):\n    w, b = np.zeros(X.shape[1]), 0.0\n"
        "    for _ in range(epochs):\n        e = y - sigmoid(X @ w + b)\n"
        "        w, b = w - lr * X.T @ e / len(e), b - lr * float(np.mean(e))\n    return w, b"
    )
    _, lost, _ = graded(tmp_path, "neuron_gradients", wrong, ("train", inline))
    assert lost.get("neuron_gradients", 0) > 0 and lost.get("train", 0) > 0


@pytest.mark.parametrize(
    ("name", "definition", "function"),
    [
        ("mse", "def mse(y_hat, y):\n    return np.array(np.mean((np.subtract(y_hat, y)) ** 2))", None),
        (
            "mse",
            "def mse(y_hat, y):\n    return np.mean((np.subtract(y_hat, y)) ** 2, keepdims=True).ravel()",
            "mse",
        ),
    ],
    ids=["a 0-d array is a number", "a shape-(1,) array is not"],
)
def test_a_zero_d_array_is_a_number_and_a_one_element_array_is_not(tmp_path, name, definition, function):
    _results, lost, tests = graded(tmp_path, name, definition)
    losers = [n for n, points in lost.items() if points]
    assert losers == ([function] if function else [])
    if function:
        assert "should return a single number" in tests["1.1"].output


def test_a_train_that_learns_nothing_fails_the_held_out_accuracy_computed_from_its_weights(tmp_path):
    _, _, tests = graded(
        tmp_path, "train", "def train(X, y, lr=0.1, epochs=100):\n    return np.zeros(X.shape[1]), 0.0"
    )
    assert tests["5.5"].status == "failed"
    assert "held-out examples right, where the contract's training reaches" in tests["5.5"].output

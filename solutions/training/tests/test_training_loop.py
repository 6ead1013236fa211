"""Hidden tests of train, predict and accuracy."""

import numpy as np
import training_oracle as oracle
from gradescope_utils.autograder_utils.decorators import number, weight
from training_checks import check_learns, check_train

from grader.testing import expect


@weight(1)
@number("5.3")
def test_train_default_arguments(student):
    """train: lr=0.1 and epochs=100 on 40 examples"""
    X, y = oracle.blobs(40, 2, seed=53)
    check_train(student, X, y, 0.1, 100, likely={
        "one step too many: range(epochs) takes exactly epochs steps": oracle.train(X, y, 0.1, 101),
        "one step too few: range(epochs) takes exactly epochs steps": oracle.train(X, y, 0.1, 99)})


@weight(1)
@number("5.4")
def test_train_several_epochs(student):
    """train: 25 epochs with lr=0.3 on 20 examples with 4 features"""
    X, y = oracle.blobs(20, 4, seed=54)
    check_train(student, X, y, 0.3, 25)


@weight(1.5)
@number("5.5")
def test_train_held_out_accuracy(student):
    """train: the trained weights label held-out examples as well as the contract's"""
    X, y = oracle.blobs(400, 3, seed=55)
    check_learns(student, X[:300], y[:300], X[300:], y[300:], lr=0.5, epochs=300)


@weight(0.5)
@number("6.2")
def test_predict_random(student):
    """predict: 25 examples with 3 features, float labels of shape (25,)"""
    rng = np.random.default_rng(62)
    X, w = rng.normal(size=(25, 3)), rng.normal(size=3)
    expect(student.predict, X, w, 0.2).to_equal(oracle.predict(X, w, 0.2))


@weight(0.5)
@number("6.3")
def test_predict_large_scores(student):
    """predict: scores of +-1000 (no overflow), inputs unchanged"""
    X, w = np.array([[10.0, -5.0], [-10.0, 5.0], [0.0, 0.0]]), np.array([100.0, 0.0])
    call = expect(student.predict, X, w, 0.0)
    call.to_equal(oracle.predict(X, w, 0.0))
    call.to_leave_inputs_unchanged()


@weight(0.5)
@number("7.2")
def test_accuracy_random(student):
    """accuracy: 37 random labels against their predictions"""
    rng = np.random.default_rng(72)
    y_pred, y = rng.integers(0, 2, size=37).astype(float), rng.integers(0, 2, size=37).astype(float)
    call = expect(student.accuracy, y_pred, y)
    call.to_be_a_number()
    call.to_equal(oracle.accuracy(y_pred, y))


@weight(0.5)
@number("7.3")
def test_accuracy_all_right_and_all_wrong(student):
    """accuracy: 1.0 when every label is right, 0.0 when none is"""
    y = np.array([0.0, 1.0, 1.0, 0.0, 1.0])
    expect(student.accuracy, y.copy(), y).to_equal(1.0)
    expect(student.accuracy, 1.0 - y, y).to_equal(0.0)

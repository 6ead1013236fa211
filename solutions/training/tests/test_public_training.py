"""Visible tests: the notebook's worked examples, and one test for each common mistake (a sum for a
mean, log(0), the gradient's sign, a step in place, a random start, an epoch too many or too few,
an ignored learning rate, a count for a fraction). These are also the notebook's self-checks
(``grader build``); the hidden tests add breadth, not kinds of mistakes."""

import numpy as np
import training_oracle as oracle
from gradescope_utils.autograder_utils.decorators import number, weight

from grader.testing import expect

SUMMED = "summed, not averaged: divide by the number of elements (np.mean does)"
FLIPPED = "the sign is flipped: the gradient uses p - y, the prediction minus the label"
PARTS = ("dw", "db")
WB = ("w", "b")

# The small data set of the worked examples: 4 examples with 2 features each.
X4 = np.array([[1.0, 2.0], [-1.0, 0.5], [0.0, -1.0], [2.0, 1.0]])
Y4 = np.array([1.0, 0.0, 0.0, 1.0])


@weight(0.5)
@number("1.1")
def test_mse_worked_example(student):
    """mse: (1, 2, 3) against (1, 2, 5) gives 4/3"""
    y_hat, y = np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 5.0])
    call = expect(student.mse, y_hat, y)
    call.to_be_a_number()
    call.to_equal(oracle.mse(y_hat, y), likely={
        SUMMED: 4.0,
        "this is the root of the mean squared error (RMSE): leave out the square root": np.sqrt(4 / 3),
        "the differences are not squared: square them, (y_hat - y) ** 2": 2 / 3})


@weight(0.5)
@number("1.2")
def test_mse_over_all_elements(student):
    """mse: a mean over all elements of two (2, 3) arrays"""
    y_hat = np.array([[0.5, 1.0, -1.0], [2.0, 0.0, 1.5]])
    y = np.array([[1.0, 1.0, 0.0], [0.0, 0.5, 1.5]])
    expect(student.mse, y_hat, y).to_equal(
        oracle.mse(y_hat, y),
        shape_hint="mse is a single number: the mean over all elements (np.mean without an axis).")


@weight(0.5)
@number("2.1")
def test_bce_worked_example(student):
    """bce: (0.9, 0.2, 0.6) with labels (1, 0, 1)"""
    y_hat, y = np.array([0.9, 0.2, 0.6]), np.array([1.0, 0.0, 1.0])
    call = expect(student.bce, y_hat, y)
    call.to_be_a_number()
    call.to_equal(oracle.bce(y_hat, y), likely={
        SUMMED: 3 * oracle.bce(y_hat, y),
        "the minus sign is missing: the loss is -(y log p + (1 - y) log(1 - p)), a positive number": -oracle.bce(y_hat, y)})


@weight(1)
@number("2.2")
def test_bce_exact_zeros_and_ones(student):
    """bce: finite for predictions of exactly 0 and 1, which it leaves as they were"""
    y_hat, y = np.array([0.0, 1.0, 1.0, 0.0]), np.array([0.0, 1.0, 0.0, 1.0])
    log0 = ("log(0) is -inf, and 0 * log(0) is nan: clip y_hat into [eps, 1 - eps] "
            "(np.clip(y_hat, eps, 1 - eps)) before taking the log")
    call = expect(student.bce, y_hat, y)
    call.to_equal(oracle.bce(y_hat, y), likely={log0: np.nan})
    call.to_leave_inputs_unchanged()


@weight(1)
@number("3.1")
def test_gradients_worked_example(student):
    """neuron_gradients: the notebook's worked example, four examples from w = (0.5, -0.25), b = 0.1"""
    w, b = np.array([0.5, -0.25]), 0.1
    dw, db = oracle.neuron_gradients(X4, Y4, w, b)
    z = X4 @ w + b
    expect(student.neuron_gradients, X4, Y4, w, b).to_equal((dw, db), names=PARTS, likely={
        FLIPPED: (-dw, -db),
        "summed, not averaged: dw = X.T @ (p - y) / n and db = mean(p - y)": (4 * dw, 4 * db),
        "the sigmoid is not applied: p = sigmoid(X @ w + b)": (X4.T @ (z - Y4) / 4, float(np.mean(z - Y4)))})


@weight(0.5)
@number("4.1")
def test_step_worked_example(student):
    """gd_step: one step from w = (1, -1), b = 0.5 with lr = 0.1"""
    w, b, dw, db = np.array([1.0, -1.0]), 0.5, np.array([2.0, -4.0]), 1.0
    expect(student.gd_step, w, b, dw, db, 0.1).to_equal(oracle.gd_step(w, b, dw, db, 0.1), names=WB, likely={
        "the step goes uphill: subtract the gradient, w - lr * dw": oracle.gd_step(w, b, -dw, -db, 0.1),
        "the learning rate is ignored: w - lr * dw": oracle.gd_step(w, b, dw, db, 1.0)})


@weight(0.5)
@number("4.2")
def test_step_leaves_inputs_unchanged(student):
    """gd_step: returns a new w and leaves the arrays it was given as they were"""
    rng = np.random.default_rng(42)
    w, dw = rng.normal(size=3), rng.normal(size=3)
    call = expect(student.gd_step, w, -0.3, dw, 0.2, 0.05)
    call.to_equal(oracle.gd_step(w, -0.3, dw, 0.2, 0.05), names=WB)
    call.to_leave_inputs_unchanged()


@weight(0.5)
@number("5.1")
def test_train_zero_epochs(student):
    """train: epochs=0 returns the starting point, w = zeros(d) and b = 0.0"""
    expect(student.train, X4, Y4, lr=0.1, epochs=0).to_equal((np.zeros(2), 0.0), names=WB)


@weight(1)
@number("5.2")
def test_train_one_epoch(student):
    """train: epochs=1 with lr=0.5 takes exactly one step from zeros"""
    zeros = np.zeros(2)
    dw, db = oracle.neuron_gradients(X4, Y4, zeros, 0.0)
    expect(student.train, X4, Y4, lr=0.5, epochs=1).to_equal(
        oracle.train(X4, Y4, 0.5, 1), names=WB,
        likely={"one step too many: range(epochs) takes exactly epochs steps": oracle.train(X4, Y4, 0.5, 2),
                "no step was taken: train must take epochs steps": (zeros, 0.0),
                "the learning rate is ignored: pass lr on to gd_step": oracle.train(X4, Y4, 0.1, 1)},
        # Right given the student's own wrong helper: that helper's tests take the points.
        consistent=[(student.neuron_gradients, (X4, Y4, zeros, 0.0), (dw, db),
                     lambda own: (-0.5 * np.asarray(own[0]), -0.5 * np.asarray(own[1]))),
                    (student.gd_step, (zeros, 0.0, dw, db, 0.5), oracle.gd_step(zeros, 0.0, dw, db, 0.5),
                     lambda own: own)])


@weight(0.5)
@number("6.1")
def test_predict_worked_example(student):
    """predict: z = -2, 0 and 2 give the labels 0, 1 and 1"""
    X, w, b = np.array([[-1.0, 0.0], [0.0, 0.5], [1.0, 1.0]]), np.array([1.0, 2.0]), -1.0
    expect(student.predict, X, w, b).to_equal(oracle.predict(X, w, b), likely={
        "an example on the boundary (z = 0, sigmoid 0.5) is labelled 0: use >= 0.5": [0.0, 0.0, 1.0],
        "these are probabilities, not labels: return 1.0 where sigmoid(X @ w + b) >= 0.5, else 0.0":
            oracle.sigmoid(X @ w + b)})


@weight(0.5)
@number("7.1")
def test_accuracy_worked_example(student):
    """accuracy: 3 right of 4 is 0.75"""
    y_pred, y = np.array([1.0, 0.0, 1.0, 1.0]), np.array([1.0, 0.0, 0.0, 1.0])
    call = expect(student.accuracy, y_pred, y)
    call.to_be_a_number()
    call.to_equal(0.75, likely={"this is the count of right labels: divide by their number": 3.0,
                                "this is the fraction of wrong labels: count where y_pred == y": 0.25})

"""Hidden tests of neuron_gradients and gd_step."""

import numpy as np
import training_oracle as oracle
from gradescope_utils.autograder_utils.decorators import number, weight

from grader.testing import expect

PARTS = ("dw", "db")
WB = ("w", "b")
FLIPPED = "the sign is flipped: the gradient uses p - y, the prediction minus the label"


@weight(1)
@number("3.2")
def test_gradients_random(student):
    """neuron_gradients: 30 examples with 5 features"""
    rng = np.random.default_rng(32)
    X, y = rng.normal(size=(30, 5)), rng.integers(0, 2, size=30).astype(float)
    w, b = rng.normal(size=5), -0.4
    dw, db = oracle.neuron_gradients(X, y, w, b)
    expect(student.neuron_gradients, X, y, w, b).to_equal((dw, db), names=PARTS, likely={
        FLIPPED: (-dw, -db), "summed, not averaged: divide by n": (30 * dw, 30 * db)})


@weight(0.5)
@number("3.3")
def test_gradients_one_feature_large_scores(student):
    """neuron_gradients: one feature, scores up to 800 (no overflow in the sigmoid), inputs unchanged"""
    X, y = np.array([[-8.0], [-1.0], [0.0], [2.0], [8.0]]), np.array([0.0, 0.0, 1.0, 1.0, 0.0])
    w, b = np.array([100.0]), 0.0
    call = expect(student.neuron_gradients, X, y, w, b)
    call.to_equal(oracle.neuron_gradients(X, y, w, b), names=PARTS)
    call.to_leave_inputs_unchanged()


@weight(0.5)
@number("3.4")
def test_gradients_match_finite_differences(student):
    """neuron_gradients: the slope of bce in every direction, at a point near the optimum"""
    X, y = oracle.blobs(60, 3, seed=34)
    w, b = oracle.train(X, y, 0.5, 50)
    expect(student.neuron_gradients, X, y, w, b).to_equal(oracle.neuron_gradients(X, y, w, b), names=PARTS)


@weight(0.5)
@number("4.3")
def test_step_random(student):
    """gd_step: 6 weights, a negative bias gradient and lr = 0.03"""
    rng = np.random.default_rng(43)
    w, dw = rng.normal(size=6), rng.normal(size=6)
    expect(student.gd_step, w, 1.5, dw, -2.0, 0.03).to_equal(oracle.gd_step(w, 1.5, dw, -2.0, 0.03), names=WB)


@weight(0.5)
@number("4.4")
def test_step_bias_is_a_number(student):
    """gd_step: b comes back as a single number, w with the shape of w"""
    w, dw = np.array([0.0, 1.0, 2.0, 3.0]), np.array([1.0, 1.0, 1.0, 1.0])
    expect(student.gd_step, w, 0.0, dw, 0.5, 1.0).to_equal(oracle.gd_step(w, 0.0, dw, 0.5, 1.0), names=WB)

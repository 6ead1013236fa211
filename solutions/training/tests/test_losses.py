"""Hidden tests of mse and bce."""

import numpy as np
import training_oracle as oracle
from gradescope_utils.autograder_utils.decorators import number, weight

from grader.testing import expect

SUMMED = "summed, not averaged: divide by the number of elements (np.mean does)"


@weight(0.5)
@number("1.3")
def test_mse_random(student):
    """mse: 50 random predictions against their targets"""
    rng = np.random.default_rng(13)
    y_hat, y = rng.normal(size=50), rng.normal(size=50)
    expect(student.mse, y_hat, y).to_equal(oracle.mse(y_hat, y), likely={SUMMED: 50 * oracle.mse(y_hat, y)})


@weight(0.5)
@number("1.4")
def test_mse_three_axes_float32(student):
    """mse: float32 arrays of shape (2, 3, 4), left as they were"""
    rng = np.random.default_rng(14)
    y_hat, y = rng.normal(size=(2, 3, 4)).astype(np.float32), rng.normal(size=(2, 3, 4)).astype(np.float32)
    call = expect(student.mse, y_hat, y)
    call.to_be_a_number()
    call.to_equal(oracle.mse(y_hat, y))
    call.to_leave_inputs_unchanged()


@weight(0.5)
@number("2.3")
def test_bce_random(student):
    """bce: 40 random probabilities and labels"""
    rng = np.random.default_rng(23)
    y_hat, y = rng.uniform(0.01, 0.99, size=40), rng.integers(0, 2, size=40).astype(float)
    expect(student.bce, y_hat, y).to_equal(oracle.bce(y_hat, y), likely={SUMMED: 40 * oracle.bce(y_hat, y)})


@weight(0.5)
@number("2.4")
def test_bce_uses_eps(student):
    """bce: eps=1e-3 clips predictions into [0.001, 0.999]"""
    y_hat, y = np.array([0.0, 0.0005, 0.5, 0.9999, 1.0]), np.array([1.0, 0.0, 1.0, 0.0, 1.0])
    call = expect(student.bce, y_hat, y, eps=1e-3)
    call.to_be_a_number()
    call.to_equal(oracle.bce(y_hat, y, 1e-3), likely={
        "eps is ignored: clip with the eps the caller gives": oracle.bce(y_hat, y)})


@weight(0.5)
@number("2.5")
def test_bce_two_axes_unchanged(student):
    """bce: a (3, 4) batch, mean over all elements, inputs left as they were"""
    rng = np.random.default_rng(25)
    y_hat = rng.uniform(size=(3, 4))
    y_hat[0, 0], y_hat[2, 3] = 0.0, 1.0
    y = rng.integers(0, 2, size=(3, 4)).astype(float)
    call = expect(student.bce, y_hat, y)
    call.to_equal(oracle.bce(y_hat, y))
    call.to_leave_inputs_unchanged()

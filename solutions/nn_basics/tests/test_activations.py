"""Hidden tests of the activation functions: step, sigmoid, tanh, relu."""

import nn_basics_oracle as oracle
import numpy as np
from gradescope_utils.autograder_utils.decorators import number, weight
from nn_basics_helpers import stable

from grader.testing import expect

STEP_AT_ZERO = "step(0) must be 1: the condition is z >= 0, not z > 0"


# ---- step -------------------------------------------------------------------

@weight(0.5)
@number("1.2")
def test_step_at_zero(student):
    """step: exactly 0 gives 1, for a single number and inside an array"""
    expect(student.step, 0.0).to_equal(1.0, likely={STEP_AT_ZERO: 0.0, "step(0) gave 0.5; it must be 1": 0.5})
    z = np.array([[0.0, -1e-9], [1e-9, 0.0]])
    expect(student.step, z).to_equal(oracle.step(z), likely={STEP_AT_ZERO: (z > 0).astype(float)})


@weight(0.5)
@number("1.3")
def test_step_shapes(student):
    """step: works on single numbers, 0-d and 2-D arrays, keeping the shape"""
    expect(student.step, -1.5).to_equal(0.0)
    expect(student.step, np.array(0.7)).to_equal(1.0)
    z = np.random.default_rng(11).normal(scale=2.0, size=(3, 4))
    expect(student.step, z).to_equal(oracle.step(z))


@weight(0.5)
@number("1.4")
def test_step_leaves_input(student):
    """step: does not modify its input (and gets it right)"""
    z = np.random.default_rng(12).normal(size=6)
    call = expect(student.step, z)
    call.to_equal(oracle.step(z))
    call.to_leave_inputs_unchanged()


# ---- sigmoid ----------------------------------------------------------------

@weight(0.5)
@number("2.2")
def test_sigmoid_random(student):
    """sigmoid: matches 1 / (1 + e^-z) on a 2-D array"""
    z = np.random.default_rng(21).normal(scale=3.0, size=(4, 5))
    expect(student.sigmoid, z).to_equal(oracle.sigmoid(z), likely={
        "the sign of the exponent is flipped: use 1 / (1 + e^-z)": oracle.sigmoid(-z),
        "this is tanh, not the sigmoid": oracle.tanh(z)})


@weight(0.5)
@number("2.3")
def test_sigmoid_numbers(student):
    """sigmoid: works on single numbers and 0-d arrays"""
    expect(student.sigmoid, 2.0).to_equal(oracle.sigmoid(2.0))
    expect(student.sigmoid, np.float64(-3.0)).to_equal(oracle.sigmoid(-3.0))
    expect(student.sigmoid, np.array(0.25)).to_equal(oracle.sigmoid(0.25))


@weight(0.5)
@number("2.4")
def test_sigmoid_float32_extremes(student):
    """sigmoid: finite and correct for large |z| in float32, where e^z overflows already at z = 89"""
    z = np.array([-1e4, -800.0, -100.0, -50.0, -2.0, -0.3, 0.3, 2.0, 50.0, 100.0, 800.0, 1e4], dtype=np.float32)
    stable(expect(student.sigmoid, z), oracle.sigmoid(z))


@weight(0.5)
@number("2.6")
def test_sigmoid_leaves_input(student):
    """sigmoid: does not modify its input (and gets it right)"""
    z = np.random.default_rng(26).normal(scale=2.0, size=(2, 3))
    call = expect(student.sigmoid, z)
    call.to_equal(oracle.sigmoid(z))
    call.to_leave_inputs_unchanged()


# ---- tanh ---------------------------------------------------------------------

@weight(0.5)
@number("3.2")
def test_tanh_random(student):
    """tanh: matches (e^z - e^-z) / (e^z + e^-z) on a 2-D array"""
    z = np.random.default_rng(32).normal(scale=2.0, size=(3, 6))
    expect(student.tanh, z).to_equal(oracle.tanh(z), likely={
        "this is the sigmoid, not tanh": oracle.sigmoid(z),
        "this is 2*sigmoid(z) - 1, which is tanh(z/2); tanh(z) = 2*sigmoid(2z) - 1": 2 * oracle.sigmoid(z) - 1})


@weight(0.5)
@number("3.3")
def test_tanh_numbers(student):
    """tanh: works on single numbers and 0-d arrays"""
    expect(student.tanh, -0.75).to_equal(oracle.tanh(-0.75))
    expect(student.tanh, np.array(1.5)).to_equal(oracle.tanh(1.5))


# ---- relu -------------------------------------------------------------------

@weight(0.5)
@number("4.2")
def test_relu_random(student):
    """relu: matches max(0, z) on a 2-D array"""
    z = np.random.default_rng(42).normal(scale=2.0, size=(5, 3))
    expect(student.relu, z).to_equal(oracle.relu(z), likely={
        "this is abs(z): negatives must become 0": np.abs(z),
        "this is min(0, z): positives must pass through, negatives become 0": np.minimum(z, 0)})



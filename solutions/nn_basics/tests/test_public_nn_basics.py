"""Visible tests: the worked examples from the lecture and the notebook, and one test for each common
mistake (overflow at large |z|, a changed input, a transposed W). These are also the notebook's
self-checks (``grader build``); the hidden tests add breadth, not kinds of mistakes."""

import nn_basics_oracle as oracle
import numpy as np
from gradescope_utils.autograder_utils.decorators import number, weight
from nn_basics_helpers import BATCH_HINT, check, stable

from grader.testing import expect, identity


@weight(0.5)
@number("1.1")
def test_step_worked_example(student):
    """step: the worked example [-2, 0, 3] gives [0, 1, 1]"""
    z = np.array([-2.0, 0.0, 3.0])
    expect(student.step, z).to_equal([0.0, 1.0, 1.0],
                                     likely={"step(0) must be 1: the condition is z >= 0": [0.0, 0.0, 1.0]})



@weight(0.5)
@number("2.1")
def test_sigmoid_worked_example(student):
    """sigmoid: sigmoid(0) = 0.5 and the values at -1 and 1"""
    z = np.array([-1.0, 0.0, 1.0])
    expect(student.sigmoid, z).to_equal(oracle.sigmoid(z),
                                        likely={"the sign of the exponent is flipped: use 1 / (1 + e^-z)": oracle.sigmoid(-z)})



@weight(0.5)
@number("2.5")
def test_sigmoid_extremes(student):
    """sigmoid: finite and correct for z = -1e4 and 1e4"""
    z = np.array([-1e4, -40.0, -1.5, 0.0, 0.7, 40.0, 1e4])
    stable(expect(student.sigmoid, z), oracle.sigmoid(z))



@weight(0.5)
@number("3.1")
def test_tanh_worked_example(student):
    """tanh: the values at -1, 0, 0.5 and 2"""
    z = np.array([-1.0, 0.0, 0.5, 2.0])
    expect(student.tanh, z).to_equal(oracle.tanh(z), likely={"this is the sigmoid, not tanh": oracle.sigmoid(z)})



@weight(0.5)
@number("3.4")
def test_tanh_extremes(student):
    """tanh: finite and correct for z = -1e4 and 1e4"""
    z = np.array([-1e4, -400.0, -0.8, 0.0, 0.4, 400.0, 1e4])
    stable(expect(student.tanh, z), oracle.tanh(z))



@weight(0.5)
@number("4.1")
def test_relu_worked_example(student):
    """relu: negatives become 0, the rest pass through"""
    z = np.array([-2.0, -0.5, 0.0, 1.5, 3.0])
    expect(student.relu, z).to_equal(oracle.relu(z), likely={"this is abs(z): negatives must become 0": np.abs(z)})



@weight(0.5)
@number("4.4")
def test_relu_leaves_input(student):
    """relu: does not modify its input (and gets it right)"""
    z = np.random.default_rng(44).normal(size=(2, 4))
    call = expect(student.relu, z)
    call.to_equal(oracle.relu(z))
    call.to_leave_inputs_unchanged()



@weight(0.5)
@number("5.1")
def test_neuron_major_minor(student):
    """neuron: the major/minor chord neuron with the identity activation"""
    w, b = np.array([0.0, 1.0, -1.0]), -0.2
    for chord in (np.array([0.9, 0.8, 0.1]), np.array([0.9, 0.1, 0.8])):
        expect(student.neuron, chord, w, b, identity).to_equal(
            oracle.neuron(chord, w, b, identity),
            likely={"the bias b is ignored: the neuron computes w . x + b": float(w @ chord)})



@weight(0.5)
@number("6.1")
def test_dense_worked_example(student):
    """dense: the 3-input, 2-neuron layer from the notebook"""
    W = np.array([[1.0, 0.0, -1.0], [0.5, 0.5, 0.5]])
    x, b = np.array([1.0, 2.0, 3.0]), np.array([0.0, -1.0])
    check(student.dense, x, W, b, identity, expected=oracle.dense(x, W, b, identity),
          likely={"the bias b is ignored: compute activation(W x + b)": W @ x},
          hint="Hint: W has shape (n_out, n_in) = (2, 3) and row i holds the weights of neuron i: "
               "compute W @ x (or x @ W.T), not x @ W.")



@weight(0.5)
@number("6.2")
def test_dense_square(student):
    """dense: one input, 3 neurons with 3 inputs each, tanh"""
    rng = np.random.default_rng(62)
    W, b, x = rng.normal(size=(3, 3)), rng.normal(size=3), rng.normal(size=3)
    expect(student.dense, x, W, b, np.tanh).to_equal(oracle.dense(x, W, b, np.tanh), likely={
        "W is transposed: row i of W holds the weights of output i, so compute W x (x @ W.T), not x @ W": np.tanh(W.T @ x + b),
        "the bias b is ignored: compute activation(W x + b)": np.tanh(W @ x),
        "the activation is not applied: return activation(W x + b)": W @ x + b})



@weight(0.5)
@number("7.1")
def test_forward_worked_example(student):
    """forward: the 3 -> 2 -> 1 network from the notebook"""
    layers = [(np.array([[1.0, -1.0, 0.0], [0.0, 1.0, 1.0]]), np.array([0.0, -1.0]), np.tanh),
              (np.array([[2.0, 1.0]]), np.array([0.5]), identity)]
    x = np.array([1.0, 2.0, 3.0])
    at_end = [(layers[0][0], layers[0][1], identity), layers[1]]
    check(student.forward, x, layers, expected=oracle.forward(x, layers), likely={
        "the activations are not applied per layer: every layer computes h = activation(W h + b) "
        "with its own activation": oracle.forward(x, at_end)})



@weight(0.5)
@number("8.1")
def test_count_connections_lecture(student):
    """count_connections: [3, 9, 2] has 45 connections"""
    expect(student.count_connections, [3, 9, 2]).to_equal(
        45, likely={"the biases were counted too: connections are only the weights (edges)": 56})



@weight(0.5)
@number("9.1")
def test_count_parameters_lecture(student):
    """count_parameters: [3, 9, 2] has 56 parameters"""
    check(student.count_parameters, [3, 9, 2], expected=56,
          likely={"the biases are missing: every neuron after the input layer has one bias": 45},
          consistent=[(student.count_connections, ([3, 9, 2],), 45, lambda own: own + 11)])


@weight(0.5)
@number("4.3")
def test_relu_numbers(student):
    """relu: works on single numbers and 0-d arrays"""
    expect(student.relu, -2.5).to_equal(0.0)
    expect(student.relu, 1.25).to_equal(1.25)
    expect(student.relu, np.array(-0.5)).to_equal(0.0)


@weight(0.5)
@number("6.4")
def test_dense_batch(student):
    """dense: a batch of 6 inputs gives shape (6, 3)"""
    rng = np.random.default_rng(64)
    W, b, x = rng.normal(size=(3, 4)), rng.normal(size=3), rng.normal(size=(6, 4))
    check(student.dense, x, W, b, np.tanh, expected=oracle.dense(x, W, b, np.tanh), likely={
        "the bias b is ignored: compute activation(W x + b)": np.tanh(x @ W.T),
        "the activation is not applied: return activation(W x + b)": x @ W.T + b}, hint=BATCH_HINT)

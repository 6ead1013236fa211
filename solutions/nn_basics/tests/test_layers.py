"""Hidden tests of neuron, dense and forward."""

import nn_basics_oracle as oracle
import numpy as np
from gradescope_utils.autograder_utils.decorators import number, weight
from nn_basics_helpers import BATCH_HINT, check

from grader.testing import expect, identity, sigmoid

DENSE_HINT = ("Hint: W has shape (n_out, n_in) and row i holds the weights of neuron i, so W x is W @ x, "
              "or x @ W.T, which also works for a batch; x @ W would need W transposed.")
ONLY_AT_END = ("the activation is applied only after the last layer: every layer computes "
               "h = activation(W h + b) with its own activation")
NO_BIAS = "the bias b is ignored: the neuron computes activation(w . x + b)"
NOT_APPLIED = "the activation is not applied: return activation(w . x + b)"
NO_ACTIVATION = "no activation was applied: every layer computes h = activation(W h + b)"


def layers_with(activations, sizes, seed):
    """Random layers for the given sizes, e.g. [4, 5, 2], with one activation per layer."""
    rng = np.random.default_rng(seed)
    return [(rng.normal(size=(n_out, n_in)), rng.normal(size=n_out), act)
            for n_in, n_out, act in zip(sizes[:-1], sizes[1:], activations)]


def affine_only(layers):
    return [(W, b, identity) for W, b, _ in layers]


def activation_at_end(layers):
    return affine_only(layers[:-1]) + [layers[-1]]


# ---- neuron -----------------------------------------------------------------

@weight(0.5)
@number("5.2")
def test_neuron_returns_number(student):
    """neuron: returns a single number"""
    rng = np.random.default_rng(52)
    x, w = rng.normal(size=4), rng.normal(size=4)
    call = expect(student.neuron, x, w, 0.3, np.tanh)
    call.to_be_a_number()
    call.to_equal(oracle.neuron(x, w, 0.3, np.tanh), likely={NO_BIAS: float(np.tanh(w @ x))})


@weight(0.5)
@number("5.3")
def test_neuron_uses_bias(student):
    """neuron: adds the bias b (identity activation)"""
    rng = np.random.default_rng(53)
    x, w, b = rng.normal(size=5), rng.normal(size=5), 2.5
    expect(student.neuron, x, w, b, identity).to_equal(oracle.neuron(x, w, b, identity), likely={
        NO_BIAS: float(w @ x),
        "the bias is subtracted: the neuron computes activation(w . x + b)": float(w @ x) - b})


@weight(0.5)
@number("5.4")
def test_neuron_tanh(student):
    """neuron: with np.tanh as the activation, 7 inputs"""
    rng = np.random.default_rng(54)
    x, w, b = rng.normal(size=7), rng.normal(scale=0.5, size=7), -0.4
    expect(student.neuron, x, w, b, np.tanh).to_equal(oracle.neuron(x, w, b, np.tanh), likely={
        NO_BIAS: float(np.tanh(w @ x)), NOT_APPLIED: float(w @ x + b)})


@weight(0.5)
@number("5.5")
def test_neuron_sigmoid(student):
    """neuron: with a sigmoid as the activation (the chord neuron)"""
    # The grader's own sigmoid, not the student's: this test checks neuron alone.
    x, w, b = np.array([0.7, 0.2, 0.9]), np.array([0.5, 2.0, -2.0]), 0.1
    pre = float(w @ x + b)
    expect(student.neuron, x, w, b, sigmoid).to_equal(oracle.neuron(x, w, b, sigmoid),
                                                      likely={NO_BIAS: oracle.sigmoid(pre - b), NOT_APPLIED: pre})


# ---- dense ------------------------------------------------------------------


@weight(0.5)
@number("6.3")
def test_dense_shape(student):
    """dense: 5 inputs and 2 neurons give 2 outputs"""
    rng = np.random.default_rng(63)
    W, b, x = rng.normal(size=(2, 5)), rng.normal(size=2), rng.normal(size=5)
    check(student.dense, x, W, b, identity, expected=oracle.dense(x, W, b, identity),
          likely={"the bias b is ignored: compute activation(W x + b)": W @ x}, hint=DENSE_HINT)


@weight(0.5)
@number("6.5")
def test_dense_leaves_inputs(student):
    """dense: does not modify x, W or b (and gets it right)"""
    rng = np.random.default_rng(65)
    W, b, x = rng.normal(size=(3, 4)), rng.normal(size=3), rng.normal(size=(2, 4))
    call = expect(student.dense, x, W, b, np.tanh)
    call.to_equal(oracle.dense(x, W, b, np.tanh))
    call.to_leave_inputs_unchanged()


# ---- forward ----------------------------------------------------------------

@weight(0.5)
@number("7.2")
def test_forward_one_layer(student):
    """forward: a single layer is just that dense layer"""
    layers = layers_with([np.tanh], [4, 3], seed=72)
    W, b, act = layers[0]
    x = np.random.default_rng(720).normal(size=4)
    check(student.forward, x, layers, expected=oracle.forward(x, layers), likely={
        "the activation is not applied: every layer computes h = activation(W h + b)": W @ x + b},
        depends=[(student.dense, (x, W, b, act), oracle.dense(x, W, b, act), "forward may use your dense")])


@weight(0.5)
@number("7.3")
def test_forward_two_layers(student):
    """forward: two layers, each with its own activation (tanh, then arctan)"""
    layers = layers_with([np.tanh, np.arctan], [4, 5, 2], seed=73)
    x = np.random.default_rng(730).normal(size=4)
    W, b, act = layers[0]
    check(student.forward, x, layers, expected=oracle.forward(x, layers), likely={
        ONLY_AT_END: oracle.forward(x, activation_at_end(layers)),
        NO_ACTIVATION: oracle.forward(x, affine_only(layers)),
        "every layer used the first layer's activation; each layer has its own":
            oracle.forward(x, [(Wl, bl, np.tanh) for Wl, bl, _ in layers])},
        depends=[(student.dense, (x, W, b, act), oracle.dense(x, W, b, act), "forward may use your dense")])


@weight(0.5)
@number("7.4")
def test_forward_three_layers_batch(student):
    """forward: three layers (3 -> 4 -> 4 -> 2) on a batch of 5 inputs, which it leaves as they were"""
    layers = layers_with([np.tanh, identity, np.arctan], [3, 4, 4, 2], seed=74)
    x = np.random.default_rng(740).normal(size=(5, 3))
    W, b, act = layers[0]
    check(student.forward, x, layers, expected=oracle.forward(x, layers), likely={
        ONLY_AT_END: oracle.forward(x, activation_at_end(layers)),
        NO_ACTIVATION: oracle.forward(x, affine_only(layers))}, hint=BATCH_HINT, unchanged=True,
        depends=[(student.dense, (x, W, b, act), oracle.dense(x, W, b, act), "forward may use your dense")])

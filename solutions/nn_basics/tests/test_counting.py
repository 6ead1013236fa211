"""Hidden tests of count_connections and count_parameters."""

import nn_basics_oracle as oracle
import numpy as np
from gradescope_utils.autograder_utils.decorators import number, weight
from nn_basics_helpers import check

from grader.testing import expect

DEEP = [3, 3, 3, 3, 2, 2, 2, 2]  # the lecture's deep network: 45 connections, like the shallow [3, 9, 2]
BIASES_COUNTED = "the biases were counted too: connections are only the weights (edges)"
SIZES_ADDED = "the layer sizes were added: layers of n and m neurons have n * m connections"
BIASES_MISSING = "the biases are missing: every neuron after the input layer has one bias"
INPUT_BIASES = "the input layer got biases too: only neurons after the input layer have a bias"


def random_sizes(seed):
    return np.random.default_rng(seed).integers(1, 60, size=6).tolist()


def parameter_mistakes(sizes):
    connections = oracle.count_connections(sizes)
    return {BIASES_MISSING: connections, INPUT_BIASES: connections + sum(sizes)}


def with_own_connections(student, sizes):
    """count_parameters that adds the biases to the student's own (wrong) count_connections is right."""
    return [(student.count_connections, (sizes,), oracle.count_connections(sizes),
             lambda own: own + oracle.count_biases(sizes))]


# ---- count_connections --------------------------------------------------------

@weight(0.5)
@number("8.2")
def test_count_connections_deep(student):
    """count_connections: the lecture's deep [3, 3, 3, 3, 2, 2, 2, 2] network has 45, like [3, 9, 2]"""
    expect(student.count_connections, DEEP).to_equal(
        oracle.count_connections(DEEP), likely={BIASES_COUNTED: oracle.count_parameters(DEEP)})


@weight(0.5)
@number("8.3")
def test_count_connections_single_layer(student):
    """count_connections: one layer [7, 4] has 7 * 4 = 28"""
    expect(student.count_connections, [7, 4]).to_equal(28, likely={BIASES_COUNTED: 32, SIZES_ADDED: 11})


@weight(0.5)
@number("8.4")
def test_count_connections_random(student):
    """count_connections: a larger network with six layers"""
    sizes = random_sizes(84)
    expect(student.count_connections, sizes).to_equal(oracle.count_connections(sizes), likely={
        BIASES_COUNTED: oracle.count_parameters(sizes), SIZES_ADDED: sum(a + b for a, b in zip(sizes, sizes[1:]))})


# ---- count_parameters ---------------------------------------------------------

@weight(0.5)
@number("9.2")
def test_count_parameters_deep(student):
    """count_parameters: the lecture's deep [3, 3, 3, 3, 2, 2, 2, 2] network has 62"""
    check(student.count_parameters, DEEP, expected=oracle.count_parameters(DEEP), likely=parameter_mistakes(DEEP),
          depends=[(student.count_connections, (DEEP,), oracle.count_connections(DEEP),
                    "count_parameters may use your count_connections")],
          consistent=with_own_connections(student, DEEP))


@weight(0.5)
@number("9.3")
def test_count_parameters_single_layer(student):
    """count_parameters: one layer [7, 4] has 28 weights + 4 biases"""
    check(student.count_parameters, [7, 4], expected=32, likely=parameter_mistakes([7, 4]),
          depends=[(student.count_connections, ([7, 4],), 28, "count_parameters may use your count_connections")],
          consistent=with_own_connections(student, [7, 4]))


@weight(0.5)
@number("9.4")
def test_count_parameters_random(student):
    """count_parameters: a larger network with six layers"""
    sizes = random_sizes(94)
    check(student.count_parameters, sizes, expected=oracle.count_parameters(sizes), likely=parameter_mistakes(sizes),
          depends=[(student.count_connections, (sizes,), oracle.count_connections(sizes),
                    "count_parameters may use your count_connections")],
          consistent=with_own_connections(student, sizes))

"""Reference answers for the nn_basics tests, written independently of the solution notebook.

Every function returns float64 NumPy values computed in the grading process; nothing here is
ever sent to a student's code.
"""

from __future__ import annotations

import numpy as np

from grader.testing import Builtin, RemoteFunction


def step(z):
    z = np.asarray(z, dtype=np.float64)
    return (z >= 0).astype(np.float64)


def sigmoid(z):
    # 0.5 * (1 + tanh(z / 2)) is the logistic function exactly, and np.tanh never overflows.
    z = np.asarray(z, dtype=np.float64)
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def tanh(z):
    return np.tanh(np.asarray(z, dtype=np.float64))


def relu(z):
    z = np.asarray(z, dtype=np.float64)
    return z * (z > 0)


def identity(z):
    return np.asarray(z, dtype=np.float64)


def as_oracle(activation):
    """The oracle's own version of an activation a test passes to student code."""
    if isinstance(activation, Builtin):
        return {"identity": identity, "sigmoid": sigmoid}[activation.name]
    if isinstance(activation, RemoteFunction):
        return {"step": step, "sigmoid": sigmoid, "tanh": tanh, "relu": relu}[activation.name]
    if isinstance(activation, np.ufunc):
        return lambda z: activation(np.asarray(z, dtype=np.float64))
    raise TypeError(f"no oracle for activation {activation!r}")


def neuron(x, w, b, phi):
    pre = float(np.sum(np.asarray(w, dtype=np.float64) * np.asarray(x, dtype=np.float64))) + float(b)
    return float(as_oracle(phi)(pre))


def dense(x, W, b, phi):
    x = np.asarray(x, dtype=np.float64)
    pre = np.einsum("oi,...i->...o", np.asarray(W, dtype=np.float64), x) + np.asarray(b, dtype=np.float64)
    return as_oracle(phi)(pre)


def forward(x, layers):
    h = np.asarray(x, dtype=np.float64)
    for W, b, phi in layers:
        h = dense(h, W, b, phi)
    return h


def count_connections(sizes):
    sizes = [int(n) for n in sizes]
    total = 0
    for i in range(len(sizes) - 1):
        total += sizes[i] * sizes[i + 1]
    return total


def count_biases(sizes):
    return int(np.sum(np.asarray(sizes, dtype=np.int64)[1:]))


def count_parameters(sizes):
    return count_connections(sizes) + count_biases(sizes)

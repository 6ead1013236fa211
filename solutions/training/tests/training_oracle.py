"""Reference answers for the training tests, written independently of the solution notebook.

Every function returns float64 NumPy values computed in the grading process; nothing here is ever
sent to a student's code. The gradient is the closed form of the contract; ``tests`` prove it
against finite differences of ``bce``.
"""

from __future__ import annotations

import numpy as np


def sigmoid(z):
    # 0.5 * (1 + tanh(z / 2)) is the logistic function exactly, and np.tanh never overflows.
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(z, dtype=np.float64)))


def mse(y_hat, y):
    return float(np.square(np.subtract(y_hat, y, dtype=np.float64)).mean())


def bce(y_hat, y, eps=1e-12):
    p = np.minimum(np.maximum(np.asarray(y_hat, dtype=np.float64), eps), 1.0 - eps)
    y = np.asarray(y, dtype=np.float64)
    return float(-(y * np.log(p) + (1.0 - y) * np.log1p(-p)).mean())


def neuron_gradients(X, y, w, b):
    X = np.asarray(X, dtype=np.float64)
    error = sigmoid(np.einsum("nd,d->n", X, np.asarray(w, dtype=np.float64)) + b) - np.asarray(y, dtype=np.float64)
    return np.einsum("nd,n->d", X, error) / X.shape[0], float(error.sum() / X.shape[0])


def gd_step(w, b, dw, db, lr):
    return np.asarray(w, dtype=np.float64) - lr * np.asarray(dw, dtype=np.float64), float(b) - lr * float(db)


def train(X, y, lr=0.1, epochs=100, gradients=None, step=None):
    """The contract's loop; ``gradients`` and ``step`` replace the oracle's own (a student's, say)."""
    gradients = gradients or neuron_gradients
    step = step or gd_step
    w, b = np.zeros(np.shape(X)[1]), 0.0
    for _ in range(epochs):
        w, b = step(w, b, *gradients(X, y, w, b), lr)
    return w, b


def predict(X, w, b):
    z = np.asarray(X, dtype=np.float64) @ np.asarray(w, dtype=np.float64) + float(b)
    return (z >= 0).astype(np.float64)  # sigmoid(z) >= 0.5 exactly where z >= 0


def accuracy(y_pred, y):
    return float(np.count_nonzero(np.asarray(y_pred) == np.asarray(y)) / np.size(y))


def blobs(n, d, seed, separation=1.5, noise=1.0):
    """A seeded two-class data set: labels from a random direction, with label noise near the boundary."""
    rng = np.random.default_rng(seed)
    direction = rng.normal(size=d)
    direction /= np.linalg.norm(direction)
    X = rng.normal(size=(n, d))
    score = separation * (X @ direction) + 0.2 + noise * 0.3 * rng.normal(size=n)
    return X, (score > 0).astype(np.float64)

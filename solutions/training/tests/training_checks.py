"""Checks of train that keep one mistake to one function.

A student's ``train`` may call their ``neuron_gradients`` and ``gd_step``. When one of those is wrong
on its own, ``train`` cannot be right, yet its own loop may be: it then passes if its answer is
what the contract's loop gives with the student's own helpers, run here step by step. The wrong
helper's own tests take the points, once.
"""

from __future__ import annotations

import numpy as np
import training_oracle as oracle

from grader.testing import FailureKind, GradingFailure, as_data, expect, fail, matches

WB = ("w", "b")
MAX_REPLAYED_EPOCHS = 400  # two calls into the notebook per epoch


def _wrong_on_its_own(student, name, args, right) -> bool:
    try:
        return not matches(getattr(student, name)(*args), right)
    except GradingFailure:  # it raises or cannot be called: wrong, and its own tests say so
        return True


def own_helpers_answer(student, X, y, lr, epochs):
    """The contract's loop with the student's own helpers that ``train`` calls and that are wrong
    on their own (the oracle's for the rest); None when no such helper exists."""
    used = student.uses("train")
    d = np.shape(X)[1]
    zeros = np.zeros(d)
    dw, db = oracle.neuron_gradients(X, y, zeros, 0.0)
    grads = "neuron_gradients" in used and _wrong_on_its_own(
        student, "neuron_gradients", (X, y, zeros, 0.0), (dw, db))
    step = "gd_step" in used and _wrong_on_its_own(
        student, "gd_step", (zeros, 0.0, dw, db, lr), oracle.gd_step(zeros, 0.0, dw, db, lr))
    if not (grads or step) or epochs > MAX_REPLAYED_EPOCHS:
        return None
    # The loop as train runs it: with every helper of the student's that it calls, right or wrong
    # (a right gd_step may take a db of shape (1,) where the oracle's would not).
    own_grads, own_step = "neuron_gradients" in used, "gd_step" in used

    def gradients(X, y, w, b):
        if own_grads:
            return tuple(as_data(student.neuron_gradients(X, y, w, b)))
        return oracle.neuron_gradients(X, y, w, b)

    def stepped(w, b, dw, db, lr):
        return tuple(as_data(student.gd_step(w, b, dw, db, lr))) if own_step else oracle.gd_step(w, b, dw, db, lr)

    try:
        return oracle.train(X, y, lr, epochs, gradients=gradients, step=stepped)
    except GradingFailure as failure:  # a helper of the student's raised on another's answer
        return CannotStep(failure.exception) if failure.kind is FailureKind.RAISED and failure.exception else None
    except (TypeError, ValueError, IndexError) as exc:  # the helper's answer cannot be stepped with
        return CannotStep(type(exc).__name__)


class CannotStep:
    """The contract's loop failed on a wrong helper's answer (a db of shape (1,), say)."""

    def __init__(self, exception: str):
        self.exception = exception


def _explained_by_helpers(student, failure, X, y, lr, epochs) -> bool:
    """train failed as the contract's loop fails with the student's own wrong helpers: the same
    exception, raised inside one of those helpers."""
    own = own_helpers_answer(student, X, y, lr, min(epochs, MAX_REPLAYED_EPOCHS))
    if isinstance(own, CannotStep):
        frames = (failure.outcome.error or {}).get("frames") or [] if failure.outcome else []
        inside = {str(frame.get("function")) for frame in frames} & {"neuron_gradients", "gd_step"}
        return failure.exception == own.exception and bool(inside)
    return False


def _expect_train(student, X, y, lr, epochs):
    """``expect(student.train, ...)``, or None when train raised just as the contract's loop does
    with the student's own wrong helpers."""
    try:
        return expect(student.train, X, y, lr=lr, epochs=epochs)
    except GradingFailure as failure:
        if failure.kind is FailureKind.RAISED and _explained_by_helpers(student, failure, X, y, lr, epochs):
            return None
        raise


def check_train(student, X, y, lr, epochs, likely=None):
    """train's (w, b) equals the contract's, or the contract's loop run with its own wrong helpers."""
    call = _expect_train(student, X, y, lr, epochs)
    if call is None:
        return None
    try:
        return call.to_equal(oracle.train(X, y, lr, epochs), names=WB, likely=likely)
    except GradingFailure:
        own = own_helpers_answer(student, X, y, lr, epochs)
        if own is not None and not isinstance(own, CannotStep) and matches(call.value, own, names=WB):
            return as_data(call.value)
        raise


def check_learns(student, X, y, X_test, y_test, lr, epochs, slack=0.03):
    """train's (w, b) labels held-out examples about as well as the contract's: the accuracy is
    computed here, from the returned weights, with the oracle's predict."""
    call = _expect_train(student, X, y, lr, epochs)
    if call is None:
        return
    got = as_data(call.value)
    d = np.shape(X)[1]
    if not (isinstance(got, (tuple, list)) and len(got) == 2):
        call.to_equal(oracle.train(X, y, lr, epochs), names=WB)  # fails, and says why
    w, b = (np.asarray(part, dtype=np.float64) for part in got)
    if w.shape != (d,) or b.shape != ():
        call.to_equal(oracle.train(X, y, lr, epochs), names=WB)  # fails, and says why
    reached = oracle.accuracy(oracle.predict(X_test, w, b), y_test)
    reference = oracle.accuracy(oracle.predict(X_test, *oracle.train(X, y, lr, epochs)), y_test)
    if np.isfinite(reached) and reached >= reference - slack:
        return
    own = own_helpers_answer(student, X, y, lr, min(epochs, MAX_REPLAYED_EPOCHS))
    if own is not None and not isinstance(own, CannotStep) and matches(call.value, own, names=WB):
        return
    fail(
        f"train was run on {len(y)} examples with {d} features (lr={lr}, epochs={epochs}); its (w, b) "
        f"labels {reached:.0%} of {len(y_test)} held-out examples right, where the contract's training "
        f"reaches {reference:.0%}.\nCheck that train starts from zeros, takes exactly epochs steps of "
        "gd_step with neuron_gradients, and passes lr on."
    )

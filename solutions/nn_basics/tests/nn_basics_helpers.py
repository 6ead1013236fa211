"""Checks shared by the nn_basics tests: messages that name the function really at fault.

A student's ``neuron`` may call their ``sigmoid``, ``forward`` their ``dense``, ``count_parameters``
their ``count_connections``. When the function under test fails inside such a helper, the student
should read about the helper, not about a function that may well be right.
"""

from __future__ import annotations

import numpy as np

from grader.testing import FailureKind, GradingFailure, as_array, expect, fail, on_failure

RTOL, ATOL = 1e-5, 1e-7
BATCH_HINT = ("Hint: a batch x has shape (batch, n_in), one input per row; x @ W.T computes W x for "
              "every row at once and works for a single 1-D input too.")


def check(fn, *args, expected, likely=None, depends=(), hint="", consistent=(), unchanged=False):
    """``expect(fn, *args).to_equal(expected)``, with notes about helper functions at fault.

    ``depends`` lists ``(helper, helper_args, helper_expected, why)``: a function of the student's
    that ``fn`` is likely to call. If ``fn`` fails and the helper is wrong on its own, the message says so.
    ``hint`` ends a failure that names no likely mistake. ``unchanged``: the call must also leave
    its inputs (arrays, and the list of layers) as they were. ``consistent`` is ``to_equal``'s: a
    right answer given the student's own wrong helper passes, and the helper's tests take the points.
    """
    try:
        with on_failure(hint):
            call = expect(fn, *args)
            answer = call.to_equal(expected, likely=likely, consistent=consistent)
            if unchanged:
                call.to_leave_inputs_unchanged()
        return answer
    except GradingFailure as failure:
        inner = failure.unfinished
        if failure.kind is FailureKind.NOT_IMPLEMENTED and inner and inner != fn.name:
            fail(f"{fn.name} calls {inner}, which is not implemented yet (it still raises "
                 f"NotImplementedError). Implement {inner} first; this test checks {fn.name}.")
        notes = [note for helper, helper_args, helper_expected, why in depends
                 if failure.kind is not FailureKind.NOT_IMPLEMENTED
                 and (note := _helper_note(helper, helper_args, helper_expected, why))]
        if notes:
            raise GradingFailure("\n".join([str(failure), *notes])) from None
        raise


def _helper_note(helper, args, expected, why: str) -> str:
    outcome = helper.outcome(*args)
    if outcome.status != "ok":
        return f"Note: {why}, and {helper.name} fails on its own for this input."
    got = as_array(outcome.value)
    want = np.asarray(expected, dtype=np.float64)
    with np.errstate(all="ignore"):
        right = got is not None and got.shape == want.shape and np.allclose(got, want, rtol=RTOL, atol=ATOL)
    return "" if right else f"Note: {why}, and {helper.name} itself gives a wrong answer here; fix {helper.name} first."


OVERFLOW = ("An overflow happened during the call ({warning}): np.exp of a large number is inf. Use a form "
            "that only takes e to a negative power (see the notebook); note that np.where(condition, a, b) "
            "computes both a and b for every element, while np.exp(-np.abs(z)) never overflows.")



def stable(call, want) -> None:
    """The values are right where a naive formula gives inf or nan; an overflow is named when there was one."""
    call.to_equal(want, overflow=OVERFLOW)


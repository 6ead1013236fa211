"""Checks shared by the nn_basics tests: messages that name the function really at fault.

A student's ``neuron`` may call their ``sigmoid``, ``forward`` their ``dense``, ``count_parameters``
their ``count_connections``. When the function under test fails inside such a helper, the student
should read about the helper, not about a function that may well be right.
"""

from __future__ import annotations

import numpy as np

from grader.testing import FailureKind, GradingFailure, as_array, expect, fail

RTOL, ATOL = 1e-5, 1e-7
BATCH_HINT = ("Hint: a batch x has shape (batch, n_in), one input per row; x @ W.T computes W x for "
              "every row at once and works for a single 1-D input too.")


def unfinished_helper(fn, args) -> str | None:
    """The function fn called that still raises NotImplementedError, if it is not fn itself."""
    outcome = fn.outcome(*args)
    error = outcome.error or {}
    if outcome.status != "raised" or error.get("type") != "NotImplementedError":
        return None
    frames = error.get("frames") or []
    inner = frames[-1].get("function") if frames else None
    return inner if inner and inner not in (fn.name, "<module>") else None


def check(fn, *args, expected, likely=None, depends=(), hint="", consistent=(), unchanged=False):
    """``expect(fn, *args).to_equal(expected)``, with notes about helper functions at fault.

    ``depends`` lists ``(helper, helper_args, helper_expected, why)``: a function of the student's
    that ``fn`` is likely to call. If ``fn`` fails and the helper is wrong on its own, the message says so.
    ``hint`` is added to any failure message. ``unchanged``: the call must also leave its inputs
    (arrays, and the list of layers) as they were.
    ``consistent`` lists ``(helper, helper_args, helper_expected, expected_from)``: when ``fn``'s
    own code calls the helper, the helper is wrong on its own (the same answer before and after
    ``fn`` ran, so it cannot tell the test's calls apart) and ``fn``'s answer is
    ``expected_from(the helper's answer)``, ``fn`` is right given its helper and passes: the
    helper's own tests take the points, once.
    """
    # (While the notebook's self-checks are built, helpers are names only, with no outcome.)
    before = [helper.outcome(*helper_args) if hasattr(helper, "outcome") else None
              for helper, helper_args, _, _ in consistent]
    try:
        call = expect(fn, *args)
        if hasattr(call, "record_options"):  # building the notebook's self-checks: they do the same
            call.record_options(hint=hint, consistent=[(helper.name, helper_args, helper_expected, expected_from(0))
                                                       for helper, helper_args, helper_expected, expected_from in consistent])
        try:
            answer = call.to_equal(expected, likely=likely)
        except GradingFailure:
            if _consistent_with_wrong_helper(fn, call, consistent, before):
                return as_array(call.value)
            raise
        if unchanged:
            call.to_leave_inputs_unchanged()
        return answer
    except GradingFailure as failure:
        message = str(failure)
        if failure.kind is FailureKind.NOT_IMPLEMENTED:
            inner = unfinished_helper(fn, args)
            if inner:
                fail(f"{fn.name} calls {inner}, which is not implemented yet (it still raises "
                     f"NotImplementedError). Implement {inner} first; this test checks {fn.name}.")
            raise
        notes = [note for helper, helper_args, helper_expected, why in depends
                 if (note := _helper_note(helper, helper_args, helper_expected, why))]
        if hint and not failure.mistakes:
            notes.append(hint)
        if notes:
            raise GradingFailure("\n".join([message, *notes])) from None
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


def _close(got, want) -> bool:
    want = np.asarray(want, dtype=np.float64)
    with np.errstate(all="ignore"):
        return got is not None and got.shape == want.shape and bool(np.allclose(got, want, rtol=RTOL, atol=ATOL))


def _consistent_with_wrong_helper(fn, call, consistent, before) -> bool:
    got = as_array(call.value)
    for (helper, args, helper_expected, expected_from), first in zip(consistent, before):
        if helper.name not in fn.student.uses(fn.name):
            continue
        outcome = helper.outcome(*args)
        if outcome.status != "ok" or first.status != "ok":
            continue
        answer, first_answer = as_array(outcome.value), as_array(first.value)
        if answer is None or first_answer is None or not _close(answer, first_answer):
            continue
        if _close(answer, helper_expected):
            continue
        with np.errstate(all="ignore"):
            if _close(got, expected_from(answer)):
                return True
    return False


OVERFLOW = ("An overflow happened during the call ({warning}): np.exp of a large number is inf. Use a form "
            "that only takes e to a negative power (see the notebook); note that np.where(condition, a, b) "
            "computes both a and b for every element, while np.exp(-np.abs(z)) never overflows.")



def stable(call, want) -> None:
    """The values are right where a naive formula gives inf or nan; an overflow is named when there was one."""
    call.to_equal(want, overflow=OVERFLOW)


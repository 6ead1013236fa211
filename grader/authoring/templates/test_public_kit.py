"""The visible tests of this assignment, for `grader check` in the student kit.

Written by `grader package --student`: the calls, the expected values and the answers of the
common mistakes were recorded from the visible tests when the notebook was built, so no solution
and no oracle is needed here. These are the checks of the notebook's self-check cells.
"""

import json
from pathlib import Path

import numpy as np
from gradescope_utils.autograder_utils.decorators import number, weight

from grader.testing import (
    GradingFailure,
    Handle,
    as_data,
    expect,
    fail,
    identity,
    matches,
    on_failure,
    on_raise,
    sigmoid,
)

TESTS = json.loads(Path(__file__).with_name("selfcheck_tests.json").read_text(encoding="utf-8"))
BUILTINS = {"identity": identity, "sigmoid": sigmoid}


def decode(node, student):
    if isinstance(node, dict):
        if "array" in node:
            return np.array(node["array"], dtype=node["dtype"]).reshape(node["shape"])
        if "scalar" in node:
            return np.dtype(node["dtype"]).type(node["scalar"])
        if "builtin" in node:
            return BUILTINS[node["builtin"]]
        if "numpy" in node:
            return getattr(np, node["numpy"])
        if "student" in node:
            return getattr(student, node["student"])
        if "model" in node:
            return student.build_model(decode(node["model"], student))
        if "tuple" in node:
            return tuple(decode(v, student) for v in node["tuple"])
        return {k: decode(v, student) for k, v in node.items()}
    if isinstance(node, list):
        return [decode(v, student) for v in node]
    return node


def check_equal(call, check, student):
    call.to_equal(decode(check["expected"], student), rtol=check["rtol"], atol=check["atol"],
                  likely={text: decode(value, student) for text, value in check["likely"]},
                  shape_hint=check["hint"] or None, names=check.get("names") or None,
                  overflow=check.get("overflow", ""))


def target(recorded, student):
    """The function a recorded call calls: a student function, or a method of a model it builds."""
    made = recorded.get("construct")
    if not made:
        return getattr(student, recorded["function"])
    model = getattr(student, made["class"])(*decode(made["args"], student), **decode(made["kwargs"], student))
    if not isinstance(model, Handle):
        fail(f"{made['class']} gave {model.describe()}, not a torch model: it must be a class derived from nn.Module.")
    model.label = recorded["function"].rsplit(".", 1)[0]
    return model.forward


def replay_call(recorded, student):
    fn = target(recorded, student)
    with on_failure(recorded.get("hint", "")), on_raise(*[(words, note) for words, note in recorded.get("raise_notes", [])]):
        call = expect(fn, *decode(recorded["args"], student), **decode(recorded["kwargs"], student))
        for check in recorded["checks"]:
            try:
                if check["kind"] == "equal":
                    check_equal(call, check, student)
                elif check["kind"] == "number":
                    call.to_be_a_number()
                elif check["kind"] == "shape":
                    call.to_have_shape(tuple(check["shape"]), hint=check["hint"])
                else:
                    call.to_leave_inputs_unchanged()
            except GradingFailure:
                # As to_equal(consistent=...): it excuses a wrong value, no other check.
                if check["kind"] != "equal" or not consistent(call, recorded.get("consistent", []), student):
                    raise


def affine(own, scale, offset):
    """own * scale + offset, part by part (the recorded form of a test's ``expected_from``)."""
    if isinstance(offset, dict):
        return {k: affine(own[k], scale[k], offset[k]) for k in offset}
    if isinstance(offset, (tuple, list)) and isinstance(own, (tuple, list)):
        return type(offset)(affine(o, s, f) for o, s, f in zip(own, scale, offset))
    return np.asarray(own, dtype=np.float64) * np.asarray(scale, dtype=np.float64) + np.asarray(offset, dtype=np.float64)


def consistent(call, helpers, student):
    """Right given the student's own helper, when that helper is wrong on its own (its tests take the points)."""
    used = student.uses(call.fn.name)
    for name, args, want, offset, *scale in helpers:
        if name not in used:  # as on Gradescope: only a helper the function calls can be at fault
            continue
        outcome = getattr(student, name).outcome(*decode(args, student))
        if outcome.status != "ok" or outcome.value is None or matches(outcome.value, decode(want, student)):
            continue
        try:
            expected = affine(as_data(outcome.value), decode(scale[0], student) if scale else 1.0,
                              decode(offset, student))
        except (TypeError, ValueError, KeyError, IndexError):
            continue
        if matches(call.value, expected):
            return True
    return False


def replay(test):
    @weight(test["points"])
    @number(test["number"])
    def run(student):
        for recorded in test["calls"]:
            replay_call(recorded, student)

    run.__doc__ = test["name"]
    return run


for index, recorded_test in enumerate(TESTS):
    globals()[f"test_{index:02d}"] = replay(recorded_test)

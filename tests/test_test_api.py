"""The parts of grader.testing an author writes hidden tests with: to_raise, the size helpers and
the built-in hints, graded through a small assignment of their own; the names the package exports;
and the kind of failure each way a check can go wrong carries."""

from __future__ import annotations

import types
from pathlib import Path

import numpy as np
import pytest

from grader.api import grade_notebook
from grader.sandbox.supervisor.session import CallOutcome
from grader.sandbox.wire.values import Value
from grader.testing import (
    FailureKind,
    GradingFailure,
    Student,
    conv_output_size,
    conv_shape_hint,
    expect,
    expect_call,
    fail,
    on_failure,
    on_raise,
    pad_widths,
    pool_output_size,
    pool_shape_hint,
)
from grader.testing.outcomes import failure_outcome
from grader.testing.proxy import Unavailable
from nbtools import write_notebook

TESTS = '''
import numpy as np
from grader.testing import expect, expect_call


def test_raises_value_error(student):
    """check: a negative size raises ValueError"""
    expect_call(student.check, -1).to_raise(ValueError)


def test_raises_with_a_message(student):
    """check: the message names the size"""
    expect_call(student.check, -1).to_raise(ValueError, match="size")


def test_raises_an_arithmetic_error(student):
    """divide: by zero raises an ArithmeticError"""
    expect_call(student.divide, 1, 0).to_raise(ArithmeticError)


def test_negated(student):
    """diff: differences of neighbours"""
    x = np.array([1.0, 4.0, 9.0, 16.0])
    expect(student.diff, x).to_equal(x[1:] - x[:-1])


def test_negated_and_named(student):
    """diff: differences of neighbours, a flipped kernel named"""
    x = np.array([1.0, 4.0, 9.0, 16.0])
    expect(student.diff, x).to_equal(x[1:] - x[:-1], likely={"the kernel is flipped": x[:-1] - x[1:]})
'''

RIGHT = """
import numpy as np

def check(size):
    if size < 0:
        raise ValueError(f"size must be at least 0, not {size}")
    return size

def divide(a, b):
    return a / b

def diff(x):
    return x[1:] - x[:-1]
"""


@pytest.fixture(scope="module")
def solutions(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("solutions")
    (root / "api" / "tests").mkdir(parents=True)
    (root / "api" / "assignment.toml").write_text('title = "API"\n', encoding="utf-8")
    (root / "api" / "tests" / "test_api.py").write_text(TESTS, encoding="utf-8")
    return root


def graded(solutions: Path, tmp_path: Path, code: str) -> dict[str, str]:
    path = write_notebook(tmp_path / "nb.ipynb", [code], assignment="api")
    results = grade_notebook(path, solutions_root=solutions)
    return {
        t.name.split(": ", 1)[1]: ("PASS " if t.status == "passed" else "FAIL ") + t.output
        for t in results.tests
    }


def test_to_raise_passes_when_the_call_raises_that_exception_or_a_built_in_subclass(solutions, tmp_path):
    outputs = graded(solutions, tmp_path, RIGHT)
    assert all(text.startswith("PASS") for text in outputs.values()), outputs


def test_to_raise_fails_a_call_that_returns_saying_what_came_back(solutions, tmp_path):
    outputs = graded(
        solutions,
        tmp_path,
        RIGHT.replace('raise ValueError(f"size must be at least 0, not {size}")', "return 0"),
    )
    assert outputs["a negative size raises ValueError"].startswith(
        "FAIL check should raise ValueError here, but it returned a value."
    )
    assert "size = -1" in outputs["a negative size raises ValueError"]


def test_to_raise_fails_another_exception_or_a_message_that_does_not_match(solutions, tmp_path):
    outputs = graded(
        solutions,
        tmp_path,
        RIGHT.replace('raise ValueError(f"size must', 'raise TypeError(f"size must').replace(
            "def divide(a, b):\n    return a / b", "def divide(a, b):\n    return a / b if b else None"
        ),
    )
    assert (
        "should raise ValueError here, but it raised TypeError: size must be at least 0"
        in outputs["a negative size raises ValueError"]
    )
    assert (
        "should raise ArithmeticError here, but it returned a value"
        in outputs["by zero raises an ArithmeticError"]
    )
    outputs = graded(solutions, tmp_path, RIGHT.replace("size must be at least 0, not {size}", "negative"))
    assert (
        "its message 'negative' does not say what went wrong (expected it to mention 'size')"
        in outputs["the message names the size"]
    )


def test_a_function_still_a_stub_is_told_so_rather_than_that_it_raised_the_wrong_exception(
    solutions, tmp_path
):
    outputs = graded(
        solutions,
        tmp_path,
        RIGHT.replace("    if size < 0:", "    raise NotImplementedError\n    if size < 0:"),
    )
    assert "check is not implemented yet" in outputs["a negative size raises ValueError"]


def test_an_answer_of_the_opposite_sign_is_noted_as_observed_and_a_likely_entry_names_the_cause(
    solutions, tmp_path
):
    outputs = graded(solutions, tmp_path, RIGHT.replace("return x[1:] - x[:-1]", "return x[:-1] - x[1:]"))
    assert (
        "Note: every value is the expected one with the opposite sign."
        in outputs["differences of neighbours"]
    )
    assert "Likely mistake" not in outputs["differences of neighbours"]
    named = outputs["differences of neighbours, a flipped kernel named"]
    assert "Likely mistake: the kernel is flipped" in named and "opposite sign" not in named


@pytest.mark.parametrize(
    "n, k, padding, stride, size",
    [
        (10, 3, "valid", 1, 8),
        (10, 3, "same", 1, 10),
        (10, 4, "same", 2, 5),
        (7, 3, 1, 2, 4),
        (9, 4, 1, 2, 4),
    ],
)
def test_the_output_size_is_the_floor_formula_with_same_padding_as_pytorch(n, k, padding, stride, size):
    assert conv_output_size(n, k, padding, stride) == size


def test_same_padding_puts_the_smaller_half_first_and_pooling_keeps_only_complete_windows():
    assert pad_widths(4, "same") == (1, 2) and pad_widths(3, 2) == (2, 2) and pad_widths(5) == (0, 0)
    assert pool_output_size(10, 3) == 3 and pool_output_size(10, 3, stride=1) == 8


def test_the_shape_hints_show_the_formula_for_each_axis_in_1d_and_2d():
    one = conv_shape_hint((12,), (3,), "valid", 2)((6,))
    assert "length: floor((12 + 0 − 3) / 2) + 1 = 5" in one and "leading axes" not in one
    two = conv_shape_hint((6, 8), (3, 2), "same", 1)((4, 6, 8))
    assert (
        "rows:    floor((6 + 2 − 3) / 1) + 1 = 6" in two and "columns: floor((8 + 1 − 2) / 1) + 1 = 8" in two
    )
    pool = pool_shape_hint((10,), 3)((4,))
    assert "stride s = 3 (the default: s = kernel_size)" in pool and "floor((10 + 0 − 3) / 3) + 1 = 3" in pool


# ---- the public surface ------------------------------------------------------------------------------
EXPORTS = [
    "ATOL",
    "Builtin",
    "Call",
    "Expectation",
    "FailureKind",
    "GradingFailure",
    "Handle",
    "RTOL",
    "RemoteFunction",
    "Student",
    "as_array",
    "as_data",
    "conv_output_size",
    "conv_shape_hint",
    "expect",
    "expect_call",
    "fail",
    "identity",
    "matches",
    "on_failure",
    "on_raise",
    "pad_widths",
    "pool_output_size",
    "pool_shape_hint",
    "sigmoid",
    "size_formula",
]


def test_grader_testing_exports_exactly_the_names_of_the_test_api():
    import grader.testing

    assert sorted(grader.testing.__all__) == sorted(EXPORTS)
    defined = {
        name
        for name, value in vars(grader.testing).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert defined == set(EXPORTS)


def test_hidden_tests_helpers_and_oracles_import_the_grader_only_through_grader_testing():
    import ast

    from nbtools import REPO

    files = sorted(REPO.glob("solutions/*/tests/*.py"))
    assert files
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("grader"):
                assert node.module == "grader.testing", (path.name, node.module)
            elif isinstance(node, ast.Import):
                assert not any(alias.name.startswith("grader") for alias in node.names), path.name


# ---- what a failure says as data ---------------------------------------------------------------------
class FakeSandbox:
    """Answers each call of a test with a prepared outcome, as the worker would."""

    limits = types.SimpleNamespace(call_seconds=1.0)

    def __init__(self, outcomes: dict[str, CallOutcome]):
        self.outcomes = outcomes

    def call(self, name, encoded, **options) -> CallOutcome:
        return self.outcomes[name]

    def request(self, header, blobs, label) -> CallOutcome:
        return CallOutcome("ok", data={"f": ["z"]} if header["op"] == "signatures" else [])


def returned(*values: float) -> CallOutcome:
    return CallOutcome("ok", value=Value("array", "ndarray", array=np.array(values), dtype="float64"))


def raised(kind: str, function: str = "f") -> CallOutcome:
    frames = [{"cell": 1, "line": 2, "function": function, "code": "raise"}]
    return CallOutcome("raised", error={"type": kind, "message": "no", "frames": frames})


def failure_of(check) -> GradingFailure:
    with pytest.raises(GradingFailure) as caught:
        check()
    return caught.value


@pytest.mark.parametrize(
    "outcome, kind",
    [
        (CallOutcome("missing"), FailureKind.MISSING),
        (CallOutcome("not_callable", message="int"), FailureKind.NOT_CALLABLE),
        (CallOutcome("timeout"), FailureKind.TIMEOUT),
        (CallOutcome("crashed", error={"message": "killed"}), FailureKind.CRASHED),
        (CallOutcome("stopped", message="no time left"), FailureKind.STOPPED),
        (CallOutcome("unsendable", message="a generator"), FailureKind.UNSENDABLE),
        (CallOutcome("refused", message="garbled"), FailureKind.REFUSED),
        (CallOutcome("a status added later"), FailureKind.REFUSED),
        (CallOutcome("ok", data={"a": 1}), FailureKind.REFUSED),  # data, but no value, for a call
        (raised("ValueError"), FailureKind.RAISED),
        (raised("NotImplementedError"), FailureKind.NOT_IMPLEMENTED),
    ],
)
def test_a_call_that_gives_no_answer_fails_with_its_kind(outcome, kind):
    student = Student(FakeSandbox({"f": outcome}))
    failure = failure_of(lambda: expect(student.f, np.zeros(2)))
    assert failure.kind is kind and failure.function == "f" and failure.outcome is outcome
    assert failure.exception == (outcome.error["type"] if outcome.status == "raised" else None)


def test_a_stub_helper_is_named_as_the_unfinished_function():
    student = Student(FakeSandbox({"f": raised("NotImplementedError", function="g")}))
    failure = failure_of(lambda: expect(student.f, 1.0))
    assert failure.kind is FailureKind.NOT_IMPLEMENTED and failure.unfinished == "g"
    assert failure_of(lambda: student.f(1.0)).unfinished == "g"


def test_a_wrong_answer_carries_the_likely_mistakes_its_message_names():
    student = Student(FakeSandbox({"f": returned(-1.0, -2.0)}))
    failure = failure_of(
        lambda: expect(student.f, 0).to_equal([1.0, 2.0], likely={"the sign is flipped ": [-1.0, -2.0]})
    )
    assert failure.kind is FailureKind.WRONG_ANSWER and failure.mistakes == ("the sign is flipped",)
    assert failure_of(lambda: expect(student.f, 0).to_equal([1.0, 2.0])).mistakes == ()
    column = CallOutcome(
        "ok", value=Value("array", "ndarray", array=np.array([[1.0], [2.0]]), dtype="float64")
    )
    transposed = failure_of(lambda: expect(Student(FakeSandbox({"f": column})).f, 0).to_equal([[1.0, 2.0]]))
    assert transposed.mistakes == ("the result is transposed.",)
    assert "Likely mistake: the result is transposed." in str(transposed)
    wrong_shape = failure_of(lambda: expect(student.f, 0).to_equal([[1.0], [2.0]]))
    assert wrong_shape.kind is FailureKind.WRONG_ANSWER and wrong_shape.mistakes == ()
    assert failure_of(lambda: expect(student.f, 0).to_have_shape((3,))).kind is FailureKind.WRONG_ANSWER


def test_to_raise_tells_a_returned_value_another_exception_and_another_message_apart():
    answered = Student(FakeSandbox({"f": returned(1.0)}))
    assert failure_of(lambda: expect_call(answered.f).to_raise(ValueError)).kind is FailureKind.NOT_RAISED
    raising = Student(FakeSandbox({"f": raised("TypeError")}))
    other = failure_of(lambda: expect_call(raising.f).to_raise(ValueError))
    assert other.kind is FailureKind.WRONG_EXCEPTION and other.exception == "TypeError"
    unmatched = failure_of(lambda: expect_call(raising.f).to_raise(TypeError, match="size"))
    assert unmatched.kind is FailureKind.WRONG_MESSAGE and unmatched.exception == "TypeError"


def test_fail_an_unavailable_notebook_and_an_unreadable_model_have_their_own_kinds():
    assert failure_of(lambda: fail("no")).kind is FailureKind.FAILED
    unavailable = Student(Unavailable("The notebook could not be read."))
    assert failure_of(lambda: expect(unavailable.f, 1)).kind is FailureKind.UNAVAILABLE
    broken = Student(FakeSandbox({}))
    assert failure_of(lambda: broken.build_model([["ReLU"]])).kind is FailureKind.UNREADABLE


def test_only_a_failure_of_the_timeout_kind_is_recorded_as_a_time_out():
    assert failure_outcome(GradingFailure("slow", FailureKind.TIMEOUT)) == "timeout"
    assert failure_outcome(GradingFailure("it did not finish in time")) == "failed"
    assert failure_outcome(AssertionError("timeout")) == "failed"


def test_the_advice_on_a_warning_names_only_the_cause_the_warning_states():
    from grader.testing.explain import warning_advice

    assert "np.exp" in warning_advice(["RuntimeWarning: overflow encountered in exp"])
    log_zero = warning_advice(["RuntimeWarning: divide by zero encountered in log"])
    assert "np.log(0)" in log_zero and "overflow" not in log_zero
    assert "0 / 0" in warning_advice(["RuntimeWarning: invalid value encountered in multiply"])
    assert "overflow" not in warning_advice(["RuntimeWarning: divide by zero encountered in divide"])


# ---- notes declared around a call ---------------------------------------------------------------------
def raised_with(message: str) -> CallOutcome:
    frames = [{"cell": 1, "line": 2, "function": "f", "code": "raise"}]
    return CallOutcome("raised", error={"type": "RuntimeError", "message": message, "frames": frames})


def test_on_raise_adds_the_first_note_whose_words_the_error_holds_and_nothing_to_other_failures():
    student = Student(FakeSandbox({"f": raised_with("mat1 and mat2 shapes cannot be multiplied (2x512)")}))
    notes = ((("x8192",), "three pools"), (("x512",), "no padding"), "any error")
    with pytest.raises(GradingFailure) as caught, on_raise(*notes):
        expect(student.f, 0)
    assert str(caught.value).endswith("\nno padding") and caught.value.kind is FailureKind.RAISED
    wrong = Student(FakeSandbox({"f": returned(1.0)}))
    with pytest.raises(GradingFailure) as caught, on_raise("any error"):
        expect(wrong.f, 0).to_equal([2.0])
    assert "any error" not in str(caught.value)


def test_on_failure_ends_a_wrong_answer_but_not_a_named_mistake_a_stub_or_a_raise_with_its_own_note():
    hint = "Hint: one row per input."

    def failure(outcome: CallOutcome, *, likely=None, raise_note=None) -> str:
        student = Student(FakeSandbox({"f": outcome}))
        notes = [raise_note] if raise_note else []
        with pytest.raises(GradingFailure) as caught, on_raise(*notes), on_failure(hint):
            expect(student.f, 0).to_equal([-1.0], likely=likely)
        return str(caught.value)

    assert failure(returned(1.0)).endswith(hint)
    assert failure(raised_with("boom")).endswith(hint)
    assert hint not in failure(returned(1.0), likely={"the sign is flipped": [1.0]})
    assert hint not in failure(raised("NotImplementedError"))
    # The raise note wins, though its block is outside the hint's.
    assert failure(raised_with("boom"), raise_note="a raise note").endswith("\na raise note")
    assert hint not in failure(raised_with("boom"), raise_note="a raise note")


def test_a_calls_notes_are_those_of_the_blocks_it_is_made_in_wherever_its_checks_run():
    hint = "Hint: one row per input."
    student = Student(FakeSandbox({"f": returned(1.0)}))
    with on_failure(hint):
        call = expect(student.f, 0)
    after = expect(student.f, 0)
    assert str(failure_of(lambda: call.to_equal([-1.0]))).endswith(hint)  # checked after the block
    assert hint not in str(failure_of(lambda: after.to_equal([-1.0])))  # made after the block
    with on_failure(hint):
        assert hint not in str(failure_of(lambda: after.to_equal([-1.0])))  # made before it

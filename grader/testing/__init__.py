"""The API hidden tests are written in.

A hidden test is an ordinary pytest function taking the ``student`` fixture, decorated with
gradescope-utils' ``@weight``, ``@number``, ``@visibility``, ``@tags`` or ``@partial_credit``; its
docstring's first line is the name students see and starts with the function it checks::

    @weight(1)
    def test_relu_zeroes_negatives(student):
        \"\"\"relu: negatives become 0, the rest pass through\"\"\"
        z = np.array([-2.0, 0.0, 3.0])
        expect(student.relu, z).to_equal(np.maximum(z, 0))

The whole API, with an example of each part, is in docs/authoring.md. Hidden tests, their helpers
and oracles import from this package only (``tests/test_test_api.py`` holds them to it): its
modules are the grader's own, free to change without notice.
"""

from .compare import ATOL, RTOL, as_array, matches
from .explaining import on_failure, on_raise
from .failure import FailureKind, GradingFailure
from .feedback import Expectation, expect, fail
from .proxy import Builtin, Handle, RemoteFunction, Student
from .raising import Call, expect_call
from .shapes import (
    conv_output_size,
    conv_shape_hint,
    pad_widths,
    pool_output_size,
    pool_shape_hint,
    size_formula,
)
from .structure import as_data

identity = Builtin("identity")
sigmoid = Builtin("sigmoid")  # numerically stable; for tests of code that takes an activation

__all__ = [
    "ATOL",
    "RTOL",
    "Builtin",
    "Call",
    "Expectation",
    "FailureKind",
    "GradingFailure",
    "Handle",
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

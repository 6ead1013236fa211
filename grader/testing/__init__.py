"""The API hidden tests are written in.

A hidden test is an ordinary pytest function taking the ``student`` fixture, decorated with
gradescope-utils' ``@weight``, ``@number``, ``@visibility``, ``@tags`` or ``@partial_credit``; its
docstring's first line is the name students see and starts with the function it checks::

    @weight(1)
    def test_relu_zeroes_negatives(student):
        \"\"\"relu: negatives become 0, the rest pass through\"\"\"
        z = np.array([-2.0, 0.0, 3.0])
        expect(student.relu, z).to_equal(np.maximum(z, 0))
"""

from .feedback import ATOL, RTOL, Expectation, expect, fail
from .proxy import Builtin, GradingFailure, Handle, RemoteFunction, Student

identity = Builtin("identity")
sigmoid = Builtin("sigmoid")  # numerically stable; for tests of code that takes an activation

__all__ = [
    "ATOL", "RTOL", "Builtin", "Expectation", "GradingFailure", "Handle", "RemoteFunction", "Student",
    "expect", "fail", "identity", "sigmoid",
]

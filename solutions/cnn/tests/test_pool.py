"""Hidden tests: max_pool2d against the NumPy oracle (floor mode, like torch.nn.functional.max_pool2d)."""

import cnn_oracle as oracle
import numpy as np
from cnn_checks import check_pool
from gradescope_utils.autograder_utils.decorators import number, weight

from grader.testing import expect


@weight(0.5)
@number("4.3")
def test_pool_stride_differs_from_kernel(student):
    """max_pool2d: overlapping and gapped windows (kernel 3 stride 2, kernel 2 stride 1, kernel 2 stride 3)"""
    rng = np.random.default_rng(403)
    x = rng.standard_normal((8, 9))
    for kernel_size, stride in [(3, 2), (2, 1), (2, 3)]:
        check_pool(student, x, kernel_size, stride)


@weight(1)
@number("4.4")
def test_pool_channels_and_batches(student):
    """max_pool2d: each channel on its own, for (C, H, W) and (N, C, H, W)"""
    rng = np.random.default_rng(404)
    check_pool(student, rng.standard_normal((3, 6, 6)))
    check_pool(student, rng.standard_normal((2, 3, 5, 7)), 2, 2)


@weight(0.5)
@number("4.5")
def test_pool_negative_values(student):
    """max_pool2d: all-negative inputs keep their largest (least negative) value"""
    x = -1.0 - np.random.default_rng(405).random((4, 6))
    check_pool(student, x)


@weight(0.5)
@number("4.6")
def test_pool_inputs(student):
    """max_pool2d: does not modify its input (and gets it right)"""
    x = np.random.default_rng(406).standard_normal((2, 5, 5))
    call = expect(student.max_pool2d, x, kernel_size=3, stride=1)
    call.to_equal(oracle.max_pool2d(x, 3, 1))
    call.to_leave_inputs_unchanged()

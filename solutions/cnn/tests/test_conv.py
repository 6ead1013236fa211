"""Hidden tests: conv_output_size, conv2d and conv2d_layer against the NumPy oracle."""

import cnn_oracle as oracle
import numpy as np
from cnn_checks import check_conv2d, check_layer, rng_for, scaled_atol
from gradescope_utils.autograder_utils.decorators import number, weight

from grader.testing import expect

# ---- conv_output_size -------------------------------------------------------------------------


# ---- conv2d ------------------------------------------------------------------------------------


@weight(0.5)
@number("2.5")
def test_conv2d_non_square_kernels(student):
    """conv2d: non-square kernels (2x3, 3x1, 1x4)"""
    rng = rng_for(205)
    x = rng.standard_normal((5, 7))
    for shape in [(2, 3), (3, 1), (1, 4)]:
        check_conv2d(student, x, rng.standard_normal(shape))


@weight(0.5)
@number("2.7")
def test_conv2d_integer_padding(student):
    """conv2d: integer padding (1 and 2 zeros on every side)"""
    rng = rng_for(207)
    x = rng.standard_normal((5, 6))
    check_conv2d(student, x, rng.standard_normal((3, 3)), 1)
    check_conv2d(student, x, rng.standard_normal((2, 3)), 2)


@weight(0.5)
@number("2.9")
def test_conv2d_same_with_stride(student):
    """conv2d: 'same' padding with strides 2 and 3 and even kernels (pad first, then stride)"""
    rng = rng_for(209)
    check_conv2d(student, rng.standard_normal((7, 8)), rng.standard_normal((4, 4)), "same", 2)
    check_conv2d(student, rng.standard_normal((9, 7)), rng.standard_normal((2, 3)), "same", 3)


@weight(0.5)
@number("2.10")
def test_conv2d_inputs(student):
    """conv2d: does not modify its inputs and accepts integer arrays"""
    x = np.arange(20).reshape(4, 5)
    k = np.array([[1, 0], [0, -1]])
    call = expect(student.conv2d, x, k, padding="same", stride=2)
    want = oracle.conv2d(x, k, "same", 2)
    call.to_equal(want, atol=scaled_atol(want))
    call.to_leave_inputs_unchanged()
    check_conv2d(student, x, k)


@weight(0.5)
@number("2.11")
def test_conv2d_piano_roll(student):
    """conv2d: the diagonal kernel finds rising three-note runs in a ±1 piano roll"""
    roll = -np.ones((12, 16))  # pitch (row 0 lowest) x time
    for start_pitch, start_time in [(2, 1), (7, 9)]:
        for step in range(3):
            roll[start_pitch + step, start_time + step] = 1.0
    roll[5, 5] = roll[10, 2] = 1.0
    check_conv2d(student, roll, oracle.diagonal_pattern(3))


# ---- conv2d_layer ------------------------------------------------------------------------------


@weight(0.5)
@number("3.2")
def test_layer_batch_without_bias(student):
    """conv2d_layer: a batch (N, C_in, H, W) without a bias"""
    rng = rng_for(302)
    check_layer(student, rng.standard_normal((2, 3, 5, 6)), rng.standard_normal((5, 3, 2, 2)))


@weight(0.5)
@number("3.3")
def test_layer_same_non_square_kernels(student):
    """conv2d_layer: 'same' padding with non-square kernels (3x5 and 2x3)"""
    rng = rng_for(303)
    check_layer(student, rng.standard_normal((2, 2, 6, 7)), rng.standard_normal((3, 2, 3, 5)),
                rng.standard_normal(3), "same")
    check_layer(student, rng.standard_normal((2, 5, 6)), rng.standard_normal((2, 2, 2, 3)), None, "same")


@weight(0.5)
@number("3.4")
def test_layer_integer_padding_and_stride(student):
    """conv2d_layer: integer padding with strides 2 and 3"""
    rng = rng_for(304)
    check_layer(student, rng.standard_normal((2, 3, 7, 8)), rng.standard_normal((4, 3, 3, 3)),
                rng.standard_normal(4), 1, 2)
    check_layer(student, rng.standard_normal((1, 9, 7)), rng.standard_normal((2, 1, 2, 4)), None, 2, 3)


@weight(0.5)
@number("3.6")
def test_layer_one_by_one(student):
    """conv2d_layer: a 1x1 kernel mixes the channels at every pixel"""
    rng = rng_for(306)
    check_layer(student, rng.standard_normal((2, 4, 3, 5)), rng.standard_normal((6, 4, 1, 1)), rng.standard_normal(6))


@weight(0.5)
@number("3.7")
def test_layer_inputs(student):
    """conv2d_layer: does not modify its inputs (and gets them right)"""
    rng = rng_for(307)
    x, w, b = rng.standard_normal((2, 2, 5, 5)), rng.standard_normal((3, 2, 3, 3)), rng.standard_normal(3)
    call = expect(student.conv2d_layer, x, w, b, padding="same", stride=2)
    want = oracle.conv2d_layer(x, w, b, "same", 2)
    call.to_equal(want, atol=scaled_atol(want))
    call.to_leave_inputs_unchanged()

"""Visible tests: the slides' worked examples (a 4x4 ±1 diagonal input, a 3x3 diagonal kernel), and
one test for each common mistake (a kernel that is not symmetric, even kernels with 'same', strides
that do not divide, pooling's stride and incomplete windows, frozen parameters). These are also the
notebook's self-checks (``grader build``); the hidden tests add breadth, not kinds of mistakes."""

import cnn_oracle as oracle
import numpy as np
from cnn_checks import (
    check_conv2d,
    check_count,
    check_layer,
    check_linear_params,
    check_pool,
    check_sizes,
    rng_for,
)
from gradescope_utils.autograder_utils.decorators import number, weight
from test_model import FLATTEN_NOTE, build, fit_notes

from grader.testing import expect, on_raise

FIT_NOTE = f"The flattened features do not fit fc. {FLATTEN_NOTE}"
SHAPE_HINT = ("forward returns one row of n_classes scores per example: flatten from axis 1 "
              "(torch.flatten(x, 1)) and apply fc.")


SLIDE_X = oracle.diagonal_pattern(4)
SLIDE_K = oracle.diagonal_pattern(3)


@weight(0.5)
@number("1.1")
def test_output_size_of_the_slides_example(student):
    """conv_output_size: the slides' example, a 4x4 input and a 3x3 kernel"""
    check_sizes(student, [(4, 3, "valid", 1), (4, 3, "same", 1), (4, 3, "same", 2), (4, 3, "same", 3)])


@weight(0.5)
@number("1.2")
def test_size_integer_padding_and_strides_that_do_not_divide(student):
    """conv_output_size: integer padding and strides that do not divide evenly (floor)"""
    check_sizes(student, [(12, 3, 1, 1), (10, 3, 1, 3), (28, 5, 2, 3), (7, 2, 0, 2), (9, 4, 1, 2), (32, 3, 1, 2)])


@weight(0.5)
@number("2.1")
def test_slides_valid(student):
    """conv2d: the slides' example with 'valid' padding gives [[9, -1], [-1, 9]]"""
    expect(student.conv2d, SLIDE_X, SLIDE_K).to_equal(
        [[9, -1], [-1, 9]], shape_hint=oracle.conv_shape_hint(4, 4, 3, 3, "valid", 1))


@weight(0.5)
@number("2.2")
def test_slides_same(student):
    """conv2d: the slides' example with 'same' padding"""
    want = [[4, -2, 0, 2], [-2, 9, -1, 0], [0, -1, 9, -2], [2, 0, -2, 4]]
    expect(student.conv2d, SLIDE_X, SLIDE_K, padding="same").to_equal(
        want, shape_hint=oracle.conv_shape_hint(4, 4, 3, 3, "same", 1))


@weight(0.5)
@number("2.3")
def test_slides_same_strided(student):
    """conv2d: the slides' example with 'same' padding and strides 2 and 3"""
    for stride, want in [(2, [[4, 0], [0, 9]]), (3, [[4, 2], [2, 4]])]:
        expect(student.conv2d, SLIDE_X, SLIDE_K, padding="same", stride=stride).to_equal(
            want, shape_hint=oracle.conv_shape_hint(4, 4, 3, 3, "same", stride))


@weight(1)
@number("2.4")
def test_conv2d_valid_non_square_input(student):
    """conv2d: 'valid' padding, a non-square input and a non-symmetric 3x3 kernel"""
    rng = rng_for(204)
    check_conv2d(student, rng.standard_normal((6, 8)), rng.standard_normal((3, 3)))


@weight(1)
@number("2.6")
def test_conv2d_same_even_kernels(student):
    """conv2d: 'same' padding with even and non-square kernels (2x2, 4x4, 2x3, 3x5)"""
    rng = rng_for(206)
    x = rng.standard_normal((6, 7))
    for shape in [(2, 2), (4, 4), (2, 3), (3, 5)]:
        check_conv2d(student, x, rng.standard_normal(shape), "same")


@weight(1)
@number("2.8")
def test_conv2d_strides_that_do_not_divide(student):
    """conv2d: strides 2 and 3 that do not divide the input size"""
    rng = rng_for(208)
    x = rng.standard_normal((8, 9))
    check_conv2d(student, x, rng.standard_normal((3, 3)), "valid", 2)
    check_conv2d(student, x, rng.standard_normal((2, 3)), 1, 3)
    check_conv2d(student, rng.standard_normal((7, 10)), rng.standard_normal((3, 2)), "valid", 3)


@weight(1)
@number("3.1")
def test_layer_single_example_with_bias(student):
    """conv2d_layer: one example (C_in, H, W) with a bias"""
    rng = rng_for(301)
    check_layer(student, rng.standard_normal((3, 6, 7)), rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4))


@weight(0.5)
@number("3.5")
def test_layer_same_with_stride(student):
    """conv2d_layer: 'same' padding with stride 2 (pad first, then stride)"""
    rng = rng_for(305)
    check_layer(student, rng.standard_normal((2, 2, 7, 6)), rng.standard_normal((3, 2, 4, 3)),
                rng.standard_normal(3), "same", 2)


@weight(0.5)
@number("4.1")
def test_pool_two_by_two(student):
    """max_pool2d: 2x2 windows on an (H, W) array with even sides"""
    check_pool(student, np.random.default_rng(401).standard_normal((6, 8)))


@weight(1)
@number("4.2")
def test_pool_drops_incomplete_windows(student):
    """max_pool2d: odd sizes drop the incomplete windows at the edges (floor mode)"""
    rng = np.random.default_rng(402)
    check_pool(student, rng.standard_normal((7, 9)))
    check_pool(student, rng.standard_normal((5, 8)), 3)


@weight(0.5)
@number("5.1")
def test_conv_params_of_the_cnn(student):
    """conv2d_params: the four layers of the CNN (160, 4640, 18496, 73856)"""
    for c_in, c_out, count in [(1, 16, 160), (16, 32, 4640), (32, 64, 18496), (64, 128, 73856)]:
        expect(student.conv2d_params, c_in, c_out, 3).to_equal(
            count, likely={"the bias is missing: each of the out_channels kernels has one bias.": count - c_out})


@weight(0.5)
@number("6.1")
def test_linear_params_of_the_cnn(student):
    """linear_params: the CNN's output layer, Linear(2048, 11), has 22539"""
    expect(student.linear_params, 128 * 4 * 4, 11).to_equal(
        22539, likely={"the bias is missing: one per output.": 22528})



@weight(0)
@number("7.6")
def test_cnn_scores_shape(student):
    """CNN: CNN(11) maps a batch (2, 1, 64, 64) to one row of 11 scores per example (the points are in the tests of the scores' values)"""
    # Only the shape: whether the scores are right needs the test's weights, which only the grader
    # loads, and a visible test must say the same in the notebook as on Gradescope. A network that
    # returns zeros of the right shape earns nothing here either.
    x = np.zeros((2, 1, 64, 64), dtype=np.float32)
    model = build(student, 11)
    with on_raise(*fit_notes(FIT_NOTE)):
        call = expect(model.forward, x)
    call.to_have_shape((2, 11), hint=SHAPE_HINT)



@weight(1)
@number("8.3")
def test_count_frozen(student):
    """count_parameters: frozen parameters (requires_grad False) are not counted"""
    check_count(student, [["Conv2d", 1, 8, 3, {"bias": False, "frozen": True}], ["Linear", 10, 4]])
    check_count(student, [["Conv2d", 2, 4, 3], ["Linear", 20, 3, {"frozen": True}]])


@weight(0.5)
@number("1.3")
def test_size_same_and_valid_with_even_kernels(student):
    """conv_output_size: 'same' and 'valid' padding with even kernels and strides 1 to 3"""
    check_sizes(student, [(11, 4, "valid", 3), (6, 6, "valid", 1), (64, 3, "same", 1), (8, 2, "same", 1),
                          (9, 4, "same", 2), (11, 4, "same", 3)])


@weight(0.5)
@number("6.3")
def test_linear_params_without_bias(student):
    """linear_params: bias=False counts the weights only"""
    check_linear_params(student, 2048, 11, bias=False)

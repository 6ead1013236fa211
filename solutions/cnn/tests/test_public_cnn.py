"""Public tests: the slides' worked examples (a 4x4 ±1 diagonal input, a 3x3 diagonal kernel)."""

import numpy as np
from gradescope_utils.autograder_utils.decorators import number, weight

import cnn_oracle as oracle
from grader.testing import expect

SLIDE_X = oracle.diagonal_pattern(4)
SLIDE_K = oracle.diagonal_pattern(3)


@weight(0.5)
@number("1.1")
def test_output_size_of_the_slides_example(student):
    """conv_output_size: the slides' example, a 4x4 input and a 3x3 kernel"""
    for padding, stride, size in [("valid", 1, 2), ("same", 1, 4), ("same", 2, 2), ("same", 3, 2)]:
        expect(student.conv_output_size, 4, 3, padding=padding, stride=stride).to_equal(
            size, likely=oracle.size_mistakes(4, 3, padding, stride))


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

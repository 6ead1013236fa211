"""Hidden tests: conv2d_params, linear_params and count_parameters (on models the test builds)."""

from cnn_checks import check_conv_params, check_count, check_linear_params
from gradescope_utils.autograder_utils.decorators import number, weight


@weight(0.5)
@number("5.2")
def test_conv_params_various(student):
    """conv2d_params: several layer sizes with a bias"""
    for c_in, c_out, k in [(3, 8, 5), (2, 7, 1), (5, 4, 2), (128, 256, 3)]:
        check_conv_params(student, c_in, c_out, k)


@weight(0.5)
@number("5.3")
def test_conv_params_without_bias(student):
    """conv2d_params: bias=False counts the weights only"""
    for c_in, c_out, k in [(1, 16, 3), (3, 8, 5)]:
        check_conv_params(student, c_in, c_out, k, bias=False)


@weight(0.5)
@number("6.2")
def test_linear_params_various(student):
    """linear_params: several layer sizes with a bias"""
    for n_in, n_out in [(10, 4), (1, 1), (300, 7)]:
        check_linear_params(student, n_in, n_out)


@weight(0.5)
@number("8.1")
def test_count_one_conv(student):
    """count_parameters: a single Conv2d layer"""
    check_count(student, [["Conv2d", 3, 8, 5]])


@weight(0.5)
@number("8.2")
def test_count_conv_and_linear(student):
    """count_parameters: convolutions, ReLU, pooling, flatten and a Linear layer"""
    check_count(student, [["Conv2d", 1, 4, 3], ["ReLU"], ["MaxPool2d", 2], ["Conv2d", 4, 6, 2],
                          ["Flatten"], ["Linear", 54, 10]])


@weight(0.5)
@number("8.4")
def test_count_without_bias(student):
    """count_parameters: layers built with bias=False"""
    check_count(student, [["Conv2d", 3, 5, 3, {"bias": False}], ["Linear", 12, 6, {"bias": False}], ["Linear", 6, 2]])


@weight(0.5)
@number("8.5")
def test_count_no_parameters(student):
    """count_parameters: a model without parameters has 0, one with a single Linear layer its count"""
    check_count(student, [["ReLU"], ["MaxPool2d", 2], ["Flatten"]])
    check_count(student, [["Flatten"], ["Linear", 9, 2]])

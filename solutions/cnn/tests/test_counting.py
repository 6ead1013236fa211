"""Hidden tests: conv2d_params, linear_params and count_parameters (on models the test builds)."""

from gradescope_utils.autograder_utils.decorators import number, weight

import cnn_oracle as oracle
from grader.testing import expect


def check_conv_params(student, c_in, c_out, k, bias=True):
    kwargs = {} if bias else {"bias": False}
    weights = k * k * c_in * c_out
    likely = {
        "the bias is missing: each of the out_channels kernels has one bias.": weights,
        "the bias is counted once per layer; there is one per output channel.": weights + 1,
        "in_channels is missing: each kernel spans all input channels, k·k·in_channels weights.":
            (k * k + (1 if bias else 0)) * c_out,
        "the count is in_channels times too large: multiply by in_channels only once.":
            oracle.conv2d_params(c_in, c_out, k, bias) * c_in,
        "the kernel is counted as k weights instead of k·k.": (k * c_in + (1 if bias else 0)) * c_out,
    }
    if not bias:
        likely = {"bias=False: the layer has no biases, so none are counted.": weights + c_out, **likely}
    expect(student.conv2d_params, c_in, c_out, k, **kwargs).to_equal(
        oracle.conv2d_params(c_in, c_out, k, bias), likely=likely)


def check_linear_params(student, n_in, n_out, bias=True):
    kwargs = {} if bias else {"bias": False}
    likely = {"the bias is missing: one per output.": n_in * n_out,
              "the bias is counted once per layer; there is one per output.": n_in * n_out + 1,
              "the bias is counted per input; there is one per output.": (n_in + 1) * n_out + n_in - n_out}
    if not bias:
        likely = {"bias=False: the layer has no biases, so none are counted.": (n_in + 1) * n_out, **likely}
    expect(student.linear_params, n_in, n_out, **kwargs).to_equal(
        oracle.linear_params(n_in, n_out, bias), likely=likely)


def check_count(student, layers):
    model = student.build_model(layers)
    everything = oracle.layer_spec_params([[*spec[:-1], {**spec[-1], "frozen": False}] if isinstance(spec[-1], dict)
                                           else spec for spec in layers])
    tensors = sum(1 + (spec[-1].get("bias", True) if isinstance(spec[-1], dict) else True)
                  for spec in layers if spec[0] in ("Conv2d", "Linear"))
    likely = {"frozen parameters (requires_grad is False) are counted; count only trainable ones.": everything,
              "parameter tensors are counted; count their entries (p.numel()).": tensors}
    expect(student.count_parameters, model).to_equal(oracle.layer_spec_params(layers), likely=likely)


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
@number("6.3")
def test_linear_params_without_bias(student):
    """linear_params: bias=False counts the weights only"""
    check_linear_params(student, 2048, 11, bias=False)


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


@weight(1)
@number("8.3")
def test_count_frozen(student):
    """count_parameters: frozen parameters (requires_grad False) are not counted"""
    check_count(student, [["Conv2d", 1, 8, 3, {"bias": False, "frozen": True}], ["Linear", 10, 4]])
    check_count(student, [["Conv2d", 2, 4, 3], ["Linear", 20, 3, {"frozen": True}]])


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

"""Checks shared by the visible and the hidden cnn tests: one call each, against the NumPy oracle,
with the answers of the common mistakes for that call (named only when the student's answer equals one)."""

import cnn_oracle as oracle
import numpy as np

from grader.testing import ATOL, RTOL, expect, on_raise


def rng_for(seed):
    return np.random.default_rng(seed)


def scaled_atol(want) -> float:
    """An absolute tolerance in proportion to the answer's largest value: a sum of products computed
    in float32 is off by about 1e-7 of its terms' size, also where the sum itself is near 0."""
    return ATOL + RTOL * float(np.abs(np.asarray(want, dtype=np.float64)).max(initial=0.0))


def call_conv(fn, args, kwargs, sizes, leads=(((), ()),)):
    """expect(fn, ...), explaining a call that raised with the output-size formula for these sizes."""
    with on_raise(*oracle.raise_notes(*sizes, leads=leads)):
        return expect(fn, *args, **kwargs)


def check_conv2d(student, x, k, padding="valid", stride=1):
    kwargs = {} if padding == "valid" and stride == 1 else {"padding": padding, "stride": stride}
    likely = oracle.conv2d_mistakes(x, k, padding, stride)
    want = oracle.conv2d(x, k, padding, stride)
    call_conv(student.conv2d, (x, k), kwargs, (*x.shape, *k.shape, padding, stride)).to_equal(
        want, atol=scaled_atol(want), likely=likely,
        shape_hint=oracle.conv_shape_hint(*x.shape, *k.shape, padding, stride))


def batch_note(shape):
    return (f"Note: x here is a batch of shape (N, C_in, H, W) = {tuple(shape)}: conv2d_layer takes a batch "
            "as well as a single example (C_in, H, W); pad and slide over the last two axes only.")


def call_layer_on_batch(fn, x, args, kwargs):
    """expect(fn, ...) for a batch: a call that raises is told what its input was."""
    with on_raise(batch_note(x.shape)):
        return expect(fn, *args, **kwargs)


def check_layer(student, x, weight_, bias=None, padding="valid", stride=1):
    likely = oracle.conv_mistakes(x, weight_, bias, padding, stride)
    kh, kw = weight_.shape[-2:]
    want = oracle.conv2d_layer(x, weight_, bias, padding, stride)
    if x.ndim == 4:
        call = call_layer_on_batch(student.conv2d_layer, x, (x, weight_, bias), {"padding": padding, "stride": stride})
    else:
        # A window (C_in, KH, KW) multiplied with one kernel (C_in, KH, KW) or the whole weight.
        call = call_conv(student.conv2d_layer, (x, weight_, bias), {"padding": padding, "stride": stride},
                         (x.shape[-2], x.shape[-1], kh, kw, padding, stride),
                         leads=((x.shape[:-2], weight_.shape[1:-2]), (x.shape[:-2], weight_.shape[:-2])))
    # conv2d_layer may call the student's conv2d: if that one is wrong, the message says so.
    probe_x, probe_k = x.reshape(-1, *x.shape[-2:])[0], weight_[0, 0]
    helper = (student.conv2d, (probe_x, probe_k), {"padding": padding, "stride": stride},
              oracle.conv2d(probe_x, probe_k, padding, stride))
    call.to_equal(want, atol=scaled_atol(want), likely=likely, helpers=[helper],
                  shape_hint=oracle.conv_shape_hint(x.shape[-2], x.shape[-1], kh, kw, padding, stride))


def check_size(student, n, k, padding, stride, ruled_out=frozenset()):
    expect(student.conv_output_size, n, k, padding=padding, stride=stride).to_equal(
        oracle.conv_output_size(n, k, padding, stride), likely=oracle.size_mistakes(n, k, padding, stride, ruled_out))


def check_sizes(student, cases):
    """check_size for each case in order; a case is reached only when the ones before it passed,
    so a mistake that would have failed one of them is not named for a later one (the notebook's
    self-check records the same likely answers, so it says the same)."""
    ruled_out = set()
    for n, k, padding, stride in cases:
        check_size(student, n, k, padding, stride, frozenset(ruled_out))
        right = oracle.conv_output_size(n, k, padding, stride)
        ruled_out |= {text for text, value in oracle.raw_size_mistakes(n, k, padding, stride).items() if value != right}


def check_pool(student, x, kernel_size=2, stride=None):
    kwargs = {} if kernel_size == 2 and stride is None else {"kernel_size": kernel_size, "stride": stride}
    likely = oracle.pool_mistakes(x, kernel_size, stride)
    expect(student.max_pool2d, x, **kwargs).to_equal(
        oracle.max_pool2d(x, kernel_size, stride), likely=likely,
        shape_hint=oracle.pool_shape_hint(x.shape[-2], x.shape[-1], kernel_size, stride, x.shape[:-2]))


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


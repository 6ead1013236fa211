"""Realistic single-bug notebooks: each loses points in the function with the bug, in no other
function, and the feedback names the mistake.

These are the mistakes students really make, beyond the ones tests/test_nn_basics_grading.py and
tests/test_cnn_grading.py already cover: the same kinds of bug written another way (relu changing
its input through np.asarray, an overflow hidden in np.where's other branch, step built from
np.sign) and further ones (output sizes off by one, Python 2 style division, divisibility asserts,
the kernel's height used for its width, pooling with stride 1, forgotten biases, counts with the
biases in the wrong place). Each notebook is the reference with one snippet of one function
replaced, made at test time; each assignment's are graded as one batch.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import by_function

from grader.results import GradingResults
from nbtools import SOLUTIONS

REFERENCES = {
    "nn_basics": SOLUTIONS / "nn_basics" / "nn_basics.ipynb",
    "cnn": SOLUTIONS / "cnn" / "cnn.ipynb",
}

# name: (assignment, function, old code, new code, a phrase the feedback must contain)
BUGS = {
    # ---- nn_basics ------------------------------------------------------------------------------
    "relu_changes_its_input_through_asarray": (
        "nn_basics",
        "relu",
        "    return np.maximum(z, 0.0)",
        "    z = np.asarray(z, dtype=float)  # no copy for a float array\n    z[z < 0] = 0.0\n    return z",
        "relu modified its input.",
    ),
    "sigmoid_overflows_in_the_other_branch_of_where": (
        "nn_basics",
        "sigmoid",
        "    e = np.exp(-np.abs(z))  # never overflows: the exponent is <= 0\n"
        "    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))",
        "    return np.where(z >= 0, 1 / (1 + np.exp(-z)), np.exp(z) / (1 + np.exp(z)))",
        "np.where(condition, a, b) computes both a and b",
    ),
    "sigmoid_sign_flipped": (
        "nn_basics",
        "sigmoid",
        "    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))",
        "    return np.where(z >= 0, e / (1 + e), 1 / (1 + e))",
        "Likely mistake: the sign of the exponent is flipped",
    ),
    "step_from_sign_gives_a_half_at_zero": (
        "nn_basics",
        "step",
        "    return np.where(np.asarray(z) >= 0, 1.0, 0.0)",
        "    return (np.sign(z) + 1) / 2",
        "step(0) gave 0.5; it must be 1",
    ),
    "tanh_as_two_sigmoid_minus_one": (
        "nn_basics",
        "tanh",
        "    z = np.asarray(z, dtype=float)\n    e = np.exp(-2 * np.abs(z))\n    return np.sign(z) * (1 - e) / (1 + e)",
        "    return 2 * sigmoid(z) - 1",
        "this is 2*sigmoid(z) - 1, which is tanh(z/2)",
    ),
    "neuron_loop_without_bias": (
        "nn_basics",
        "neuron",
        "    return float(activation(np.dot(w, x) + b))",
        "    total = 0.0\n    for xi, wi in zip(x, w):\n        total += xi * wi\n    return float(activation(total))",
        "Likely mistake: the bias b is ignored",
    ),
    "dense_for_one_input_only": (
        "nn_basics",
        "dense",
        "    return activation(x @ W.T + b)",
        "    return activation(W @ x + b)",
        "a batch x has shape (batch, n_in), one input per row",
    ),
    "dense_with_w_not_transposed": (
        "nn_basics",
        "dense",
        "    return activation(x @ W.T + b)",
        "    return activation(np.dot(x, W) + b)",
        "Likely mistake: W is transposed",
    ),
    "forward_uses_the_first_activation_everywhere": (
        "nn_basics",
        "forward",
        "    for W, b, activation in layers:\n        h = activation(h @ W.T + b)",
        "    activation = layers[0][2]\n    for W, b, _ in layers:\n        h = activation(h @ W.T + b)",
        "every layer used the first layer's activation",
    ),
    "forward_without_activations": (
        "nn_basics",
        "forward",
        "        h = activation(h @ W.T + b)",
        "        h = h @ W.T + b",
        "Likely mistake: no activation was applied",
    ),
    "count_connections_counts_the_biases": (
        "nn_basics",
        "count_connections",
        "    return sum(n_in * n_out for n_in, n_out in zip(layer_sizes[:-1], layer_sizes[1:]))",
        "    return sum(n_in * n_out + n_out for n_in, n_out in zip(layer_sizes[:-1], layer_sizes[1:]))",
        "Likely mistake: the biases were counted too",
    ),
    "count_connections_adds_the_sizes": (
        "nn_basics",
        "count_connections",
        "    return sum(n_in * n_out for n_in, n_out in zip(layer_sizes[:-1], layer_sizes[1:]))",
        "    return sum(n_in + n_out for n_in, n_out in zip(layer_sizes[:-1], layer_sizes[1:]))",
        "Likely mistake: the layer sizes were added",
    ),
    "count_parameters_gives_the_input_layer_biases": (
        "nn_basics",
        "count_parameters",
        "    return count_connections(layer_sizes) + sum(layer_sizes[1:])",
        "    return count_connections(layer_sizes) + sum(layer_sizes)",
        "Likely mistake: the input layer got biases too",
    ),
    # ---- cnn ------------------------------------------------------------------------------------
    "size_without_the_plus_one": (
        "cnn",
        "conv_output_size",
        "    return (n + total - kernel_size) // stride + 1",
        "    return (n + total - kernel_size) // stride",
        "the + 1 is missing",
    ),
    "size_with_python2_division": (
        "cnn",
        "conv_output_size",
        "    return (n + total - kernel_size) // stride + 1",
        "    return (n + total - kernel_size) / stride + 1",
        "`/` does not round",
    ),
    "conv2d_output_one_short": (
        "cnn",
        "conv2d",
        "    out_h = (padded.shape[0] - kh) // stride + 1\n    out_w = (padded.shape[1] - kw) // stride + 1",
        "    out_h = (padded.shape[0] - kh) // stride\n    out_w = (padded.shape[1] - kw) // stride",
        "the + 1 is missing",
    ),
    "conv2d_rounds_the_output_size": (
        "cnn",
        "conv2d",
        "    out_h = (padded.shape[0] - kh) // stride + 1\n    out_w = (padded.shape[1] - kw) // stride + 1",
        "    out_h = round((padded.shape[0] - kh) / stride) + 1\n    out_w = round((padded.shape[1] - kw) / stride) + 1",
        "A window cut short at the edge of the input",
    ),
    "conv2d_asserts_the_stride_divides": (
        "cnn",
        "conv2d",
        "    out_h = (padded.shape[0] - kh) // stride + 1",
        "    assert (padded.shape[0] - kh) % stride == 0 and (padded.shape[1] - kw) % stride == 0\n"
        "    out_h = (padded.shape[0] - kh) // stride + 1",
        "is not a multiple of the stride",
    ),
    "conv2d_python2_division": (
        "cnn",
        "conv2d",
        "    out_h = (padded.shape[0] - kh) // stride + 1\n    out_w = (padded.shape[1] - kw) // stride + 1",
        "    out_h = (padded.shape[0] - kh) / stride + 1\n    out_w = (padded.shape[1] - kw) / stride + 1",
        "use `//`",
    ),
    "conv2d_height_for_width": (
        "cnn",
        "conv2d",
        "    out_w = (padded.shape[1] - kw) // stride + 1",
        "    out_w = (padded.shape[1] - kh) // stride + 1",
        "the window has too few columns",
    ),
    "conv2d_layer_flips_the_kernel": (
        "cnn",
        "conv2d_layer",
        'np.einsum("nchw,ochw->no", patch, weight)',
        'np.einsum("nchw,ochw->no", patch, weight[:, :, ::-1, ::-1])',
        "the kernel is flipped on both axes",
    ),
    "conv2d_layer_forgets_the_bias": (
        "cnn",
        "conv2d_layer",
        "    if bias is not None:\n        out += np.asarray(bias, dtype=float).reshape(1, c_out, 1, 1)\n",
        "",
        "the bias is not added",
    ),
    "conv2d_layer_python2_division": (
        "cnn",
        "conv2d_layer",
        "    out_h = (padded.shape[2] - kh) // stride + 1",
        "    out_h = int((padded.shape[2] - kh) / stride + 1)",
        "",
    ),  # int() of a positive number floors: this one is correct, see the test below
    "max_pool2d_stride_one_by_default": (
        "cnn",
        "max_pool2d",
        "        stride = kernel_size",
        "        stride = 1",
        "when stride is None it equals kernel_size",
    ),
    "max_pool2d_ranges_past_the_edge": (
        "cnn",
        "max_pool2d",
        "    out_h = (h - kernel_size) // stride + 1\n    out_w = (w - kernel_size) // stride + 1",
        "    out_h = len(range(0, h, stride))\n    out_w = len(range(0, w, stride))",
        "incomplete windows at the bottom or right edge are kept",
    ),
    "conv2d_params_one_bias_per_layer": (
        "cnn",
        "conv2d_params",
        "    if bias:\n        per_kernel += 1\n    return per_kernel * out_channels",
        "    return per_kernel * out_channels + (1 if bias else 0)",
        "the bias is counted once per layer",
    ),
    "linear_params_forgets_the_bias": (
        "cnn",
        "linear_params",
        "    return (in_features + (1 if bias else 0)) * out_features",
        "    return in_features * out_features",
        "the bias is missing: one per output",
    ),
    "cnn_without_relu": (
        "cnn",
        "CNN",
        "        x = self.pool(torch.relu(self.conv1(x)))\n        x = self.pool(torch.relu(self.conv2(x)))\n"
        "        x = self.pool(torch.relu(self.conv3(x)))\n        x = self.pool(torch.relu(self.conv4(x)))",
        "        x = self.pool(self.conv1(x))\n        x = self.pool(self.conv2(x))\n"
        "        x = self.pool(self.conv3(x))\n        x = self.pool(self.conv4(x))",
        "there is no ReLU after the convolutions",
    ),
    "count_parameters_counts_tensors": (
        "cnn",
        "count_parameters",
        "    return sum(p.numel() for p in model.parameters() if p.requires_grad)",
        "    return len([p for p in model.parameters() if p.requires_grad])",
        "parameter tensors are counted",
    ),
}
# Right after all: int() of a positive number floors; an overflow in np.where's other branch
# leaves the values right (the values decide, not the warnings a formula happens to raise).
CORRECT_AFTER_ALL = {"conv2d_layer_python2_division", "sigmoid_overflows_in_the_other_branch_of_where"}
REAL_BUGS = sorted(set(BUGS) - CORRECT_AFTER_ALL)


def with_bug(name: str, out: Path) -> Path:
    """The reference notebook with ``old`` replaced by ``new`` in the cell defining the function."""
    assignment, function, old, new, _ = BUGS[name]
    notebook = json.loads(REFERENCES[assignment].read_text(encoding="utf-8"))
    header = f"class {function}(" if function[0].isupper() else f"def {function}("
    cells = [c for c in notebook["cells"] if c["cell_type"] == "code" and header in "".join(c["source"])]
    assert len(cells) == 1, f"{function} is defined in {len(cells)} cells"
    source = "".join(cells[0]["source"])
    start = source.index(header)
    following = source.find("\ndef ", start + 1)
    end = len(source) if following < 0 else following
    assert source.count(old, start, end) == 1, (
        f"{name}: the code to replace is not in {function} exactly once"
    )
    cells[0]["source"] = source[:start] + source[start:end].replace(old, new) + source[end:]
    out.write_text(json.dumps(notebook, indent=1), encoding="utf-8")
    return out


@pytest.fixture(scope="module")
def graded(tmp_path_factory, batch_graded):
    """Every bug's notebook, written into one folder per assignment that is graded as a batch."""
    workdir = tmp_path_factory.mktemp("bugs")
    paths = {}
    for name, (assignment, *_rest) in BUGS.items():
        (workdir / assignment).mkdir(exist_ok=True)
        paths[name] = with_bug(name, workdir / assignment / f"{name}.ipynb")

    def get(name: str) -> GradingResults:
        return batch_graded(paths[name], BUGS[name][0])

    return get


def messages(results: GradingResults, function: str) -> str:
    return "\n".join(t.output for t in results.tests if t.function == function and t.status != "passed")


def test_there_are_at_least_twenty_realistic_bugs():
    assert len(REAL_BUGS) >= 20
    assert {BUGS[name][0] for name in REAL_BUGS} == {"nn_basics", "cnn"}


@pytest.mark.parametrize("name", REAL_BUGS)
def test_a_realistic_bug_costs_points_only_in_its_function_and_is_named(graded, name):
    _assignment, function, _, _, phrase = BUGS[name]
    results = graded(name)
    lost = {f: points for f, points in by_function(results).items() if points > 0}
    assert list(lost) == [function], {t.name: t.output for t in results.tests if t.status != "passed"}
    assert phrase in messages(results, function), messages(results, function)


def test_python2_style_division_truncated_by_int_is_not_a_bug(graded):
    # int() of a non-negative float rounds down, so int((H + P - K) / s + 1) is the floor formula.
    results = graded("conv2d_layer_python2_division")
    assert results.score == results.max_score


def test_a_sigmoid_that_overflows_only_in_the_branch_np_where_discards_is_not_a_bug(graded):
    results = graded("sigmoid_overflows_in_the_other_branch_of_where")
    assert results.score == results.max_score

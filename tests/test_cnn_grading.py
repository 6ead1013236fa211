"""The cnn assignment grades as intended: the reference gets full marks, the stub 0, and a notebook
with one realistic bug loses points only for the function with the bug, with a message naming it.

The one-bug notebooks in tests/fixtures/cnn/ are the reference with one function's code replaced;
they are checked against the reference here, so they cannot drift. After changing the reference,
regenerate them with ``python tests/test_cnn_grading.py``. Each notebook is graded once per module.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import assert_schema_valid, by_function

from grader.results import GradingResults
from nbtools import ASSIGNMENTS, SOLUTIONS, run_grader

REFERENCE = SOLUTIONS / "cnn" / "cnn.ipynb"
STUB = ASSIGNMENTS / "cnn" / "cnn.ipynb"
FIXTURES = Path(__file__).parent / "fixtures" / "cnn"

# name: (function whose cell changes, old code, new code)
BUGS = {
    "flipped_kernel": (
        "conv2d",
        "out[i, j] = np.sum(padded[r:r + kh, c:c + kw] * kernel)",
        "out[i, j] = np.sum(padded[r:r + kh, c:c + kw] * kernel[::-1, ::-1])",
    ),
    "round_not_floor": (
        "conv_output_size",
        "return (n + total - kernel_size) // stride + 1",
        "return round((n + total - kernel_size) / stride) + 1",
    ),
    "height_for_width": (
        "conv2d_layer",
        "top, left = (kh - 1) // 2, (kw - 1) // 2\n        bottom, right = kh - 1 - top, kw - 1 - left",
        "top, left = (kh - 1) // 2, (kh - 1) // 2\n        bottom, right = kh - 1 - top, kh - 1 - left",
    ),
    "stride_rows_only": (
        "conv2d",
        "out_w = (padded.shape[1] - kw) // stride + 1\n    out = np.zeros((out_h, out_w))\n"
        "    for i in range(out_h):\n        for j in range(out_w):\n            r, c = i * stride, j * stride",
        "out_w = padded.shape[1] - kw + 1\n    out = np.zeros((out_h, out_w))\n"
        "    for i in range(out_h):\n        for j in range(out_w):\n            r, c = i * stride, j",
    ),
    "pool_keeps_incomplete": (
        "max_pool2d",
        "out_h = (h - kernel_size) // stride + 1\n    out_w = (w - kernel_size) // stride + 1",
        "out_h = int(np.ceil((h - kernel_size) / stride)) + 1\n    out_w = int(np.ceil((w - kernel_size) / stride)) + 1",
    ),
    "pool_averages": (
        "max_pool2d",
        ".max(axis=(-2, -1))",
        ".mean(axis=(-2, -1))",
    ),
    "conv_params_no_bias": (
        "conv2d_params",
        "    if bias:\n        per_kernel += 1\n",
        "",
    ),
    "cnn_wrong_flatten": (
        "CNN",
        "nn.Linear(128 * 4 * 4, n_classes)",
        "nn.Linear(128 * 8 * 8, n_classes)",
    ),
    "count_frozen_too": (
        "count_parameters",
        "sum(p.numel() for p in model.parameters() if p.requires_grad)",
        "sum(p.numel() for p in model.parameters())",
    ),
}


def with_bug(reference: dict, function: str, old: str, new: str) -> dict:
    """A copy of the reference notebook whose cell defining ``function`` has ``old`` replaced by ``new``."""
    notebook = json.loads(json.dumps(reference))
    header = f"class {function}(" if function[0].isupper() else f"def {function}("
    cells = [c for c in notebook["cells"] if c["cell_type"] == "code" and header in "".join(c["source"])]
    assert len(cells) == 1, f"{function} is defined in {len(cells)} cells"
    source = "".join(cells[0]["source"])
    assert source.count(old) == 1, (
        f"the code to replace occurs {source.count(old)} times in {function}'s cell"
    )
    cells[0]["source"] = source.replace(old, new)
    return notebook


def render(notebook: dict) -> str:
    return json.dumps(notebook, indent=1, ensure_ascii=False) + "\n"


def expected_fixture(name: str) -> str:
    reference = json.loads(REFERENCE.read_text(encoding="utf-8"))
    return render(with_bug(reference, *BUGS[name]))


def write_fixtures() -> None:
    FIXTURES.mkdir(parents=True, exist_ok=True)
    for name in BUGS:
        (FIXTURES / f"{name}.ipynb").write_text(expected_fixture(name), encoding="utf-8")


def failing(results: GradingResults) -> dict[str, str]:
    return {t.name: t.output for t in results.tests if t.status != "passed"}


def messages(results: GradingResults, function: str) -> str:
    return "\n".join(t.output for t in results.tests if t.function == function and t.status != "passed")


@pytest.fixture(scope="module")
def reference(handout_graded) -> GradingResults:
    return handout_graded("cnn")


@pytest.fixture(scope="module")
def stub(handout_graded) -> GradingResults:
    return handout_graded("cnn", "stub")


@pytest.fixture(scope="module")
def bugged(batch_graded):
    """The one-bug notebooks' results (tests/fixtures/cnn, graded as one batch)."""

    def get(name: str) -> GradingResults:
        return batch_graded(FIXTURES / f"{name}.ipynb", "cnn")

    return get


# ---- the reference and the stub ---------------------------------------------------------------
def test_the_reference_notebook_gets_full_marks_on_every_test(reference):
    assert failing(reference) == {}
    assert reference.score == reference.max_score == 26.5
    assert len(reference.tests) == 44


def test_every_test_names_its_function_and_is_numbered_in_notebook_order(reference):
    order = [
        "conv_output_size",
        "conv2d",
        "conv2d_layer",
        "max_pool2d",
        "conv2d_params",
        "linear_params",
        "CNN",
        "count_parameters",
    ]
    for test in reference.tests:
        assert test.function in order, test.name
        assert test.number.split(".")[0] == str(order.index(test.function) + 1), test.name
    assert len({t.number for t in reference.tests}) == len(reference.tests)


def test_the_worked_examples_and_one_test_per_common_mistake_are_visible(reference):
    visible = {t.number for t in reference.tests if t.visibility == "visible"}
    assert visible == {
        "1.1",
        "1.2",
        "1.3",
        "2.1",
        "2.2",
        "2.3",
        "2.4",
        "2.6",
        "2.8",
        "3.1",
        "3.5",
        "4.1",
        "4.2",
        "5.1",
        "6.1",
        "6.3",
        "7.6",
        "8.3",
    }
    assert sum(t.max_score for t in reference.tests if t.visibility == "visible") == 11.5  # 7.6 is worth 0


def test_the_stub_scores_zero_and_every_test_says_what_is_not_implemented(stub):
    assert stub.score == 0 and stub.max_score == 26.5
    for test in stub.tests:
        assert test.score == 0
        assert "not implemented yet" in test.output, (test.name, test.output)


def test_grading_never_imports_torch_in_the_grading_process():
    script = (
        "import sys; from grader.api import grade_notebook; "
        f"results = grade_notebook({str(REFERENCE)!r}, 'cnn'); "
        "print(results.score, 'torch' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.split() == ["26.5", "False"], done.stderr[-2000:]


# ---- one bug at a time ------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(BUGS))
def test_each_one_bug_notebook_is_the_reference_with_that_bug(name):
    path = FIXTURES / f"{name}.ipynb"
    assert path.read_text(encoding="utf-8") == expected_fixture(name), (
        f"{path} is out of date: run python tests/test_cnn_grading.py"
    )


@pytest.mark.parametrize(
    "name, mistake",
    [
        ("flipped_kernel", "the kernel is flipped on both axes"),
        ("round_not_floor", "rounded; round down instead (floor"),
        ("height_for_width", "the columns are padded as if the kernel were KH wide"),
        ("stride_rows_only", "the stride is applied to the rows but not to the columns"),
        ("pool_keeps_incomplete", "incomplete windows at the bottom or right edge are kept (ceil mode)"),
        ("pool_averages", "the windows are averaged"),
        ("conv_params_no_bias", "the bias is missing: each of the out_channels kernels has one bias"),
        ("cnn_wrong_flatten", "fc = nn.Linear(128 * 4 * 4, n_classes) takes 2048 features"),
        ("count_frozen_too", "frozen parameters (requires_grad is False) are counted"),
    ],
)
def test_a_single_bug_loses_points_only_in_its_function_with_a_message_naming_it(bugged, name, mistake):
    function = BUGS[name][0]
    results = bugged(name)
    lost = {f: points for f, points in by_function(results).items() if points > 0}
    assert list(lost) == [function], failing(results)
    assert mistake in messages(results, function), messages(results, function)


def test_a_wrong_output_size_states_the_formula_with_the_numbers(bugged):
    text = messages(bugged("stride_rows_only"), "conv2d")
    assert (
        "columns: floor((W + P − KW) / s) + 1 = floor((9 + 0 − 3) / 2) + 1 = 4, with P = 0 ('valid')" in text
    )


def test_the_wrong_flatten_size_is_explained_with_the_layer_at_fault(bugged):
    results = bugged("cnn_wrong_flatten")
    output_shape = next(t for t in results.tests if t.number == "7.3")
    assert "fc = nn.Linear(128 * 4 * 4, n_classes) takes 2048 features" in output_shape.output
    assert (
        "fc (Linear) has weight (11, 8192), bias (11,); expected weight (11, 2048), bias (11,)"
        in messages(results, "CNN")
    )


if __name__ == "__main__":
    write_fixtures()
    print(f"Wrote {len(BUGS)} notebooks to {FIXTURES}", file=sys.stderr)


def test_the_gradescope_entry_grades_the_reference_in_full_and_the_stub_at_zero(tmp_path):
    """The same through `grader gradescope --root`, as run_autograder calls it."""
    for notebook, expected in (
        (SOLUTIONS / "cnn" / "cnn.ipynb", 26.5),
        (ASSIGNMENTS / "cnn" / "cnn.ipynb", 0),
    ):
        root = tmp_path / notebook.parent.parent.name
        (root / "submission").mkdir(parents=True)
        (root / "submission" / "homework.ipynb").write_bytes(notebook.read_bytes())
        done = run_grader("gradescope", "--root", str(root), "--assignment", "cnn", timeout=300)
        assert done.returncode == 0
        data = assert_schema_valid(json.loads((root / "results" / "results.json").read_text()))
        assert data["score"] == expected and len(data["tests"]) == 44


def test_a_lazy_linear_layer_is_explained_as_the_graders_reading_not_a_call_of_the_students(tmp_path):
    from conftest import grade_valid

    from nbtools import SOLUTIONS, replace_function

    path = replace_function(SOLUTIONS / "cnn" / "cnn.ipynb", "CNN", LAZY_CNN, tmp_path / "lazy.ipynb")
    results = grade_valid(path, "cnn")
    outputs = "\n".join(t.output for t in results.tests if t.function == "CNN")
    assert "The grader could not read the layers of CNN(11)" in outputs
    assert "fc.weight has no shape yet: a lazy layer (nn.LazyLinear" in outputs
    assert "Calling CNN(11)()" not in outputs


LAZY_CNN = """class CNN(nn.Module):
    def __init__(self, n_classes):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding="same")
        self.conv2 = nn.Conv2d(16, 32, 3, padding="same")
        self.conv3 = nn.Conv2d(32, 64, 3, padding="same")
        self.conv4 = nn.Conv2d(64, 128, 3, padding="same")
        self.pool = nn.MaxPool2d(2, 2)
        self.fc = nn.LazyLinear(n_classes)

    def forward(self, x):
        for conv in (self.conv1, self.conv2, self.conv3, self.conv4):
            x = self.pool(torch.relu(conv(x)))
        return self.fc(torch.flatten(x, 1))"""

"""Hidden tests: the student's CNN, examined in the worker through plain data (no torch here)."""

import numpy as np
from gradescope_utils.autograder_utils.decorators import number, weight

import cnn_oracle as oracle
from grader.testing import expect, fail

FLATTEN_NOTE = ("After four 2×2 poolings a 64×64 input is 4×4 (64 → 32 → 16 → 8 → 4) with 128 channels, "
                "so fc = nn.Linear(128 * 4 * 4, n_classes) takes 2048 features.")
SOFTMAX = "softmax is applied; forward returns the raw scores (the loss applies softmax itself)."
NO_RELU = "there is no ReLU after the convolutions."
AVERAGE = "the pooling averages; use nn.MaxPool2d(2, 2)."


def batch(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, 1, 64, 64)).astype(np.float32)


def shape_table(model) -> dict:
    return {name: shape for name, shape, _ in model.parameters()}


def check_parameters(model, n_classes: int) -> None:
    """Fails, naming each layer whose parameters differ, unless names and shapes match CNN(n_classes)."""
    got, want = shape_table(model), oracle.cnn_shapes(n_classes)
    if got == want:
        return
    lines = [f"CNN({n_classes}) should have these parameters (name: shape):"]
    lines += [f"  {name}: {shape}" for name, shape in want.items()]
    missing = [name for name in want if name not in got]
    if missing:
        extra = [name for name in got if name not in want]
        lines.append(f"Missing: {', '.join(missing)}.")
        if extra:
            lines.append(f"Yours has instead: {', '.join(extra[:10])}{' ...' if len(extra) > 10 else ''}.")
        lines.append("Store the layers as the attributes conv1, conv2, conv3, conv4, pool and fc.")
    for name, shape in want.items():
        if name in got and got[name] != shape:
            lines.append(f"{name} has shape {got[name]}, but {shape} was expected.")
            if name == "fc.weight":
                lines.append(FLATTEN_NOTE)
            elif name.endswith(".weight"):
                lines.append(f"  A Conv2d weight is (out_channels, in_channels, 3, 3); {name.split('.')[0]} maps "
                             f"{shape[1]} to {shape[0]} channels with a 3×3 kernel.")
    fail("\n".join(lines))


def scores(student, model, x: np.ndarray, label: str):
    """The model's output for x, failing with a note on the likely cause when the forward pass raises."""
    outcome = student.predict.outcome(model, x)
    if outcome.status == "missing":
        fail("predict is not defined: it is given in part 6 of the notebook. Restore it from the handed-out "
             "notebook and leave it unchanged.")
    if outcome.status != "ok":
        message = (outcome.error or {}).get("message", "") if outcome.status == "raised" else ""
        error = outcome.error or {}
        text = f"{label} on a batch of shape {x.shape} raised {error.get('type', outcome.status)}: {message}"
        frames = error.get("frames") or []
        if frames and frames[-1].get("code"):
            text += f"\n  at line {frames[-1].get('line')} of cell #{frames[-1].get('cell')}: {frames[-1]['code']}"
        if "shapes cannot be multiplied" in message or "size mismatch" in message:
            text += "\nLikely mistake: the flattened features do not fit fc. " + FLATTEN_NOTE
        elif "NotImplementedError" in str(error.get("type")):
            text = f"{label}: forward is not implemented yet (it still raises NotImplementedError)."
        fail(text)
    return outcome.value


def output_note(got: tuple, n: int, n_classes: int) -> str:
    if len(got) == 1 and got[0] in (n * n_classes, 2048 * n):
        return "Likely mistake: the batch axis is flattened too; flatten from axis 1: torch.flatten(x, 1)."
    if len(got) == 4:
        return "Likely mistake: the output is still an image: flatten it and apply fc."
    if len(got) == 2 and got[0] == n and got[1] != n_classes:
        return f"Likely mistake: fc has {got[1]} outputs; it should have n_classes = {n_classes}."
    return ""


@weight(1)
@number("7.1")
def test_cnn_parameter_shapes(student):
    """CNN: CNN(11) has the layers conv1..conv4 and fc with the right parameter shapes"""
    model = student.CNN(11)
    check_parameters(model, 11)
    frozen = [name for name, _, trainable in model.parameters() if not trainable]
    if frozen:
        fail(f"These parameters of CNN(11) are frozen (requires_grad is False): {', '.join(frozen)}. "
             "A new network trains all its parameters.")


@weight(0.5)
@number("7.2")
def test_cnn_parameter_count(student):
    """CNN: CNN(11) has 119,691 parameters"""
    model = student.CNN(11)
    got = {name: shape for name, shape, _ in model.parameters()}
    total = int(sum(np.prod(shape) for shape in got.values()))
    if total != 119691:
        lines = [f"CNN(11) has {total:,} parameters, but 160 + 4,640 + 18,496 + 73,856 + 22,539 = 119,691 were "
                 "expected:"]
        for layer in ("conv1", "conv2", "conv3", "conv4", "fc"):
            count = int(sum(np.prod(shape) for name, shape in got.items() if name.split(".")[0] == layer))
            want = int(sum(np.prod(shape) for name, shape in oracle.cnn_shapes(11).items() if name.startswith(layer + ".")))
            lines.append(f"  {layer}: {count:,} (expected {want:,})" + ("" if count == want else "  <-"))
        if got.get("fc.weight", (0, 2048))[1:] != (2048,):
            lines.append(FLATTEN_NOTE)
        fail("\n".join(lines))


@weight(1)
@number("7.3")
def test_cnn_output_shape(student):
    """CNN: CNN(n) maps a batch (2, 1, 64, 64) to scores (2, n), for n = 11 and n = 5"""
    for n_classes in (11, 5):
        model = student.CNN(n_classes)
        value = scores(student, model, batch(2, 73), f"CNN({n_classes})")
        got = value.array.shape if value.array is not None else None
        if got != (2, n_classes):
            fail(f"CNN({n_classes}) returned {value.describe()} for a batch of shape (2, 1, 64, 64); "
                 f"expected shape (2, {n_classes}): one row of {n_classes} scores per example.\n"
                 + output_note(got or (), 2, n_classes))


def check_forward(student, n_classes: int, n: int, seed: int) -> None:
    model = student.CNN(n_classes)
    check_parameters(model, n_classes)
    state = oracle.random_cnn_state(n_classes, np.random.default_rng(seed))
    model.load(state)
    x = batch(n, seed + 1)
    want = oracle.cnn_forward(state, x)
    expect(student.predict, model, x).to_equal(
        want, rtol=1e-4, atol=1e-5,
        likely={NO_RELU: oracle.cnn_forward(state, x, activation=lambda z: z),
                AVERAGE: oracle.cnn_forward(state, x, pool=oracle.avg_pool2d),
                SOFTMAX: np.exp(want - want.max(1, keepdims=True)) / np.exp(want - want.max(1, keepdims=True)).sum(1, keepdims=True)},
        shape_hint=lambda got: output_note(got, n, n_classes))


@weight(1)
@number("7.4")
def test_cnn_forward_values(student):
    """CNN: with given weights, CNN(11)'s scores equal conv → ReLU → max-pool ×4 → flatten → fc"""
    check_forward(student, 11, 2, 740)


@weight(0.5)
@number("7.5")
def test_cnn_forward_single(student):
    """CNN: with given weights, CNN(3)'s scores for a batch of one"""
    check_forward(student, 3, 1, 750)

"""Hidden tests: the student's CNN, examined in the worker through plain data (no torch here).

The grader runs the model itself (``model.forward``): no helper of the notebook's is needed. The
layers are found by the attribute names the contract gives (conv1..conv4, fc), so a network that
also wraps them in an ``nn.Sequential`` or holds parameter-free modules is graded the same. A CNN
earns its points only when it computes the right scores: a right structure with a wrong forward
pass, or a forward pass that returns zeros of the right shape, earns nothing.
"""

import cnn_oracle as oracle
import numpy as np
from gradescope_utils.autograder_utils.decorators import number, weight

from grader.testing import GradingFailure, Handle, expect, fail, on_raise

LAYERS = ("conv1", "conv2", "conv3", "conv4", "fc")
FLATTEN_NOTE = ("After four 2×2 poolings a 64×64 input is 4×4 (64 → 32 → 16 → 8 → 4) with 128 channels, "
                "so fc = nn.Linear(128 * 4 * 4, n_classes) takes 2048 features.")
# torch's words for features that do not fit a Linear layer, in the error the student's forward raised.
FIT_PATTERNS = ("cannot be multiplied", "size mismatch")


# What the flattened features of a batch tell about a network whose fc they do not fit: torch's
# message names them ("mat1 and mat2 shapes cannot be multiplied (2x512 and 2048x11)"). Checked in
# order; the notebook's self-check records the same (pattern, note) pairs.
SHRUNK = ("the flattened features are 128·2·2 = 512: the convolutions have no padding=\"same\", so each 3×3 "
          "convolution takes 2 pixels off each side (64 → 62 → 31 → 29 → 14 → 12 → 6 → 4 → 2). Use "
          "padding=\"same\" in every Conv2d; fc = nn.Linear(128 * 4 * 4, n_classes) is right.")
THREE_POOLS = ("the flattened features are 128·8·8 = 8192: the image was pooled three times, not four "
               "(64 → 32 → 16 → 8). Pool after every convolution, conv4 included.")
FEATURE_NOTES = ((("x512 and",), SHRUNK), (("x8192 and",), THREE_POOLS))


def fit_notes(generic: str) -> list[tuple[tuple[str, ...], str]]:
    """``on_raise``'s notes for features that do not fit fc, in the order they are tried: the specific
    causes first, then ``generic``."""
    return [*[(patterns, f"The flattened features do not fit fc: {note}") for patterns, note in FEATURE_NOTES],
            (FIT_PATTERNS, generic)]


SOFTMAX = "softmax is applied; forward returns the raw scores (the loss applies softmax itself)."
NO_RELU = "there is no ReLU after the convolutions."
AVERAGE = "the pooling averages; use nn.MaxPool2d(2, 2)."
RELU_AT_END = "a ReLU is applied to the scores too; forward returns fc's output as it is."
GATE = "This test counts only when the whole network computes the right scores; see the tests of CNN's forward pass."


def batch(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, 1, 64, 64)).astype(np.float32)


def build(student, n_classes: int) -> Handle:
    model = student.CNN(n_classes)
    if not isinstance(model, Handle):
        fail(f"CNN({n_classes}) gave {model.describe()}, not a torch model: CNN must be a class "
             "derived from nn.Module.")
    model.label = f"CNN({n_classes})"
    return model


def expected_layers(n_classes: int) -> dict[str, dict[str, tuple[int, ...]]]:
    layers: dict[str, dict[str, tuple[int, ...]]] = {}
    for name, shape in oracle.cnn_shapes(n_classes).items():
        layer, param = name.split(".")
        layers.setdefault(layer, {})[param] = shape
    return layers


def check_layers(model, n_classes: int) -> None:
    """Fails, naming each layer that is missing or has other parameters, unless all match CNN(n_classes)."""
    found, want = model.layers(list(LAYERS)), expected_layers(n_classes)
    lines = []
    missing = [name for name in LAYERS if found[name] is None]
    if missing:
        lines.append(f"CNN({n_classes}) has no attribute {', '.join(missing)}. Store the layers as the attributes "
                     "conv1, conv2, conv3, conv4, pool and fc (self.conv1 = nn.Conv2d(...), ...).")
    for name in LAYERS:
        layer = found[name]
        if layer is None:
            continue
        got = {pname: shape for pname, shape, _ in layer.params}
        if got == want[name]:
            continue
        expected = ", ".join(f"{p} {s}" for p, s in want[name].items())
        yours = ", ".join(f"{p} {s}" for p, s in got.items()) or "no parameters"
        lines.append(f"{name} ({layer.type_name}) has {yours}; expected {expected}.")
        if name == "fc" and got.get("weight", (0, 2048))[1:] != (2048,):
            lines.append("  " + FLATTEN_NOTE)
        elif name != "fc" and "weight" in got:
            shape = want[name]["weight"]
            lines.append(f"  A Conv2d weight is (out_channels, in_channels, 3, 3); {name} maps {shape[1]} to "
                         f"{shape[0]} channels with a 3×3 kernel.")
    if lines:
        fail("\n".join([f"The layers of CNN({n_classes}) are not the ones asked for:", *lines]))


def output_note(got: tuple, want: np.ndarray) -> str:
    n, n_classes = want.shape
    if len(got) == 4:
        return "Your output still has 4 axes, like an image: flatten it from axis 1 and apply fc."
    if len(got) == 1 and got[0] == n * n_classes:
        return "Your output has one axis: flatten from axis 1 only (torch.flatten(x, 1)), keeping the batch axis."
    if len(got) == 2 and got[0] == n:
        return f"There should be one row of n_classes = {n_classes} scores per example; yours has {got[1]}."
    return ""


def check_forward(student, n_classes: int, n: int, seed: int) -> None:
    """CNN(n_classes) with the test's weights gives conv → ReLU → max-pool ×4 → flatten → fc on a batch."""
    model = build(student, n_classes)
    check_layers(model, n_classes)
    state = oracle.random_cnn_state(n_classes, np.random.default_rng(seed))
    model.load(state)
    x = batch(n, seed + 1)
    want = oracle.cnn_forward(state, x)
    shifted = np.exp(want - want.max(1, keepdims=True))
    with on_raise(*fit_notes("The flattened features do not fit fc. " + FLATTEN_NOTE)):
        call = expect(model.forward, x)
    call.to_equal(want, rtol=1e-4, atol=1e-5, likely={
        NO_RELU: oracle.cnn_forward(state, x, activation=lambda z: z),
        AVERAGE: oracle.cnn_forward(state, x, pool=oracle.avg_pool2d),
        SOFTMAX: shifted / shifted.sum(1, keepdims=True),
        RELU_AT_END: np.maximum(want, 0)},
        shape_hint=lambda got: output_note(got, want))


def gate(student) -> None:
    """The points of a structural test need a network that also computes the right scores."""
    try:
        check_forward(student, 11, 2, 760)
    except GradingFailure as failure:
        fail(f"{GATE}\n{failure}")


@weight(1)
@number("7.1")
def test_cnn_parameter_shapes(student):
    """CNN: CNN(11) has the layers conv1..conv4 and fc with the right parameter shapes, all trainable"""
    model = build(student, 11)
    check_layers(model, 11)
    frozen = [f"{name}.{pname}" for name, layer in model.layers(list(LAYERS)).items() if layer
              for pname, _, trainable in layer.params if not trainable]
    if frozen:
        fail(f"These parameters of CNN(11) are frozen (requires_grad is False): {', '.join(frozen)}. "
             "A new network trains all its parameters.")
    gate(student)


@weight(0.5)
@number("7.2")
def test_cnn_parameter_count(student):
    """CNN: CNN(11) has 119,691 parameters"""
    model = build(student, 11)
    total = int(sum(np.prod(shape) for _, shape, _ in model.parameters()))
    if total != 119691:
        layers = model.layers(list(LAYERS))
        lines = [f"CNN(11) has {total:,} parameters, but 160 + 4,640 + 18,496 + 73,856 + 22,539 = 119,691 were "
                 "expected:"]
        for name, want in expected_layers(11).items():
            layer = layers[name]
            count = int(sum(np.prod(shape) for _, shape, _ in layer.params)) if layer else 0
            expected = int(sum(np.prod(shape) for shape in want.values()))
            lines.append(f"  {name}: {count:,} (expected {expected:,})" + ("" if count == expected else "  <-"))
        fail("\n".join(lines))
    gate(student)


@weight(1)
@number("7.3")
def test_cnn_output_for_other_class_counts(student):
    """CNN: CNN(5) maps a batch (2, 1, 64, 64) to the right scores, shape (2, 5)"""
    check_forward(student, 5, 2, 730)


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

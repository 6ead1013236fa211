"""Worker-side questions about torch models, answered with plain data only.

torch itself is imported on the first model request, so notebooks that never touch torch never
pay for it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import numpy as np

from ..wire.messages import Message
from ..wire.protocol import Answer, Reply
from ..wire.values import EncodeError, Node, decode_plain


class ModelHost(Protocol):
    """What model requests need of the worker (grader.sandbox.runtime.worker.Worker is one): its handles,
    a guarded run of student code, the reply for how that ended, and the encoder for an answer."""

    handles: dict[int, Any]

    def keep(self, obj: Any) -> int: ...

    def run_guarded(self, fn: Callable[[], Any], timeout: float) -> tuple[Any, Any, Any]: ...

    def reply_for(self, error: Any, out: Any) -> Reply: ...

    def encode(self, value: Any) -> tuple[Node, list[bytes]]: ...


_LAYERS = {"Conv2d", "Linear", "ReLU", "MaxPool2d", "Flatten", "BatchNorm2d", "Dropout"}


def _build(layers: list[Any]) -> Any:
    import torch.nn as nn

    modules = []
    for spec in layers:
        spec = list(spec)
        options = dict(spec.pop()) if spec and isinstance(spec[-1], dict) else {}
        kind, args = str(spec[0]), [int(a) for a in spec[1:]]
        if kind not in _LAYERS:
            raise ValueError(f"unknown layer {kind}")
        frozen = bool(options.pop("frozen", False))
        module = getattr(nn, kind)(*args, **{k: bool(v) for k, v in options.items()})
        for parameter in module.parameters():
            parameter.requires_grad_(not frozen)
        modules.append(module)
    return nn.Sequential(*modules)


def as_tensors(value: Any) -> Any:
    """Arrays (also inside lists, tuples and dicts) as float32 tensors, for a model's forward pass."""
    import torch

    if isinstance(value, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(value, dtype=np.float32))
    if type(value) in (list, tuple):
        return type(value)(as_tensors(v) for v in value)
    if type(value) is dict:
        return {k: as_tensors(v) for k, v in value.items()}
    return value


def _attribute_path(model: Any, dotted: str) -> Any:
    """``conv1.weight`` looked up attribute by attribute, as the contract names it (not by
    ``state_dict`` key, which depends on how and where else the student registered the layer)."""
    target = model
    for part in dotted.split("."):
        if not part.isidentifier() or part.startswith("_"):
            raise ValueError(f"not an attribute name: {dotted!r}")
        target = getattr(target, part)
    return target


def _load(model: Any, tensors: dict[str, Any]) -> None:
    import torch

    problems = []
    for name, tensor in tensors.items():
        try:
            parameter = _attribute_path(model, name)
        except AttributeError:
            problems.append(f"{name} does not exist")
            continue
        if not isinstance(parameter, torch.Tensor):
            problems.append(f"{name} is a {type(parameter).__name__}, not a parameter")
        elif tuple(parameter.shape) != tuple(tensor.shape):
            problems.append(f"{name} has shape {tuple(parameter.shape)}, not {tuple(tensor.shape)}")
        else:
            with torch.no_grad():
                parameter.copy_(tensor)
    if problems:
        raise ValueError("; ".join(problems))


def _layers(model: Any, names: list[Any]) -> dict[str, Any]:
    """For each attribute the contract names: its class and its own parameters, or None if absent."""
    found: dict[str, Any] = {}
    for name in [str(n) for n in names][:50]:
        layer = getattr(model, name, None) if name.isidentifier() and not name.startswith("_") else None
        if layer is None:
            found[name] = None
            continue
        params = (
            [
                [pname, _shape(f"{name}.{pname}", p), bool(p.requires_grad)]
                for pname, p in layer.named_parameters()
            ]
            if hasattr(layer, "named_parameters")
            else []
        )
        found[name] = {"type": type(layer).__name__, "params": params}
    return found


def _shape(name: str, parameter: Any) -> list[int]:
    """A parameter's shape; a lazy layer's (nn.LazyLinear) has none until a first forward pass."""
    try:
        return list(parameter.shape)
    except (RuntimeError, ValueError):
        raise ValueError(
            f"{name} has no shape yet: a lazy layer (nn.LazyLinear, nn.LazyConv2d) sets it on its first "
            "forward pass; give the layer its sizes, e.g. nn.Linear(2048, n_classes)"
        ) from None


def _forward(model: Any, x: Any) -> Any:
    """The model's scores for a batch, as a float32 array: evaluation mode, no gradients."""
    import torch

    model.eval()
    inputs = as_tensors(x)
    # A notebook may have made float64 its default (torch.set_default_dtype): feed the model
    # the dtype of its own weights.
    dtype = next((p.dtype for p in model.parameters() if p.is_floating_point()), torch.float32)
    if isinstance(inputs, torch.Tensor) and dtype != inputs.dtype:
        inputs = inputs.to(dtype)
    with torch.no_grad():
        out = model(inputs)
    if isinstance(out, torch.Tensor):
        return out.detach().cpu().numpy()
    return out


def _question(model: Any, request: Message, blobs: list[memoryview]) -> Callable[[], Any] | None:
    """What a request asks of ``model``, as code to run guarded; None for an unknown request."""
    import torch

    action = request.get("action")
    if action == "params":
        return lambda: [
            [name, _shape(name, p), bool(p.requires_grad)] for name, p in model.named_parameters()
        ]
    if action == "layers":
        raw = request.get("names")
        names: list[Any] = raw if isinstance(raw, list) else []
        return lambda: _layers(model, names)
    if action == "load":
        state = decode_plain(request["state"], blobs, lambda node: None)
        tensors = {str(k): torch.from_numpy(np.array(v, dtype=np.float32)) for k, v in state.items()}
        return lambda: _load(model, tensors)
    if action == "forward":
        x = decode_plain(request["input"], blobs, lambda node: None)
        return lambda: _forward(model, x)
    return None


def handle(worker: ModelHost, request: Message, blobs: list[memoryview]) -> Answer:
    # Every model request imports torch first, whatever it asks and however it is answered: the
    # worker's memory after a request must not depend on whether it was refused.
    import torch  # noqa: F401

    action = request.get("action")
    if action == "build":
        return {"status": "ok", "data": worker.keep(_build(request["layers"]))}, []
    model = worker.handles.get(int(request.get("handle", -1)))
    if model is None or not hasattr(model, "named_parameters"):
        return {"status": "refused", "message": "that object is not a torch model"}, []
    ask = _question(model, request, blobs)
    if ask is None:
        return {"status": "refused", "message": f"unknown model request {action!r}"}, []
    # Student code (forward, a property, a hook) runs here: guard it like any call.
    data, error, out = worker.run_guarded(ask, request.get("timeout", 5))
    reply = worker.reply_for(error, out)
    if error is not None:
        return reply, []
    if action == "forward":
        try:
            reply["value"], value_blobs = worker.encode(data)
        except (EncodeError, RecursionError, ValueError, TypeError) as exc:
            return {"status": "unsendable", "message": str(exc), "output": reply["output"]}, []
        return reply, value_blobs
    reply["data"] = data
    return reply, []

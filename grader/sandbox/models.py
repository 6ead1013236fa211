"""Worker-side questions about torch models, answered with plain data only.

torch itself is imported on the first model request, so notebooks that never touch torch never
pay for it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .values import decode_plain

_LAYERS = {"Conv2d", "Linear", "ReLU", "MaxPool2d", "Flatten", "BatchNorm2d", "Dropout"}


def _build(layers: list) -> Any:
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


def handle(worker, request: dict, blobs: list[bytes]) -> tuple[dict, list[bytes]]:
    import torch

    action = request.get("action")
    if action == "build":
        model = _build(request["layers"])
        handle_id = len(worker.handles) + 1
        worker.handles[handle_id] = model
        return {"status": "ok", "data": handle_id}, []
    model = worker.handles.get(int(request.get("handle", -1)))
    if model is None or not hasattr(model, "named_parameters"):
        return {"status": "refused", "message": "that object is not a torch model"}, []
    if action == "params":
        def ask():
            return [[name, list(p.shape), bool(p.requires_grad)] for name, p in model.named_parameters()]
    elif action == "load":
        state = decode_plain(request["state"], blobs, lambda node: None)
        tensors = {k: torch.from_numpy(np.array(v, dtype=np.float32)) for k, v in state.items()}

        def ask():
            model.load_state_dict(tensors, strict=True)
            return None
    else:
        return {"status": "refused", "message": f"unknown model request {action!r}"}, []
    # Student code (a property, a hook) may run here: guard it like any call.
    data, error, out = worker._run_guarded(ask, request.get("timeout", 5))
    reply = worker._outcome(error, out)
    if error is None:
        reply["data"] = data
    return reply, []

"""What hidden tests hold instead of student code: proxies that call into the worker.

``student.relu(z)`` sends ``z`` to the worker and returns a :class:`~grader.sandbox.wire.values.Value`
decoded in the grading process. Every way a call can go wrong surfaces as a
:class:`~grader.testing.failure.GradingFailure` whose message is written for the student and whose
``kind`` says what happened.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

import numpy as np

from ..sandbox.supervisor.session import CallOutcome, Sandbox
from ..sandbox.wire import replies
from ..sandbox.wire.protocol import EncodedArgs
from ..sandbox.wire.values import Encoder, Value
from .changed import changed_arguments
from .explain import error_text
from .failure import FailureKind, GradingFailure, failed_call

# What a test sends to student code: the arguments as the sandbox's JSON nodes, and their blobs.
# A layer of a test model, as ``Student.build_model`` takes it: ``["Conv2d", 1, 8, 3, {"bias": False}]``.
LayerSpec = Sequence[Any]


class Unavailable:
    """Stands in for a sandbox when the notebook could not be run at all."""

    def __init__(self, reason: str):
        self.reason = reason

    def fail(self) -> NoReturn:
        raise GradingFailure(self.reason, FailureKind.UNAVAILABLE)


class Handle:
    """An object that lives in the worker (a student's model, say), seen through plain data only."""

    def __init__(self, student: Student, value: Value, label: str):
        self._student = student
        self.id = value.handle
        self.type_name = value.type_name
        self.label = label
        self.description: str | None = None  # what a model the test built is made of, for messages

    def __repr__(self) -> str:
        return self.description or f"<{self.type_name} in the student's notebook>"

    def call(self, *args: Any, **kwargs: Any) -> Value:
        """Call the object itself, e.g. a model's forward pass: ``model.call(x)``."""
        return self._student._invoke(None, args, kwargs, handle=self.id, label=f"{self.label}(...)")

    def method(self, name: str, *args: Any, **kwargs: Any) -> Value:
        return self._student._invoke(
            None, args, kwargs, handle=self.id, method=name, label=f"{self.label}.{name}(...)"
        )

    def parameters(self) -> list[tuple[str, tuple[int, ...], bool]]:
        """(name, shape, trainable) of every parameter, from ``named_parameters()``."""
        data = self._student._model("params", {"handle": self.id}, self.label, "the parameters")
        try:
            return replies.parameters(data)
        except replies.ReplyError as exc:
            raise self._unreadable(f"The parameters of {self.label} could not be read back: {exc}.") from None

    def layers(self, names: Sequence[str]) -> dict[str, Layer | None]:
        """The attributes ``names`` of the model (``conv1``, ``fc``), each with its own parameters."""
        data = self._student._model(
            "layers", {"handle": self.id, "names": list(names)}, self.label, "the layers"
        )
        try:
            entries = replies.layers(data, list(names))
        except replies.ReplyError as exc:
            raise self._unreadable(f"The layers of {self.label} could not be read back: {exc}.") from None
        return {name: None if entry is None else Layer(*entry) for name, entry in entries.items()}

    def _unreadable(self, message: str) -> GradingFailure:
        return GradingFailure(message, FailureKind.UNREADABLE, function=self.label)

    def load(self, state: Mapping[str, np.ndarray]) -> None:
        """Set the given weights, each found by its attribute path (``conv1.weight``)."""
        self._student._model("load", {"handle": self.id, "state": state}, self.label)

    @property
    def forward(self) -> ModelForward:
        """The model's forward pass as a function of a batch, for ``expect(model.forward, x)``."""
        return ModelForward(self)


@dataclass(frozen=True)
class Layer:
    type_name: str
    params: list[tuple[str, tuple[int, ...], bool]]


class RemoteFunction:
    """``student.relu``: a function of the notebook's, called in the worker."""

    def __init__(self, student: Student, name: str):
        self.student = student
        self.name = name

    def __repr__(self) -> str:
        return self.name

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        value = self.student._invoke(self.name, args, kwargs, label=self.name)
        if value.kind == "handle":
            return Handle(self.student, value, self.name)
        return value

    def outcome(self, *args: Any, **kwargs: Any) -> CallOutcome:
        """The raw outcome, for tests that want to examine failures themselves."""
        return self.student._raw(self.name, args, kwargs)


class ModelForward(RemoteFunction):
    """A student's model run on a batch by the grader's own worker-side code (evaluation mode, no
    gradients, arrays in and out): no helper of the notebook's is needed to use a model."""

    def __init__(self, model: Handle):
        super().__init__(model._student, f"{model.label}.forward")
        self.model = model

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        outcome = self.outcome(*args, **kwargs)
        if outcome.status != "ok":
            raise failed_call(self.name, args, kwargs, outcome, ["x"])
        return outcome.value

    def outcome(self, x: Any, **kwargs: Any) -> CallOutcome:
        return self.student._model_outcome("forward", {"handle": self.model.id, "input": x}, self.name)


class Builtin:
    """A helper function known to the worker by name (e.g. ``identity``), usable as an argument."""

    def __init__(self, name: str):
        self.name = name

    def __repr__(self) -> str:
        return self.name


class Student:
    """The student's notebook as tests see it: ``student.relu``, ``student.CNN``.

    Every public name is a notebook function, except the two methods below (``uses`` and
    ``build_model``): each hides a notebook function of its name, so there are few.
    """

    def __init__(self, sandbox: Sandbox | Unavailable):
        self._sandbox = sandbox
        self._signatures: dict[str, list[str]] | None = None
        self._uses: dict[str, set[str]] = {}

    def __getattr__(self, name: str) -> RemoteFunction:
        if name.startswith("_"):
            raise AttributeError(name)
        return RemoteFunction(self, name)

    # ---- plumbing ----------------------------------------------------------
    def _encode(self, args: Sequence[Any], kwargs: Mapping[str, Any]) -> EncodedArgs:
        def reference(obj: Any) -> dict[str, Any]:
            if isinstance(obj, RemoteFunction):
                return {"k": "fn", "src": "student", "name": obj.name}
            if isinstance(obj, np.ufunc):
                return {"k": "fn", "src": "numpy", "name": obj.__name__}
            if isinstance(obj, Builtin):
                return {"k": "fn", "src": "builtin", "name": obj.name}
            if isinstance(obj, Handle):
                return {"k": "ref", "id": obj.id}
            raise TypeError(f"a test passed {type(obj).__name__}, which cannot be sent to student code")

        encoder = Encoder(reference)
        args_nodes = [encoder.encode(a) for a in args]
        kwargs_nodes = {key: encoder.encode(val) for key, val in kwargs.items()}
        return args_nodes, kwargs_nodes, encoder.blobs, encoder.bytes

    def _raw(
        self,
        name: str | None,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        *,
        handle: int | None = None,
        method: str | None = None,
    ) -> CallOutcome:
        if isinstance(self._sandbox, Unavailable):
            self._sandbox.fail()
        outcome = self._sandbox.call(name, self._encode(args, kwargs), handle=handle, method=method)
        if outcome.status in ("ok", "raised"):
            outcome.mutated = changed_arguments(args, kwargs, outcome.after, self._param_names(name))
            outcome.after = None  # judged: the copy need not be kept
        return outcome

    def _invoke(
        self,
        name: str | None,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        *,
        label: str,
        handle: int | None = None,
        method: str | None = None,
    ) -> Value:
        outcome = self._raw(name, args, kwargs, handle=handle, method=method)
        if outcome.status != "ok":
            raise failed_call(label, args, kwargs, outcome, self._param_names(name))
        if outcome.value is None:  # an "ok" with data but no value answers no call: refused
            refused = CallOutcome("refused", output=outcome.output, message="an answer without a value")
            raise failed_call(label, args, kwargs, refused, self._param_names(name))
        return outcome.value

    def _model(self, action: str, payload: Mapping[str, Any], label: str, what: str = "") -> Any:
        """A question about a model; ``what`` it reads, when the grader's own reading is asked for
        (then an error is the grader's reading failing, not a call of the student's)."""
        outcome = self._model_outcome(action, payload, label)
        if outcome.status == "raised" and what:
            raise GradingFailure(
                f"The grader could not read {what} of {label}: reading them raised "
                f"{error_text(outcome.error)}",
                FailureKind.UNREADABLE,
                function=label,
                outcome=outcome,
            )
        if outcome.status != "ok":
            raise failed_call(label, (), {}, outcome, [])
        return outcome.data

    def _model_outcome(self, action: str, payload: Mapping[str, Any], label: str) -> CallOutcome:
        if isinstance(self._sandbox, Unavailable):
            self._sandbox.fail()
        encoder = Encoder(_plain_data_only)
        header: dict[str, Any] = {"op": "model", "action": action, **payload}
        for key in ("state", "input"):
            if key in header:
                header[key] = encoder.encode(header[key])
        return self._sandbox.request(header, encoder.blobs, label)  # type: ignore[arg-type]

    def _param_names(self, name: str | None) -> list[str]:
        if name is None or isinstance(self._sandbox, Unavailable):
            return []
        if name.endswith(".forward"):
            return ["x"]
        if self._signatures is None:
            outcome = self._sandbox.request({"op": "signatures"}, [], "signatures")
            self._signatures = replies.signatures(outcome.data if outcome.status == "ok" else None)
        return self._signatures.get(name, [])

    def uses(self, name: str) -> set[str]:
        """The global names the student's function ``name`` refers to (empty when unknown)."""
        if isinstance(self._sandbox, Unavailable):
            return set()
        if name not in self._uses:
            outcome = self._sandbox.request({"op": "uses", "name": name}, [], "uses")
            data = outcome.data if outcome.status == "ok" and isinstance(outcome.data, list) else []
            self._uses[name] = {str(n)[:100] for n in data[:500]}
        return self._uses[name]

    def build_model(self, layers: Sequence[LayerSpec]) -> Handle:
        """Build a ``torch.nn.Sequential`` in the worker from plain data, for tests of counting code.

        ``layers`` items: ``["Conv2d", in, out, k, {"bias": False, "frozen": True}]``,
        ``["Linear", in, out, {...}]``, ``["ReLU"]``, ``["MaxPool2d", k]``, ``["Flatten"]``.
        """
        data = self._model("build", {"layers": layers}, "a test model")
        try:
            handle = replies.handle(data)
        except replies.ReplyError:
            raise GradingFailure(
                "The test's model could not be built in your notebook's process.", FailureKind.UNREADABLE
            ) from None
        model = Handle(self, Value("handle", "Sequential", handle=handle), "the test's model")
        model.description = describe_layers(layers)
        return model


def describe_layers(layers: Sequence[LayerSpec]) -> str:
    """A test model as its layers, e.g. ``nn.Sequential(nn.Conv2d(1, 8, 3, bias=False) frozen, nn.ReLU())``
    (the notebook's self-checks word it the same way)."""
    words = []
    for spec in layers:
        parts = list(spec)
        options = parts.pop() if parts and isinstance(parts[-1], dict) else {}
        args = [str(s) for s in parts[1:]] + (["bias=False"] if options.get("bias") is False else [])
        words.append(f"nn.{parts[0]}({', '.join(args)})" + (" frozen" if options.get("frozen") else ""))
    return "nn.Sequential(" + ", ".join(words) + ")"


def _plain_data_only(obj: Any) -> dict[str, Any]:
    """A model request carries arrays and numbers only: anything else is the test's mistake."""
    raise TypeError(type(obj).__name__)


def parameter_names(student: Student, name: str | None) -> list[str]:
    """The parameter names of the student's function ``name``, for messages (empty when unknown).

    A function, not a method, so that it hides no notebook function named like it."""
    return student._param_names(name)

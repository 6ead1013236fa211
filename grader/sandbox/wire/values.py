"""Plain-data encoding of values that cross the boundary, in both directions.

Arrays travel as raw bytes described by a JSON node (a dtype from a short allowlist of bool,
integer and float types, and a shape); everything else as JSON nodes. Neither side ever runs a
parser that could build objects: the bytes are only reinterpreted as numbers, after checking
that their length matches the shape.
Objects that are not plain data (a student's ``nn.Module``, say) stay in the worker and cross as
a numbered handle. The grading process decodes what the worker sends into :class:`Value`: fresh
float64 ndarrays, never the worker's own objects, subclasses or anything with custom ``__eq__``.
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ...errors import GraderError

MAX_DEPTH = 12
MAX_NODES = 20_000
MAX_TEXT = 2_000


class EncodeError(GraderError):
    pass


_DTYPE = re.compile(r"^[<>|][biuf][1248]$")


Node = dict[str, Any]  # one JSON node of an encoded value
Blob = bytes | memoryview


def _array_node(array: np.ndarray[Any, Any]) -> tuple[Node, bytes]:
    # tobytes() writes C order whatever the memory layout; 0-d arrays keep their shape ().
    return {"dtype": array.dtype.str, "shape": list(array.shape)}, array.tobytes(order="C")


MAX_AXES = 8
MAX_AXIS = 2**31


def _is_tensor(cls: type) -> bool:
    """torch's own tensor classes, by identity: a class that only calls itself torch (its
    ``__module__``) is an object like any other, so no code of a student's runs to encode it."""
    torch = sys.modules.get("torch")
    return torch is not None and cls in (torch.Tensor, torch.nn.Parameter)


def load_array(node: Node, blob: Blob) -> np.ndarray[Any, Any]:
    """The array a node and its bytes describe; anything inconsistent raises EncodeError."""
    dtype, shape = node.get("dtype"), node.get("shape")
    if not isinstance(dtype, str) or not _DTYPE.match(dtype):
        raise EncodeError("an array of an unsupported type")
    if (
        not isinstance(shape, list)
        or len(shape) > MAX_AXES
        or not all(type(n) is int and 0 <= n < MAX_AXIS for n in shape)
    ):
        raise EncodeError("an array with a malformed shape")
    dt = np.dtype(dtype)
    if len(blob) != math.prod(shape) * dt.itemsize:
        raise EncodeError("an array whose data does not match its shape")
    return np.frombuffer(blob, dtype=dt).reshape(shape)


def _type_name(obj: Any) -> str:
    cls = type(obj)
    module = cls.__module__
    return cls.__qualname__ if module == "builtins" else f"{module}.{cls.__qualname__}"


class Encoder:
    """Turns a value into JSON nodes plus blobs.

    ``on_other`` decides what happens to values that are not plain data: the worker registers a
    handle, the grading process encodes functions and handles as references.
    """

    def __init__(self, on_other: Callable[[Any], Node], max_bytes: int = 64 * 1024 * 1024):
        self.on_other = on_other
        self.blobs: list[bytes] = []
        self.nodes = 0
        self.bytes = 0
        self.max_bytes = max_bytes

    def encode(self, obj: Any, depth: int = 0) -> Node:
        self.nodes += 1
        if self.nodes > MAX_NODES or depth > MAX_DEPTH:
            raise EncodeError("the value is too large or too deeply nested to send back")
        # Exact type checks: a subclass of int or float could carry its own behaviour.
        if obj is None:
            return {"k": "none"}
        cls = type(obj)
        if cls is bool:
            return {"k": "bool", "v": obj}
        if cls is int:
            return {"k": "int", "v": obj if abs(obj) < 2**63 else str(obj)}
        if cls is float:
            return {"k": "float", "v": obj}
        if cls is str:
            return {"k": "str", "v": obj[:MAX_TEXT], "len": len(obj)}
        if isinstance(obj, np.generic):
            return self._array(np.asarray(obj), _type_name(obj), scalar=True)
        if isinstance(obj, np.ndarray):
            return self._array(obj, _type_name(obj))
        if _is_tensor(cls):
            return self._array(obj.detach().cpu().numpy(), "torch.Tensor")
        if cls in (list, tuple):
            return {
                "k": "list" if cls is list else "tuple",
                "items": [self.encode(item, depth + 1) for item in obj],
            }
        if cls is dict and all(type(key) is str for key in obj):
            return {"k": "dict", "items": {key: self.encode(val, depth + 1) for key, val in obj.items()}}
        return self.on_other(obj)

    def _array(self, array: np.ndarray[Any, Any], type_name: str, scalar: bool = False) -> Node:
        plain = np.array(array, copy=True, subok=False)
        if plain.dtype.kind not in "biuf":
            return {"k": "other", "type": f"{type_name} of dtype {plain.dtype}"}
        if plain.dtype.kind == "f" and plain.dtype.itemsize > 8:
            # np.longdouble: the grading process compares in float64 anyway.
            plain = plain.astype(np.float64)
        # Counted as the float64 numbers the grading process will hold, so that the worker refuses
        # what the grading process would refuse before sending it.
        self.bytes += plain.size * 8
        if self.bytes > self.max_bytes:
            raise EncodeError("the value is too large to send back")
        node, data = _array_node(plain)
        self.blobs.append(data)
        return {"k": "array", "blob": len(self.blobs) - 1, "type": type_name, "scalar": scalar, **node}


def decode_plain(node: Any, blobs: Sequence[Blob], on_special: Callable[[Node], Any], depth: int = 0) -> Any:
    """Decode nodes into Python/NumPy values (used by the worker for the grader's arguments)."""
    if not isinstance(node, dict) or depth > MAX_DEPTH:
        raise EncodeError("malformed value")
    kind = node.get("k")
    if kind == "none":
        return None
    if kind in ("bool", "float", "str"):
        return node["v"]
    if kind == "int":
        return int(node["v"])
    if kind == "array":
        array = load_array(node, blobs[node["blob"]]).copy()  # writable: student code may modify it
        return array[()] if node.get("scalar") else array
    if kind in ("list", "tuple"):
        items = [decode_plain(item, blobs, on_special, depth + 1) for item in node["items"]]
        return items if kind == "list" else tuple(items)
    if kind == "dict":
        return {key: decode_plain(val, blobs, on_special, depth + 1) for key, val in node["items"].items()}
    return on_special(node)


@dataclass(frozen=True)
class Value:
    """What a student's code returned, as data the grading process owns.

    ``kind`` is one of: ``number`` (a Python or NumPy scalar), ``array``, ``bool``, ``none``,
    ``text``, ``sequence``, ``mapping``, ``handle`` (an object left in the worker), ``other``.
    ``array`` is a fresh float64 ndarray for numbers, bools and arrays; ``type_name`` and ``dtype``
    describe what the student actually returned, for feedback.
    """

    kind: str
    type_name: str
    array: np.ndarray[Any, Any] | None = None
    dtype: str | None = None
    items: tuple[Value, ...] = ()
    keys: tuple[str, ...] = ()
    text: str | None = None
    handle: int | None = None

    def describe(self) -> str:
        if self.kind == "none":
            return "None"
        if self.kind == "array" and self.array is not None:
            return f"{self.type_name} with shape {tuple(self.array.shape)} and dtype {self.dtype}"
        if self.kind in ("number", "bool"):
            return self.type_name
        if self.kind == "sequence":
            return f"{self.type_name} of {len(self.items)} items"
        return self.type_name


_INT_TEXT = re.compile(r"-?[0-9]{1,5000}")


def _text(node: Node, key: str, default: str, limit: int) -> str:
    value = node.get(key, default)
    if not isinstance(value, str):
        raise EncodeError(f"malformed {key}")
    return value[:limit]


def _number(kind: str, raw: Any) -> float:
    if kind == "float":
        if type(raw) not in (int, float):
            raise EncodeError("malformed number")
        try:
            return float(raw)
        except OverflowError:  # an integer beyond float range: its sign survives, as infinity
            return math.inf if raw > 0 else -math.inf
    if type(raw) is int:
        try:
            return float(raw)
        except OverflowError:  # an integer beyond float range: its sign survives, as infinity
            return math.inf if raw > 0 else -math.inf
    if type(raw) is not str or not _INT_TEXT.fullmatch(raw):
        raise EncodeError("malformed integer")
    digits = raw.lstrip("-")
    if len(digits.lstrip("0")) > 309:  # beyond float range whatever the digits: only the sign survives
        return -math.inf if raw.startswith("-") else math.inf
    return float(int(raw))


class Decoder:
    """Strictly decodes what the worker sent, within a budget counted AFTER widening to float64.

    The budget is what the grading process will hold: a 1-byte bool costs 8 bytes here, and a blob
    may back only one node (twenty nodes on one blob would cost twenty copies).
    """

    def __init__(self, blobs: Sequence[Blob], max_bytes: int, max_nodes: int = MAX_NODES):
        self.blobs = blobs
        self.max_bytes = max_bytes
        self.max_nodes = max_nodes
        self.nodes = 0
        self.bytes = 0
        self.used: set[int] = set()

    def decode(self, node: Any, depth: int = 0) -> Value:
        self.nodes += 1
        if self.nodes > self.max_nodes:
            raise EncodeError("an answer with too many parts")
        if not isinstance(node, dict) or depth > MAX_DEPTH:
            raise EncodeError("malformed value")
        kind = node.get("k")
        if kind == "none":
            return Value("none", "NoneType")
        if kind == "bool":
            if type(node.get("v")) is not bool:
                raise EncodeError("malformed bool")
            return Value("bool", "bool", np.array(float(node["v"])), "bool")
        if kind in ("int", "float"):
            return Value("number", kind, np.array(_number(kind, node.get("v")), dtype=np.float64), kind)
        if kind == "array":
            return self._array(node)
        if kind in ("list", "tuple"):
            items = node.get("items")
            if not isinstance(items, list):
                raise EncodeError("malformed sequence")
            return Value("sequence", kind, items=tuple(self.decode(i, depth + 1) for i in items))
        if kind == "dict":
            items = node.get("items")
            if not isinstance(items, dict):
                raise EncodeError("malformed mapping")
            return Value(
                "mapping",
                "dict",
                keys=tuple(k[:200] for k in items),
                items=tuple(self.decode(v, depth + 1) for v in items.values()),
            )
        if kind == "str":
            return Value("text", "str", text=_text(node, "v", "", MAX_TEXT))
        if kind == "handle":
            handle = node.get("id")
            if type(handle) is not int or not 0 < handle < 2**31:
                raise EncodeError("malformed handle")
            return Value("handle", _text(node, "type", "object", 100), handle=handle)
        if kind == "other":
            return Value("other", _text(node, "type", "object", 200))
        raise EncodeError("an unknown kind of value")

    def _array(self, node: Node) -> Value:
        index = node.get("blob")
        if type(index) is not int or not 0 <= index < len(self.blobs):
            raise EncodeError("malformed array reference")
        if index in self.used:
            raise EncodeError("an array sent twice")
        self.used.add(index)
        scalar = node.get("scalar", False)
        if type(scalar) is not bool:
            raise EncodeError("malformed array")
        type_name = _text(node, "type", "numpy.ndarray", 100)
        raw = load_array(node, self.blobs[index])
        self.bytes += raw.size * 8
        if self.bytes > self.max_bytes:
            raise EncodeError(
                f"an answer larger than {self.max_bytes // (1024 * 1024)} MB as float64 numbers"
            )
        fresh = np.array(raw, dtype=np.float64, copy=True)
        if scalar:
            if fresh.size != 1:
                raise EncodeError("a scalar with more than one value")
            return Value("number", type_name, fresh.reshape(()), str(raw.dtype))
        return Value("array", type_name, fresh, str(raw.dtype))


def decode_value(node: Any, blobs: Sequence[Blob], max_bytes: int = 64 * 1024 * 1024) -> Value:
    """Strictly decode what the worker sent; anything unexpected raises EncodeError."""
    return Decoder(blobs, max_bytes).decode(node)

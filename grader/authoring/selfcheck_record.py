"""Visible tests as data: each is run against a recording student, and every
``expect(student.fn, ...)`` with its checks is written down (see :mod:`grader.authoring.selfcheck`).

Only files named ``test_public*`` are ever imported here (:class:`SelfCheckError` otherwise).
"""

from __future__ import annotations

import importlib.util
import math
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any, Literal, TypeAlias, TypedDict

import numpy as np

from ..config import Assignment
from ..errors import GraderError
from ..testing import Builtin, Handle, explaining
from ..testing.outcomes import planned
from ..testing.structure import is_structured, map_leaves

PUBLIC_PREFIX = "test_public"

# What a notebook can rebuild: plain JSON, with arrays, tuples and functions as tagged objects.
JSON: TypeAlias = "bool | int | float | str | list[JSON] | dict[str, JSON] | None"


class EqualCheck(TypedDict):
    kind: Literal["equal"]
    expected: JSON
    rtol: float
    atol: float
    hint: str
    overflow: str  # how an overflow warning is named on a wrong answer ({warning} stands for it)
    likely: list[list[JSON]]  # [message, the answer that mistake gives]
    names: list[str]  # the parts of a tuple answer, for messages


class ShapeCheck(TypedDict):
    kind: Literal["shape"]
    shape: list[int]
    hint: str


class PlainCheck(TypedDict):
    kind: Literal["number", "unchanged"]


Check: TypeAlias = "EqualCheck | ShapeCheck | PlainCheck"
# A method of an object the check builds first, e.g. CNN(11).forward.
Construct = TypedDict("Construct", {"class": str, "args": JSON, "kwargs": JSON, "method": str})


class RecordedCall(TypedDict):
    """One ``expect(student.fn, ...)`` of a visible test, and what its checks want."""

    function: str
    args: JSON
    kwargs: JSON
    checks: list[Check]
    hint: str  # ends a failure that names no likely mistake (on_failure)
    consistent: list[list[JSON]]  # [helper name, its args, its right answer, the offset, the scale]
    construct: Construct | None
    raise_notes: list[list[Any]]  # [words, note], the first that applies follows a raise (on_raise)


class RecordedTest(TypedDict):
    label: str
    number: str | None
    name: str
    function: str
    points: float
    calls: list[RecordedCall]


class SelfCheckError(GraderError, ValueError):
    """A visible test cannot be turned into a self-check (it uses a check the notebook cannot repeat)."""


# ---- recording -----------------------------------------------------------------------------------
class _Function:
    """``student.fn`` while recording: a name, and a call that builds a model for ``CNN(...)``."""

    def __init__(self, name: str):
        self.name = name

    def __call__(self, *args: Any, **kwargs: Any) -> _Constructed:
        if self.name[:1].isupper():  # a class of the contract: the self-check builds it the same way
            return _Constructed(self.name, args, kwargs)
        raise SelfCheckError(
            f"a visible test calls student.{self.name}(...) directly; use expect(student.{self.name}, ...)"
        )


class _Constructed(Handle):
    """``student.CNN(11)`` while recording: only its forward pass can be checked in a notebook.
    A Handle, so that the tests' own ``isinstance(model, Handle)`` checks pass."""

    def __init__(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]):
        # No worker: nothing of Handle's is set up.
        self.name, self.args, self.kwargs = name, args, kwargs
        self.label = f"{name}({', '.join(map(repr, args))})"
        self.type_name = name

    @property
    def forward(self) -> _Method:  # type: ignore[override]  # recorded, not run
        return _Method(self, "forward")

    def __getattr__(self, name: str) -> Any:
        raise SelfCheckError(f"the self-check cells cannot repeat {name}() of a model in a visible test")


class _Method:
    def __init__(self, owner: _Constructed, method: str):
        self.owner, self.method = owner, method
        self.name = f"{owner.label}.{method}"


class _Model:
    def __init__(self, layers: list[Any]):
        self.layers = layers


class _Student:
    def __getattr__(self, name: str) -> _Function:
        if name.startswith("__"):
            raise AttributeError(name)
        return _Function(name)

    def build_model(self, layers: list[Any]) -> _Model:
        return _Model(layers)


class _Expectation:
    """Stands for :class:`grader.testing.Expectation`: the checks are written down, and each returns
    what a right answer returns, so a test's later lines run as they do for a right answer."""

    def __init__(self, log: list[RecordedCall], fn: Any, args: tuple[Any, ...], kwargs: dict[str, Any]):
        if not isinstance(fn, (_Function, _Method)):
            raise SelfCheckError("a visible test checks something other than a student function")
        # The words the test's on_raise and on_failure blocks add around this call, replayed as such.
        notes = explaining.active()
        self.call = RecordedCall(
            function=fn.name,
            args=_encode(list(args)),
            kwargs=_encode(dict(kwargs)),
            checks=[],
            hint=notes.hint,
            consistent=[],
            construct=None,
            raise_notes=[[list(n.words), n.note] for n in notes.raised],
        )
        if isinstance(fn, _Method):
            self.call["construct"] = {
                "class": fn.owner.name,
                "args": _encode(list(fn.owner.args)),
                "kwargs": _encode(dict(fn.owner.kwargs)),
                "method": fn.method,
            }
        log.append(self.call)

    def to_equal(
        self,
        expected: Any,
        *,
        rtol: float = 1e-5,
        atol: float = 1e-7,
        likely: Mapping[str, Any] | None = None,
        shape_hint: str | Callable[[tuple[int, ...]], str] | None = None,
        helpers: Iterable[Any] = (),
        names: Sequence[str] | None = None,
        consistent: Iterable[Sequence[Any]] = (),
        overflow: str = "",
    ) -> Any:
        structured = is_structured(expected)
        if names is not None and (not isinstance(expected, (tuple, list)) or len(names) != len(expected)):
            raise SelfCheckError(
                f"names={tuple(names)!r} does not name the parts of the expected answer "
                f"({len(expected) if isinstance(expected, (tuple, list)) else 'not a tuple or list'})"
            )
        want: Any = (
            map_leaves(lambda leaf: np.asarray(leaf, dtype=np.float64), expected)
            if structured
            else np.asarray(expected, dtype=np.float64)
        )
        hint = ""
        if callable(shape_hint) and not structured:
            hint = shape_hint(want.shape)
        elif isinstance(shape_hint, str):
            hint = shape_hint
        self.call["checks"].append(
            {
                "kind": "equal",
                "expected": _encode(expected),
                "rtol": rounded(float(rtol)),
                "atol": rounded(float(atol)),
                "hint": hint,
                "overflow": overflow,
                "likely": [[text, _encode(value)] for text, value in (likely or {}).items()],
                "names": list(names or []),
            }
        )
        self.call["consistent"] += [_affine(*chance) for chance in consistent]
        return want

    def to_have_shape(self, shape: Sequence[int], hint: str = "") -> np.ndarray:
        self.call["checks"].append({"kind": "shape", "shape": list(shape), "hint": hint})
        return np.zeros(shape)

    def to_be_a_number(self) -> float:
        self.call["checks"].append({"kind": "number"})
        return 0.0

    def to_leave_inputs_unchanged(self) -> None:
        self.call["checks"].append({"kind": "unchanged"})

    def __getattr__(self, name: str) -> Any:
        raise SelfCheckError(f"the self-check cells cannot repeat the check {name}() of a visible test")


# Significant digits of a float written into a handout. The checks compare with rtol 1e-5, so more
# digits add nothing, and fewer make the handout the same bytes on every machine: the oracle's
# last digits depend on the CPU's BLAS kernel, NumPy's SIMD dispatch and the thread count.
DIGITS = 12


def rounded(number: Any) -> Any:
    """``number`` with at most DIGITS significant digits if it is a float (nan and inf as they are)."""
    if isinstance(number, float) and math.isfinite(number):
        return float(f"{number:.{DIGITS}g}")
    return number


def _affine(helper: Any, args: Sequence[Any], right: Any, expected_from: Callable[[Any], Any]) -> list[JSON]:
    """A ``consistent`` chance as data a notebook can use: ``expected_from`` is written down as the
    offset and scale of a map applied part by part (``own * scale + offset``), measured at zeros and
    ones shaped like the helper's right answer. The maps tests use (adding a constant, a gradient
    step) are of that form."""
    zeros = map_leaves(lambda leaf: np.zeros_like(np.asarray(leaf, dtype=np.float64)), right)
    ones = map_leaves(lambda leaf: np.ones_like(np.asarray(leaf, dtype=np.float64)), right)
    offset = expected_from(zeros)
    scale = _subtract(expected_from(ones), offset)
    return [helper.name, _encode(list(args)), _encode(right), _encode(offset), _encode(scale)]


def _subtract(a: Any, b: Any) -> Any:
    if isinstance(a, dict):
        return {key: _subtract(a[key], b[key]) for key in a}
    if is_structured(a):
        parts = [_subtract(x, y) for x, y in zip(a, b)]
        return tuple(parts) if isinstance(a, tuple) else parts
    return np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)


def _encode(value: Any) -> JSON:
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "biuf":
            raise SelfCheckError(f"an array of dtype {value.dtype} in a visible test")
        numbers = [rounded(v) for v in value.ravel().tolist()]
        return {"array": numbers, "dtype": str(value.dtype), "shape": list(value.shape)}
    if isinstance(value, np.generic):
        return {"scalar": rounded(value.item()), "dtype": str(value.dtype)}
    if isinstance(value, Builtin):
        return {"builtin": value.name}
    if isinstance(value, np.ufunc):
        return {"numpy": value.__name__}
    if isinstance(value, _Function):
        return {"student": value.name}
    if isinstance(value, _Model):
        return {"model": _encode(value.layers)}
    if isinstance(value, tuple):
        return {"tuple": [_encode(v) for v in value]}
    if isinstance(value, list):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _encode(v) for k, v in value.items()}
    if isinstance(value, float):
        return float(rounded(value))
    if value is None or isinstance(value, (bool, int, str)):
        return value
    raise SelfCheckError(f"a visible test passes {type(value).__name__}, which a notebook cannot rebuild")


def _test_error(exc: BaseException, path: Path) -> str:
    """An exception of a test's own code, with the line of the test file it came from."""
    import traceback

    frames = [
        f for f in traceback.extract_tb(exc.__traceback__) if Path(f.filename).resolve() == path.resolve()
    ]
    at = f" at line {frames[-1].lineno}: {frames[-1].line}" if frames else ""
    return f"{type(exc).__name__}: {exc}{at}"


def _public_files(spec: Assignment) -> list[Path]:
    return sorted(p for p in spec.tests_dir.glob("*.py") if p.name.startswith(PUBLIC_PREFIX))


def load_visible(path: Path, log: list[RecordedCall]) -> ModuleType:
    """Import one visible test file with expect and the student replaced by recorders."""
    if not path.name.startswith(PUBLIC_PREFIX):
        raise SelfCheckError(f"{path.name} is not a visible test: the self-checks never use hidden tests")
    from .. import testing

    def recording(fn: Any, *args: Any, **kwargs: Any) -> _Expectation:
        return _Expectation(log, fn, args, kwargs)

    saved = testing.expect
    testing.expect = recording  # type: ignore[assignment]  # a stand-in, checks written down
    try:
        return load_module(path, prefix="_selfcheck_")
    finally:
        testing.expect = saved


def load_module(path: Path, prefix: str = "_tests_") -> ModuleType:
    """Import a test file by path with its folder's helpers and oracle, and forget them afterwards
    (a grading run must not reuse modules imported here)."""
    spec_dir = path.parent
    _forget(spec_dir)  # helpers imported by an earlier run may hold another expect
    sys.path.insert(0, str(spec_dir))
    try:
        module_spec = importlib.util.spec_from_file_location(f"{prefix}{path.stem}", path)
        if module_spec is None or module_spec.loader is None:
            raise SelfCheckError(f"{path.name} cannot be imported")
        module = importlib.util.module_from_spec(module_spec)
        module_spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(spec_dir))
        _forget(spec_dir)


def _forget(folder: Path) -> None:
    for name, module in list(sys.modules.items()):
        if str(getattr(module, "__file__", "") or "").startswith(str(folder.resolve())):
            del sys.modules[name]


def record(spec: Assignment) -> list[RecordedTest]:
    """Every visible test of ``spec`` as data: label, points, function and the calls with their checks."""
    tests: list[RecordedTest] = []
    for path in _public_files(spec):
        log: list[RecordedCall] = []
        module = load_visible(path, log)
        for name, fn in vars(module).items():
            if not (name.startswith("test_") and callable(fn)):
                continue
            start = len(log)
            line = getattr(getattr(fn, "__code__", None), "co_firstlineno", "?")
            where = f"{path.parent.name}/{path.name}, line {line}, {name}"
            planned_test = planned(fn, path.name, name)  # name, points and function, as grading reads them
            if planned_test.function is None:
                raise SelfCheckError(
                    f"{where}: its docstring's first line must start with the function it checks, "
                    f'e.g. """relu: negatives become 0""" (the self-check cell of that function runs it)'
                )
            try:
                fn(_Student())
            except SelfCheckError as exc:
                raise SelfCheckError(
                    f"{where}: {exc}. A visible test is also the notebook's self-check, so it may only use "
                    "what the notebook can repeat (docs/authoring.md, 'What a visible test may use'); move "
                    "this check into a hidden test file"
                ) from None
            except Exception as exc:  # a mistake in the test itself: say where, not a traceback
                raise SelfCheckError(f"{where} raised {_test_error(exc, path)}") from None
            number, doc = planned_test.number, planned_test.name
            tests.append(
                {
                    "label": f"{number} {doc}" if number else doc,
                    "number": number,
                    "name": doc,
                    "function": planned_test.function,
                    "points": planned_test.max_score,
                    "calls": log[start:],
                }
            )
    return tests

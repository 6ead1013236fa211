"""Self-check cells from the visible tests: one set of checks, run in two places.

The instructor writes the visible tests once, as pytest files (``test_public*.py``). At build time
each visible test is run against a *recording* student: every ``expect(student.fn, ...)`` call and
its checks (``to_equal`` with its expected value, tolerances, likely-mistake answers and shape
hint, ``to_be_a_number``, ``to_leave_inputs_unchanged``) are written down as plain data. Those
values come from the oracle, computed here, so the notebook never holds the oracle. The handed-out
notebook gets that data and a small checking cell (:mod:`grader.selfcheck_runtime`, NumPy only)
that repeats each call on the student's own function and words the outcome as the Gradescope
feedback of the same visible test does.

Only files named ``test_public*`` are ever run or read here (:class:`SelfCheckError` otherwise),
so nothing of a hidden test reaches a notebook; the hidden tests contribute only their number and
points per function (read from their source, never run).
"""

from __future__ import annotations

import ast
import importlib.util
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .config import Assignment
from .errors import GraderError
from .sandbox.imports import ENGINE_HEADER
from .testing.proxy import Handle

PUBLIC_PREFIX = "test_public"
ENGINE_TAG = "selfcheck-engine"  # the cell that receives the checking code and the data
RUNTIME = Path(__file__).with_name("selfcheck_runtime.py")
KIT_HIDDEN = "hidden_tests.json"  # in a student kit: how many hidden tests there are, and their points


class SelfCheckError(GraderError, ValueError):
    """A visible test cannot be turned into a self-check (it uses a check the notebook cannot repeat)."""


@dataclass
class HiddenTotal:
    count: int = 0
    points: float = 0.0


# ---- recording -----------------------------------------------------------------------------------
class _Function:
    """``student.fn`` while recording: a name, and a call that builds a model for ``CNN(...)``."""

    def __init__(self, name: str):
        self.name = name

    def __call__(self, *args, **kwargs):
        if self.name[:1].isupper():  # a class of the contract: the self-check builds it the same way
            return _Constructed(self.name, args, kwargs)
        raise SelfCheckError(
            f"a visible test calls student.{self.name}(...) directly; use expect(student.{self.name}, ...)"
        )


class _Constructed(Handle):
    """``student.CNN(11)`` while recording: only its forward pass can be checked in a notebook."""

    def __init__(self, name: str, args: tuple, kwargs: dict):  # no worker: nothing of Handle's is set up
        self.name, self.args, self.kwargs = name, args, kwargs
        self.label = f"{name}({', '.join(map(repr, args))})"
        self.type_name = name

    @property
    def forward(self) -> _Method:
        return _Method(self, "forward")

    def __getattr__(self, name):
        raise SelfCheckError(f"the self-check cells cannot repeat {name}() of a model in a visible test")


class _Method:
    def __init__(self, owner: _Constructed, method: str):
        self.owner, self.method = owner, method
        self.name = f"{owner.label}.{method}"


class _Model:
    def __init__(self, layers: list):
        self.layers = layers


class _Student:
    def __getattr__(self, name: str) -> _Function:
        if name.startswith("__"):
            raise AttributeError(name)
        return _Function(name)

    def build_model(self, layers: list) -> _Model:
        return _Model(layers)


@dataclass
class _Recorded:
    function: str
    args: list
    kwargs: dict
    checks: list = field(default_factory=list)
    hint: str = ""
    consistent: list = field(default_factory=list)
    construct: dict | None = None  # a method of an object the check builds, e.g. CNN(11).forward
    raise_notes: list = field(default_factory=list)


class _Expectation:
    """Stands for :class:`grader.testing.Expectation`: the checks are written down, and each returns
    what a right answer returns, so a test's later lines run as they do for a right answer."""

    def __init__(self, log: list, fn: Any, args: tuple, kwargs: dict):
        if not isinstance(fn, (_Function, _Method)):
            raise SelfCheckError("a visible test checks something other than a student function")
        self.overflow = ""
        self.call = _Recorded(fn.name, _encode(list(args)), _encode(dict(kwargs)))
        if isinstance(fn, _Method):
            self.call.construct = {
                "class": fn.owner.name,
                "args": _encode(list(fn.owner.args)),
                "kwargs": _encode(dict(fn.owner.kwargs)),
                "method": fn.method,
            }
        log.append(self.call)

    def to_equal(self, expected, *, rtol=1e-5, atol=1e-7, likely=None, shape_hint=None, helpers=()):
        want = np.asarray(expected, dtype=np.float64)
        hint = shape_hint(want.shape) if callable(shape_hint) else (shape_hint or "")
        self.call.checks.append(
            {
                "kind": "equal",
                "expected": _encode(expected),
                "rtol": float(rtol),
                "atol": float(atol),
                "hint": hint,
                "overflow": self.overflow,
                "likely": [[text, _encode(value)] for text, value in (likely or {}).items()],
            }
        )
        return want

    def explain_raise(self, patterns: tuple, note: str):
        """When the call raises with one of ``patterns`` in its message, ``note`` follows it."""
        self.call.raise_notes.append([list(patterns), note])

    def to_have_shape(self, shape, hint=""):
        self.call.checks.append({"kind": "shape", "shape": list(shape), "hint": hint})
        return np.zeros(shape)

    def record_options(self, *, hint: str = "", consistent=()):
        """A wrapper's extras, repeated by the self-checks: ``hint`` ends a message that names no
        likely mistake; ``consistent`` lists ``(helper name, args, its right answer, offset)``: an
        answer equal to the student's own wrong helper's answer plus the offset passes (the helper's
        own tests take the points)."""
        self.call.hint = hint
        self.call.consistent = [
            [name, _encode(list(args)), _encode(want), _encode(offset)]
            for name, args, want, offset in consistent
        ]

    def explain_overflow(self, template: str):
        """On a wrong answer, the overflow warning the call raised is named with ``template``
        (``{warning}`` stands for it), as the visible test's own wrapper does on Gradescope."""
        self.overflow = template

    def to_be_a_number(self):
        self.call.checks.append({"kind": "number"})
        return 0.0

    def to_leave_inputs_unchanged(self):
        self.call.checks.append({"kind": "unchanged"})

    def __getattr__(self, name):
        raise SelfCheckError(f"the self-check cells cannot repeat the check {name}() of a visible test")


def _encode(value: Any) -> Any:
    from .testing import Builtin

    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "biuf":
            raise SelfCheckError(f"an array of dtype {value.dtype} in a visible test")
        return {"array": value.ravel().tolist(), "dtype": str(value.dtype), "shape": list(value.shape)}
    if isinstance(value, np.generic):
        return {"scalar": value.item(), "dtype": str(value.dtype)}
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
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise SelfCheckError(f"a visible test passes {type(value).__name__}, which a notebook cannot rebuild")


def _public_files(spec: Assignment) -> list[Path]:
    return sorted(p for p in spec.tests_dir.glob("*.py") if p.name.startswith(PUBLIC_PREFIX))


def _load(path: Path, log: list):
    """Import one visible test file with expect and the student replaced by recorders."""
    if not path.name.startswith(PUBLIC_PREFIX):
        raise SelfCheckError(f"{path.name} is not a visible test: the self-checks never use hidden tests")
    from . import testing

    saved = testing.expect
    testing.expect = lambda fn, *args, **kwargs: _Expectation(log, fn, args, kwargs)
    spec_dir = path.parent
    _forget(spec_dir)  # helpers imported by an earlier grading run hold the real expect
    sys.path.insert(0, str(spec_dir))
    try:
        module_spec = importlib.util.spec_from_file_location(f"_selfcheck_{path.stem}", path)
        module = importlib.util.module_from_spec(module_spec)
        module_spec.loader.exec_module(module)
        return module
    finally:
        testing.expect = saved
        sys.path.remove(str(spec_dir))
        # The oracle and helpers were imported with the recording expect: a grading run must not reuse them.
        _forget(spec_dir)


def _forget(folder: Path) -> None:
    for name, module in list(sys.modules.items()):
        if str(getattr(module, "__file__", "") or "").startswith(str(folder.resolve())):
            del sys.modules[name]


def record(spec: Assignment) -> list[dict]:
    """Every visible test of ``spec`` as data: label, points, function and the calls with their checks."""
    tests = []
    for path in _public_files(spec):
        log: list[_Recorded] = []
        module = _load(path, log)
        for name, fn in vars(module).items():
            if not (name.startswith("test_") and callable(fn)):
                continue
            start = len(log)
            fn(_Student())
            doc = (fn.__doc__ or name).strip().splitlines()[0].strip()
            number = getattr(fn, "__number__", None)
            tests.append(
                {
                    "label": f"{number} {doc}" if number else doc,
                    "number": number,
                    "name": doc,
                    "function": doc.split(":", 1)[0].strip(),
                    "points": float(getattr(fn, "__weight__", 1.0)),
                    "calls": [vars(call) for call in log[start:]],
                }
            )
    return tests


# ---- hidden totals --------------------------------------------------------------------------------
def hidden_totals(tests_dir: Path) -> dict[str, HiddenTotal]:
    """Number and points of the hidden tests per function, read from their source (never run)."""
    totals: dict[str, HiddenTotal] = {}
    for path in sorted(tests_dir.glob("test*.py")):
        if path.name.startswith(PUBLIC_PREFIX):
            continue
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if not (isinstance(node, ast.FunctionDef) and node.name.startswith("test")):
                continue
            weight = 1.0
            for deco in node.decorator_list:
                if isinstance(deco, ast.Call) and getattr(deco.func, "id", None) == "weight" and deco.args:
                    weight = float(ast.literal_eval(deco.args[0]))
            doc = (ast.get_docstring(node) or node.name).strip().splitlines()[0]
            function = doc.split(":", 1)[0].strip() if ":" in doc else ""
            total = totals.setdefault(function, HiddenTotal())
            total.count += 1
            total.points += weight
    return totals


def hidden_total(tests_dir: Path) -> tuple[int, float]:
    """All hidden tests: from their source where they are, else from the student kit's record of them."""
    kit = tests_dir / KIT_HIDDEN
    if kit.is_file():
        data = json.loads(kit.read_text(encoding="utf-8"))
        return int(data["count"]), float(data["points"])
    totals = hidden_totals(tests_dir).values()
    return sum(t.count for t in totals), sum(t.points for t in totals)


def hidden_sentence(count: int, points: float) -> str:
    return (
        f"{count} more test{'s' if count != 1 else ''} worth {points:g} point{'s' if points != 1 else ''} "
        "run after the deadline."
    )


# ---- the notebook ---------------------------------------------------------------------------------
def engine_source(spec: Assignment) -> str:
    """The checking cell: the runtime, the recorded visible tests and the hidden totals."""
    tests = record(spec)
    hidden = {name: [t.count, t.points] for name, t in hidden_totals(spec.tests_dir).items()}
    data = ",\n".join(json.dumps(test, ensure_ascii=False, separators=(",", ":")) for test in tests)
    runtime = RUNTIME.read_text(encoding="utf-8").split('"""', 2)[2].lstrip("\n")
    count, points = sum(v[0] for v in hidden.values()), sum(v[1] for v in hidden.values())
    return "\n".join(
        [
            f"{ENGINE_HEADER} run this cell once. It holds the visible tests of this assignment (the",
            "# same checks, and the same messages, as the visible tests on Gradescope). Do not edit it.",
            f"# {hidden_sentence(count, points)}",
            "import json as _json",
            "",
            runtime.rstrip("\n"),
            "",
            f"_TESTS = _json.loads(r'''[\n{data}\n]''')",
            f"_HIDDEN = {{k: tuple(v) for k, v in _json.loads(r'''{json.dumps(hidden)}''').items()}}",
            f"print('Self-checks ready: {len(tests)} visible tests. {hidden_sentence(count, points)}')",
        ]
    )


def fill(spec: Assignment, cells: list[dict]) -> list[dict]:
    """The stub's cells with the engine cell (tagged ``selfcheck-engine``) filled in; a thin hook for
    ``grader build``. A notebook without such a cell is left as it is."""
    engines = [c for c in cells if ENGINE_TAG in c.get("metadata", {}).get("tags", [])]
    if not engines:
        return cells
    if len(engines) > 1:
        raise SelfCheckError(f"{spec.name}: more than one cell is tagged {ENGINE_TAG!r}")
    engines[0]["source"] = engine_source(spec)
    return cells


# ---- the student kit ------------------------------------------------------------------------------
KIT_TESTS = "selfcheck_tests.json"
KIT_TEMPLATE = Path(__file__).with_name("templates") / "test_public_kit.py"


def write_student_kit(spec: Assignment, stub: dict, out: Path) -> Path:
    """A folder students may have: ``out/<name>/`` with the notebook, assignment.toml and tests that
    replay the recorded visible tests (no oracle, no solution, no hidden test), plus the hidden
    tests' number and points. ``grader --solutions out check NOTEBOOK`` runs them."""
    from .authoring import render

    root = out / spec.name
    tests = root / "tests"
    tests.mkdir(parents=True, exist_ok=True)
    (root / spec.notebook).write_text(render(stub), encoding="utf-8")
    (root / "assignment.toml").write_text(
        (spec.root / "assignment.toml").read_text(encoding="utf-8"), encoding="utf-8"
    )
    (tests / f"{PUBLIC_PREFIX}_{spec.name}.py").write_text(
        KIT_TEMPLATE.read_text(encoding="utf-8"), encoding="utf-8"
    )
    (tests / KIT_TESTS).write_text(json.dumps(record(spec), ensure_ascii=False) + "\n", encoding="utf-8")
    count, points = hidden_total(spec.tests_dir)
    (tests / KIT_HIDDEN).write_text(json.dumps({"count": count, "points": points}) + "\n", encoding="utf-8")
    return root

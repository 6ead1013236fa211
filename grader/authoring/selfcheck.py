"""Self-check cells from the visible tests: one set of checks, run in two places.

The instructor writes the visible tests once, as pytest files (``test_public*.py``). At build time
each visible test is run against a *recording* student: every ``expect(student.fn, ...)`` call and
its checks (``to_equal`` with its expected value, tolerances, likely-mistake answers and shape
hint, ``to_be_a_number``, ``to_leave_inputs_unchanged``) are written down as plain data. Those
values come from the oracle, computed here, so the notebook never holds the oracle. The handed-out
notebook gets that data and a small checking cell (:mod:`grader.authoring.selfcheck_runtime`, NumPy only)
that repeats each call on the student's own function and words the outcome as the Gradescope
feedback of the same visible test does.

Only files named ``test_public*`` are ever run or read here (:class:`SelfCheckError` otherwise),
so nothing of a hidden test reaches a notebook; the hidden tests contribute only their number and
points per function (read from their source, never run).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from ..config import Assignment
from ..grading.messages import hidden_sentence
from ..notebook.self_checks import ENGINE_HEADER, engine_function
from ..testing.outcomes import planned
from .handout import NotebookJson, StubCell, render
from .selfcheck_record import PUBLIC_PREFIX, SelfCheckError, load_module, record

__all__ = [
    "ENGINE_TAG",
    "KIT_HIDDEN",
    "KIT_TESTS",
    "HiddenTotal",
    "SelfCheckError",
    "build_notes",
    "engine_source",
    "fill",
    "hidden_sentence",
    "hidden_total",
    "hidden_totals",
    "missing_engine",
    "record",
    "write_student_kit",
]

ENGINE_TAG = "selfcheck-engine"  # the cell that receives the checking code and the data
RUNTIME = Path(__file__).with_name("selfcheck_runtime.py")
KIT_HIDDEN = "hidden_tests.json"  # in a student kit: how many hidden tests there are, and their points


@dataclass
class HiddenTotal:
    count: int = 0
    points: float = 0.0


# ---- hidden totals --------------------------------------------------------------------------------
def hidden_totals(tests_dir: Path) -> dict[str, HiddenTotal]:
    """Number and points of the hidden tests per function: the tests Gradescope shows only when
    grades are published (every visibility but "visible"), counted as grading counts them, from
    the test functions' own attributes. The modules are imported, never run."""
    totals: dict[str, HiddenTotal] = {}
    for path in sorted(tests_dir.glob("test*.py")):
        for name, fn in vars(load_module(path)).items():
            if not (name.startswith("test") and callable(fn)):
                continue
            planned_test = planned(fn, path.name, name)
            if planned_test.visibility == "visible":
                continue
            total = totals.setdefault(planned_test.function or "", HiddenTotal())
            total.count += 1
            total.points += planned_test.max_score
    return totals


def hidden_total(tests_dir: Path) -> tuple[int, float]:
    """All hidden tests: from their source where they are, else from the student kit's record of them."""
    kit = tests_dir / KIT_HIDDEN
    if kit.is_file():
        data = json.loads(kit.read_text(encoding="utf-8"))
        return int(data["count"]), float(data["points"])
    totals = hidden_totals(tests_dir).values()
    return sum(t.count for t in totals), sum(t.points for t in totals)


# ---- the notebook ---------------------------------------------------------------------------------
def engine_source(spec: Assignment) -> str:
    """The checking cell: the runtime, the recorded visible tests and the hidden totals."""
    tests = record(spec)
    hidden = {name: (t.count, t.points) for name, t in hidden_totals(spec.tests_dir).items()}
    data = ",\n".join(json.dumps(test, ensure_ascii=False, separators=(",", ":")) for test in tests)
    count, points = sum(v[0] for v in hidden.values()), sum(v[1] for v in hidden.values())
    # The runtime runs inside one function: its names are that function's, out of the notebook's
    # globals, so a student's own `_np` or `_show` cannot break it. Only selfcheck and summary are
    # defined in the notebook. Grading recognises this cell by that function's text (self_checks).
    return "\n".join(
        [
            f"{ENGINE_HEADER} run this cell once. It holds the visible tests of this assignment (the",
            "# same checks, and the same messages, as the visible tests on Gradescope). Do not edit it.",
            f"# {hidden_sentence(count, points)}",
            engine_function(RUNTIME.read_text(encoding="utf-8")),
            "",
            "",
            "selfcheck, summary = _selfcheck_engine(",
            f"    __import__('json').loads(r'''[\n{data}\n]'''),",
            f"    {{k: tuple(v) for k, v in __import__('json').loads(r'''{json.dumps(hidden)}''').items()}},",
            ")",
            "del _selfcheck_engine",
            f"print('Self-checks ready: {len(tests)} visible tests. {hidden_sentence(count, points)}')",
        ]
    )


def fill(spec: Assignment, cells: list[StubCell]) -> list[StubCell]:
    """The stub's cells with the engine cell (tagged ``selfcheck-engine``) filled in; a thin hook for
    ``grader build``. A notebook without such a cell is left as it is."""
    engines = [c for c in cells if ENGINE_TAG in c.get("metadata", {}).get("tags", [])]
    if not engines:
        return cells
    if len(engines) > 1:
        raise SelfCheckError(f"{spec.name}: more than one cell is tagged {ENGINE_TAG!r}")
    _check_calls(spec, cells)
    engines[0]["source"] = engine_source(spec)
    # Collapsed where the notebook opens: JupyterLab hides the source, Colab shows the @title only.
    engines[0]["metadata"] = {
        **engines[0].get("metadata", {}),
        "jupyter": {"source_hidden": True},
        "cellView": "form",
    }
    return cells


_SELFCHECK_CALL = re.compile(r"""\bselfcheck\(\s*(["'])([^"']*)\1""")


def _check_calls(spec: Assignment, cells: list[StubCell]) -> None:
    """Every ``selfcheck("name", ...)`` of the notebook names a function that has visible tests: a
    typo would leave the student a cell that checks nothing."""
    checked = sorted({test["function"] for test in record(spec)})
    for number, cell in enumerate(cells, start=1):
        if cell.get("cell_type") != "code":
            continue
        for _quote, name in _SELFCHECK_CALL.findall(str(cell.get("source", ""))):
            if name not in checked:
                raise SelfCheckError(
                    f"code cell {number} calls selfcheck({name!r}), but no visible test checks "
                    f"{name!r}; the visible tests check {', '.join(checked) or 'nothing'} (the part of a "
                    "test's docstring before the colon names its function)"
                )


def unchecked_functions(spec: Assignment) -> list[str]:
    """Functions with visible tests that no ``selfcheck(...)`` cell of the notebook runs."""
    notebook = json.loads(spec.reference_notebook.read_text(encoding="utf-8"))
    called = {
        name
        for cell in notebook.get("cells", [])
        if cell.get("cell_type") == "code"
        for _quote, name in _SELFCHECK_CALL.findall("".join(cell.get("source", "")))
    }
    return sorted({test["function"] for test in record(spec)} - called)


def build_notes(spec: Assignment) -> list[str]:
    """What ``grader build`` tells the instructor about the self-checks of a handout it wrote."""
    if note := missing_engine(spec):
        return [note]
    unchecked = unchecked_functions(spec)
    if unchecked:
        return [
            f"note: no self-check cell runs the visible tests of {', '.join(unchecked)}; "
            'add `selfcheck("name", globals())` under each'
        ]
    return []


def missing_engine(spec: Assignment) -> str:
    """Why the handout of ``spec`` has no self-checks although it has visible tests ('' if it has)."""
    public = [p for p in spec.tests_dir.glob("*.py") if p.name.startswith(PUBLIC_PREFIX)]
    notebook = json.loads(spec.reference_notebook.read_text(encoding="utf-8"))
    tagged = [c for c in notebook.get("cells", []) if ENGINE_TAG in c.get("metadata", {}).get("tags", [])]
    if public and not tagged:
        return (
            f"the handout has no self-checks: {len(public)} visible test file(s), but no cell tagged "
            f'{ENGINE_TAG!r} to hold them; add one and a `selfcheck("name", globals())` cell under each '
            "function (docs/authoring.md, section 3)"
        )
    return ""


# ---- the student kit ------------------------------------------------------------------------------
KIT_TESTS = "selfcheck_tests.json"
KIT_TEMPLATE = Path(__file__).with_name("templates") / "test_public_kit.py"


def write_student_kit(spec: Assignment, stub: NotebookJson, out: Path) -> Path:
    """A folder students may have: ``out/<name>/`` with the notebook, assignment.toml and tests that
    replay the recorded visible tests (no oracle, no solution, no hidden test), plus the hidden
    tests' number and points. ``grader --solutions out check NOTEBOOK`` runs them."""
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

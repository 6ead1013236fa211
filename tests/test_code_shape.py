"""The shape the code keeps: small modules, short functions, no cycles, no private names shared.

Each exception is listed here with its reason, so that adding one is a visible decision.
"""

from __future__ import annotations

import ast
from pathlib import Path

GRADER = Path(__file__).resolve().parent.parent / "grader"
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60
# The self-check runtime is copied whole into each handout's one engine cell (which must run without
# the grader installed); splitting it would change every handout's text.
LONG_MODULES = {"selfcheck_runtime.py"}


def modules() -> dict[str, Path]:
    found = {}
    for path in sorted(GRADER.rglob("*.py")):
        parts = path.relative_to(GRADER.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def parsed(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def imported(name: str, path: Path, tree: ast.Module) -> list[tuple[str, list[str]]]:
    """(module, names) for each `from X import names` in ``tree``, X made absolute."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = package.split(".")
            if node.level:
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.append((target, [alias.name for alias in node.names]))
        elif isinstance(node, ast.Import):
            found.extend((alias.name, []) for alias in node.names)
    return found


def test_no_module_of_the_grader_is_over_400_lines():
    long = {
        str(path.relative_to(GRADER)): n
        for path in modules().values()
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
        and path.name not in LONG_MODULES
    }
    assert long == {}


def test_no_function_of_the_grader_is_over_60_lines():
    long = []
    for path in modules().values():
        if path.name in LONG_MODULES:
            continue
        for node in ast.walk(parsed(path)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                size = (node.end_lineno or node.lineno) - node.lineno + 1
                if size > MAX_FUNCTION_LINES:
                    long.append(f"{path.relative_to(GRADER)}:{node.lineno} {node.name} ({size} lines)")
    assert long == []


def private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def test_no_private_name_is_imported_from_another_module():
    crossing = []
    for name, path in modules().items():
        for target, names in imported(name, path, parsed(path)):
            hidden = [n for n in names if private(n)]
            if target.startswith("grader") and hidden:
                crossing.append(f"{name} imports {', '.join(hidden)} from {target}")
    assert crossing == []


def private_definitions(tree: ast.Module) -> set[str]:
    """The private names a module defines: functions, classes, methods, attributes it assigns."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and private(node.name):
            found.add(node.name)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store) and private(node.attr):
            found.add(node.attr)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store) and private(node.id):
            found.add(node.id)
    return found


def foreign_private_uses(trees: dict[str, ast.Module]) -> list[str]:
    """``obj._name`` where ``_name`` is defined by another module only: a private name crossing over."""
    defined = {name: private_definitions(tree) for name, tree in trees.items()}
    crossing = []
    for name, tree in trees.items():
        elsewhere = set().union(*(d for other, d in defined.items() if other != name)) - defined[name]
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and private(node.attr) and node.attr in elsewhere:
                crossing.append(f"{name}:{node.lineno} uses .{node.attr}")
    return crossing


def test_a_private_method_called_from_another_module_is_found():
    owner = ast.parse("class Worker:\n    def _run(self):\n        pass\n")
    user = ast.parse("def handle(worker):\n    return worker._run()\n")
    assert foreign_private_uses({"a": owner, "b": user}) == ["b:2 uses ._run"]


def test_no_private_name_of_another_grader_module_is_used_through_it():
    assert foreign_private_uses({name: parsed(path) for name, path in modules().items()}) == []


def import_graph(whole: bool) -> dict[str, set[str]]:
    """Which grader modules each one imports: at import time only, or anywhere in its code."""
    known = modules()
    graph: dict[str, set[str]] = {}
    for name, path in known.items():
        tree = parsed(path)
        if not whole:
            tree = ast.Module(
                body=[n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))], type_ignores=[]
            )
        edges = set()
        for target, names in imported(name, path, tree):
            # Every module a statement imports: `from . import a, b` imports a and b; `from .x import
            # A, B` imports x.
            submodules = {f"{target}.{n}" for n in names} & set(known)
            for candidate in submodules or {target}:
                if candidate in known and candidate != name:
                    edges.add(candidate)
        graph[name] = edges
    return graph


def cycles(graph: dict[str, set[str]]) -> set[str]:
    found = set()
    for start in graph:
        stack = [(start, [start])]
        while stack:
            node, trail = stack.pop()
            for nxt in graph.get(node, ()):
                if nxt == start:
                    found.add(" -> ".join(sorted(trail)))
                elif nxt not in trail:
                    stack.append((nxt, [*trail, nxt]))
    return found


def test_a_cycle_of_three_modules_is_found():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == {"a -> b -> c"}
    assert cycles({"a": {"b"}, "b": {"c"}, "c": set()}) == set()


def test_no_grader_module_imports_one_that_imports_it_back():
    assert cycles(import_graph(whole=True)) == set()


# Exceptions that must not be GraderErrors: the worker's own time-out is a BaseException so that
# student code catching Exception cannot swallow it; a failed check is an AssertionError, which is
# what pytest records as a failure. grader.gradescope.environment runs on its own, with the image's bare
# interpreter, before the grader is installed: it cannot import the root (config wraps its error).
NOT_GRADER_ERRORS = {
    "grader.sandbox.runtime.worker.SoftTimeout",
    "grader.testing.failure.GradingFailure",
    "grader.gradescope.environment.EnvironmentTableError",
    # Raised by a CPU-time signal inside intake's child and caught there: it never leaves it.
    "grader.notebook.isolated._OutOfTime",
}


def test_every_exception_the_grader_defines_is_a_grader_error_or_says_why_not():
    import importlib

    from grader.errors import GraderError

    outside = set()
    for name in modules():
        # Not importable as modules: the handout's and the kit's copies (they run without the grader,
        # on data beside them), and the command line itself.
        if name.endswith(("selfcheck_runtime", "__main__")) or ".templates." in name:
            continue
        module = importlib.import_module(name)
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, BaseException)
                and value.__module__ == name
                and not issubclass(value, GraderError)
            ):
                outside.add(f"{name}.{value.__name__}")
    assert outside == NOT_GRADER_ERRORS


def test_the_import_graph_sees_every_module_a_statement_imports():
    graph = import_graph(whole=True)
    worker = next(edges for name, edges in graph.items() if name.endswith("runtime.worker"))
    # `from . import cells, imports, ipython_shim, models`: all four, not the first only.
    assert {name.rsplit(".", 1)[1] for name in worker} >= {
        "cells",
        "imports",
        "ipython_shim",
        "models",
    }


# What runs student code, or confines it, or carries its answers, never reaches into the grading
# process's side: a worker that imported the supervisor would hold what it is kept from.
OUTSIDE_THE_GRADING_PROCESS = ("grader.sandbox.runtime", "grader.sandbox.jail", "grader.sandbox.wire")
GRADING_PROCESS_ONLY = (
    "grader.sandbox.supervisor",
    "grader.testing",
    "grader.api",
    "grader.grading",
    "grader.batch",
    "grader.gradescope",
    "grader.authoring",
)


def test_nothing_the_worker_runs_imports_the_grading_processs_side():
    graph = import_graph(whole=True)
    crossing = {
        f"{name} -> {target}"
        for name, targets in graph.items()
        if name.startswith(OUTSIDE_THE_GRADING_PROCESS)
        for target in targets
        if target.startswith(GRADING_PROCESS_ONLY)
    }
    assert crossing == set()


def test_each_package_of_the_grader_says_what_it_is_for():
    for path in GRADER.rglob("*"):
        if path.is_dir() and path.name not in ("__pycache__", "schema", "templates"):
            init = path / "__init__.py"
            assert init.is_file() and ast.get_docstring(parsed(init)), path

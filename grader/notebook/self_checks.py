"""The handout's self-check engine cell, recognised so that grading does not run it.

The engine (``grader/authoring/selfcheck_runtime.py``, copied into every handout) only prints what
the visible tests say in the notebook; grading runs those tests itself. A cell that is the engine
as this version of the grader builds it (comment lines; the function ``_selfcheck_engine`` with
exactly the runtime's text; ``selfcheck, summary = _selfcheck_engine(<data>)``; ``del
_selfcheck_engine``; a ``print`` of a literal) is replaced by a stand-in defining ``selfcheck`` and
``summary`` as functions that do nothing and return None, as the engine's do after printing (its
set-up changes nothing outside itself but imports). The student's own self-check calls then cost
nothing and cannot run their code a second time: an endless loop in a function would otherwise
spend a cell's time limit before its tests. Any other cell, an edited engine or one an older
grader built, runs as written.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

# The engine cell's first line: Colab shows a cell whose first line is a @title as that title alone.
ENGINE_HEADER = "# @title Self-check engine:"
ENGINE_HEADERS = (ENGINE_HEADER, "# Self-check engine:")  # and handouts built before the @title
ENGINE_FUNCTION = "_selfcheck_engine"
ENGINE_DEF = f"def {ENGINE_FUNCTION}(_TESTS, _HIDDEN):"
ENGINE_RETURN = "    return selfcheck, summary"
RUNTIME = Path(__file__).resolve().parents[1] / "authoring" / "selfcheck_runtime.py"
STAND_IN = (
    "# The self-check engine: its checks are the visible tests, which grading runs itself.\n"
    "def selfcheck(*args, **kwargs):\n    return None\n\n\n"
    "def summary(*args, **kwargs):\n    return None\n"
)


def engine_function(runtime: str) -> str:
    """The runtime's code as the engine cell's one function, which keeps its names out of the
    notebook's globals (a student's own ``_np`` cannot break it)."""
    code = runtime.split('"""', 2)[2].lstrip("\n")
    body = "\n".join(f"    {line}" if line.strip() else "" for line in code.rstrip("\n").splitlines())
    return "\n".join([ENGINE_DEF, body, ENGINE_RETURN])


@cache
def _current_function() -> str:
    return engine_function(RUNTIME.read_text(encoding="utf-8"))


def as_graded(source: str) -> str:
    """A code cell as grading runs it: the engine stood in for, any other cell as written."""
    return STAND_IN if is_engine_cell(source) else source


def is_engine_cell(source: str) -> bool:
    """Whether ``source`` is the engine cell this grader builds, unedited (its data aside). Any
    cell a check cannot take in (nested too deep to walk, too large) is not the engine."""
    try:
        return _is_engine_cell(source)
    except (RecursionError, MemoryError):
        return False


def _is_engine_cell(source: str) -> bool:
    if not source.startswith(ENGINE_HEADERS):
        return False
    head, found, rest = source.partition(ENGINE_DEF)
    if not found or any(line.strip() and not line.lstrip().startswith("#") for line in head.splitlines()):
        return False
    function, found, tail = (found + rest).partition("\n" + ENGINE_RETURN + "\n")
    if not found or function + "\n" + ENGINE_RETURN != _current_function():
        return False
    try:
        body = ast.parse(tail).body
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    if len(body) != 3:
        return False
    assign, delete, shown = body
    return (
        _binds_selfcheck_and_summary(assign)
        and isinstance(delete, ast.Delete)
        and [ast.dump(t) for t in delete.targets] == [ast.dump(ast.Name(ENGINE_FUNCTION, ast.Del()))]
        and isinstance(shown, ast.Expr)
        and isinstance(shown.value, ast.Call)
        and _is_name(shown.value.func, "print")
        and not shown.value.keywords
        and all(isinstance(arg, ast.Constant) for arg in shown.value.args)
    )


def _binds_selfcheck_and_summary(node: ast.stmt) -> bool:
    """``selfcheck, summary = _selfcheck_engine(<data>)``."""
    if not (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.value, ast.Call)):
        return False
    target, call = node.targets[0], node.value
    names = [n.id for n in target.elts if isinstance(n, ast.Name)] if isinstance(target, ast.Tuple) else []
    return (
        names == ["selfcheck", "summary"]
        and _is_name(call.func, ENGINE_FUNCTION)
        and not call.keywords
        and all(_only_data(arg) for arg in call.args)
    )


def _only_data(node: ast.AST) -> bool:
    """Literals, comprehensions over them, ``tuple(...)``, ``__import__('json').loads(...)`` and its
    ``.items()``: what the engine's data is made of, nothing that could do anything else."""
    for inner in ast.walk(node):
        if isinstance(inner, (ast.Lambda, ast.NamedExpr, ast.Yield, ast.YieldFrom, ast.Await)):
            return False
        if isinstance(inner, ast.Call) and not _allowed_call(inner):
            return False
    return True


def _allowed_call(call: ast.Call) -> bool:
    func = call.func
    if _is_name(func, "tuple") or _is_json_loads(func):
        return True
    if _is_name(func, "__import__"):
        return _json_module(call)
    return (
        isinstance(func, ast.Attribute)
        and func.attr == "items"
        and isinstance(func.value, ast.Call)
        and _is_json_loads(func.value.func)
        and not call.args
    )


def _is_name(node: ast.AST, name: str) -> bool:
    return isinstance(node, ast.Name) and node.id == name


def _json_module(call: ast.Call) -> bool:
    return [ast.dump(arg) for arg in call.args] == [ast.dump(ast.Constant("json"))] and not call.keywords


def _is_json_loads(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Attribute)
        and node.attr == "loads"
        and isinstance(node.value, ast.Call)
        and _is_name(node.value.func, "__import__")
        and _json_module(node.value)
    )

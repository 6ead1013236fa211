"""What the worker knows about a cell's top-level statements, for replays after a restart.

A replacement worker replays what ran before it; for a cell that did not finish, that is the
statements before the one that stopped it. Parsing happens here, in the worker, so the grading
process never spends its own time on a submission's code.
"""

from __future__ import annotations

import ast
import types
from typing import Any

from . import imports

MAX_NAMES = 40


def python_source(source: str) -> str:
    """The cell with magics and shell lines turned into harmless ``get_ipython()`` calls.

    IPython's transformer re-reads the whole cell once per magic, so its cost grows with size
    times magics: it runs here, inside the cell's deadline, and never in the grading process.
    """
    try:
        from IPython.core.inputtransformer2 import TransformerManager

        return str(TransformerManager().transform_cell(source))  # type: ignore[no-untyped-call]
    except Exception:  # IPython cannot read it either: compiling reports the SyntaxError
        return source


def compile_cell(source: str, filename: str, until_line: Any = None) -> types.CodeType:
    """The cell's code, its top-level imports guarded (:func:`imports.guard_imports`); with
    ``until_line``, only its top-level statements that end before that line."""
    try:
        tree = ast.parse(source, filename)
    except SyntaxError as exc:
        python = python_source(source)
        if python == source:
            raise
        try:
            tree = ast.parse(python, filename)
        except SyntaxError:
            raise exc from None
    if until_line is not None:
        # end_lineno is set on every statement ast.parse makes.
        tree.body = [stmt for stmt in tree.body if (stmt.end_lineno or stmt.lineno) < int(until_line)]
    return compile(imports.guard_imports(tree), filename, "exec")


def stopping_line(exc: BaseException | None, filename: str) -> int | None:
    """The line of the cell's top-level statement that was running when ``exc`` stopped it."""
    tb = exc.__traceback__ if exc is not None else None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == filename:
            return tb.tb_lineno
        tb = tb.tb_next
    return None


def _targets(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Name):
        return [node.id]
    if isinstance(node, (ast.Tuple, ast.List)):
        return [name for elt in node.elts for name in _targets(elt)]
    if isinstance(node, ast.Starred):
        return _targets(node.value)
    return []


def bound_names(source: str) -> list[str]:
    """The names a cell's top-level statements bind (functions, classes, assignments, imports)."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []
    found: list[str] = []
    for stmt in tree.body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            found.append(stmt.name)
        elif isinstance(stmt, ast.Assign):
            found += [name for target in stmt.targets for name in _targets(target)]
        elif isinstance(stmt, (ast.AnnAssign, ast.AugAssign, ast.For, ast.AsyncFor)):
            found += _targets(stmt.target)
        elif isinstance(stmt, (ast.Import, ast.ImportFrom)):
            found += [alias.asname or alias.name.split(".")[0] for alias in stmt.names if alias.name != "*"]
        elif isinstance(stmt, (ast.With, ast.AsyncWith)):
            found += [
                name for item in stmt.items if item.optional_vars for name in _targets(item.optional_vars)
            ]
    return list(dict.fromkeys(found))[:MAX_NAMES]

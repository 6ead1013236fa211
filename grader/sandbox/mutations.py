"""Worker side: whether a student's function changed the arrays it was given.

Feedback says "does not modify its input" from this, so it compares values, NaN included, not
object identity.
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np


def _walk_arrays(
    value: Any, path: str, found: list[tuple[str, np.ndarray[Any, Any]]], depth: int = 0
) -> None:
    if depth > 4:
        return
    if isinstance(value, np.ndarray):
        found.append((path, value))
    elif type(value) in (list, tuple):
        for i, item in enumerate(value):
            _walk_arrays(item, f"{path}[{i}]", found, depth + 1)


Snapshot = tuple[str, np.ndarray[Any, Any], np.ndarray[Any, Any]]  # (where, the array, its copy)


def snapshots(args: list[Any], kwargs: dict[str, Any]) -> list[Snapshot]:
    """Copies of the arrays a call is given, as arguments or inside lists and tuples of them."""
    found: list[tuple[str, np.ndarray[Any, Any]]] = []
    for i, arg in enumerate(args):
        _walk_arrays(arg, f"#{i}", found)
    for key, arg in kwargs.items():
        _walk_arrays(arg, key, found)
    return [(path, array, array.copy()) for path, array in found]


def changed(before: list[Snapshot], target: Any) -> list[str]:
    """Which of the arrays the call was given it changed, by the parameter names of ``target``."""
    changed: list[str] = []
    params: list[str] | None = None
    for path, array, copy in before:
        try:
            same = array.shape == copy.shape and np.array_equal(array, copy, equal_nan=True)
        except Exception:
            same = False
        if not same:
            if params is None:
                try:
                    params = list(inspect.signature(target).parameters)
                except (TypeError, ValueError):
                    params = []
            if path.startswith("#"):
                digits, _, rest = path[1:].partition("[")
                position = int(digits)
                name = params[position] if position < len(params) else f"argument {position + 1}"
                path = name + ("[" + rest if rest else "")
            changed.append(path)
    return changed

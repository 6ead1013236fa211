"""A stand-in for the IPython shell that notebook code expects.

IPython's input transformer turns ``%matplotlib inline`` and ``!pip install x`` into calls on
``get_ipython()``. In the worker those calls do nothing (no shell commands, no installs), except
cell magics that only wrap Python code (``%%time``, ``%%capture``), whose body still runs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

_RUN_BODY = {"time", "timeit", "capture", "prun"}
_namespace: dict[str, Any] = {}


class _Shell:
    def run_line_magic(self, name: str, line: str = "", *args: Any, **kwargs: Any) -> None:
        return None

    def run_cell_magic(self, name: str, line: str, cell: str, *args: Any, **kwargs: Any) -> None:
        if name in _RUN_BODY:
            exec(compile(cell, "<cell magic>", "exec"), _namespace)
        elif name == "writefile":
            _write_file(line, cell)
        return None

    def system(self, command: str, *args: Any, **kwargs: Any) -> None:
        return None

    def getoutput(self, command: str, *args: Any, **kwargs: Any) -> list[str]:
        return []

    def __getattr__(self, name: str) -> Callable[..., None]:
        # Anything else a notebook pokes at (display hooks, events): a harmless no-op.
        return lambda *args, **kwargs: None


def _write_file(line: str, cell: str) -> None:
    """``%%writefile [-a] name.py``: notebooks write a module and import it in a later cell."""
    words = line.split()
    append = "-a" in words or "--append" in words
    names = [w for w in words if not w.startswith("-")]
    if names:
        with open(names[0].strip("'\""), "a" if append else "w", encoding="utf-8") as handle:
            handle.write(cell)


_SHELL = _Shell()


def get_ipython() -> _Shell:
    return _SHELL


def bind(namespace: dict[str, Any]) -> None:
    global _namespace
    _namespace = namespace


def display(*objs: Any, **kwargs: Any) -> None:
    """Jupyter's ``display``, which notebooks call without importing it: nothing to show here."""
    return None


def _identity(z: Any) -> Any:
    return z


def _sigmoid(z: Any) -> Any:
    import numpy as np

    z = np.asarray(z, dtype=float)
    return 0.5 * (1.0 + np.tanh(0.5 * z))  # the logistic function; np.tanh never overflows


# Functions tests may pass as arguments by name besides NumPy's.
BUILTIN_FUNCTIONS = {"identity": _identity, "sigmoid": _sigmoid}

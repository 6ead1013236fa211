"""A notebook autograder: student code runs in a sandboxed worker, hidden pytest tests judge plain data.

The core API, for scripts and other tools::

    from grader import grade_notebook
    results = grade_notebook(Path("submission.ipynb"), "nn_basics")
    print(results.score, results.to_json())

Hidden tests import what they need from :mod:`grader.testing`.
"""

from __future__ import annotations

import importlib
import os
from typing import TYPE_CHECKING, Any

from .settings import single_threaded

# Both the grader and its worker run single-threaded unless the caller says otherwise: see
# grader.settings.THREAD_LIMITS for why. Set before anything imports numpy.
single_threaded(os.environ)

if TYPE_CHECKING:
    from .api import grade_notebook
    from .config import Assignment, load_assignment
    from .errors import GraderError
    from .results import GradingResults, TestResult
    from .settings import Settings

__version__ = "0.1.0"
__all__ = [
    "Assignment",
    "GraderError",
    "GradingResults",
    "Settings",
    "TestResult",
    "grade_notebook",
    "load_assignment",
]

# Imported when first used: the worker starts from this package and needs none of them.
_HOMES = {
    "grade_notebook": "api",
    "Assignment": "config",
    "load_assignment": "config",
    "GraderError": "errors",
    "GradingResults": "results",
    "TestResult": "results",
    "Settings": "settings",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'grader' has no attribute {name!r}")
    return getattr(importlib.import_module(f".{home}", __name__), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])

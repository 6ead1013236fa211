"""Running an assignment's tests: plain functions directly, anything else through pytest.

Both ways give each test the same :class:`~grader.results.TestResult` (:mod:`.outcomes`); the
direct way skips importing pytest and its session, most of a grading's fixed cost.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from .direct import pytest_needed, run_direct
from .outcomes import ExitCode, TestSession


def run_tests(tests_dir: Path, session: TestSession, *, through_pytest: bool | None = None) -> ExitCode:
    """Run the tests in ``tests_dir`` into ``session``. ``through_pytest``: None decides by the
    tests (:func:`.direct.pytest_needed`); True or False forces one way (to compare them)."""
    tests_dir = Path(tests_dir).resolve()  # modules' __file__ are absolute: compared below
    if through_pytest is None:
        through_pytest = bool(pytest_needed(tests_dir))
    # Helper modules next to the tests (an assignment's oracle) are imported by name.
    path_entry = str(tests_dir)
    sys.path.insert(0, path_entry)
    try:
        if through_pytest:
            from .plugin import run_with_pytest

            return run_with_pytest(tests_dir, session)
        return run_direct(tests_dir, session)
    finally:
        # Modules are keyed by name: two assignments' test_counting.py would collide, and a later
        # run must never see an earlier assignment's (or an edited) test module.
        for name, module in list(sys.modules.items()):
            if str(getattr(module, "__file__", None) or "").startswith(path_entry + os.sep):
                del sys.modules[name]
        try:
            sys.path.remove(path_entry)
        except ValueError:
            pass

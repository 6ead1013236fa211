"""The package's public surface: what scripts may import from `grader`, pinned."""

import subprocess
import sys

import grader

CORE = {
    "Assignment",
    "GraderError",
    "GradingResults",
    "Settings",
    "TestResult",
    "grade_notebook",
    "load_assignment",
}


def test_the_package_exports_exactly_the_core_api():
    assert set(grader.__all__) == CORE


def test_every_exported_name_resolves_to_the_object_of_its_home_module():
    from grader.api import grade_notebook
    from grader.results import GradingResults

    for name in grader.__all__:
        assert getattr(grader, name) is not None
    assert grader.grade_notebook is grade_notebook and grader.GradingResults is GradingResults


def test_an_unknown_name_is_an_attribute_error():
    try:
        grader.no_such_thing  # noqa: B018
    except AttributeError as exc:
        assert "no_such_thing" in str(exc)
    else:
        raise AssertionError("an unknown name resolved")


def test_importing_the_package_imports_neither_numpy_nor_pytest():
    code = "import sys, grader; print(sorted(m for m in ('numpy', 'pytest', 'torch') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_importing_the_package_limits_the_thread_pools_unless_the_caller_set_them():
    code = "import os, grader; print(os.environ['OMP_NUM_THREADS'], os.environ['MKL_NUM_THREADS'])"
    env = {"PATH": "/usr/bin:/bin", "MKL_NUM_THREADS": "3"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert out.stdout.split() == ["1", "3"]

"""Running plain test functions without pytest: the same results, in the same order, for less.

Most hidden tests are plain functions that take the ``student`` fixture (or nothing) and check
with ``expect`` and ``assert``. For those, importing pytest and starting its session costs more
than the tests themselves; this runner collects them as pytest would (files ``test_*.py`` of the
tests folder in name order, functions ``test_*`` in the order the module defines them) and records
each outcome through the same :class:`~.outcomes.TestSession`. Tests that use anything of pytest's
(any mention of it, ``conftest.py``, other fixtures, classes, module set-up, sub-folders) are run
by pytest instead: :func:`pytest_needed` says why.
"""

from __future__ import annotations

import ast
import fnmatch
import importlib
import inspect
import re
import traceback
from pathlib import Path

from .outcomes import ExitCode, TestSession, error_in_test, planned, release

TEST_FILES = "test_*.py"  # as the grader's pytest.ini: python_files
TEST_FUNCTIONS = "test_*"  # python_functions
# Module-level names pytest gives a meaning to: set-up and tear-down (pytestmark and pytest_plugins
# mention pytest, which alone sends a folder to pytest).
PYTEST_NAMES = frozenset(
    {
        "setup_module",
        "teardown_module",
        "setup_function",
        "teardown_function",
        "setUpModule",
        "tearDownModule",
    }
)


def pytest_needed(tests_dir: Path) -> str:
    """Why these tests must run through pytest ("" when they are plain functions)."""
    if (tests_dir / "conftest.py").exists() or (tests_dir / "__init__.py").exists():
        return "a conftest.py or __init__.py"
    for path in sorted(tests_dir.iterdir()):
        if path.is_dir() and path.name != "__pycache__" and any(path.rglob("*.py")):
            return f"a folder of Python files ({path.name})"
        if path.suffix != ".py" or not path.is_file():
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return f"{path.name} cannot be read (pytest reports it)"
        # Any mention, a comment's too: a plain search costs nothing, and pytest is never wrong.
        if "pytest" in text:
            return f"{path.name}: mentions pytest"
        if not fnmatch.fnmatch(path.name, TEST_FILES) or _plainly_plain(text):
            continue
        try:
            tree = ast.parse(text, filename=str(path))
        except (SyntaxError, ValueError):
            return f"{path.name} does not parse (pytest reports it)"
        reason = _unlike_plain_tests(tree, generators="yield" in text)
        if reason:
            return f"{path.name}: {reason}"
    return ""


# Every header of a test function, and the form of one that takes nothing or only ``student``.
_TEST_HEADER = re.compile(r"^[ \t]*def[ \t]+test", re.MULTILINE)
_PLAIN_HEADER = re.compile(r"def test\w*\((?:student)?\):")
# Words without which no construct _unlike_plain_tests looks for can be in a file.
_UNLIKE_WORDS = ("class", "async", "yield", "setup", "teardown", "setUp", "tearDown")


def _plainly_plain(text: str) -> bool:
    """A quick "plain tests" for the usual file, without parsing it (a grading spends a few
    milliseconds on parsing otherwise): no word that could begin a class, an async or generator
    test or a set-up function, and every test header exactly ``def test_x(student):`` or
    ``def test_x():``. Anything else is decided by the syntax tree."""
    if any(word in text for word in _UNLIKE_WORDS):
        return False
    return all(_PLAIN_HEADER.match(text, m.end() - len("def test")) for m in _TEST_HEADER.finditer(text))


def _unlike_plain_tests(tree: ast.Module, generators: bool) -> str:
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
            return f"a test class ({node.name})"
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            if node.name in PYTEST_NAMES:
                return f"{node.name}"
            if fnmatch.fnmatch(node.name, TEST_FUNCTIONS):
                if isinstance(node, ast.AsyncFunctionDef):
                    return f"{node.name} is async"
                if _required(node.args) not in ([], ["student"]):
                    return f"{node.name} takes fixtures other than student"
                if generators and any(
                    isinstance(inner, (ast.Yield, ast.YieldFrom)) for inner in ast.walk(node)
                ):
                    return f"{node.name} is a generator"
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            named = [t.id for t in targets if isinstance(t, ast.Name) and t.id in PYTEST_NAMES]
            if named:
                return named[0]
    return ""


def _required(args: ast.arguments) -> list[str]:
    """The parameters pytest fills with fixtures: those without a default value."""
    positional = [*args.posonlyargs, *args.args]
    required = [a.arg for a in positional[: len(positional) - len(args.defaults)]]
    return required + [a.arg for a, default in zip(args.kwonlyargs, args.kw_defaults) if default is None]


def run_direct(tests_dir: Path, session: TestSession) -> ExitCode:
    """Collect and run the plain test functions in ``tests_dir`` (on sys.path, as for pytest)."""
    collected: list[tuple[str, object]] = []
    for path in sorted(p for p in tests_dir.iterdir() if p.is_file() and fnmatch.fnmatch(p.name, TEST_FILES)):
        try:
            module = importlib.import_module(path.stem)
        except Exception as exc:  # the module's own error: the instructor's to fix
            session.collection_errors.append(f"{path.name}: {_error_text(exc)}")
            continue
        for name, fn in list(vars(module).items()):
            if (
                fnmatch.fnmatch(name, TEST_FUNCTIONS)
                and inspect.isfunction(fn)
                and getattr(fn, "__test__", True)
            ):
                collected.append((f"{path.name}::{name}", fn))
    functions = dict(collected)
    kept = session.plan(
        [(test_id, planned(fn, test_id.split("::")[0], test_id.split("::")[1])) for test_id, fn in collected]
    )
    if session.collection_errors:
        return ExitCode.INTERRUPTED  # as pytest: no test runs when one module could not be loaded
    if not kept:
        return ExitCode.NO_TESTS_COLLECTED
    failed = False
    for test_id in kept:
        fn = functions[test_id]
        result = session.results[test_id]
        session.starting(test_id, fn)
        try:
            _call(fn, session)
        except KeyboardInterrupt:
            raise
        except BaseException as exc:
            failed = True
            detail = (
                "" if isinstance(exc, AssertionError) else (error_in_test(tests_dir, exc) or _error_text(exc))
            )
            session.raised(test_id, result, fn, exc, detail)
            release(exc)
            del exc
        else:
            session.passed(result, fn)
    return ExitCode.TESTS_FAILED if failed else ExitCode.OK


def _call(fn: object, session: TestSession) -> None:
    assert callable(fn)
    required = [
        p.name
        for p in inspect.signature(fn).parameters.values()
        if p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]
    if required == ["student"]:
        fn(session.student)
    elif not required:
        fn()
    else:  # made without a def (the folder's check saw none): pytest's fixtures are not here
        raise TypeError(f"the test takes {required}; only the student fixture is available")


def _error_text(error: BaseException) -> str:
    return "".join(traceback.format_exception(error))[-2000:]

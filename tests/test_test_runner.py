"""Plain test functions run without pytest, with the same results pytest gives them."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import CORE

from grader.testing.direct import pytest_needed
from grader.testing.outcomes import ExitCode, TestSession
from grader.testing.proxy import Student, Unavailable
from grader.testing.run import run_tests
from nbtools import REPO

PLAIN = {
    "test_public_one.py": '''
        from gradescope_utils.autograder_utils.decorators import number, weight

        @weight(2)
        @number("1.1")
        def test_passes(student):
            """one: passes"""

        @number("1.2")
        def test_fails_a_check():
            """one: fails a check"""
            assert 1 == 2, "one is not two"
    ''',
    "test_hidden.py": '''
        from gradescope_utils.autograder_utils.decorators import partial_credit, weight

        def test_errs(student):
            """two: errs in the test's own code"""
            {}["missing"]

        @partial_credit(4)
        def test_partial(student, set_score=None):
            """two: partial credit"""
            set_score(1.5)
            assert False

        def helper_not_a_test():
            raise AssertionError("never collected")

        def test_empty_assert():
            assert False
    ''',
}


def make_tests_folder(root: Path, files: dict[str, str]) -> Path:
    folder = root / "tests"
    folder.mkdir()
    for name, text in files.items():
        (folder / name).write_text(textwrap.dedent(text), encoding="utf-8")
    return folder


def both_ways(folder: Path) -> tuple[tuple[ExitCode, TestSession], tuple[ExitCode, TestSession]]:
    runs = []
    for through_pytest in (False, True):
        session = TestSession(Student(Unavailable("no notebook")))
        runs.append((run_tests(folder, session, through_pytest=through_pytest), session))
    return runs[0], runs[1]


def test_the_course_assignments_need_nothing_of_pytest():
    for tests in sorted((REPO / "solutions").glob("*/tests")):
        assert pytest_needed(tests) == "", tests
    assert pytest_needed(CORE / "demo" / "tests") == ""


@pytest.mark.parametrize(
    ("name", "text", "reason"),
    [
        ("conftest.py", "", "conftest.py"),
        ("test_a.py", "import pytest\ndef test_x(student):\n    pytest.skip('later')\n", "mentions pytest"),
        ("helpers.py", "from pytest import approx\n", "mentions pytest"),
        ("test_a.py", "def test_x(student, tmp_path):\n    pass\n", "fixtures other than student"),
        ("test_a.py", "def test_x(*, tmp_path):\n    pass\n", "fixtures other than student"),
        ("test_a.py", "class TestThings:\n    def test_x(self):\n        pass\n", "a test class"),
        ("test_a.py", "def setup_module():\n    pass\n", "setup_module"),
        ("test_a.py", "pytestmark = []\n", "mentions pytest"),
        ("test_a.py", "def test_x():\n    yield 1\n", "a generator"),
        # Beyond the quick check's usual form: decided by the syntax tree.
        ("test_a.py", "def test_x(\n    student, tmp_path\n):\n    pass\n", "fixtures other than student"),
        ("test_a.py", "def  test_x(tmp_path):\n    pass\n", "fixtures other than student"),
        ("test_a.py", "async def test_x(student):\n    pass\n", "async"),
        ("test_a.py", "def test_x(student):\n    pass\nsetUpModule = test_x\n", "setUpModule"),
    ],
)
def test_tests_that_use_anything_of_pytests_are_run_by_pytest(tmp_path, name, text, reason):
    folder = make_tests_folder(tmp_path, {"test_plain.py": "def test_ok(student):\n    pass\n", name: text})
    assert reason in pytest_needed(folder)


def test_both_ways_record_the_same_result_for_every_way_a_test_ends(tmp_path):
    folder = make_tests_folder(tmp_path, PLAIN)
    (direct_end, direct), (pytest_end, through_pytest) = both_ways(folder)
    assert direct_end == pytest_end == ExitCode.TESTS_FAILED
    assert [r.to_dict() for r in direct.results.values()] == [
        r.to_dict() for r in through_pytest.results.values()
    ]
    outcomes = {r.name: (r.outcome, r.score) for r in direct.results.values()}
    assert outcomes == {
        "one: passes": ("passed", 2.0),
        "one: fails a check": ("failed", 0.0),
        "two: errs in the test's own code": ("error", 0.0),
        "two: partial credit": ("failed", 1.5),
        "test_empty_assert": ("failed", 0.0),
    }
    assert len(direct.instructor_notes) == len(through_pytest.instructor_notes) == 1
    assert "KeyError: 'missing' at test_hidden.py line" in direct.instructor_notes[0]


def test_a_test_module_that_cannot_be_loaded_stops_every_test_both_ways(tmp_path):
    folder = make_tests_folder(tmp_path, {**PLAIN, "test_broken.py": "import no_such_module_here\n"})
    (direct_end, direct), (pytest_end, through_pytest) = both_ways(folder)
    assert direct_end == pytest_end == ExitCode.INTERRUPTED
    assert direct.collection_errors and through_pytest.collection_errors
    assert [r.to_dict() for r in direct.results.values()] == [
        r.to_dict() for r in through_pytest.results.values()
    ]
    assert all(r.score == 0 and not r.output for r in direct.results.values())  # none ran


def test_visible_tests_run_first_both_ways(tmp_path):
    folder = make_tests_folder(
        tmp_path,
        {
            "test_a_hidden.py": "ORDER = []\ndef test_h(student):\n    ORDER.append('hidden')\n",
            "test_public_z.py": "import test_a_hidden\ndef test_v(student):\n    test_a_hidden.ORDER.append('visible')\n"
            "def test_order(student):\n    assert test_a_hidden.ORDER == ['visible'], test_a_hidden.ORDER\n",
        },
    )
    (_, direct), (_, through_pytest) = both_ways(folder)
    for session in (direct, through_pytest):
        assert all(r.outcome == "passed" for r in session.results.values()), session.results


def test_grading_a_notebook_never_imports_pytest():
    code = (
        "import sys\nfrom grader.api import grade_notebook\n"
        f"grade_notebook({str(CORE / 'demo' / 'demo.ipynb')!r}, 'demo', solutions_root={str(CORE)!r})\n"
        "print('pytest' in sys.modules, '_pytest' in sys.modules)\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd="/")
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.split() == ["False", "False"]


def test_two_folders_with_a_test_file_of_one_name_never_mix_even_given_relative_paths(tmp_path, monkeypatch):
    for name in ("first", "second"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "test_same.py").write_text(
            f"def test_{name}(student):\n    pass\n", encoding="utf-8"
        )
    monkeypatch.chdir(tmp_path)
    for through_pytest in (False, True):
        seen = []
        for name in ("first", "second"):
            session = TestSession(Student(Unavailable("no notebook")))
            run_tests(Path(name), session, through_pytest=through_pytest)
            seen.append(list(session.results))
        assert seen == [["test_same.py::test_first"], ["test_same.py::test_second"]], through_pytest

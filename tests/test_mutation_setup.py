"""Mutation testing takes any assignment, and its equivalent mutants live in the assignment's folder."""

from __future__ import annotations

import importlib.util
import sys

import pytest

from grader.config import available_assignments
from nbtools import REPO, SOLUTIONS

spec = importlib.util.spec_from_file_location("mutation", REPO / "scripts" / "mutation.py")
mutation = importlib.util.module_from_spec(spec)
sys.modules.setdefault("mutation", mutation)
spec.loader.exec_module(mutation)


@pytest.mark.parametrize("name", available_assignments(SOLUTIONS))
def test_every_declared_equivalent_mutant_changes_a_line_the_reference_still_has(name):
    # Cheap stand-in for generating the mutants (tens of seconds); `make mutation` also notes any
    # declared mutant it did not generate.
    lines = {line.strip() for line in mutation.solution_module(name).splitlines()}
    declared = mutation.load_equivalents(name)
    assert declared or name not in ("nn_basics", "cnn")
    for (function, original, mutated), reason in declared.items():
        assert original in lines, (function, original)
        assert mutated != original and reason.strip()


def test_an_equivalent_without_a_reason_is_refused(tmp_path, monkeypatch):
    (tmp_path / "demo").mkdir()
    (tmp_path / "demo" / "mutation_equivalents.toml").write_text(
        '[[equivalent]]\nfunction = "f"\noriginal = "a"\nmutated = "b"\n', encoding="utf-8"
    )
    monkeypatch.setattr(mutation, "SOLUTIONS", tmp_path)
    with pytest.raises(SystemExit, match="needs exactly function, original, mutated, reason"):
        mutation.load_equivalents("demo")


def test_an_assignment_without_declared_equivalents_has_none(tmp_path, monkeypatch):
    monkeypatch.setattr(mutation, "SOLUTIONS", tmp_path)
    assert mutation.load_equivalents("anything") == {}

"""docs/authoring.md is enough to add an assignment: its code blocks, assembled in an empty
folder, make a third assignment that builds, validates, checks, grades, packages and batch-grades
with the grader as it is; and it documents every setting and every name of the test API."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import grader.testing
from grader.api import grade_notebook
from grader.config import SECTIONS
from nbtools import REPO

GUIDE = REPO / "docs" / "authoring.md"
BLOCK = re.compile(r"^```(\w+)([^\n]*)\n(.*?)^```\s*$", re.MULTILINE | re.DOTALL)
BIN = Path(sys.executable).parent


@dataclasses.dataclass
class Block:
    language: str
    options: dict[str, str]
    code: str


def blocks() -> list[Block]:
    found = []
    for language, info, code in BLOCK.findall(GUIDE.read_text(encoding="utf-8")):
        options = dict(part.split("=", 1) if "=" in part else (part, "") for part in info.split())
        found.append(Block(language, options, code))
    return found


def assemble(root: Path) -> dict[str, Path]:
    """The files and the solution notebook the guide's blocks describe, under ``root``."""
    files: dict[str, list[str]] = {}
    cells = []
    for block in blocks():
        if "file" in block.options:
            files.setdefault(block.options["file"], []).append(block.code)
        elif "cell" in block.options:
            metadata = {"tags": block.options["tags"].split(",")} if "tags" in block.options else {}
            cell = {
                "cell_type": "markdown" if block.language == "markdown" else "code",
                "id": f"cell-{len(cells)}",
                "metadata": metadata,
                "source": block.code.rstrip("\n"),
            }
            if cell["cell_type"] == "code":
                cell.update(execution_count=None, outputs=[])
            cells.append(cell)
    written = {}
    for name, parts in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n\n".join(p.rstrip("\n") for p in parts) + "\n", encoding="utf-8")
        written[name] = path
    notebook = {
        "cells": cells,
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
    }
    (root / "solutions" / "signals" / "signals.ipynb").write_text(
        json.dumps(notebook, indent=1), encoding="utf-8"
    )
    return written


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> tuple[Path, list[str]]:
    """An empty folder after every `sh run` block of the guide ran in it, with the outputs."""
    root = tmp_path_factory.mktemp("course")
    assemble(root)
    (root / "scripts").symlink_to(REPO / "scripts")  # `scripts/mutation-test` as in a checkout
    env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYTHON": sys.executable,
        "GRADER_SOLUTIONS": str(root / "solutions"),
    }
    outputs = []
    for block in blocks():
        if block.language == "sh" and "run" in block.options:
            done = subprocess.run(
                ["bash", "-euo", "pipefail", "-c", block.code],
                cwd=root,
                env=env,
                capture_output=True,
                text=True,
                timeout=600,
            )
            assert done.returncode == 0, f"{block.code}\n{done.stdout}\n{done.stderr}"
            outputs.append(done.stdout)
    return root, outputs


def test_every_code_block_of_the_guide_is_a_file_a_cell_or_a_command_the_tests_run():
    kinds = [b for b in blocks() if b.language != "text"]
    assert kinds and all({"file", "cell", "run"} & set(b.options) for b in kinds), [
        b.code[:60] for b in kinds if not {"file", "cell", "run"} & set(b.options)
    ]


def test_the_guides_assignment_validates_the_reference_at_full_marks_and_the_stub_at_zero(course):
    root, outputs = course
    build_and_validate = outputs[0]
    assert "Wrote" in build_and_validate and (root / "assignments" / "signals" / "signals.ipynb").is_file()
    assert re.search(r"signals reference: (\d+(\.\d+)?)/\1 ok", build_and_validate), build_and_validate
    assert re.search(r"signals stub: 0/\d+(\.\d+)? ok", build_and_validate), build_and_validate


def test_the_guides_assignment_is_checked_graded_packaged_and_batch_graded(course):
    root, outputs = course
    check_and_grade = outputs[1]
    assert "1.1 frames: 6 samples in frames of 4" in check_and_grade
    reference = json.loads((root / "results" / "reference.json").read_text())
    assert reference["score"] == sum(t["max_score"] for t in reference["tests"]) > 0
    functions = {t["extra_data"].get("function") for t in reference["tests"]}
    assert functions == {"frames", "conv1d", "avg_pool1d", "rms", "rms_energy"}
    assert (root / "signals-autograder.zip").is_file()
    grades = (root / "graded" / "grades.csv").read_text()
    assert "reference" in grades and "stub" in grades and (root / "graded" / "report.html").is_file()
    assert json.loads((root / "graded" / "stub" / "results.json").read_text())["score"] == 0


def test_the_guides_mutation_command_lists_the_mutants_of_its_solution(course):
    mutation_list = next(out for out in course[1] if "signals #" in out)
    assert "conv1d" in mutation_list and "rms" in mutation_list


def test_the_guides_likely_mistake_is_named_only_for_the_answer_it_reproduces(course, tmp_path):
    root, _ = course
    notebook = json.loads((root / "solutions" / "signals" / "signals.ipynb").read_text())
    for cell in notebook["cells"]:
        cell["source"] = cell["source"].replace("x[i:i + k] @ kernel", "x[i:i + k] @ kernel[::-1]")
    # A replacement that finds nothing would grade the right solution and prove nothing.
    assert any("kernel[::-1]" in cell["source"] for cell in notebook["cells"])
    path = tmp_path / "flipped.ipynb"
    path.write_text(json.dumps(notebook))
    results = grade_notebook(path, "signals", solutions_root=root / "solutions")
    by_number = {t.number: t.output for t in results.tests}
    assert "Likely mistake: the kernel is flipped" in by_number["2.2"]
    assert "opposite sign" not in by_number["2.2"]
    assert "Likely mistake" not in by_number["2.3"]  # another kernel: no entry reproduces that answer


def test_the_guide_lists_every_assignment_toml_key_with_its_default():
    text = GUIDE.read_text(encoding="utf-8")
    for key in ("title", "notebook"):
        assert f"| `{key}` |" in text
    for section, cls in SECTIONS.items():
        for item in dataclasses.fields(cls):
            default = item.default
            shown = f'"{default}"' if isinstance(default, str) else str(default).lower()
            if default == ():  # a TOML array
                shown = "[]"
            assert (
                f"| `[{section}] {item.name}` | `{shown}` |" in text
                or f"| `[{section}] {item.name}` | {shown} |" in text
            ), (section, item.name, shown)


def test_the_guide_names_every_part_of_the_test_api():
    text = GUIDE.read_text(encoding="utf-8")
    missing = [name for name in grader.testing.__all__ if name not in text]
    assert not missing
    for check in (
        "to_equal",
        "to_be_a_number",
        "to_be_finite",
        "to_leave_inputs_unchanged",
        "to_raise_no_warnings",
        "to_raise",
        "rtol",
        "atol",
        "likely",
        "shape_hint",
        "helpers",
    ):
        assert f"`.{check}" in text or f"`{check}`" in text, check

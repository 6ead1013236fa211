"""The autograder zip for Gradescope's zip route: layout, scripts, and which solutions it carries."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from grader.config import ConfigError
from grader.gradescope.packaging import (
    PROJECT_DIR,
    TEMPLATES_DIR,
    build_autograder_zip,
    render_run_autograder,
)


def _assignment(root: Path, name: str) -> None:
    folder = root / name
    (folder / "tests").mkdir(parents=True)
    (folder / "assignment.toml").write_text(f'title = "{name}"\n', encoding="utf-8")
    (folder / f"{name}.ipynb").write_text("{}", encoding="utf-8")
    (folder / "tests" / "test_hidden.py").write_text("def test_x():\n    pass\n", encoding="utf-8")
    (folder / "tests" / "__pycache__").mkdir()
    (folder / "tests" / "__pycache__" / "test_hidden.cpython-311.pyc").write_bytes(b"\0")


@pytest.fixture
def solutions(tmp_path: Path) -> Path:
    root = tmp_path / "solutions"
    _assignment(root, "nn_basics")
    _assignment(root, "cnn")
    return root


@pytest.fixture
def archive(solutions: Path, tmp_path: Path) -> zipfile.ZipFile:
    path = build_autograder_zip("nn_basics", tmp_path / "out" / "autograder.zip", solutions)
    with zipfile.ZipFile(path) as zf:
        yield zf


def test_zip_has_setup_and_run_autograder_at_its_root(archive):
    names = archive.namelist()
    assert "setup.sh" in names
    assert "run_autograder" in names


def test_zip_is_written_where_asked_and_its_path_returned(solutions, tmp_path):
    out = tmp_path / "nested" / "folder" / "nn.zip"
    assert build_autograder_zip("nn_basics", out, solutions) == out
    assert zipfile.is_zipfile(out)
    assert not list(out.parent.glob("*.partial"))


@pytest.mark.parametrize("name", ["setup.sh", "run_autograder"])
def test_scripts_in_the_zip_have_lf_line_endings(archive, name):
    data = archive.read(name)
    assert data.startswith(b"#!/usr/bin/env bash\n")
    assert b"\r" not in data


@pytest.mark.parametrize("name", ["setup.sh", "run_autograder"])
def test_scripts_in_the_zip_are_executable(archive, name):
    mode = archive.getinfo(name).external_attr >> 16
    assert stat.S_ISREG(mode)
    assert stat.S_IMODE(mode) == 0o755


def test_other_files_in_the_zip_are_not_executable(archive):
    info = archive.getinfo("grader/config.py")
    assert stat.S_IMODE(info.external_attr >> 16) == 0o644


def test_zip_contains_solutions_only_for_the_packaged_assignment(archive):
    solutions = {n for n in archive.namelist() if n.startswith("solutions/")}
    assert solutions == {
        "solutions/nn_basics/assignment.toml",
        "solutions/nn_basics/nn_basics.ipynb",
        "solutions/nn_basics/tests/test_hidden.py",
    }


def test_zip_carries_the_grader_source_and_its_pinned_dependencies(archive):
    names = set(archive.namelist())
    assert {"pyproject.toml", "README.md", "grader/__init__.py", "grader/config.py"} <= names
    assert "grader/gradescope/packaging.py" in names
    assert "grader/gradescope/templates/setup.sh" in names


def test_zip_leaves_out_bytecode_and_caches(archive):
    assert not [n for n in archive.namelist() if "__pycache__" in n or n.endswith(".pyc")]


def test_packaging_the_same_sources_twice_gives_identical_zips(solutions, tmp_path):
    first = build_autograder_zip("nn_basics", tmp_path / "a.zip", solutions)
    second = build_autograder_zip("nn_basics", tmp_path / "b.zip", solutions)
    assert first.read_bytes() == second.read_bytes()


def test_unknown_assignment_raises_config_error(solutions, tmp_path):
    out = tmp_path / "nope.zip"
    with pytest.raises(ConfigError, match="no_such_assignment"):
        build_autograder_zip("no_such_assignment", out, solutions)
    assert not out.exists()


def test_setup_script_installs_into_a_venv_with_cpu_torch_and_a_sandbox_user(archive):
    setup = archive.read("setup.sh").decode()
    assert "python3-venv" in setup
    assert "-m venv" in setup and "/autograder/venv" in setup
    assert "https://download.pytorch.org/whl/cpu" in setup
    assert "grader-student" in setup and "--disabled-password" in setup and "nologin" in setup
    assert "go-rwx" in setup


def test_run_autograder_grades_with_the_venv_and_always_exits_zero(archive):
    script = archive.read("run_autograder").decode()
    assert "/autograder/venv/bin/grader" in script
    assert "gradescope --root /autograder" in script
    assert script.rstrip().endswith("exit 0")


def test_run_autograder_in_the_zip_is_bound_to_its_assignment(archive):
    script = archive.read("run_autograder").decode()
    assert '\nASSIGNMENT="nn_basics"\n' in script
    assert "--assignment" in script


def test_run_autograder_without_an_assignment_leaves_the_choice_to_the_notebook(solutions):
    script = render_run_autograder(None, solutions).decode()
    assert '\nASSIGNMENT=""\n' in script


@pytest.mark.parametrize("name", ["../nn_basics", "nn basics", 'x"; rm -rf /; "'])
def test_assignment_names_that_are_not_plain_names_are_refused(solutions, tmp_path, name):
    with pytest.raises(ConfigError):
        build_autograder_zip(name, tmp_path / "bad.zip", solutions)


@pytest.mark.parametrize("name", ["setup.sh", "run_autograder"])
def test_template_scripts_are_valid_bash(name):
    result = subprocess.run(["bash", "-n", str(TEMPLATES_DIR / name)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_setup_script_reads_pyproject_without_modules_vendored_inside_pip(archive):
    # Ubuntu 22.04's pip 22.0 vendors a tomli whose load() wants text, not bytes.
    assert "pip._vendor" not in archive.read("setup.sh").decode()


def requirements_written(tmp_path: Path, **env_extra: str) -> str:
    """What setup.sh's requirements step writes into a fresh venv, with ``env_extra`` set."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    env = {**os.environ, "GRADER_SOURCE": str(PROJECT_DIR), "GRADER_VENV": str(venv), **env_extra}
    run = subprocess.run(
        ["bash", str(TEMPLATES_DIR / "setup.sh"), "requirements"], env=env, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    return (venv / "requirements.txt").read_text()


def test_setup_script_writes_exactly_the_production_requirements_of_pyproject(tmp_path):
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    wanted = tomllib.loads((PROJECT_DIR / "pyproject.toml").read_text())["project"]["dependencies"]
    assert requirements_written(tmp_path).splitlines() == wanted


def test_the_image_installs_only_the_solutions_of_the_assignment_it_is_built_for():
    dockerfile = (PROJECT_DIR / "Dockerfile").read_text(encoding="utf-8")
    copies = [line for line in dockerfile.splitlines() if line.startswith("COPY") and "solutions" in line]
    assert (
        copies
        == [
            "COPY solutions/${ASSIGNMENT}/assignment.toml /autograder/assignment.toml",  # stage 1: its [environment]
            "COPY solutions/${ASSIGNMENT} /autograder/source/solutions/${ASSIGNMENT}",
        ]
    )
    # Only the requirements file crosses from stage 1: the large layer depends on nothing else of
    # the assignment, so assignments that install the same list share it.
    assert "COPY --from=requirements /tmp/requirements-venv/requirements.txt" in dockerfile
    assert 'test -n "$ASSIGNMENT"' in dockerfile  # no assignment, no image


def test_the_slim_step_drops_torchs_tests_tools_and_headers_but_keeps_what_import_needs(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = Path(
        subprocess.run(
            [str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    for rel in (
        "torch/__init__.py",
        "torch/nn/__init__.py",
        "torch/nn/functional.py",
        "torch/lib/libtorch_cpu.so",
        "torch/lib/libtorchbind_test.so",
        "torch/bin/torch_shm_manager",
        "torch/bin/test_api",
        "torch/bin/protoc",
        "torch/include/ATen/ATen.h",
        "torch/test/test_jit",
        "torch/share/cmake/Torch/TorchConfig.cmake",
        "numpy/_core/multiarray.py",
        "numpy/_core/tests/_natype.py",  # numpy 2.2's numpy.testing imports it: kept
        "numpy/testing/__init__.py",
        "scipy/signal/__init__.py",
        "scipy/signal/tests/test_signaltools.py",
        "scipy/linalg/__init__.py",
    ):
        (site / rel).parent.mkdir(parents=True, exist_ok=True)
        (site / rel).write_text("")
    env = {**os.environ, "GRADER_VENV": str(venv)}
    run = subprocess.run(
        ["bash", str(TEMPLATES_DIR / "setup.sh"), "slim"], env=env, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    kept = sorted(
        p.relative_to(site).as_posix()
        for p in site.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    )
    assert kept == [
        "numpy/_core/multiarray.py",
        "numpy/_core/tests/_natype.py",
        "numpy/testing/__init__.py",
        "scipy/linalg/__init__.py",
        "scipy/signal/__init__.py",
        "torch/__init__.py",
        "torch/bin/torch_shm_manager",
        "torch/lib/libtorch_cpu.so",
        "torch/nn/__init__.py",
        "torch/nn/functional.py",
    ]


def _requirements_of(archive: zipfile.ZipFile) -> list[str]:
    return archive.read("requirements.txt").decode().splitlines()


def test_every_zip_carries_its_requirements_and_the_cnn_zip_pins_torch(tmp_path):
    path = build_autograder_zip("cnn", tmp_path / "cnn.zip")
    with zipfile.ZipFile(path) as zf:
        lines = _requirements_of(zf)
    assert "torch==2.13.0" in lines
    assert any(line.startswith("numpy==") for line in lines)


def test_an_assignment_adds_its_own_pins_and_omits_course_packages_it_forbids(solutions, tmp_path):
    (solutions / "nn_basics" / "assignment.toml").write_text(
        'title = "x"\n[environment]\nadd = ["librosa==0.11.0"]\nomit = ["torch", "scipy"]\n', encoding="utf-8"
    )
    with zipfile.ZipFile(build_autograder_zip("nn_basics", tmp_path / "a.zip", solutions)) as zf:
        lines = _requirements_of(zf)
    assert lines[-1] == "librosa==0.11.0"
    assert not [line for line in lines if line.startswith(("torch", "scipy"))]
    assert any(line.startswith("matplotlib==") for line in lines)


@pytest.mark.parametrize(
    ("table", "problem"),
    [
        ('add = ["librosa"]', "not pinned"),
        ('add = ["librosa>=0.10"]', "not pinned"),
        ('omit = ["numpy"]', "not a package an assignment may leave out"),
        ('omit = ["pytest"]', "not a package an assignment may leave out"),
        ('add = ["torch==2.14.1"]', "already pinned in pyproject.toml"),
        ('extra = ["x"]', "unknown setting"),
        ("add = 3", "must be a list of strings"),
    ],
)
def test_an_environment_that_cannot_be_installed_as_written_is_refused_with_the_fix(
    solutions, tmp_path, table, problem
):
    (solutions / "nn_basics" / "assignment.toml").write_text(f"[environment]\n{table}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=problem):
        build_autograder_zip("nn_basics", tmp_path / "a.zip", solutions)


def test_setup_script_applies_the_assignments_environment_with_the_same_code_as_the_zip(tmp_path):
    toml = tmp_path / "assignment.toml"
    toml.write_text('[environment]\nadd = ["librosa==0.11.0"]\nomit = ["torch"]\n', encoding="utf-8")
    from grader.gradescope.environment import requirements_text

    wanted = requirements_text((PROJECT_DIR / "pyproject.toml").read_text(), toml.read_text())
    assert requirements_written(tmp_path, ASSIGNMENT_TOML=str(toml)) == wanted
    assert "librosa==0.11.0" in wanted and "torch==" not in wanted


def test_setup_script_installs_the_zips_own_requirements_file_when_there_is_one(tmp_path):
    source = tmp_path / "source"
    source.mkdir()
    (source / "requirements.txt").write_text("numpy==2.4.6\n", encoding="utf-8")
    assert requirements_written(tmp_path, GRADER_SOURCE=str(source)) == "numpy==2.4.6\n"


def test_the_zip_holding_solutions_and_hidden_tests_is_readable_by_its_owner_only(solutions, tmp_path):
    path = build_autograder_zip("nn_basics", tmp_path / "a.zip", solutions)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600

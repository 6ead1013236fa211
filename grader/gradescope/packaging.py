"""The autograder zip for Gradescope's zip route (`grader package ASSIGNMENT`).

Gradescope unpacks the zip to ``/autograder/source``, runs ``setup.sh`` once when it builds the
image and ``run_autograder`` for every submission. Both must sit at the root of the zip, with LF
line endings; they come from ``grader/gradescope/templates/``, which the Dockerfile uses as well, so the two
routes install the grader the same way. The zip carries the grader's source, the assignment's
``requirements.txt`` (pyproject's pins with its ``[environment]`` applied: ``grader.gradescope.environment``),
and the solutions and tests of one assignment only, and its run_autograder is bound to that
assignment.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

from grader.config import SAFE_NAME, Assignment, ConfigError, default_solutions_root, load_assignment

from .environment import EnvironmentTableError, requirements_text

PACKAGE_DIR = Path(__file__).resolve().parents[1]  # the grader package, which the zip carries whole
PROJECT_DIR = PACKAGE_DIR.parent
TEMPLATES_DIR = PACKAGE_DIR / "gradescope" / "templates"

SCRIPTS = ("setup.sh", "run_autograder")  # at the zip root, executable
PROJECT_FILES = ("pyproject.toml", "README.md")

# Fixed timestamp: the same sources always give a byte-identical zip.
_EPOCH = (1980, 1, 1, 0, 0, 0)
_SKIP_DIRS = {"__pycache__", ".pytest_cache", ".ipynb_checkpoints"}
_SKIP_SUFFIXES = {".pyc", ".pyo"}


def _files_under(root: Path) -> list[Path]:
    found = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if any(part in _SKIP_DIRS or part.endswith(".egg-info") for part in rel.parts):
            continue
        if path.is_file() and path.suffix not in _SKIP_SUFFIXES:
            found.append(path)
    return found


def _add(zf: zipfile.ZipFile, name: str, data: bytes, mode: int) -> None:
    info = zipfile.ZipInfo(name, date_time=_EPOCH)
    info.create_system = 3  # Unix, so that unzip honours the mode bits
    info.external_attr = (0o100000 | mode) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    zf.writestr(info, data)


_PLACEHOLDER = b'\nASSIGNMENT=""\n'


def _script(name: str) -> bytes:
    """A template script with LF line endings, whatever the checkout did to it."""
    data = (TEMPLATES_DIR / name).read_bytes()
    return data.replace(b"\r\n", b"\n")


def render_run_autograder(assignment: str | None, solutions_root: Path | None = None) -> bytes:
    """The run_autograder script, bound to ``assignment`` (None: the only one installed).

    Raises ConfigError for an unknown assignment. The Dockerfile calls this too, so both routes
    install the same script.
    """
    script = _script("run_autograder")
    if not assignment:
        return script
    if not SAFE_NAME.fullmatch(assignment):
        raise ConfigError(f"no assignment named {assignment!r}: names are letters, digits, '_', '.', '-'")
    load_assignment(assignment, solutions_root)
    if script.count(_PLACEHOLDER) != 1:
        raise ConfigError(f'{TEMPLATES_DIR / "run_autograder"}: no ASSIGNMENT="" line to fill in')
    return script.replace(_PLACEHOLDER, b'\nASSIGNMENT="' + assignment.encode() + b'"\n')


def assignment_requirements(spec: Assignment) -> str:
    """The requirements file of ``spec``'s image: pyproject's pins with its [environment] applied."""
    pyproject = (PROJECT_DIR / "pyproject.toml").read_text(encoding="utf-8")
    try:
        return requirements_text(pyproject, (spec.root / "assignment.toml").read_text(encoding="utf-8"))
    except EnvironmentTableError as exc:
        raise ConfigError(f"{spec.root / 'assignment.toml'}: {exc}") from None


def build_autograder_zip(assignment: str, out: Path, solutions_root: Path | None = None) -> Path:
    """Write the Gradescope autograder zip for ``assignment`` to ``out`` and return its path.

    Raises ConfigError when the assignment is unknown or when this copy of the grader is not a
    source checkout (the zip needs ``pyproject.toml`` to install the same pinned dependencies).
    """
    solutions_root = Path(solutions_root) if solutions_root else default_solutions_root()
    run_autograder = render_run_autograder(assignment, solutions_root)
    spec = load_assignment(assignment, solutions_root)
    missing = [name for name in PROJECT_FILES if not (PROJECT_DIR / name).is_file()]
    missing += [
        f"grader/gradescope/templates/{name}" for name in SCRIPTS if not (TEMPLATES_DIR / name).is_file()
    ]
    if missing:
        raise ConfigError(
            f"cannot package from {PROJECT_DIR}: {', '.join(missing)} missing "
            "(run `grader package` from a source checkout)"
        )

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".partial")
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            _add(zf, "setup.sh", _script("setup.sh"), 0o755)
            # Gradescope's convention: what the image installs, at the zip's root (setup.sh reads it).
            _add(zf, "requirements.txt", assignment_requirements(spec).encode(), 0o644)
            _add(zf, "run_autograder", run_autograder, 0o755)
            for name in PROJECT_FILES:
                _add(zf, name, (PROJECT_DIR / name).read_bytes(), 0o644)
            for path in _files_under(PACKAGE_DIR):
                rel = path.relative_to(PROJECT_DIR).as_posix()
                mode = 0o755 if path.parent == TEMPLATES_DIR and path.name in SCRIPTS else 0o644
                _add(zf, rel, path.read_bytes(), mode)
            for path in _files_under(spec.root):
                rel = path.relative_to(spec.root).as_posix()
                _add(zf, f"solutions/{assignment}/{rel}", path.read_bytes(), 0o644)
        # It holds the reference solution and the hidden tests: for its owner's eyes only.
        os.chmod(tmp, 0o600)
        tmp.replace(out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return out

"""What an assignment's grading environment installs, written as a requirements file.

The pins have one home: ``pyproject.toml``'s ``[project] dependencies`` (the grader's own and the
packages this course's Colab notebooks import). An assignment's ``[environment]`` table in
``assignment.toml`` adds its own pins (``add = ["librosa==0.11.0"]``) or leaves out course
packages its handout tells students not to use (``omit = ["torch"]``).

Standard library only (and tomli on Python 3.10): ``setup.sh`` runs this file with the image's own
interpreter before anything is installed, and ``grader package`` imports it, so both routes
install the same list::

    python3 grader/gradescope/environment.py pyproject.toml solutions/NAME/assignment.toml > requirements.txt
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 (Gradescope's image)
    import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]

# What a course notebook may import that grading itself does not need: the only packages an
# assignment may omit. The rest of pyproject's list is the grader's own.
COURSE_PACKAGES = ("torch", "scipy", "matplotlib")
# A pinned requirement: a name, ==, an exact version, and optionally an environment marker.
_PINNED = re.compile(
    r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[A-Za-z0-9,._-]+\])?\s*==\s*[A-Za-z0-9.+!-]+\s*(;.+)?$"
)


class EnvironmentTableError(ValueError):
    """An [environment] table that cannot be installed as written (the instructor's to fix)."""


@dataclass(frozen=True)
class Environment:
    add: tuple[str, ...] = ()  # pinned requirements of this assignment's own
    omit: tuple[str, ...] = ()  # course packages left out


def package_name(requirement: str) -> str:
    """The normalised name of a requirement line (PEP 503): ``Foo_bar==1 ; x`` is ``foo-bar``."""
    name = re.split(r"[\s\[=<>!~;]", requirement.strip(), maxsplit=1)[0]
    return re.sub(r"[-_.]+", "-", name).lower()


def parse_environment(table: object, where: str) -> Environment:
    """An ``[environment]`` table, checked: every ``add`` pinned and new, every ``omit`` a course package."""
    if not isinstance(table, dict):
        raise EnvironmentTableError(f"{where} must be a table with the keys add and omit")
    unknown = sorted(set(table) - {"add", "omit"})
    if unknown:
        raise EnvironmentTableError(
            f"{where}: unknown setting(s) {', '.join(unknown)}; the valid ones are add, omit"
        )
    lists = {}
    for key in ("add", "omit"):
        value = table.get(key, [])
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise EnvironmentTableError(f"{where}: {key} must be a list of strings, not {value!r}")
        lists[key] = tuple(item.strip() for item in value)
    for requirement in lists["add"]:
        if not _PINNED.match(requirement):
            raise EnvironmentTableError(
                f"{where}: add {requirement!r} is not pinned; write it as NAME==VERSION (for example "
                "'librosa==0.11.0') so that every image installs the same release"
            )
    for name in lists["omit"]:
        if package_name(name) not in COURSE_PACKAGES:
            raise EnvironmentTableError(
                f"{where}: omit {name!r} is not a package an assignment may leave out; "
                f"the grader needs the rest (omit takes {', '.join(COURSE_PACKAGES)})"
            )
    return Environment(add=lists["add"], omit=lists["omit"])


def requirements(dependencies: Sequence[str], environment: Environment) -> list[str]:
    """pyproject's dependencies less the omitted packages, then the assignment's own pins."""
    omitted = {package_name(name) for name in environment.omit}
    kept = [line for line in dependencies if package_name(line) not in omitted]
    present = {package_name(line) for line in kept}
    for requirement in environment.add:
        if package_name(requirement) in present:
            raise EnvironmentTableError(
                f"{package_name(requirement)} is already pinned in pyproject.toml; change the pin there "
                "(one home for each pin) or leave it out of add"
            )
    return kept + list(environment.add)


def requirements_text(pyproject: str, assignment_toml: str | None, where: str = "assignment.toml") -> str:
    """The requirements file for an assignment, from the texts of pyproject.toml and its assignment.toml."""
    dependencies = tomllib.loads(pyproject)["project"]["dependencies"]
    table = tomllib.loads(assignment_toml).get("environment", {}) if assignment_toml else {}
    environment = parse_environment(table, f"{where} [environment]")
    return "".join(f"{line}\n" for line in requirements(dependencies, environment))


def main(argv: Sequence[str]) -> int:
    if len(argv) not in (1, 2):
        print("usage: environment.py PYPROJECT [ASSIGNMENT_TOML]", file=sys.stderr)
        return 2
    with open(argv[0], encoding="utf-8") as fh:
        pyproject = fh.read()
    assignment = None
    if len(argv) == 2:
        with open(argv[1], encoding="utf-8") as fh:
            assignment = fh.read()
    try:
        sys.stdout.write(requirements_text(pyproject, assignment, argv[1] if len(argv) == 2 else ""))
    except EnvironmentTableError as exc:
        print(f"environment.py: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Assignment configuration: where an assignment's files are, its limits and its late policy.

Each assignment has ``solutions/<name>/assignment.toml``; every key is optional and the defaults
fit Gradescope's default container (768 MB, half a CPU, 10 minutes).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, TypeVar

from .errors import GraderError
from .gradescope.environment import Environment, EnvironmentTableError, parse_environment
from .settings import HIDDEN_ENV as HIDDEN_ENV  # still imported from here by the sandbox and batch

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 (Gradescope's image)
    import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]


class ConfigError(GraderError):
    """An assignment that cannot be found or whose configuration is wrong (the instructor's to fix)."""


class UnknownAssignment(ConfigError, ValueError):
    """No assignment was named and more or fewer than one is installed.

    A ValueError too: batch grading's callers have always caught that for an ambiguous batch."""


@dataclass(frozen=True)
class Limits:
    cell_seconds: float = 20.0  # wall clock for one notebook cell
    call_seconds: float = 5.0  # wall clock for one call into a student's function
    memory_mb: int = 512  # data segment of the worker: torch needs ~230 MB, the grader ~110 MB of 768
    # Address space beyond memory_mb for the code student code imports: torch maps ~500 MB and
    # reserves more as it runs. Only a backstop: shared mappings are refused, RLIMIT_DATA holds.
    libraries_mb: int = 768
    cpu_seconds: int = 120  # CPU time of the worker over its whole life
    processes: int = 64  # processes and threads of the sandbox user
    file_size_mb: int = 16  # largest file the worker may write
    open_files: int = 256
    output_chars: int = 4000  # captured output kept per cell or call
    value_mb: int = 16  # largest value a call may send back, counted as float64 numbers
    # Cells, replays after restarts and calls together; well under Gradescope's 10 minutes, so
    # that results.json is written by the grader, not replaced by the harness's time-out.
    total_seconds: float = 300.0
    max_restarts: int = 10  # replacements of a worker that crashed or hung, per submission


@dataclass(frozen=True)
class LatePolicy:
    points_per_day: float = 0.0  # deducted per day or part of a day after the due date
    honour_late_due_date: bool = True  # nothing is accepted after Gradescope's late due date


@dataclass(frozen=True)
class SubmissionLimit:
    max_graded: int = 0  # graded submissions per period; 0: every submission is graded
    period: str = "rolling_24h"  # or "calendar_day", midnight to midnight in time_zone
    time_zone: str = "UTC"  # the course's, for calendar_day (an IANA name such as "America/New_York")

    @property
    def enabled(self) -> bool:
        return self.max_graded > 0


PERIODS = ("rolling_24h", "calendar_day")


@dataclass(frozen=True)
class Assignment:
    name: str
    title: str
    root: Path  # solutions/<name>
    notebook: str  # file name of the reference notebook
    limits: Limits = field(default_factory=Limits)
    late: LatePolicy = field(default_factory=LatePolicy)
    submission_limit: SubmissionLimit = field(default_factory=SubmissionLimit)
    environment: Environment = field(default_factory=Environment)

    @property
    def tests_dir(self) -> Path:
        return self.root / "tests"

    @property
    def reference_notebook(self) -> Path:
        return self.root / self.notebook


def default_solutions_root() -> Path:
    """Where solutions live when no root is given: the checkout this package sits in, or the image's.

    $GRADER_SOLUTIONS is read at the edge (:class:`grader.settings.Settings`) and passed down as the
    root, so that nothing below the command line depends on the process's environment."""
    checkout = Path(__file__).resolve().parent.parent / "solutions"
    if checkout.is_dir():
        return checkout
    return Path("/autograder/source/solutions")


# The sections of assignment.toml and what each holds; docs/authoring.md lists every key.
TOP_LEVEL = ("title", "notebook")
SECTIONS = {
    "limits": Limits,
    "late_policy": LatePolicy,
    "submission_limit": SubmissionLimit,
    "environment": Environment,
}


def _refuse_unknown(given: Iterable[str], valid: Sequence[str], where: str) -> None:
    unknown = sorted(set(given) - set(valid))
    if unknown:
        raise ConfigError(
            f"{where}: unknown setting(s) {', '.join(unknown)}; the valid ones are {', '.join(valid)}"
        )


_Section = TypeVar("_Section", Limits, LatePolicy, SubmissionLimit)


def _build(cls: type[_Section], table: object, where: str) -> _Section:
    if not isinstance(table, dict):
        raise ConfigError(f"{where} must be a table of settings")
    known = {f.name: f for f in fields(cls)}
    _refuse_unknown(table, list(known), where)
    values: dict[str, Any] = {}
    for key, value in table.items():
        kind = type(getattr(cls(), key))
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if type(value) is not kind:
            raise ConfigError(f"{where}: {key} must be a {kind.__name__}, not {value!r}")
        values[key] = value
    return cls(**values)


def available_assignments(solutions_root: Path | None = None) -> list[str]:
    root = solutions_root or default_solutions_root()
    return sorted(p.parent.name for p in root.glob("*/assignment.toml"))


# A name is a single folder under solutions/: it may come from a student's notebook metadata,
# and "../../tmp/mine" must never pick the tests that run in the grading process.
SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


def assignment_name(
    explicit: str | None,
    *,
    solutions_root: Path | None = None,
    notebook_names: str | None = None,
    unknown: Callable[[Sequence[str]], str],
) -> str:
    """Which assignment to grade: ``explicit``, else ``notebook_names``, else the only one installed.

    ``notebook_names`` is the name a notebook's metadata gives, for ``grader grade`` only: students
    write that metadata, so the Gradescope entry and batch grading never pass it, and a notebook
    from another assignment is not graded (and scored) as that one. ``unknown`` words the
    :class:`UnknownAssignment` raised when none of these settles it, from the installed names.
    """
    name = explicit or notebook_names
    if name:
        return name
    known = available_assignments(solutions_root)
    if len(known) == 1:
        return known[0]
    raise UnknownAssignment(unknown(known))


def resolve_assignment(
    explicit: str | None,
    *,
    solutions_root: Path | None = None,
    notebook_names: str | None = None,
    unknown: Callable[[Sequence[str]], str],
) -> Assignment:
    """The :class:`Assignment` :func:`assignment_name` names; ConfigError when it cannot be loaded."""
    name = assignment_name(
        explicit, solutions_root=solutions_root, notebook_names=notebook_names, unknown=unknown
    )
    return load_assignment(name, solutions_root)


def load_assignment(name: str, solutions_root: Path | None = None) -> Assignment:
    if not isinstance(name, str) or not SAFE_NAME.fullmatch(name) or ".." in name:
        known = ", ".join(available_assignments(solutions_root)) or "none"
        raise ConfigError(f"{name!r} is not an assignment name (known: {known})")
    root = (solutions_root or default_solutions_root()) / name
    path = root / "assignment.toml"
    if not path.is_file():
        known = ", ".join(available_assignments(solutions_root)) or "none"
        raise ConfigError(f"no assignment named {name!r} (known: {known})")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: {exc}") from None
    top = {k: v for k, v in data.items() if not isinstance(v, dict)}
    _refuse_unknown(top, TOP_LEVEL, str(path))
    _refuse_unknown({k for k, v in data.items() if isinstance(v, dict)}, list(SECTIONS), f"{path}: sections")
    limit = _build(SubmissionLimit, data.get("submission_limit", {}), f"{path} [submission_limit]")
    _check_limit(limit, f"{path} [submission_limit]")
    try:
        environment = parse_environment(data.get("environment", {}), f"{path} [environment]")
    except EnvironmentTableError as exc:
        raise ConfigError(str(exc)) from None
    return Assignment(
        name=name,
        title=str(top.get("title", name)),
        root=root,
        notebook=str(top.get("notebook", f"{name}.ipynb")),
        limits=_build(Limits, data.get("limits", {}), f"{path} [limits]"),
        late=_build(LatePolicy, data.get("late_policy", {}), f"{path} [late_policy]"),
        submission_limit=limit,
        environment=environment,
    )


def _check_limit(limit: SubmissionLimit, where: str) -> None:
    if limit.max_graded < 0:
        raise ConfigError(f"{where}: max_graded must be 0 (no limit) or more, not {limit.max_graded}")
    if limit.period not in PERIODS:
        raise ConfigError(f"{where}: period must be one of {', '.join(PERIODS)}, not {limit.period!r}")
    if limit.time_zone == SubmissionLimit.time_zone:
        return  # UTC needs no time zone database (loading one costs every grading 2 ms)
    try:
        from zoneinfo import ZoneInfo

        ZoneInfo(limit.time_zone)
    except (ValueError, KeyError, OSError):
        raise ConfigError(
            f"{where}: time_zone {limit.time_zone!r} is not a known time zone "
            '(use an IANA name such as "America/New_York" or "UTC")'
        ) from None

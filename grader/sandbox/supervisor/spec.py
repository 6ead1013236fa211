"""What student code must not see and who it runs as: the policy a sandbox is given, whole.

The grading process decides it once, at the edge (:meth:`IsolationSpec.from_settings`), and passes
it in; nothing under :mod:`grader.sandbox` reads policy from the environment.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from ...config import default_solutions_root
from ...errors import GraderError
from ...settings import DEFAULT_SANDBOX_USER, Settings

# Always hidden from student code where a mount namespace is available: the image's layout.
GRADESCOPE_SECRETS = (
    "/autograder/source",
    "/autograder/results",
    "/autograder/submission",
    "/autograder/submission_metadata.json",
)


# The grader's own modules, which the worker imports from (grader/sandbox/supervisor/spec.py).
GRADER_PACKAGE = str(Path(__file__).resolve().parents[2])


class CannotHide(GraderError, ValueError):
    """A path to hide is itself one the worker cannot run without (the interpreter, the grader's
    package): grading would show the worker what it was meant not to see, so the sandbox refuses
    to start."""


@dataclass(frozen=True)
class IsolationSpec:
    """The isolation policy of one sandbox."""

    # The deployment's solutions: hidden whichever assignment is graded, from wherever it is.
    solutions_roots: tuple[str, ...]
    hidden_paths: tuple[str, ...] = ()  # more paths the instructor or the image names as secret
    # What this grading names as secret: its assignment's solutions and tests, the submission's
    # folder, where results will be written.
    secret: tuple[str, ...] = ()
    sandbox_user: str = DEFAULT_SANDBOX_USER  # the account student code runs as, as root
    debug_worker: str | None = None  # where a forked worker that fails to start leaves its traceback

    @classmethod
    def from_settings(cls, settings: Settings, secret: Iterable[str | Path] = ()) -> IsolationSpec:
        # The default places stay hidden when the settings name other solutions: the checkout's
        # or the image's solutions must not become readable because grading used a copy.
        roots = [settings.solutions_root] if settings.solutions_root is not None else []
        roots.append(default_solutions_root())
        return cls(
            solutions_roots=tuple(dict.fromkeys(str(root) for root in roots)),
            hidden_paths=tuple(settings.hidden_paths),
            secret=tuple(str(p) for p in secret),
            sandbox_user=settings.sandbox_user,
            debug_worker=None if settings.debug_worker is None else str(settings.debug_worker),
        )

    def hiding(self, secret: Iterable[str | Path]) -> IsolationSpec:
        """This policy with more paths of this grading's to hide."""
        return replace(self, secret=(*self.secret, *(str(p) for p in secret)))

    def hidden(self) -> tuple[str, ...]:
        """What the worker must not see: this grading's secrets, the solutions, Gradescope's
        directories and the instructor's, as absolute paths."""
        paths = [*self.secret, *self.solutions_roots, *GRADESCOPE_SECRETS, *self.hidden_paths]
        return tuple(dict.fromkeys(os.path.abspath(p) for p in paths))


def essential_paths(scratch: str) -> tuple[str, ...]:
    """What the worker cannot run without: the interpreter, the grader's own modules, its scratch."""
    paths = [
        sys.prefix,
        sys.base_prefix,
        sys.exec_prefix,
        GRADER_PACKAGE,
        scratch,
    ]
    return tuple(dict.fromkeys(os.path.realpath(p) for p in paths))


def needed_paths(scratch: str) -> tuple[str, ...]:
    """What the worker should keep: the essential paths and the packages on sys.path.

    Never the current folder (``python -m`` puts it on sys.path: an instructor's course folder,
    every submission in it) nor the folder holding the grader's package (a checkout, with its
    solutions and zips): the package itself is kept on its own."""
    package = GRADER_PACKAGE
    started = {os.path.realpath(os.getcwd()), os.path.realpath(os.path.dirname(package))}
    paths = [p for p in sys.path if p and os.path.isdir(p) and os.path.realpath(p) not in started]
    return tuple(dict.fromkeys([*essential_paths(scratch), *(os.path.realpath(p) for p in paths)]))


def file_view(spec: IsolationSpec, scratch: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(hidden, needed) for a worker whose scratch directory is ``scratch``; raises CannotHide.

    A sys.path entry that is also secret (the folder `python -m` was started in, holding the
    submission) stays hidden; the interpreter itself cannot be.
    """
    hidden = spec.hidden()
    secret = {os.path.realpath(p) for p in hidden}
    clash = sorted(secret & set(essential_paths(scratch)))
    if clash:
        raise CannotHide(
            f"{clash[0]} should be hidden from student code but holds the Python "
            "the worker runs; write results and keep submissions elsewhere"
        )
    return hidden, tuple(p for p in needed_paths(scratch) if p not in secret)

"""Choosing which uploaded file to grade, and telling the student why.

Students upload folders, stray downloads and the wrong format. The rules, in order:

1. Only ``.ipynb`` files are graded. Hidden files and folders, ``__MACOSX`` and
   ``.ipynb_checkpoints`` are ignored (they are copies made by tools, not the student's choice),
   and so are symbolic links: a link could point at the instructor's solutions.
2. With several notebooks, the candidates are narrowed step by step, each step applying only when
   it leaves at least one notebook:
   a. notebooks with the student's work in them: when the handout is known (``handout``, the
      fingerprints of its code cells), at least one code cell that differs from every cell of
      the handout, so an untouched copy of the handout never wins; otherwise at least one
      non-empty code cell;
   b. notebooks whose metadata names the assignment (the course template writes it);
   c. notebooks named like the assignment's notebook (e.g. ``nn_basics.ipynb``);
   d. the most recently modified; ties go to the shallowest path, then alphabetical order, so a
      rerun of the same upload always grades the same file, and the message says so.
   Notebooks that cannot be read only win when no notebook can be read; grading then explains why.
3. Without a notebook, the message names what was uploaded and says how to download the notebook.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..grading import messages
from ..text import one_line
from . import Notebook, NotebookError
from .isolated import Summary, choose_and_read, read_or_error
from .walk import Walk, walk

IGNORED_DIRS = frozenset({"__MACOSX", ".ipynb_checkpoints", "__pycache__"})


@dataclass(frozen=True)
class Choice:
    notebook: Path | None
    message: str  # for the student; empty when there was nothing to explain
    # The chosen notebook as read while choosing, so that it is read once: its error when it could
    # not be; None when there is no notebook.
    read: Notebook | NotebookError | None = None


def _ignored(name: str) -> bool:
    return name.startswith(".") or name in IGNORED_DIRS


def submitted_files(root: Path) -> list[Path]:
    """Regular files under ``root`` the student meant to submit, in a stable order."""
    return submitted(root).files


def submitted(root: Path) -> Walk:
    """The upload under ``root``: its files and symbolic links (never followed), within the walk's
    caps on depth and entries (``Walk.stopped`` says when one was reached)."""
    if not Path(root).is_dir():
        return Walk()
    return walk(Path(root), _ignored)


def _is_notebook(path: Path) -> bool:
    return path.suffix.lower() == ".ipynb"


def _shown(path: Path, root: Path | None) -> str:
    """A file as messages name it: one line, whatever its name holds."""
    if root is not None:
        try:
            return one_line(path.relative_to(root).as_posix())
        except ValueError:
            pass
    return one_line(path.name)


def _describe(path: Path, root: Path | None) -> str:
    return messages.described(_shown(path, root), path.name)


def symbolic_links(root: Path) -> list[Path]:
    """The symbolic links under ``root`` (never followed), outside ignored folders, in a stable order."""
    return submitted(root).links


def no_notebook_message(files: list[Path], root: Path | None = None) -> str:
    links = symbolic_links(root) if root is not None else []
    return messages.no_notebook(
        [_describe(p, root) for p in files[:5]],
        len(files),
        {p.suffix.lower() for p in files},
        [_shown(p, root) for p in links[:5]],
        len(links),
    )


def fingerprint(source: str) -> str:
    """A code cell's identity, blind to trailing whitespace and blank lines at either end."""
    text = "\n".join(line.rstrip() for line in source.strip().splitlines())
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def handout_fingerprints(cells: list[str]) -> frozenset[str]:
    """The fingerprints of the handout's non-empty code cells, for ``choose(handout=...)``."""
    return frozenset(fingerprint(source) for source in cells if source.strip())


@dataclass(frozen=True)
class _Candidate:
    path: Path
    readable: bool
    assignment: str | None
    has_code: bool
    has_work: bool  # a code cell that is not the handout's
    mtime: float


def _summary(handout: frozenset[str]) -> Callable[[Notebook], Summary]:
    """What choosing needs of one candidate, as small plain data (computed in intake's child)."""

    def summary(notebook: Notebook) -> Summary:
        code = [cell.source for cell in notebook.cells if cell.source.strip()]
        assignment = notebook.assignment
        return {
            "assignment": assignment[:200] if isinstance(assignment, str) else None,
            "code": bool(code),
            "work": any(fingerprint(source) not in handout for source in code),
        }

    return summary


def _mtime(path: Path) -> float:
    try:
        return path.stat(follow_symlinks=False).st_mtime
    except OSError:
        return 0.0


def _candidate(path: Path, seen: Summary | NotebookError) -> _Candidate:
    if isinstance(seen, NotebookError):
        return _Candidate(path, False, None, False, False, _mtime(path))
    named = seen.get("assignment")
    assignment = named if isinstance(named, str) else None
    return _Candidate(path, True, assignment, bool(seen.get("code")), bool(seen.get("work")), _mtime(path))


def notebook_assignments(notebooks: list[Path]) -> list[str | None]:
    """The assignment each notebook's metadata names (None when unreadable or unnamed)."""
    if not notebooks:
        return []
    seen, _, _ = choose_and_read(notebooks, _summary(frozenset()), lambda _: 0)
    return [_candidate(path, summary).assignment for path, summary in zip(notebooks, seen)]


# (applies, keep, why it alone decided, what the survivors have in common)
_Step = tuple[bool, Callable[[_Candidate], bool], str, str]


def _steps(assignment: str | None, expected_name: str | None, handout: bool) -> tuple[_Step, ...]:
    if handout:
        work: _Step = (True, lambda c: c.has_work, *messages.ONLY_ONE_WORKED_ON)
    else:
        work = (True, lambda c: c.has_code, *messages.ONLY_ONE_HAS_CODE)
    return (
        (True, lambda c: c.readable, *messages.ONLY_ONE_READABLE),
        work,
        (
            assignment is not None,
            lambda c: c.assignment == assignment,
            *messages.names_assignment(assignment),
        ),
        (
            expected_name is not None,
            lambda c: c.path.name == expected_name,
            *messages.has_notebook_name(expected_name),
        ),
    )


def _preference(steps: tuple[_Step, ...]) -> Callable[[_Candidate], tuple[object, ...]]:
    """The order the steps narrow by, as one key: narrowing step by step keeps its minimum."""

    def key(c: _Candidate) -> tuple[object, ...]:
        kept = tuple(applies and not keep(c) for applies, keep, _why, _common in steps)
        return (*kept, -c.mtime, len(c.path.parts), str(c.path))

    return key


def _reasons(pool: list[_Candidate], chosen: _Candidate, steps: tuple[_Step, ...]) -> str:
    reasons: list[str] = []
    among = ""
    for applies, keep, why, common in steps:
        narrowed = [c for c in pool if keep(c)] if applies and len(pool) > 1 else pool
        if narrowed and len(narrowed) < len(pool):
            pool, among = narrowed, common
            reasons.append(why)
    if len(pool) > 1:
        tied = sum(1 for c in pool if c.mtime == chosen.mtime)
        why = messages.modified_at_once(tied, among) if tied > 1 else messages.most_recent(among)
        # The last narrowing step left several: the time decided among them.
        reasons[-1:] = [why]
    if not chosen.readable:
        reasons.insert(0, messages.NONE_READABLE)
    return " and ".join(reasons)


def choose(
    files: list[Path],
    assignment: str | None = None,
    expected_name: str | None = None,
    root: Path | None = None,
    handout: frozenset[str] | None = None,
) -> Choice:
    """Pick the notebook to grade among ``files`` (see the module docstring for the rules), and read it.

    ``handout``: fingerprints of the handout's code cells (``handout_fingerprints``); without
    them a notebook counts as worked on when it has any code."""
    notebooks = [p for p in files if _is_notebook(p)]
    if not notebooks:
        return Choice(None, no_notebook_message(files, root))
    if len(notebooks) == 1:
        return Choice(notebooks[0], "", read_or_error(notebooks[0]))
    # A capped number of candidates, looked at together in one bounded child: an upload of
    # hundreds of notebooks must not spend the submission's time before grading starts. Only
    # the chosen one is then read for grading.
    notebooks, passed_over = _candidates(notebooks, expected_name)
    steps = _steps(assignment, expected_name, bool(handout))
    pool: list[_Candidate] = []

    def pick(seen: list[Summary | NotebookError]) -> int:
        pool.extend(_candidate(path, summary) for path, summary in zip(notebooks, seen))
        key = _preference(steps)
        return min(range(len(pool)), key=lambda index: key(pool[index]))

    _, winner, read = choose_and_read(notebooks, _summary(handout or frozenset()), pick)
    chosen = pool[winner]
    listed = ", ".join(_shown(p, root) for p in notebooks)
    message = messages.several_notebooks(
        len(notebooks), listed, _shown(chosen.path, root), _reasons(pool, chosen, steps)
    )
    if passed_over:
        message += " " + messages.notebooks_passed_over(passed_over, MAX_CANDIDATES)
    return Choice(chosen.path, message, read)


MAX_CANDIDATES = 12  # notebooks read to choose among; a real upload has one or two


def _candidates(notebooks: list[Path], expected_name: str | None) -> tuple[list[Path], int]:
    """At most MAX_CANDIDATES notebooks to choose among: those named like the assignment's first,
    then the most recently modified; and how many were passed over."""
    if len(notebooks) <= MAX_CANDIDATES:
        return notebooks, 0

    ranked = sorted(notebooks, key=lambda p: (p.name != expected_name, -_mtime(p), len(p.parts), str(p)))
    kept = set(ranked[:MAX_CANDIDATES])
    return [p for p in notebooks if p in kept], len(notebooks) - MAX_CANDIDATES

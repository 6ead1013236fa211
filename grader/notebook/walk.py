"""Walking a folder a student or an export controls: iteratively, never following a link, and
within caps on depth and entries, so that no folder tree can exhaust the stack or the time budget."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

MAX_DEPTH = 24  # folders below the root; a real upload or export is a few levels deep
MAX_ENTRIES = 20_000  # files, folders and links looked at, in all


@dataclass
class Walk:
    """What a walk found, folder by folder in name order, and why it stopped early ("" when it did not)."""

    files: list[Path] = field(default_factory=list)
    links: list[Path] = field(default_factory=list)
    stopped: str = ""


def walk(
    root: Path,
    ignored: Callable[[str], bool] = lambda name: False,
    *,
    max_depth: int = MAX_DEPTH,
    max_entries: int = MAX_ENTRIES,
) -> Walk:
    """Regular files and symbolic links under ``root``; ``ignored`` names are skipped with all they hold."""
    found = Walk()
    seen = 0
    pending: list[tuple[Path, int]] = [(Path(root), 0)]
    while pending:
        folder, depth = pending.pop()
        try:
            with os.scandir(folder) as entries:
                listed = sorted(entries, key=lambda entry: entry.name)
        except OSError:
            continue
        below: list[tuple[Path, int]] = []
        for entry in listed:
            seen += 1
            if seen > max_entries:
                found.stopped = f"more than {max_entries} files and folders"
                return found
            if ignored(entry.name):
                continue
            path = Path(entry.path)
            try:
                mode = entry.stat(follow_symlinks=False).st_mode
            except OSError:
                continue
            if stat.S_ISLNK(mode):
                found.links.append(path)
            elif stat.S_ISDIR(mode):
                if depth + 1 > max_depth:
                    found.stopped = f"folders nested more than {max_depth} levels deep"
                    continue
                below.append((path, depth + 1))
            elif stat.S_ISREG(mode):
                found.files.append(path)
        pending.extend(reversed(below))  # depth first, in name order: os.walk's top-down order
    return found


def newest_mtime(folder: Path) -> float:
    """The latest modification time of ``folder`` and the files under it (within the walk's caps)."""
    newest = Path(folder).stat().st_mtime
    for path in walk(folder).files:
        try:
            newest = max(newest, path.stat(follow_symlinks=False).st_mtime)
        except OSError:
            pass
    return newest

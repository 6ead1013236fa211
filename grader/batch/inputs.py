"""What a batch grades: the notebooks of a folder, or the submission folders of a Gradescope export.

A Gradescope "Export Submissions" zip, or the folder it unpacks to, has one folder per submission
(``submission_123456/``) and ``submission_metadata.yml`` naming the submitters.
"""

from __future__ import annotations

import re
import stat
import sys
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, cast

import yaml

from ..errors import GraderError
from ..notebook.walk import newest_mtime
from ..text import plain
from .records import Submitter

METADATA_FILE = "submission_metadata.yml"
METADATA_BYTES = 16 << 20  # Gradescope's file for thousands of submissions is a few MB
UNSAFE_ID = re.compile(r"[^A-Za-z0-9._@+-]+")

Metadata = dict[str, Any]  # one submission's entry in submission_metadata.yml, with plain keys


@dataclass(frozen=True)
class Submission:
    id: str  # also the folder name under ``out``
    source: Path  # the notebook file, or the submission's folder (Gradescope export)
    input_mtime: float  # newest modification time of what is graded
    submitters: tuple[Submitter, ...] = ()
    notes: tuple[str, ...] = ()  # for the instructor: what of it could not be read (an export's entry)


# What a batch writes beside the submissions' folders: no submission may be named like them.
BATCH_FILES = frozenset({"grades.csv", "report.html", "batch-log.txt", "grader-log.txt"})


def safe_id(name: str) -> str:
    cleaned = (UNSAFE_ID.sub("_", name).strip("._") or "submission")[:120]
    return f"submission-{cleaned}" if cleaned.lower() in BATCH_FILES else cleaned


class MetadataLoader(yaml.SafeLoader):
    """SafeLoader that reads Ruby object tags (``!ruby/hash:...``) as plain data, and aliases as the
    text they are: a few hundred bytes of nested aliases would expand to gigabytes."""

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            event = self.get_event()  # type: ignore[no-untyped-call]  # untyped in PyYAML's stubs
            return yaml.ScalarNode(
                "tag:yaml.org,2002:str", f"*{event.anchor}", event.start_mark, event.end_mark
            )
        return super().compose_node(parent, index)


def _as_plain_data(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> object:
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_scalar(cast(yaml.ScalarNode, node))


MetadataLoader.add_multi_constructor("!", _as_plain_data)
MetadataLoader.add_multi_constructor("tag:yaml.org,2002:", _as_plain_data)


def _plain_key(key: object) -> str:
    return str(key).strip().strip(":")


def _plain_keys(value: object) -> object:
    """Ruby-style ``:symbol:`` keys become plain names, recursively."""
    if isinstance(value, dict):
        return _plain_mapping(value)
    if isinstance(value, list):
        return [_plain_keys(v) for v in value]
    return value


def _plain_mapping(mapping: Mapping[object, object]) -> Metadata:
    return {_plain_key(k): _plain_keys(v) for k, v in mapping.items()}


def parse_metadata(text: str) -> dict[str, Metadata]:
    """submission_metadata.yml as {submission folder: metadata with plain keys}; {} if unreadable."""
    try:
        data = yaml.load(text, Loader=MetadataLoader)
    except yaml.YAMLError as exc:
        # Grading goes on; only the names are missing, and the instructor should know why.
        where = str(getattr(exc, "problem_mark", "") or "").strip()
        print(
            f"grader: {METADATA_FILE} is not valid YAML{f' ({where})' if where else ''}: "
            "the submissions are graded, but grades.csv and the report have no names, emails or ids",
            file=sys.stderr,
        )
        return {}
    if not isinstance(data, dict):
        return {}
    return {_plain_key(k): _plain_mapping(v) if isinstance(v, dict) else {} for k, v in data.items()}


def submitters(meta: Metadata) -> tuple[Submitter, ...]:
    people = meta.get("submitters")
    found = []
    for person in people if isinstance(people, list) else []:
        if isinstance(person, dict):
            found.append(
                Submitter(*(plain(str(person.get(k) or ""))[:200] for k in ("name", "email", "sid")))
            )
    return tuple(found)


def _export_root(folder: Path, skip: Path | None = None) -> Path | None:
    """The folder holding submission_metadata.yml: ``folder`` itself, or its one top folder (a
    zip of the export folder). Never a folder among others: that is a student's, and a metadata
    file in it must not turn the batch into that student's files alone."""
    if (folder / METADATA_FILE).is_file():
        return folder
    entries = [p for p in folder.iterdir() if _visible(p) and (skip is None or p.resolve() != skip)]
    if len(entries) == 1 and entries[0].is_dir() and not entries[0].is_symlink():
        return entries[0] if (entries[0] / METADATA_FILE).is_file() else None
    return None


def _visible(path: Path) -> bool:
    return not path.name.startswith(".") and path.name not in ("__MACOSX", "__pycache__")


def _folders(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and _visible(p) and not p.is_symlink())


def discover(folder: Path, *, mtime_floor: float = 0.0, exclude: Path | None = None) -> list[Submission]:
    """The submissions in an unpacked input folder, in a stable order (``exclude``: the output folder)."""
    folder = Path(folder)
    if exclude is not None:
        skip = Path(exclude).resolve()
        subs = _discover(folder, mtime_floor, skip)
        return [s for s in subs if s.source.resolve() != skip]
    return _discover(folder, mtime_floor, None)


def _discover(folder: Path, mtime_floor: float, skip: Path | None) -> list[Submission]:
    root = _export_root(folder, skip)
    if root is not None:
        with open(root / METADATA_FILE, "rb") as handle:
            text = handle.read(METADATA_BYTES).decode("utf-8", errors="replace")
        metadata = parse_metadata(text)
        return _unique(
            [
                Submission(
                    safe_id(path.name),
                    path,
                    max(newest_mtime(path), mtime_floor),
                    submitters(metadata.get(path.name, {})),
                )
                for path in _folders(root)
            ]
        )
    notebooks = sorted(
        p
        for p in folder.iterdir()
        if p.suffix.lower() == ".ipynb" and p.is_file() and _visible(p) and not p.is_symlink()
    )
    if notebooks:
        return _unique(
            [Submission(safe_id(p.stem), p, max(p.stat().st_mtime, mtime_floor)) for p in notebooks]
        )
    # Submission folders without the metadata file.
    return _unique(
        [Submission(safe_id(p.name), p, max(newest_mtime(p), mtime_floor)) for p in _folders(folder)]
    )


def _unique(subs: list[Submission]) -> list[Submission]:
    seen: dict[str, int] = {}
    out = []
    for sub in subs:
        key = sub.id.lower()
        seen[key] = seen.get(key, 0) + 1
        if seen[key] > 1:
            sub = replace(sub, id=f"{sub.id}-{seen[key]}")
        out.append(sub)
    return out


# An export holds a notebook or two per student: these caps are far above a course's and far
# below what would fill a disk.
MAX_EXPORT_ENTRIES = 50_000
MAX_EXPORT_BYTES = 4 << 30  # unpacked, in all
MAX_ENTRY_BYTES = 256 << 20
MAX_RATIO = 100  # unpacked / packed, for an entry of more than RATIO_FROM bytes
RATIO_FROM = 1 << 20
MAX_NAME_BYTES = 255  # of one path component: what Linux file systems accept


@dataclass(frozen=True)
class Skipped:
    """An entry of an export that was not unpacked, and why (in words for the instructor)."""

    entry: str
    why: str


def unpack_zip(archive: Path, into: Path) -> list[Skipped]:
    """Extract regular files only, never outside ``into`` (no absolute paths, ``..`` or links), within
    caps on entries, sizes and compression; an entry that cannot be unpacked is skipped, not fatal."""
    into = into.resolve()
    skipped: list[Skipped] = []
    total = 0
    with zipfile.ZipFile(archive) as zf:
        entries = zf.infolist()
        if len(entries) > MAX_EXPORT_ENTRIES:
            skipped.append(
                Skipped(
                    f"{len(entries) - MAX_EXPORT_ENTRIES} entries",
                    f"more than {MAX_EXPORT_ENTRIES} in the zip",
                )
            )
        for info in entries[:MAX_EXPORT_ENTRIES]:
            name = info.filename.replace("\\", "/")
            parts = [p for p in name.split("/") if p not in ("", ".")]
            shown = plain(name) if len(name) <= 120 else plain(name[:60]) + "..." + plain(name[-40:])
            if not parts or ".." in parts or name.startswith("/") or info.is_dir():
                continue
            if stat.S_ISLNK(info.external_attr >> 16):
                continue
            why = _unpackable(info, parts, total)
            if why:
                skipped.append(Skipped(shown, why))
                continue
            target = into.joinpath(*parts)
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
            except (FileExistsError, NotADirectoryError):
                skipped.append(Skipped(shown, CLASH))
                continue
            except OSError as exc:
                skipped.append(Skipped(shown, _unpack_error(exc)))
                continue
            try:
                with zf.open(info) as src, open(target, "xb") as dst:
                    total += _copy_capped(src, dst, min(MAX_ENTRY_BYTES, MAX_EXPORT_BYTES - total))
            except FileExistsError:
                skipped.append(
                    Skipped(shown, CLASH if target.is_dir() else "another entry has the same name")
                )
            except (OSError, zipfile.BadZipFile, ValueError) as exc:
                target.unlink(missing_ok=True)  # nothing half unpacked is graded
                skipped.append(Skipped(shown, _unpack_error(exc)))
    return skipped


def _unpackable(info: zipfile.ZipInfo, parts: list[str], total: int) -> str:
    if any(len(part.encode("utf-8", "surrogateescape")) > MAX_NAME_BYTES for part in parts):
        return f"a name longer than {MAX_NAME_BYTES} bytes"
    if info.file_size > MAX_ENTRY_BYTES:
        return f"larger than {MAX_ENTRY_BYTES >> 20} MB unpacked"
    if total + info.file_size > MAX_EXPORT_BYTES:
        return f"the export would unpack to more than {MAX_EXPORT_BYTES >> 30} GB"
    if info.file_size > RATIO_FROM and info.file_size > MAX_RATIO * max(info.compress_size, 1):
        return f"compressed more than {MAX_RATIO} times (a zip bomb?)"
    return ""


class _TooLarge(GraderError, ValueError):
    """A zip entry that unpacks to more than its size allows."""


def _copy_capped(src: Any, dst: Any, limit: int) -> int:
    """Copy at most ``limit`` bytes (a zip entry may unpack to more than its header says)."""
    copied = 0
    while chunk := src.read(1 << 20):
        copied += len(chunk)
        if copied > limit:
            raise _TooLarge("it unpacks to more than its size allows")
        dst.write(chunk)
    return copied


CLASH = "a file and a folder have the same name"


def _unpack_error(exc: BaseException) -> str:
    if isinstance(exc, (NotADirectoryError, IsADirectoryError)):
        return CLASH
    if isinstance(exc, _TooLarge):
        return str(exc)
    return f"it could not be unpacked ({type(exc).__name__})"


def export_submissions(archive: Path, unpacked: Path) -> list[Submission]:
    """The submissions of an export zip unpacked into ``unpacked``, as old as the zip.

    The unpacked files are new on every run: what says whether a submission changed is the zip's age.
    """
    skipped = unpack_zip(archive, unpacked)
    mtime = archive.stat().st_mtime
    subs = [replace(s, input_mtime=mtime) for s in discover(unpacked, mtime_floor=mtime)]
    return _with_notes(subs, skipped, unpacked.resolve())


def _with_notes(subs: list[Submission], skipped: list[Skipped], root: Path) -> list[Submission]:
    """Each skipped entry noted on the submission whose folder it was in (when it was in one)."""
    notes: dict[str, list[str]] = {}
    for entry in skipped:
        for sub in subs:
            folder = sub.source.resolve().relative_to(root).as_posix() if sub.source.is_dir() else ""
            if folder and entry.entry.startswith(folder + "/"):
                notes.setdefault(sub.id, []).append(
                    f"skipped {entry.entry[len(folder) + 1 :]!r}: {entry.why}"
                )
                break
        else:
            notes.setdefault("", []).append(f"skipped {entry.entry!r}: {entry.why}")
    if notes.get(""):
        print("grader: in the export, " + "; ".join(notes[""][:20]), file=sys.stderr)
    return [replace(sub, notes=tuple(notes.get(sub.id, ()))) for sub in subs]

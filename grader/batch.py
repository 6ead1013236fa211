"""Batch grading: a folder of notebooks or a Gradescope export, graded in parallel and resumably.

Input is one of

* a folder of ``.ipynb`` files: each file is a submission, named by its stem;
* a Gradescope "Export Submissions" zip, or the folder it unpacks to: one folder per submission
  (``submission_123456/``) with the student's files, and ``submission_metadata.yml`` naming the
  submitters. Within a submission folder the notebook is chosen by the same rules as on
  Gradescope (:mod:`grader.submission`).

Output, under ``out``: ``<submission>/results.json`` (exactly what ``grader grade --out`` writes for
the same notebook), ``grades.csv`` (one row per submission, one column per test) and
``report.html``. A submission whose results.json is newer than its input is not graded again
unless ``force`` is set, so an interrupted batch picks up where it stopped.

How the work is spread: ``jobs`` long-lived grading servers (``python -c 'grader.batch.serve()'``)
import the grader, numpy and pytest once. For each submission a server forks a child that grades
it and exits. The child, not the server, loads the hidden tests, so every sandbox worker is still
forked from a process that has never held test code or an oracle (a worker forked from a process
that graded an earlier submission could read them in its own memory), and each child claims its
own sandbox slot. A child that dies is reported as an internal error for that submission only; a
server that dies is replaced. Nothing a submission does stops the batch.
"""

from __future__ import annotations

import csv
import gc
import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from .config import HIDDEN_ENV
from .errors import GraderError
from .regrade import Comparison, was_graded
from .results import INTERNAL_PROBLEM
from .sandbox.leftovers import remove_tree
from .text import plain

METADATA_FILE = "submission_metadata.yml"
RESULTS_FILE = "results.json"
LOG_FILE = "grader-log.txt"
GRADES_FILE = "grades.csv"
REPORT_FILE = "report.html"
# A submission that has not finished after this long is stopped: more than any honest notebook
# needs with the per-cell and per-call limits, and more than Gradescope's default 10 minutes.
SUBMISSION_SECONDS = 1200.0
METADATA_BYTES = 16 << 20  # Gradescope's file for thousands of submissions is a few MB
_UNSAFE_ID = re.compile(r"[^A-Za-z0-9._@+-]+")


# ---- the model -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Submitter:
    name: str = ""
    email: str = ""
    sid: str = ""


@dataclass(frozen=True)
class Submission:
    id: str  # also the folder name under ``out``
    source: Path  # the notebook file, or the submission's folder (Gradescope export)
    input_mtime: float  # newest modification time of what is graded
    submitters: tuple[Submitter, ...] = ()


@dataclass
class BatchSummary:
    out: Path
    submissions: int = 0
    graded: int = 0  # graded in this run
    skipped: int = 0  # results from an earlier run kept
    internal_errors: int = 0  # submissions whose grading process failed (score 0 with an explanation)
    seconds: float = 0.0  # wall clock of the whole batch
    grades_csv: Path | None = None
    report: Path | None = None
    report_problem: str = ""  # why no report was written (matplotlib missing), if it was not
    report_seconds: float = 0.0
    scores: dict[str, float] = field(default_factory=dict)
    comparison: Comparison | None = None  # set when compared with an earlier batch (--compare)

    @property
    def seconds_per_submission(self) -> float:
        return self.seconds / self.graded if self.graded else 0.0


# ---- reading the input ---------------------------------------------------------------------------


def safe_id(name: str) -> str:
    cleaned = _UNSAFE_ID.sub("_", name).strip("._") or "submission"
    return cleaned[:120]


def _norm_key(key) -> str:
    return str(key).strip().strip(":")


def _normalise(value):
    """Ruby-style ``:symbol:`` keys become plain names, recursively."""
    if isinstance(value, dict):
        return {_norm_key(k): _normalise(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalise(v) for v in value]
    return value


def _yaml_loader():
    import yaml

    class Loader(yaml.SafeLoader):
        """SafeLoader that reads Ruby object tags (``!ruby/hash:...``) as plain data and refuses
        aliases: a few hundred bytes of nested aliases expand to gigabytes."""

        def compose_node(self, parent, index):
            if self.check_event(yaml.AliasEvent):
                mark = self.peek_event().start_mark
                raise yaml.composer.ComposerError(None, None, "aliases are not accepted", mark)
            return super().compose_node(parent, index)

    def plain(loader, suffix, node):
        if isinstance(node, yaml.MappingNode):
            return loader.construct_mapping(node, deep=True)
        if isinstance(node, yaml.SequenceNode):
            return loader.construct_sequence(node, deep=True)
        return loader.construct_scalar(node)

    Loader.add_multi_constructor("!", plain)
    Loader.add_multi_constructor("tag:yaml.org,2002:", plain)
    return yaml, Loader


def parse_metadata(text: str) -> dict[str, dict]:
    """submission_metadata.yml as {submission folder: metadata with plain keys}.

    With PyYAML when it is installed; otherwise a small reader that understands the part used here
    (top-level submission keys and their ``:submitters:`` lists).
    """
    try:
        yaml, loader = _yaml_loader()
    except ImportError:
        return _parse_metadata_plain(text)
    try:
        data = yaml.load(text, Loader=loader)
    except yaml.YAMLError:
        return _parse_metadata_plain(text)  # reads aliases as the text they are
    if not isinstance(data, dict):
        return {}
    return {_norm_key(k): _normalise(v) if isinstance(v, dict) else {} for k, v in data.items()}


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        value = value[1:-1]
    return value


def _parse_metadata_plain(text: str) -> dict[str, dict]:
    result: dict[str, dict] = {}
    current: dict | None = None
    in_submitters = False
    person: dict | None = None
    for raw in text.splitlines():
        if not raw.strip() or raw.lstrip().startswith("#") or raw.startswith("---"):
            continue
        indent = len(raw) - len(raw.lstrip())
        line = raw.strip()
        if indent == 0:
            key = _norm_key(line.rstrip(":"))
            current = result.setdefault(key, {})
            in_submitters, person = False, None
            continue
        if current is None:
            continue
        if line.startswith("- "):
            line = line[2:].strip()
            if in_submitters:
                person = {}
                current.setdefault("submitters", []).append(person)
        key, sep, value = line.partition(": ") if ": " in line else (line.rstrip(":"), ":", "")
        key = _norm_key(key)
        if key == "submitters":
            in_submitters, person = True, None
            current["submitters"] = []
            continue
        if in_submitters and person is not None and key in ("name", "email", "sid"):
            person[key] = _unquote(value)
        elif not raw.startswith(" " * 4) and not raw.lstrip().startswith("-") and indent <= 2:
            in_submitters = False
            current[key] = _unquote(value)
    return result


def _submitters(meta: dict) -> tuple[Submitter, ...]:
    people = meta.get("submitters") if isinstance(meta, dict) else None
    found = []
    for person in people if isinstance(people, list) else []:
        if isinstance(person, dict):
            found.append(
                Submitter(*(plain(str(person.get(k) or ""))[:200] for k in ("name", "email", "sid")))
            )
    return tuple(found)


def _newest_mtime(folder: Path) -> float:
    newest = folder.stat().st_mtime
    for dirpath, _dirs, files in os.walk(folder):
        for name in files:
            try:
                newest = max(newest, os.stat(os.path.join(dirpath, name)).st_mtime)
            except OSError:
                pass
    return newest


def _export_root(folder: Path, skip: Path | None = None) -> Path | None:
    """The folder holding submission_metadata.yml: ``folder`` itself, or its one top folder (a
    zip of the export folder). Never a folder among others: that is a student's, and a metadata
    file in it must not turn the batch into that student's files alone."""
    if (folder / METADATA_FILE).is_file():
        return folder
    entries = [p for p in folder.iterdir() if _visible(p) and (skip is None or p.resolve() != skip)]
    if len(entries) == 1 and entries[0].is_dir() and not entries[0].is_symlink():
        if (entries[0] / METADATA_FILE).is_file():
            return entries[0]
    return None


def _visible(path: Path) -> bool:
    return not path.name.startswith(".") and path.name not in ("__MACOSX", "__pycache__")


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
        subs = []
        for path in sorted(p for p in root.iterdir() if p.is_dir() and _visible(p) and not p.is_symlink()):
            meta = metadata.get(path.name, {})
            subs.append(
                Submission(safe_id(path.name), path, max(_newest_mtime(path), mtime_floor), _submitters(meta))
            )
        return _unique(subs)
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
        [
            Submission(safe_id(p.name), p, max(_newest_mtime(p), mtime_floor))
            for p in sorted(folder.iterdir())
            if p.is_dir() and _visible(p) and not p.is_symlink()
        ]
    )


def _unique(subs: list[Submission]) -> list[Submission]:
    seen: dict[str, int] = {}
    out = []
    for sub in subs:
        key = sub.id.lower()
        seen[key] = seen.get(key, 0) + 1
        if seen[key] > 1:
            sub = Submission(f"{sub.id}-{seen[key]}", sub.source, sub.input_mtime, sub.submitters)
        out.append(sub)
    return out


def unpack_zip(archive: Path, into: Path) -> None:
    """Extract regular files only, never outside ``into`` (no absolute paths, ``..`` or links)."""
    into = into.resolve()
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            name = info.filename.replace("\\", "/")
            parts = [p for p in name.split("/") if p not in ("", ".")]
            if not parts or ".." in parts or name.startswith("/") or info.is_dir():
                continue
            if (info.external_attr >> 16) & 0o170000 == 0o120000:  # a symbolic link
                continue
            target = into.joinpath(*parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst)


# ---- grading one submission (in a forked child of a server, or directly) -------------------------


def grade_submission(source: Path, assignment: str | None = None, *, solutions_root: Path | None = None):
    """Grade one submission: a notebook file, or a folder of submitted files. Never raises."""
    from .api import grade_notebook

    source = Path(source)
    if not source.is_dir():
        return grade_notebook(source, assignment, solutions_root=solutions_root)
    return _grade_folder(source, assignment, solutions_root)


def _grade_folder(folder: Path, assignment: str | None, solutions_root: Path | None):
    from .api import grade_notebook, results_for_problem
    from .config import ConfigError, available_assignments, load_assignment
    from .results import GradingResults
    from .submission import choose, submitted_files

    started = time.monotonic()
    try:
        files = submitted_files(folder)
        name = assignment
        if name is None:
            known = available_assignments(solutions_root)
            name = known[0] if len(known) == 1 else None
        spec = None
        if name is not None:
            try:
                spec = load_assignment(name, solutions_root)
            except ConfigError:
                spec = None
        choice = choose(files, name, spec.notebook if spec else None, folder)
        if choice.notebook is None:
            results = results_for_problem(spec, choice.message)
            results.execution_time = time.monotonic() - started
            return results
        results = grade_notebook(choice.notebook, name, solutions_root=solutions_root)
        if choice.message:
            results.output = f"{choice.message}\n\n{results.output}" if results.output else choice.message
        results.extra_data["graded_file"] = choice.notebook.relative_to(folder).as_posix()
        return results
    except Exception:
        traceback.print_exc(file=sys.stderr)
        return GradingResults(output=INTERNAL_PROBLEM, score_override=0.0)


def internal_error_results(detail: str):
    from .results import GradingResults

    return GradingResults(output=INTERNAL_PROBLEM, score_override=0.0, extra_data={"internal_error": detail})


def _write_internal_error(path: Path, detail: str) -> None:
    from .results import write_atomically

    try:
        write_atomically(internal_error_results(detail), path)
    except OSError:
        traceback.print_exc(file=sys.stderr)


# ---- the grading server ----------------------------------------------------------------------------


def _fault(kind: str, submission: str) -> bool:
    """Fault injection for testing the batch's recovery: GRADER_BATCH_FAULT=kind:submission."""
    return os.environ.get("GRADER_BATCH_FAULT", "") == f"{kind}:{submission}"


def _run_child(task: dict) -> tuple[str, str]:
    """Fork a child that grades ``task``; wait for it. Returns (status, detail)."""
    result_path = Path(task["results"])
    result_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(result_path.parent, 0o700)
    log_path = result_path.parent / LOG_FILE
    log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the child: grade, write, leave without running the server's clean-up
        code = 0
        target = None
        try:
            os.setpgid(0, 0)  # so a stuck child and anything it started can be killed as a group
            if _PROTO_FD is not None:
                os.close(_PROTO_FD)  # a dead server must show as end-of-file at once
            devnull = os.open(os.devnull, os.O_RDONLY)
            os.dup2(devnull, 0)
            os.dup2(log_fd, 1)
            os.dup2(log_fd, 2)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            if _fault("child-dies", task["id"]):
                os._exit(9)
            from .results import ResultsFile

            target = ResultsFile(result_path)  # before any student code runs: a full disk costs nothing
            results = grade_submission(
                Path(task["source"]),
                task.get("assignment"),
                solutions_root=Path(task["solutions"]) if task.get("solutions") else None,
            )
            target.write(results)
        except BaseException:
            code = 70
            try:
                traceback.print_exc()
                if target is not None:
                    target.discard()  # the server writes the internal-error result instead
            except BaseException:
                pass
        finally:
            try:
                sys.stdout.flush()
                sys.stderr.flush()
            finally:
                os._exit(code)
    os.close(log_fd)
    status, detail = _wait_child(pid, float(task.get("timeout", SUBMISSION_SECONDS)))
    try:
        if log_path.stat().st_size == 0:
            log_path.unlink()
    except OSError:
        pass
    if status != "graded":
        _write_internal_error(result_path, detail)
    return status, detail


def _wait_child(pid: int, timeout: float) -> tuple[str, str]:
    deadline = time.monotonic() + timeout
    pidfd = None
    try:
        pidfd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        pass
    try:
        while True:
            done, raw = os.waitpid(pid, os.WNOHANG)
            if done:
                code = os.waitstatus_to_exitcode(raw)
                if code == 0:
                    return "graded", ""
                if code < 0:
                    return "crashed", f"the grading process died from signal {signal.Signals(-code).name}"
                return "crashed", f"the grading process exited with code {code}"
            left = deadline - time.monotonic()
            if left <= 0:
                for kill in (lambda: os.killpg(pid, signal.SIGKILL), lambda: os.kill(pid, signal.SIGKILL)):
                    try:
                        kill()
                    except (ProcessLookupError, PermissionError):
                        pass
                os.waitpid(pid, 0)
                return "timeout", f"grading did not finish within {timeout:g} seconds and was stopped"
            if pidfd is not None:
                select.select([pidfd], [], [], left)
            else:
                time.sleep(min(left, 0.01))
    finally:
        if pidfd is not None:
            os.close(pidfd)


_PROTO_FD: int | None = None  # a server's answer channel, closed in its children


def serve(preload: tuple[str, ...] = ()) -> None:
    """A grading server: read tasks (JSON lines) on stdin, answer one JSON line per task on stdout."""
    global _PROTO_FD
    _PROTO_FD = os.dup(1)
    proto = os.fdopen(_PROTO_FD, "w", encoding="utf-8", buffering=1)
    os.dup2(2, 1)  # anything else printed must not get mixed into the answers
    sys.stdout = sys.stderr
    # What every grading child needs, loaded once: the grader, numpy, pytest and the test helpers.
    # Never an assignment's tests: those are loaded by each child, after its sandbox worker forked.
    import numpy  # noqa: F401
    import pytest  # noqa: F401

    from . import api, results, submission  # noqa: F401
    from .notebook import intake  # noqa: F401
    from .sandbox import session, start  # noqa: F401
    from .testing import explain, feedback, plugin, proxy  # noqa: F401

    for name in preload:
        try:
            __import__(name)
        except ImportError:
            pass
    # Everything loaded so far is left out of garbage collection from now on. Children share it
    # with the server until they write to it, and a collection (the sandbox runs one in every new
    # worker) would touch, and so copy, every page of it: 0.1 s per submission.
    gc.collect()
    gc.freeze()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the batch decides when servers stop
    proto.write(json.dumps({"ready": True}) + "\n")
    for line in sys.stdin:
        if not line.strip():
            continue
        task = json.loads(line)
        started = time.monotonic()
        if _fault("server-dies", task["id"]):
            os._exit(9)
        try:
            status, detail = _run_child(task)
        except Exception as exc:  # the fork or the log file failed: report it, keep serving
            status, detail = "crashed", f"the grading process could not be started: {exc}"
            _write_internal_error(Path(task["results"]), detail)
        proto.write(
            json.dumps(
                {"id": task["id"], "status": status, "detail": detail, "seconds": time.monotonic() - started}
            )
            + "\n"
        )


class _Server:
    def __init__(self, preload: tuple[str, ...], log, hidden: tuple[Path, ...] = ()):
        env = dict(os.environ)
        # Every student's files and every result: no worker may read another submission's.
        extra = [p for p in env.get(HIDDEN_ENV, "").split(os.pathsep) if p]
        env[HIDDEN_ENV] = os.pathsep.join(dict.fromkeys([*extra, *(str(Path(h).resolve()) for h in hidden)]))
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            env[var] = "1"  # the parallelism is across submissions
        env.pop("PYTEST_ADDOPTS", None)
        code = f"from grader.batch import serve; serve({tuple(preload)!r})"
        self.proc = subprocess.Popen(
            [sys.executable, "-c", code],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            env=env,
            start_new_session=True,
            text=True,
            encoding="utf-8",
            bufsize=1,
        )
        self.task: Submission | None = None
        self.deadline = 0.0
        self.ready = False

    def fileno(self) -> int:
        return self.proc.stdout.fileno()

    def send(self, task: dict, sub: Submission, timeout: float) -> bool:
        try:
            self.proc.stdin.write(json.dumps(task) + "\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            return False
        self.task, self.deadline = sub, time.monotonic() + timeout + 120.0
        return True

    def kill(self) -> None:
        for kill in (lambda: os.killpg(self.proc.pid, signal.SIGKILL), self.proc.kill):
            try:
                kill()
            except (ProcessLookupError, PermissionError, OSError):
                pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                stream.close()
            except OSError:
                pass

    def stop(self) -> None:
        try:
            self.proc.stdin.close()
            self.proc.wait(timeout=5)
            self.proc.stdout.close()
        except (OSError, subprocess.TimeoutExpired):
            self.kill()


# ---- the batch -----------------------------------------------------------------------------------


def _named_assignments(subs: list[Submission]) -> set[str]:
    """The assignments the submissions' notebooks name in their metadata."""
    from .submission import notebook_assignments

    notebooks = []
    for sub in subs:
        if sub.source.is_dir():
            notebooks += sorted(sub.source.rglob("*.ipynb"))[:3]
        else:
            notebooks.append(sub.source)
    return {name for name in notebook_assignments(notebooks) if name}


def _uses_torch(subs: list[Submission], assignment: str | None, solutions_root: Path | None) -> bool:
    """Whether the notebooks import torch: then the servers load it once, for every child."""
    from .config import ConfigError, available_assignments, load_assignment

    known = available_assignments(solutions_root)
    names = [assignment] if assignment else sorted(_named_assignments(subs) & set(known))
    for name in names:
        try:
            spec = load_assignment(name, solutions_root)
            cells = json.loads(spec.reference_notebook.read_text(encoding="utf-8")).get("cells", [])
        except (ConfigError, OSError, ValueError):
            continue
        for cell in cells:
            source = cell.get("source", "")
            source = "".join(source) if isinstance(source, list) else str(source)
            if re.search(r"^\s*(import torch|from torch)\b", source, re.MULTILINE):
                return True
    return False


def _is_current(sub: Submission, results_path: Path) -> bool:
    try:
        if results_path.stat().st_mtime <= sub.input_mtime:
            return False
        return was_graded(json.loads(results_path.read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return False


def _progress(total: int, enabled: bool):
    from tqdm import tqdm

    return tqdm(
        total=total,
        unit="nb",
        desc="grading",
        disable=not enabled or total == 0,
        dynamic_ncols=True,
        smoothing=0.1,
        file=sys.stderr,
    )


def _run_pool(
    todo: list[Submission],
    out: Path,
    jobs: int,
    assignment: str | None,
    solutions_root: Path | None,
    progress: bool,
    summary: BatchSummary,
    hidden: tuple[Path, ...] = (),
) -> None:
    preload = ("torch",) if _uses_torch(todo, assignment, solutions_root) else ()
    queue = list(reversed(todo))
    servers: list[_Server] = []
    log = open(out / "batch-log.txt", "a", encoding="utf-8")
    bar = _progress(len(todo), progress)

    def task_for(sub: Submission) -> dict:
        return {
            "id": sub.id,
            "source": str(sub.source),
            "results": str(out / sub.id / RESULTS_FILE),
            "assignment": assignment,
            "solutions": str(solutions_root) if solutions_root else None,
            "timeout": SUBMISSION_SECONDS,
        }

    def finish(server: _Server, status: str, detail: str) -> None:
        sub = server.task
        server.task = None
        if sub is None:
            return
        summary.graded += 1
        if status != "graded":
            summary.internal_errors += 1
            print(f"[batch] {sub.id}: {detail}", file=log, flush=True)
            bar.set_postfix_str(f"{summary.internal_errors} internal error(s)", refresh=False)
        bar.update(1)

    def dispatch(server: _Server) -> None:
        while queue and server.task is None:
            sub = queue.pop()
            if not server.send(task_for(sub), sub, SUBMISSION_SECONDS):
                queue.append(sub)
                return

    failed_starts = 0
    try:
        for _ in range(min(jobs, len(todo))):
            servers.append(_Server(preload, log, hidden))
        while any(s.task is not None for s in servers) or queue:
            if failed_starts > 3 and queue:  # the servers cannot even start: explain, do not loop forever
                detail = "the grading servers could not be started (see batch-log.txt)"
                while queue:
                    sub = queue.pop()
                    _write_internal_error(out / sub.id / RESULTS_FILE, detail)
                    summary.graded += 1
                    summary.internal_errors += 1
                    bar.update(1)
            now = time.monotonic()
            timeout = min((s.deadline for s in servers if s.task), default=now + 60.0) - now
            ready, _, _ = select.select(servers, [], [], max(0.0, min(timeout, 60.0)))
            for server in ready:
                line = server.proc.stdout.readline()
                if not line:  # the server died: its submission gets an explanation, a new server takes over
                    code = server.proc.poll()
                    lost = server.task
                    failed_starts += 0 if server.ready else 1
                    server.kill()
                    detail = f"the grading server stopped while grading it (exit code {code})"
                    if lost is not None:
                        _write_internal_error(out / lost.id / RESULTS_FILE, detail)
                    finish(server, "crashed", detail)
                    servers.remove(server)
                    if queue:
                        servers.append(_Server(preload, log, hidden))
                    continue
                reply = json.loads(line)
                if reply.get("ready"):
                    server.ready = True
                    failed_starts = 0
                else:
                    finish(server, reply.get("status", "crashed"), reply.get("detail", ""))
                dispatch(server)
            now = time.monotonic()
            for server in list(servers):
                if server.task is not None and now > server.deadline:
                    lost = server.task
                    server.kill()
                    detail = "the grading server did not answer in time and was stopped"
                    _write_internal_error(out / lost.id / RESULTS_FILE, detail)
                    finish(server, "timeout", detail)
                    servers.remove(server)
                    if queue:
                        servers.append(_Server(preload, log, hidden))
    finally:
        bar.close()
        for server in servers:
            if server.task is None:
                server.stop()
            else:
                server.kill()
        log.close()


class IsolationUnavailable(GraderError, RuntimeError):
    """Batch grading was refused: this system gives the worker no mount and PID namespaces."""


ISOLATION_NEEDED = (
    "grade-all needs mount and PID namespaces to keep each student's code away from the other "
    "submissions and their results, and this system refuses them (a container's default seccomp "
    "profile, or user namespaces disabled). Run it as root on the host, or as a user allowed user "
    "namespaces (sysctl kernel.unprivileged_userns_clone=1; on Ubuntu also "
    "kernel.apparmor_restrict_unprivileged_userns=0), or in a container started with "
    "--cap-add SYS_ADMIN --security-opt seccomp=unconfined."
)


def require_isolation() -> None:
    """Without mount and PID namespaces a worker can find the batch's input in /proc and read
    (and run) a classmate's notebook: batch grading refuses rather than grade like that."""
    from .sandbox.confine import namespaces_available

    if not namespaces_available():
        raise IsolationUnavailable(ISOLATION_NEEDED)


def batch_assignment(assignment: str | None, solutions_root: Path | None) -> str:
    """The one assignment a batch grades: the one given, else the only one installed.

    Raises ValueError when it is ambiguous: a batch never takes it from the notebooks' own
    metadata, which students write, nor mixes assignments."""
    from .config import available_assignments

    if assignment:
        return assignment
    known = available_assignments(solutions_root)
    if len(known) == 1:
        return known[0]
    raise ValueError(
        f"--assignment is required: {len(known)} assignments are installed "
        f"({', '.join(known) or 'none'}), and a batch grades one of them"
    )


def grade_all(
    input: Path,
    out: Path,
    *,
    jobs: int | None = None,
    force: bool = False,
    assignment: str | None = None,
    solutions_root: Path | None = None,
    progress: bool = True,
    report: bool = True,
    compare: Path | None = None,
) -> BatchSummary:
    """Grade every submission in ``input`` into ``out`` (see the module docstring); ``compare``: an
    earlier output folder whose scores the report and ``summary.comparison`` set against these."""
    started = time.monotonic()
    assignment = batch_assignment(assignment, solutions_root)
    input, out = Path(input), Path(out)
    if not out.is_dir():
        out.mkdir(mode=0o700, parents=True)
    os.chmod(out, os.stat(out).st_mode & 0o700)  # every result and every name: the instructor's only
    jobs = max(1, jobs or os.cpu_count() or 1)
    summary = BatchSummary(out=out)
    unpacked = None
    try:
        if input.is_file() and zipfile.is_zipfile(input):
            unpacked = Path(tempfile.mkdtemp(prefix="grader-export-"))
            unpack_zip(input, unpacked)
            subs = discover(unpacked, mtime_floor=input.stat().st_mtime)
            # The unpacked files are new on every run: what counts is the zip's age.
            subs = [Submission(s.id, s.source, input.stat().st_mtime, s.submitters) for s in subs]
        elif input.is_dir():
            subs = discover(input, exclude=out)
        else:
            raise FileNotFoundError(f"{input} is neither a folder nor a zip file")
        summary.submissions = len(subs)
        todo = [s for s in subs if force or not _is_current(s, out / s.id / RESULTS_FILE)]
        summary.skipped = len(subs) - len(todo)
        if todo:
            require_isolation()
            hidden = tuple(p for p in (input, unpacked, out) if p is not None)
            _run_pool(todo, out, jobs, assignment, solutions_root, progress, summary, hidden)
    finally:
        if unpacked is not None:
            try:
                remove_tree(str(unpacked))  # any depth a zip's paths have
            except OSError:
                traceback.print_exc(file=sys.stderr)
    records = load_records(out, subs)
    summary.scores = {r.id: r.score for r in records}
    summary.grades_csv = write_grades_csv(out / GRADES_FILE, records)
    if compare is not None:
        from .regrade import compare as compare_batches

        summary.comparison = compare_batches(Path(compare), out, [r.id for r in records])
    if report:
        report_started = time.monotonic()
        try:
            from .report import write_report

            summary.report = write_report(out / REPORT_FILE, records, comparison=summary.comparison)
        except ImportError as exc:
            summary.report_problem = f"no report: {exc} (install the 'report' extra for matplotlib)"
        summary.report_seconds = time.monotonic() - report_started
    summary.seconds = time.monotonic() - started
    return summary


# ---- collecting the results ----------------------------------------------------------------------


@dataclass
class Record:
    """One submission's results.json with who submitted it: what grades.csv and the report read."""

    id: str
    submitters: tuple[Submitter, ...]
    results: dict

    @property
    def score(self) -> float:
        return float(self.results.get("score", 0) or 0)

    @property
    def tests(self) -> list[dict]:
        return [t for t in self.results.get("tests", []) if isinstance(t, dict) and t.get("max_score", 0)]

    @property
    def max_score(self) -> float:
        return float(sum(t.get("max_score", 0) for t in self.tests))


def load_records(out: Path, subs: list[Submission]) -> list[Record]:
    records = []
    for sub in subs:
        try:
            data = json.loads((out / sub.id / RESULTS_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = {
                "score": 0,
                "tests": [],
                "output": INTERNAL_PROBLEM,
                "extra_data": {"internal_error": "no readable results.json"},
            }
        records.append(Record(sub.id, sub.submitters, data if isinstance(data, dict) else {}))
    return records


def test_column(test: dict) -> str:
    number = test.get("number")
    name = str(test.get("name", ""))
    return f"{number} {name}" if number else name


test_column.__test__ = False  # a helper, not a test, when imported into a test module


def _column_key(test: dict) -> tuple:
    from .results import number_key

    return (number_key(test.get("number")), str(test.get("name", "")))


def write_grades_csv(path: Path, records: list[Record]) -> Path:
    columns: dict[str, tuple] = {}
    for record in records:
        for test in record.tests:
            columns.setdefault(test_column(test), _column_key(test))
    ordered = sorted(columns, key=lambda c: columns[c])
    full = max((r.max_score for r in records), default=0.0)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    os.fchmod(fd, 0o600)  # names and emails: the instructor's eyes only
    with open(fd, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["submission", "names", "emails", "sids", "total", "max", *map(spreadsheet_text, ordered)]
        )
        for record in records:
            scores = {test_column(t): t.get("score", 0) for t in record.tests}
            people = record.submitters
            writer.writerow(
                [
                    *map(
                        spreadsheet_text,
                        (
                            record.id,
                            "; ".join(p.name for p in people if p.name),
                            "; ".join(p.email for p in people if p.email),
                            "; ".join(p.sid for p in people if p.sid),
                        ),
                    ),
                    _fmt(record.score),
                    _fmt(record.max_score or full),
                    *(_fmt(scores[c]) if c in scores else "" for c in ordered),
                ]
            )
    os.replace(tmp, path)
    return path


def spreadsheet_text(text: str) -> str:
    """A text cell a spreadsheet shows as text: one starting with = + - @ (or a tab or carriage
    return before them) would be run as a formula when the instructor opens grades.csv."""
    return f"'{text}" if text[:1] in _FORMULA_STARTS else text


_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _fmt(value) -> str:
    value = float(value)
    return str(int(value)) if value.is_integer() else f"{value:g}"

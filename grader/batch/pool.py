"""Submissions spread over ``jobs`` grading servers (:mod:`grader.batch.server`), one at a time each.

A server that dies or stops answering costs only the submission it was grading, which gets an
internal-error result, and is replaced. Nothing a submission does stops the batch.
"""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, TYPE_CHECKING, NoReturn, TextIO, cast

from ..processes import kill_group
from ..settings import Settings, single_threaded
from .grading import RESULTS_FILE, write_internal_error
from .inputs import Submission
from .protocol import SUBMISSION_SECONDS, Fault, Task, encode, read_reply

if TYPE_CHECKING:  # pragma: no cover
    from tqdm import tqdm

LOG_FILE = "batch-log.txt"
# How much longer than its child's limit a server may take to answer before it is stopped.
SERVER_GRACE_SECONDS = 120.0
IDLE_SECONDS = 60.0  # the longest wait for an answer before deadlines are checked again
FAILED_STARTS = 3  # servers that die before they are ready: more than this in a row, and none will start


@dataclass(frozen=True)
class PoolConfig:
    """What every task of one batch shares."""

    out: Path
    assignment: str  # resolved once, by grade_all
    solutions_root: Path | None
    env: Mapping[str, str]  # the servers' environment
    preload: tuple[str, ...] = ()  # modules the servers import once for every child (torch, pyplot)
    faults: Mapping[str, Fault] = field(default_factory=dict)  # submission id -> fault, for tests

    def results_path(self, sub: Submission) -> Path:
        return self.out / sub.id / RESULTS_FILE

    def task(self, sub: Submission) -> Task:
        task = Task(
            id=sub.id,
            source=str(sub.source),
            results=str(self.results_path(sub)),
            assignment=self.assignment,
            solutions=str(self.solutions_root) if self.solutions_root else None,
            timeout=SUBMISSION_SECONDS,
        )
        if sub.id in self.faults:
            task["fault"] = self.faults[sub.id]
        return task


def server_environ(
    settings: Settings, hidden: tuple[Path, ...], base: Mapping[str, str] = os.environ
) -> dict[str, str]:
    """The servers' environment: ``base`` with ``settings``, and ``hidden`` hidden from student code."""
    env = dict(base)
    # Every student's files and every result: no worker may read another submission's.
    paths = dict.fromkeys([*settings.hidden_paths, *(str(Path(h).resolve()) for h in hidden)])
    replace(settings, hidden_paths=tuple(paths)).to_environ(env)
    single_threaded(env, force=True)  # the parallelism is across submissions
    env.pop("PYTEST_ADDOPTS", None)  # a caller's pytest options must not change how the tests run
    return env


class ServerProcess:
    """One grading server as the batch sees it: the submission it grades, and until when."""

    def __init__(self, config: PoolConfig, log: TextIO) -> None:
        code = f"from grader.batch.server import serve; serve({tuple(config.preload)!r})"
        self.proc = subprocess.Popen(
            [sys.executable, "-c", code],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            env=dict(config.env),
            start_new_session=True,
            text=True,
            encoding="utf-8",
            bufsize=1,
        )
        self.stdin = cast(IO[str], self.proc.stdin)  # both are pipes: never None
        self.stdout = cast(IO[str], self.proc.stdout)
        self.task: Submission | None = None
        self.deadline = 0.0
        self.ready = False

    def fileno(self) -> int:
        return self.stdout.fileno()

    def send(self, task: Task, sub: Submission, timeout: float) -> bool:
        try:
            self.stdin.write(encode(task))
            self.stdin.flush()
        except (BrokenPipeError, OSError):
            return False
        self.task, self.deadline = sub, time.monotonic() + timeout + SERVER_GRACE_SECONDS
        return True

    def kill(self) -> None:
        kill_group(self.proc.pid)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        for stream in (self.stdin, self.stdout):
            try:
                stream.close()
            except OSError:
                pass

    def stop(self) -> None:
        try:
            self.stdin.close()
            self.proc.wait(timeout=5)
            self.stdout.close()
        except (OSError, subprocess.TimeoutExpired):
            self.kill()


class Pool:
    """Hands the submissions to the servers, replaces the servers that fail, and counts the results."""

    def __init__(self, todo: list[Submission], config: PoolConfig, log: TextIO, bar: tqdm[NoReturn]) -> None:
        self.queue = list(reversed(todo))  # popped from the end: in order
        self.config, self.log, self.bar = config, log, bar
        self.servers: list[ServerProcess] = []
        self.failed_starts = 0  # servers in a row that died before they were ready
        self.graded = 0
        self.internal_errors = 0

    def run(self, jobs: int) -> None:
        try:
            for _ in range(min(jobs, len(self.queue))):
                self.servers.append(ServerProcess(self.config, self.log))
            while self.queue or any(s.task is not None for s in self.servers):
                if self.failed_starts > FAILED_STARTS and self.queue:
                    self._give_up("the grading servers could not be started (see batch-log.txt)")
                for server in self._wait():
                    self._read(server)
                now = time.monotonic()
                for server in list(self.servers):
                    if server.task is not None and now > server.deadline:
                        self._drop(server, "the grading server did not answer in time and was stopped")
        finally:
            for server in self.servers:
                if server.task is None:
                    server.stop()
                else:
                    server.kill()

    def _wait(self) -> list[ServerProcess]:
        """The servers with something to read, once one has or the next deadline is near."""
        now = time.monotonic()
        deadline = min((s.deadline for s in self.servers if s.task), default=now + IDLE_SECONDS)
        ready, _, _ = select.select(self.servers, [], [], max(0.0, min(deadline - now, IDLE_SECONDS)))
        return ready

    def _read(self, server: ServerProcess) -> None:
        line = server.stdout.readline()
        if not line:  # the server died: its submission gets an explanation, a new server takes over
            code = server.proc.poll()
            self.failed_starts += 0 if server.ready else 1
            self._drop(server, f"the grading server stopped while grading it (exit code {code})")
            return
        reply = read_reply(line)
        if reply is None:
            server.ready = True
            self.failed_starts = 0
        else:
            self._finish(server, reply["status"] == "graded", reply["detail"])
        self._dispatch(server)

    def _dispatch(self, server: ServerProcess) -> None:
        while self.queue and server.task is None:
            sub = self.queue.pop()
            if not server.send(self.config.task(sub), sub, SUBMISSION_SECONDS):
                self.queue.append(sub)
                return

    def _drop(self, server: ServerProcess, detail: str) -> None:
        """Kill ``server``, explain its submission's loss in that submission's results, replace it."""
        lost = server.task
        server.kill()
        if lost is not None:
            write_internal_error(self.config.results_path(lost), detail)
        self._finish(server, False, detail)
        self.servers.remove(server)
        if self.queue:
            self.servers.append(ServerProcess(self.config, self.log))

    def _finish(self, server: ServerProcess, graded: bool, detail: str) -> None:
        sub, server.task = server.task, None
        if sub is None:
            return
        self.graded += 1
        if not graded:
            self.internal_errors += 1
            print(f"[batch] {sub.id}: {detail}", file=self.log, flush=True)
            self.bar.set_postfix_str(f"{self.internal_errors} internal error(s)", refresh=False)
        self.bar.update(1)

    def _give_up(self, detail: str) -> None:
        while self.queue:
            sub = self.queue.pop()
            write_internal_error(self.config.results_path(sub), detail)
            self.graded += 1
            self.internal_errors += 1
            self.bar.update(1)


def grade_in_pool(todo: list[Submission], config: PoolConfig, jobs: int, progress: bool) -> Pool:
    """Grade ``todo`` with ``jobs`` servers, the progress shown on stderr if ``progress``."""
    from tqdm import tqdm

    bar = tqdm(
        total=len(todo),
        unit="nb",
        desc="grading",
        disable=not progress or not todo,
        dynamic_ncols=True,
        smoothing=0.1,
        file=sys.stderr,
    )
    with open(config.out / LOG_FILE, "a", encoding="utf-8") as log, bar:
        pool = Pool(todo, config, log, bar)
        pool.run(jobs)
    return pool

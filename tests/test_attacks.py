"""Hostile notebooks against the sandbox: none of them may raise its score, break results.json or
change anything outside the worker's scratch directory.

Every attack is bounded on its own (loops end, forks and allocations are counted, deletions stay
inside this test's own arena), so a broken sandbox fails these tests without harming the machine.
The attacks run against a copy of the demo assignment (1 s per call, 2 s per cell) whose hidden
tests and oracle carry a marker that must never reach the feedback. Attacks that only root (or
Gradescope's container) can stop are skipped for an ordinary user; docs/security.md maps each
attack to its defence.

Inside a Docker or podman container with the default seccomp profile (scripts/container-test
runs this file in the image) namespaces are refused, so there is no private file view: secrets are
kept by file permissions, as in the image (solutions root-only, the rest root-owned), and the
network by the socket filter. Where root cannot make namespaces, the arena is laid out that way
and the same attacks must still fail.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import pytest
from conftest import CORE, assert_schema_valid

import grader
from grader.api import grade_notebook
from grader.config import default_solutions_root
from grader.results import GradingResults
from grader.sandbox.jail import kernel, seccomp
from grader.sandbox.supervisor.session import Sandbox
from grader.sandbox.supervisor.spec import IsolationSpec
from grader.settings import HIDDEN_ENV, Settings
from nbtools import run_grader, write_notebook

AS_ROOT = os.geteuid() == 0
needs_root = pytest.mark.skipif(not AS_ROOT, reason="needs root or the container")


def _namespaces_refused() -> bool:
    """Whether root is refused the worker's namespaces, as in a container with the default seccomp
    profile (Docker's, podman's, Gradescope's). A container that allows them is tested as a host."""
    if not AS_ROOT:
        return False
    pid = os.fork()
    if pid == 0:
        os._exit(0 if kernel.unshare(kernel.CLONE_NEWNS | kernel.CLONE_NEWNET) else 1)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) != 0


IN_CONTAINER = _namespaces_refused()
# Without a mount namespace (a container) /tmp is shared: a world-writable file there is writable
# by the worker too, and the arena's canary is made root-owned instead. Elsewhere the worker's /tmp
# is private, also when the interpreter lives under /tmp (a checkout there): it is bound back.
TMP_SHARED = IN_CONTAINER
# What the worker gets there: the unprivileged user, the limits and the socket filter.
CONTAINER_PROTECTIONS = {"limits", "user", "no-inet-sockets"}
# The deployment's reference solutions: the checkout's, or in the image /autograder/source's
# (root-only).
DEPLOYED_SOLUTIONS = default_solutions_root()
# Where the grader under test was imported from (in the image: the installed package), so that
# the grading processes these tests start run the same code.
GRADER_HOME = str(Path(grader.__file__).resolve().parent.parent)


def _user_namespaces() -> bool:
    """Whether this user may make the namespaces the worker uses (root need not)."""
    if AS_ROOT:
        return True
    try:
        return (
            subprocess.run(
                ["unshare", "--user", "--mount", "--pid", "--net", "--fork", "true"],
                capture_output=True,
                timeout=10,
            ).returncode
            == 0
        )
    except (OSError, subprocess.TimeoutExpired):
        return False


# As an ordinary user these hold only inside a user namespace, which some kernels refuse.
needs_isolation = pytest.mark.skipif(not _user_namespaces(), reason="needs root or the container")
MARKER = "SECRET-MARKER-7f3a9c"
STUBS = {
    "relu": "def relu(z):\n    raise NotImplementedError",
    "scale": "def scale(x, factor):\n    raise NotImplementedError",
    "count": "def count(n):\n    raise NotImplementedError",
}


# ---- the arena: a private copy of the demo assignment, a canary and a results directory ------------
class Arena:
    def __init__(self, base: Path):
        self.base = base
        self.solutions = base / "solutions"
        self.canary = base / "canary"
        self.results = base / "results"
        self.subs = base / "submissions"
        shutil.copytree(CORE / "demo", self.solutions / "demo", ignore=shutil.ignore_patterns("__pycache__"))
        for name in ("tests/test_demo.py", "tests/demo_oracle.py", "demo.ipynb"):
            path = self.solutions / "demo" / name
            path.write_text(
                path.read_text()
                + ("\n" if name.endswith(".py") else "")
                + (f"# {MARKER}\n" if name.endswith(".py") else "")
            )
        self.canary.mkdir()
        (self.canary / "precious.txt").write_text("leave me alone\n")
        (self.canary / "nested").mkdir()
        (self.canary / "nested" / "data.bin").write_bytes(bytes(range(256)))
        self.results.mkdir()
        self.subs.mkdir()
        # Writable by anyone, readable by anyone: only the sandbox stands between them and the worker.
        for path in [base, self.canary, self.results, self.subs, *self.canary.rglob("*")]:
            path.chmod(0o777 if path.is_dir() else 0o666)
        for path in self.solutions.rglob("*"):
            path.chmod(0o755 if path.is_dir() else 0o644)
        self.solutions.chmod(0o755)
        if TMP_SHARED:
            for path in [self.canary, self.results, *self.canary.rglob("*")]:
                path.chmod(0o755 if path.is_dir() else 0o644)
        if IN_CONTAINER:
            # No private file view here: the image's layout instead. Solutions root-only (as
            # setup.sh protect leaves them), everything else outside the scratch root-owned.
            for path in [self.solutions, *self.solutions.rglob("*")]:
                os.chown(path, 0, 0)
                path.chmod(0o700 if path.is_dir() else 0o600)
        # What the instructor names as secret: passed to in-process gradings, and through
        # GRADER_HIDDEN_PATHS to the command line's.
        self.hidden_paths = (self.solutions, self.results)
        self.hidden = os.pathsep.join(map(str, self.hidden_paths))

    def fill(self, source: str, port: int = 0) -> str:
        return (
            source.replace("SOLUTIONS", repr(str(self.solutions)))
            .replace("CANARY", repr(str(self.canary)))
            .replace("RESULTS", repr(str(self.results)))
            .replace("PORT", str(port))
        )

    def notebook(self, name: str, cells: list[str], port: int = 0) -> Path:
        cells = [self.fill(c, port) for c in cells]
        defined = "\n".join(cells)
        sources = ["import numpy as np", *cells]
        sources += [code for fn, code in STUBS.items() if f"def {fn}(" not in defined]
        folder = self.subs / name
        folder.mkdir(exist_ok=True)
        folder.chmod(0o777)
        return write_notebook(folder / "submission.ipynb", sources, assignment="demo")

    def snapshot(self) -> dict[str, tuple]:
        """Everything outside the submissions: names, modes, contents."""
        state = {}
        for root in (self.solutions, self.canary, self.results):
            for path in sorted([root, *root.rglob("*")]):
                if "__pycache__" in path.parts:
                    continue
                info = path.lstat()
                digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else ""
                state[str(path)] = (info.st_mode, info.st_uid, digest)
        return state


@pytest.fixture(scope="module")
def arena():
    base = Path(tempfile.mkdtemp(prefix="grader-arena-"))
    try:
        yield Arena(base)
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def stub_score(arena) -> float:
    results = grade_notebook(arena.notebook("stub", []), "demo", solutions_root=arena.solutions)
    return results.score


@pytest.fixture
def attack(arena, stub_score):
    """Grade an attack notebook in this process and check what must hold for every attack."""

    def run(name: str, *cells: str, port: int = 0) -> GradingResults:
        path = arena.notebook(name, list(cells), port)
        before = arena.snapshot()
        results = grade_notebook(path, "demo", solutions_root=arena.solutions, hidden=arena.hidden_paths)
        data = assert_schema_valid(results)
        assert results.score <= stub_score
        assert MARKER not in json.dumps(data)
        assert arena.snapshot() == before
        assert not list(Path(path.parent).glob("*.json")), "the worker wrote next to the submission"
        return results

    return run


def grade_as_nobody(
    notebook: Path, out: Path, solutions: Path, folder: Path, prefix: Sequence[str] = ()
) -> subprocess.CompletedProcess:
    """`grader grade` run by an ordinary user (nobody), with a minimal environment."""
    return run_grader(
        "grade",
        str(notebook),
        "--out",
        str(out),
        solutions=solutions,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": GRADER_HOME},
        cwd=folder,
        prefix=[*prefix, "runuser", "-u", "nobody", "--"],
    )


def cli(
    arena: Arena,
    *args: str,
    timeout: float = 120,
    prefix: Sequence[str] = (),
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess:
    """The command line on the arena's solutions, with its hidden paths in the environment."""
    env = env or {**os.environ, HIDDEN_ENV: arena.hidden, "PYTHONPATH": GRADER_HOME}
    return run_grader(
        *args, solutions=arena.solutions, env=env, cwd=arena.base, prefix=prefix, timeout=timeout
    )


def grade_by_cli(arena: Arena, stub_score: float, name: str, *cells: str, settle: float = 0.0) -> dict:
    """Grade through the command line with --out; returns results.json after ``settle`` seconds."""
    path = arena.notebook(name, list(cells))
    out = arena.results / "results.json"
    out.unlink(missing_ok=True)
    before = {k: v for k, v in arena.snapshot().items() if not k.endswith("results.json")}
    run = cli(arena, "grade", str(path), "--out", str(out))
    assert run.returncode in (0, 1), run.stderr[-2000:]  # 1: no tests at all, never a crash
    written = out.read_text()
    time.sleep(settle)
    assert out.read_text() == written, "results.json changed after the grader finished"
    data = assert_schema_valid(json.loads(written))
    assert {k: v for k, v in arena.snapshot().items() if not k.endswith("results.json")} == before
    assert "Graded submission.ipynb for Demo assignment" in data["output"]  # the grader's, not a forgery
    assert sum(t["score"] for t in data["tests"]) <= stub_score
    assert MARKER not in written
    return data


def cell_message(results: GradingResults, pattern: str) -> re.Match:
    match = re.search(pattern, results.output)
    assert match, results.output
    return match


# ---- results: forgery, late rewrites, the command line's exit code -------------------------------------
FORGE = """
import json, os
def _forge():
    for path in (RESULTS + "/results.json", CANARY + "/results.json", "results.json"):
        try:
            with open(path, "w") as handle:
                json.dump({"score": 100, "output": "FORGED", "tests": []}, handle)
        except OSError:
            pass
_forge()
def relu(z):
    z[...] = -7.0  # a changed input: no points for "leaves input alone"
    _forge()
    os._exit(0)
def scale(x, factor):
    _forge()
    os._exit(0)
"""

DETACHED = """
import os, time
def _detach():
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            time.sleep(2.5)
            for path in (RESULTS + "/results.json", CANARY + "/late.txt"):
                try:
                    with open(path, "w") as handle:
                        handle.write('{"score": 100, "output": "LATE FORGERY"}')
                except OSError:
                    pass
            os._exit(0)
        os._exit(0)
    try:
        os.wait()
    except OSError:
        pass
_detach()
def count(n):
    _detach()
    return -1
"""


@needs_root
def test_a_forged_results_file_is_replaced_by_the_graders_own(arena, stub_score):
    data = grade_by_cli(arena, stub_score, "forge", FORGE)
    assert "FORGED" not in json.dumps(data)


@needs_root
def test_a_detached_child_cannot_rewrite_results_after_grading(arena, stub_score):
    data = grade_by_cli(arena, stub_score, "detached", DETACHED, settle=3.0)
    assert "LATE FORGERY" not in json.dumps(data)
    assert not (arena.canary / "late.txt").exists()


@needs_root
def test_killing_the_parent_or_every_process_leaves_the_grader_standing(arena, stub_score):
    data = grade_by_cli(
        arena,
        stub_score,
        "kill",
        """
import os, signal
def relu(z):
    z[...] = -7.0  # a changed input: no points for "leaves input alone"
    for target in (os.getppid(), -1, 0):
        try:
            os.kill(target, signal.SIGKILL)
        except OSError:
            pass
    return z
""",
    )
    relu_tests = [t for t in data["tests"] if t["name"].startswith("relu")]
    assert relu_tests and all(t["score"] == 0 for t in relu_tests)


@needs_root
def test_the_gradescope_entry_keeps_metadata_and_its_own_files_away_from_student_code(
    arena, stub_score, tmp_path
):
    if IN_CONTAINER:
        # pytest's base folder is root-only, which would keep the worker out by accident;
        # /autograder in the image is open to everyone.
        tmp_path = Path(tempfile.mkdtemp(dir=arena.base))
    root = tmp_path / "autograder"
    (root / "submission").mkdir(parents=True)
    (root / "results").mkdir()
    for folder in (tmp_path, root, root / "submission", root / "results"):
        folder.chmod(0o777)
    shutil.copy(
        arena.notebook(
            "gradescope",
            [
                """
import gc, os, sys
def _loot():
    found = []
    frame = sys._getframe()
    while frame is not None:
        found.append(repr(frame.f_locals)[:20000])
        frame = frame.f_back
    for obj in gc.get_objects():
        if isinstance(obj, dict) and ("previous_submissions" in obj or "users" in obj):
            found.append(repr(obj))
    for folder in (ROOT + "/results", ROOT + "/submission"):
        try:
            found += os.listdir(folder)
            with open(folder + "/results.json", "w") as handle:
                handle.write('{"score": 100}')
        except OSError as exc:
            found.append(str(exc))
    return " ".join(found)
print(_loot()[:3000])
def relu(z):
    z[...] = -7.0  # a changed input: no points for "leaves input alone"
    return _loot()
""".replace("ROOT", repr(str(root)))
            ],
        ),
        root / "submission" / "submission.ipynb",
    )
    (root / "submission_metadata.json").write_text(
        json.dumps(
            {
                "created_at": "2024-01-01T00:00:00+00:00",
                "users": [{"email": f"{MARKER}@example.org"}],
                "assignment": {"due_date": "2030-01-01T00:00:00+00:00", "late_due_date": None},
                "previous_submissions": [{"score": 7, "results": {"tests": [{"output": MARKER}]}}],
            }
        )
    )
    env_hidden = os.pathsep.join([arena.hidden, str(root / "results"), str(root / "submission")])
    run = run_grader(
        "gradescope",
        "--root",
        str(root),
        "--assignment",
        "demo",
        solutions=str(arena.solutions),
        env={**os.environ, HIDDEN_ENV: env_hidden, "PYTHONPATH": GRADER_HOME},
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    written = (root / "results" / "results.json").read_text()
    data = assert_schema_valid(json.loads(written))
    assert MARKER not in written
    assert "Graded submission.ipynb" in data["output"]
    assert sum(t["score"] for t in data["tests"]) <= stub_score


# ---- secrets: solutions, hidden tests, environment, the grading process ---------------------------------
@needs_root
def test_solutions_and_hidden_tests_cannot_be_read_or_changed(attack, arena):
    results = attack(
        "read",
        """
import os
def _read():
    texts = []
    for base in (SOLUTIONS, RESULTS, CANARY, REPO_SOLUTIONS):
        for root, dirs, files in os.walk(base):
            for name in files:
                try:
                    with open(os.path.join(root, name), errors="replace") as handle:
                        texts.append(handle.read())
                    with open(os.path.join(root, name), "a") as handle:
                        handle.write("tampered")
                except OSError as exc:
                    texts.append(repr(exc))
    return "\\n".join(texts)
print(_read())
raise RuntimeError(_read()[:900])
""".replace("REPO_SOLUTIONS", repr(str(DEPLOYED_SOLUTIONS))),
        """
def relu(z):
    z[...] = -7.0  # a changed input: no points for "leaves input alone"
    print(_read())
    return _read()
""",
    )
    assert "- Code cell 2, starting " in results.output and ", raised " in results.output
    # The checkout's own solutions are world-readable: only the mount namespace hides them. The
    # image's are root-only: file permissions keep them.
    reference = (DEPLOYED_SOLUTIONS / "nn_basics" / "assignment.toml").read_text().splitlines()[0]
    assert reference not in results.output and "nn_basics" not in results.output


@needs_isolation
def test_the_environment_and_the_grading_process_stay_out_of_reach(attack, monkeypatch):
    monkeypatch.setenv("GRADER_TEST_TOKEN", MARKER)
    results = attack(
        "snoop",
        """
import ctypes, os
def _snoop():
    found = [repr(dict(os.environ))]
    pids = [p for p in os.listdir("/proc") if p.isdigit()]
    for pid in ["self", "1", str(os.getppid()), *pids[:200]]:
        for what in ("environ", "cmdline", "mem"):
            try:
                with open(f"/proc/{pid}/{what}", "rb") as handle:
                    found.append(handle.read(65536).decode("latin-1"))
            except OSError as exc:
                found.append(type(exc).__name__)
    libc = ctypes.CDLL(None, use_errno=True)
    found.append(f"ptrace={libc.ptrace(16, os.getppid(), None, None)}")  # PTRACE_ATTACH
    return "|".join(found).replace("\\x00", " ")
raise RuntimeError(_snoop()[-900:])
""",
        """
def relu(z):
    z[...] = -7.0  # a changed input: no points for "leaves input alone"
    return _snoop()
""",
    )
    assert "- Code cell 2, starting " in results.output and ", raised " in results.output
    assert "GRADER_TEST_TOKEN" not in results.output


@needs_isolation
def test_a_nested_user_namespace_cannot_uncover_hidden_files(attack):
    results = attack(
        "uncover",
        """
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
uid, gid = os.getuid(), os.getgid()
found = [f"unshare={libc.unshare(0x10000000 | 0x00020000)}"]  # CLONE_NEWUSER | CLONE_NEWNS
for path, text in (("setgroups", "deny"), ("uid_map", f"0 {uid} 1"), ("gid_map", f"0 {gid} 1")):
    try:
        with open(f"/proc/self/{path}", "w") as handle:
            handle.write(text)
    except OSError as exc:
        found.append(type(exc).__name__)
found.append(f"umount={libc.umount2(SOLUTIONS.encode(), 2)}")  # MNT_DETACH
os.makedirs("view", exist_ok=True)
found.append(f"bind={libc.mount(os.path.dirname(SOLUTIONS).encode(), b'view', None, 4096, None)}")
for folder in (SOLUTIONS, "view/solutions"):
    for root, dirs, files in os.walk(folder):
        for name in files:
            try:
                with open(os.path.join(root, name)) as handle:
                    found.append(handle.read())
            except OSError as exc:
                found.append(type(exc).__name__)
raise RuntimeError(" ".join(found)[-900:])
""",
    )
    assert "- Code cell 2, starting " in results.output and ", raised " in results.output


# ---- tampering with the grader's machinery --------------------------------------------------------------
def test_monkeypatching_numpy_builtins_and_pytest_changes_nothing(attack):
    attack(
        "monkeypatch",
        """
import builtins, sys
np.testing.assert_allclose = lambda *a, **k: None
np.testing.assert_array_equal = lambda *a, **k: None
np.allclose = np.array_equal = lambda *a, **k: True
np.isclose = lambda a, b, *r, **k: np.ones(np.shape(a), bool)
builtins.AssertionError = type("AssertionError", (Exception,), {})
builtins.isinstance = lambda obj, cls: True
for name, module in list(sys.modules.items()):
    if name.startswith(("_pytest", "pytest", "grader.testing")):
        for attr in ("fail", "GradingFailure", "expect", "approx"):
            try:
                setattr(module, attr, lambda *a, **k: None)
            except Exception:
                pass
def relu(z):
    z[...] = -7.0  # a changed input: no points for "leaves input alone"
    return np.full(np.shape(z), 42.0)
""",
    )


def test_values_that_claim_equality_with_everything_are_compared_as_plain_data(attack):
    attack(
        "equality",
        """
class Agreeable(np.ndarray):
    def __eq__(self, other):
        return np.ones(np.shape(other), bool)
    __ne__ = lambda self, other: np.zeros(np.shape(other), bool)
    def __array_finalize__(self, obj):
        pass
class Anything:
    __eq__ = lambda self, other: True
    __ne__ = lambda self, other: False
    __hash__ = object.__hash__
    def __float__(self):
        return 1.0
class Integer(int):
    __eq__ = lambda self, other: True
    __hash__ = int.__hash__
def relu(z):
    z[...] = -7.0  # a changed input: no points for "leaves input alone"
    return (np.zeros(np.shape(z)) + 123.0).view(Agreeable)
def scale(x, factor):
    return Anything()
def count(n):
    return Integer(n + 17)
""",
    )


def test_walking_frames_and_the_heap_finds_nothing_worth_returning(attack):
    attack(
        "introspection",
        """
import gc, sys
def _grab(z):
    frame, seen = sys._getframe(), []
    while frame is not None:
        seen += [v for v in frame.f_locals.values() if isinstance(v, np.ndarray)]
        frame = frame.f_back
    for obj in gc.get_objects():
        name = type(obj).__name__
        if name in ("TestResult", "GradingResults", "GradingPlugin"):
            for attr in ("score", "max_score"):
                try:
                    setattr(obj, attr, 1000.0)
                except Exception:
                    pass
        if isinstance(obj, np.ndarray):
            seen.append(obj)
    candidates = [a for a in seen if a is not z and np.shape(a) == np.shape(z) and a.dtype.kind == "f"]
    return candidates[-1].copy() if candidates else np.full(np.shape(z), 99.0)
def relu(z):
    z[...] = -7.0  # a changed input: no points for "leaves input alone"
    return _grab(z) + 1000.0
def scale(x, factor):
    return _grab(x) + 1000.0
def count(n):
    return -1
""",
    )


def test_a_later_grading_in_the_same_process_cannot_borrow_the_oracle(attack, stub_score):
    """The stub was graded in this process first, so its tests and oracle were imported here."""
    attack(
        "oracle",
        """
import gc, sys, types
def _oracle(name):
    module = sys.modules.get("demo_oracle")
    if module is not None:
        return getattr(module, name)
    for obj in gc.get_objects():
        if isinstance(obj, types.FunctionType) and obj.__name__ == name and "tests" in obj.__code__.co_filename:
            return obj
    raise LookupError(name)
def relu(z):
    return _oracle("relu")(z.copy())
def scale(x, factor):
    return _oracle("scale")(x, factor)
""",
    )


def test_a_pickle_payload_in_a_return_value_never_runs(attack, arena):
    attack(
        "pickle",
        """
import os, pickle
class Payload:
    def __reduce__(self):
        return (os.system, ("touch " + CANARY + "/pwned",))
def relu(z):
    z[...] = -7.0  # a changed input: no points for "leaves input alone"
    return Payload()
def scale(x, factor):
    return np.array([Payload(), Payload()], dtype=object)
def count(n):
    return pickle.dumps(Payload())
""",
    )
    assert not (arena.canary / "pwned").exists()


# ---- escaping control flow ------------------------------------------------------------------------------
def test_exits_and_interrupts_inside_graded_functions_cost_only_those_tests(attack):
    results = attack(
        "exits",
        """
import os
raise SystemExit("bye")
""",
        """
def relu(z):
    raise SystemExit(0)
def scale(x, factor):
    raise KeyboardInterrupt
def count(n):
    os._exit(0)
""",
    )
    assert "- Code cell 2, starting " in results.output and ", raised SystemExit" in results.output


def test_infinite_loops_at_top_level_and_in_functions_are_stopped(attack):
    started = time.monotonic()
    results = attack(
        "loops",
        """
while True:
    pass
""",
        """
def relu(z):
    z[...] = -7.0  # a changed input: no points for "leaves input alone"
    while True:
        pass
def scale(x, factor):
    while True:
        try:
            while True:
                pass
        except BaseException:
            pass
""",
    )
    assert "- Code cell 2, starting " in results.output and "did not finish in time" in results.output
    assert time.monotonic() - started < 40


def test_signal_handlers_and_timers_cannot_switch_off_the_time_limit(attack):
    started = time.monotonic()
    results = attack(
        "signals",
        """
import signal, threading, time
signal.signal(signal.SIGALRM, lambda *a: None)
def relu(z):
    z[...] = -7.0  # a changed input: no points for "leaves input alone"
    signal.signal(signal.SIGALRM, signal.SIG_IGN)
    signal.setitimer(signal.ITIMER_REAL, 0)
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM, signal.SIGTERM, signal.SIGINT})
    signal.pthread_kill(threading.main_thread().ident, signal.SIGTERM)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        pass
    return z
""",
    )
    relu_tests = [t for t in results.tests if t.function == "relu"]
    assert all(t.score == 0 for t in relu_tests) and results.extra_data["worker_restarts"] >= 1
    assert time.monotonic() - started < 30


def test_closing_or_redirecting_descriptors_only_loses_that_call(attack):
    results = attack(
        "descriptors",
        """
import os, sys
def relu(z):
    for fd in range(21):
        try:
            os.close(fd)
        except OSError:
            pass
    return z
def scale(x, factor):
    null = os.open(os.devnull, os.O_RDWR)
    for fd in range(21):
        if fd != null:
            try:
                os.dup2(null, fd)
            except OSError:
                pass
    return x
""",
    )
    assert results.extra_data["worker_restarts"] >= 1


# ---- resources ------------------------------------------------------------------------------------------
def test_a_memory_bomb_stops_at_the_memory_limit(attack):
    results = attack(
        "memory",
        """
hog = []
try:
    for _ in range(48):  # at most 3 GiB, reserved (pages are only touched in relu)
        hog.append(np.empty(64 * 2**20 // 8))
except MemoryError:
    pass
allocated = 64 * len(hog)
del hog
raise RuntimeError(f"allocated {allocated} MiB")
""",
        """
def relu(z):
    z[...] = -7.0  # a changed input: no points for "leaves input alone"
    hog = [np.ones(64 * 2**20 // 8) for _ in range(48)]
    return np.zeros(len(hog))
""",
    )
    allocated = int(cell_message(results, r"allocated (\d+) MiB").group(1))
    assert allocated <= 512


# Bounded: at most 300 children, each gone after 3 s, even if the process limit failed.
FORK_BOMB = """
import os, time
children = 0
for _ in range(300):
    try:
        pid = os.fork()
    except OSError:
        break
    if pid == 0:
        time.sleep(3)
        os._exit(0)
    children += 1
raise RuntimeError(f"forked {children} processes")
"""


def test_a_fork_bomb_stops_at_the_process_limit(attack):
    results = attack("forks", FORK_BOMB)
    children = int(cell_message(results, r"forked (\d+) processes").group(1))
    assert children < 64


def test_two_hundred_megabytes_of_printing_are_capped(attack):
    results = attack(
        "printing",
        """
import os, sys
line = "x" * 1_000_000
for _ in range(100):
    print(line)
for _ in range(100):
    os.write(1, line.encode())
raise RuntimeError("printed")
""",
        """
def relu(z):
    z[...] = -7.0  # a changed input: no points for "leaves input alone"
    for _ in range(100):
        sys.stdout.write(line)
        sys.stderr.write(line)
    return z
""",
    )
    assert len(results.to_json()) < 100_000


def test_huge_and_deeply_nested_return_values_are_refused(attack):
    results = attack(
        "values",
        """
def relu(z):
    z[...] = -7.0  # a changed input: no points for "leaves input alone"
    return np.zeros(5_000_000)
def scale(x, factor):
    value = []
    for _ in range(100_000):
        value = [value]
    return value
def count(n):
    return {str(i): i for i in range(1_000_000)}
""",
    )
    # Refused, each as an answer that could not be sent back or read, never graded as values.
    for name in ("relu", "scale", "count"):
        tests = [t for t in results.tests if t.function == name and t.max_score]
        assert tests and all(t.score == 0 for t in tests), name
    refused = [t for t in results.tests if "cannot examine" in t.output or "could not" in t.output]
    assert refused, [t.output[:200] for t in results.tests]


@needs_isolation
def test_deleting_files_reaches_only_the_scratch_directory(attack, arena):
    attack(
        "delete",
        """
import os, shutil
with open("mine.txt", "w") as handle:
    handle.write("scratch")
for folder in (os.getcwd(), SOLUTIONS, CANARY, RESULTS):
    try:
        names = os.listdir(folder)
    except OSError:
        continue
    for name in names:
        path = os.path.join(folder, name)
        try:
            shutil.rmtree(path) if os.path.isdir(path) else os.remove(path)
        except OSError:
            pass
def relu(z):
    z[...] = -7.0  # a changed input: no points for "leaves input alone"
    os.makedirs("sub", exist_ok=True)
    return np.zeros(3)
""",
    )
    assert (arena.canary / "precious.txt").exists()


@needs_root
def test_student_code_cannot_reach_a_local_listener(attack):
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.setblocking(False)
    port = listener.getsockname()[1]
    try:
        results = attack(
            "network",
            """
import socket
def _call_home():
    try:
        with socket.create_connection(("127.0.0.1", PORT), timeout=0.5) as conn:
            conn.sendall(b"leak")
            return "connected"
    except OSError as exc:
        return repr(exc)
raise RuntimeError(_call_home())
def relu(z):
    z[...] = -7.0  # a changed input: no points for "leaves input alone"
    _call_home()
    return z
""",
            port=port,
        )
        assert "connected" not in results.output
        with pytest.raises(BlockingIOError):
            listener.accept()
    finally:
        listener.close()


def test_the_socket_filter_alone_refuses_internet_sockets():
    """Where no network namespace can be had (containers), the seccomp filter still holds."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        verdict = b"?"
        try:
            kernel.prctl(kernel.PR_SET_NO_NEW_PRIVS, 1)
            if not seccomp.forbid_sockets():
                verdict = b"no filter"
            else:
                for end in socket.socketpair():
                    end.close()
                try:
                    socket.create_connection(("127.0.0.1", 9), timeout=0.2)
                    verdict = b"connected"
                except PermissionError:
                    verdict = b"refused"
                except OSError:
                    verdict = b"reached the network stack"
        finally:
            os.write(write, verdict)
            os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    assert os.read(read, 100) == b"refused"


# ---- what was in force ----------------------------------------------------------------------------------
@needs_root
def test_as_root_every_protection_is_in_force_here(attack):
    results = attack("protections", "")
    if IN_CONTAINER:  # namespaces refused by the container's seccomp profile
        assert set(results.extra_data["protections"]) >= CONTAINER_PROTECTIONS
        return
    expected = {
        "network",
        "pid",
        "mount",
        "only-needed-files",
        "hidden-files",
        "private-tmp",
        "private-proc",
        "limits",
        "user",
        "no-inet-sockets",
    }
    # Also where the interpreter lives under /tmp: a private /tmp with only it bound back.
    assert set(results.extra_data["protections"]) >= expected


@needs_root
def test_nothing_else_under_tmp_is_seen_even_when_the_interpreter_lives_there(attack):
    """Another clone's hidden tests or an older term's copy under /tmp stay out of sight."""
    if IN_CONTAINER:
        pytest.skip("no mount namespace here")
    other = Path(tempfile.mkdtemp(prefix="grader-other-clone-", dir="/tmp"))
    try:
        other.chmod(0o755)
        secret = other / "tests" / "test_hidden.py"
        secret.parent.mkdir()
        secret.write_text("hidden\n", encoding="utf-8")
        secret.parent.chmod(0o755)
        secret.chmod(0o644)
        results = attack(
            "tmp",
            f"import os\nSEEN = os.path.exists({str(secret)!r})\n"
            "def relu(z):\n    raise ValueError(f'seen={SEEN}')",
        )
        relu = [t.output for t in results.tests if t.function == "relu"]
        assert relu and all("seen=False" in text for text in relu), relu
        assert "private-tmp" in results.extra_data["protections"]
    finally:
        shutil.rmtree(other, ignore_errors=True)


@needs_root
def test_the_worker_sees_only_what_it_needs_of_the_host(attack):
    """Another clone, an older term's copy, a packaged zip, anyone's home: not hidden one by one,
    simply absent from the worker's root, which is built from an allowlist."""
    if IN_CONTAINER:
        pytest.skip("no mount namespace here")
    probes: list[Path] = []
    for top in ("/opt", "/srv", "/home", "/mnt"):
        if os.path.isdir(top):
            folder = Path(tempfile.mkdtemp(prefix="grader-other-term-", dir=top))
            folder.chmod(0o755)
            probes.append(folder / "test_hidden.py")
    probes.append(Path(GRADER_HOME) / f"grader-probe-{os.getpid()}-autograder.zip")
    try:
        for probe in probes:
            probe.write_text("hidden\n", encoding="utf-8")
            probe.chmod(0o644)
        results = attack(
            "allowlist",
            f"import os\nSEEN = [p for p in {[str(p) for p in probes]!r} if os.path.exists(p)]\n"
            # The tests' folder is on this process's sys.path because pytest put it there. A checkout
            # under /tmp is a traversable, unlistable folder in the worker's private /tmp.
            "try:\n"
            f"    SEEN += [n for n in os.listdir({GRADER_HOME!r}) if n not in ('grader', '.venv', 'tests')]\n"
            "except PermissionError:\n"
            "    pass\n"
            "def relu(z):\n    raise ValueError(f'seen={SEEN}')",
        )
        relu = [t.output for t in results.tests if t.function == "relu"]
        assert relu and all("seen=[]" in text for text in relu), relu[:1]
        assert "only-needed-files" in results.extra_data["protections"]
    finally:
        for probe in probes:
            probe.unlink(missing_ok=True)
            if probe.parent != Path(GRADER_HOME):
                shutil.rmtree(probe.parent, ignore_errors=True)


@needs_root
def test_an_ordinary_user_gets_the_limits_and_a_warning(arena):
    """Non-root mode for real: the grader itself runs as nobody."""
    folder = Path(tempfile.mkdtemp(prefix="grader-nonroot-"))
    try:
        folder.chmod(0o777)
        solutions = arena.solutions
        if IN_CONTAINER:  # the arena's are root-only there: a copy the grader, as nobody, may read
            solutions = Path(shutil.copytree(arena.solutions, folder / "solutions"))
            for path in [solutions, *solutions.rglob("*")]:
                path.chmod(0o755 if path.is_dir() else 0o644)
        notebook = shutil.copy(
            arena.notebook(
                "nonroot",
                [
                    """
import os, resource
raise RuntimeError(f"uid={os.getuid()} nproc={resource.getrlimit(resource.RLIMIT_NPROC)[0]}")
""",
                    FORK_BOMB,
                ],
            ),
            folder / "nb.ipynb",
        )
        out = folder / "results.json"
        run = grade_as_nobody(notebook, out, solutions, folder)
        assert run.returncode in (0, 1), run.stderr[-2000:]
        warning = [
            line for line in run.stderr.splitlines() if "file isolation needs root or the container" in line
        ]
        assert len(warning) == 1
        data = assert_schema_valid(json.loads(out.read_text()))
        assert (
            "limits" in data["extra_data"]["protections"] and "user" not in data["extra_data"]["protections"]
        )
        nobody = int(subprocess.run(["id", "-u", "nobody"], capture_output=True, text=True).stdout)
        assert f"uid={nobody}" in data["output"]
        children = int(re.search(r"forked (\d+) processes", data["output"]).group(1))
        assert children < 300
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# ---- round two: transport, decoding, intake, budget, test order ----------------------------------------
MB = 1024 * 1024
# A regression in what these tests measure must not take the machine's memory with it.
GRADING_DATA_LIMIT = 1536 * MB
MEASURED = """
import json, resource, sys, time
from pathlib import Path
from grader.api import grade_notebook
started = time.monotonic()
results = grade_notebook(Path(sys.argv[1]), "demo", solutions_root=Path(sys.argv[2]))
usage = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"results": json.loads(results.to_json()), "seconds": time.monotonic() - started,
                  "peak_mb": usage.ru_maxrss / 1024, "cpu": usage.ru_utime + usage.ru_stime}))
"""


def _limit_data() -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_DATA, (GRADING_DATA_LIMIT, GRADING_DATA_LIMIT))


def grade_measured(arena: Arena, stub_score: float, notebook: Path, solutions: Path | None = None) -> dict:
    """Grade in a grading process of its own: results.json, its wall time, peak memory and CPU."""
    env = {**os.environ, HIDDEN_ENV: arena.hidden, "PYTHONPATH": GRADER_HOME}
    run = subprocess.run(
        [sys.executable, "-c", MEASURED, str(notebook), str(solutions or arena.solutions)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        cwd="/",
        preexec_fn=_limit_data,
    )  # "/": no /tmp path on sys.path, so /tmp stays private
    assert run.returncode == 0, run.stderr[-3000:]
    measured = json.loads(run.stdout.strip().splitlines()[-1])
    data = assert_schema_valid(measured["results"])
    assert sum(t["score"] for t in data["tests"]) <= stub_score
    assert MARKER not in json.dumps(data)
    return measured


def limited_solutions(arena: Arena, folder: Path, **limits) -> Path:
    """A copy of the arena's solutions whose demo assignment has these extra limits."""
    solutions = Path(shutil.copytree(arena.solutions, folder / "solutions"))
    toml = solutions / "demo" / "assignment.toml"
    toml.write_text(toml.read_text() + "".join(f"{key} = {value!r}\n" for key, value in limits.items()))
    return solutions


def test_a_peer_that_stops_reading_makes_a_deadline_carrying_send_time_out():
    from grader.sandbox.wire.messages import PeerTimedOut, send_message

    ours, theirs = socket.socketpair()
    try:
        started = time.monotonic()
        with pytest.raises(PeerTimedOut):
            send_message(ours, {"op": "model"}, [bytes(4 * MB)], deadline=started + 0.5)
        assert time.monotonic() - started < 2
    finally:
        ours.close()
        theirs.close()


STOP_READING = """
import time as _time
import grader.sandbox.runtime.worker as _worker
if True:  # one statement with the raise: a replay after a restart does not patch again
    _real_reader = _worker.recv_message
    def _asleep(*args, **kwargs):
        _worker.recv_message = _real_reader
        _time.sleep(20)  # bounded: a grader without a send deadline waits this long, then goes on
        return _real_reader(*args, **kwargs)
    _worker.recv_message = _asleep
    raise RuntimeError("the next request is not read for 20 s")
"""


def test_a_worker_that_stops_reading_costs_its_cell_no_more_than_the_limit_and_grace(arena, stub_score):
    big_cell = "x = 1\n" + "# filler\n" * 100_000  # 0.9 MB: far more than a socket's buffer
    measured = grade_measured(arena, stub_score, arena.notebook("stops-reading", [STOP_READING, big_cell]))
    assert "- Code cell 3, starting " in measured["results"]["output"]
    assert "did not finish in time" in measured["results"]["output"]
    # The demo's cell limit is 2 s and the grace 2 s; the whole grading is a few seconds more.
    assert measured["seconds"] < 14, measured


FORGED_REPLY = """
import grader.sandbox.runtime.worker as _worker
def _forge(value, blobs):
    real = _worker.send_message
    def forged(sock, reply, reply_blobs=()):
        _worker.send_message = real
        real(sock, {"status": "ok", "output": "", "mutated": [], "value": value}, blobs)
    _worker.send_message = forged

def relu(z):
    # Twenty arrays on one 4 MB blob: 640 MB of float64 for one answer, if it were decoded.
    node = {"k": "array", "blob": 0, "dtype": "|b1", "shape": [4 * 1024 * 1024], "type": "ndarray", "scalar": False}
    _forge({"k": "list", "items": [node] * 20}, [b"\\x01" * (4 * 1024 * 1024)])
    return 0

def scale(x, factor):
    return np.ones(16 * 1024 * 1024, dtype=bool)  # 16 MB as sent, 128 MB as float64

def count(n):
    node = {"k": "array", "blob": 0, "dtype": "|b1", "shape": [-1, 2**40], "type": "ndarray", "scalar": False}
    _forge({"k": "list", "items": [node, {"k": "float", "v": "nan"}]}, [b""])
    return 0
"""


def test_forged_and_oversized_answers_are_refused_before_they_cost_the_grader_memory(arena, stub_score):
    measured = grade_measured(arena, stub_score, arena.notebook("forged-reply", [FORGED_REPLY]))
    tests = {t["name"]: t for t in measured["results"]["tests"]}
    assert measured["peak_mb"] < 300, measured["peak_mb"]
    for name in ("relu: negatives become 0, the rest pass through", "scale: multiplies every entry"):
        assert "cannot examine" in tests[name]["output"], tests[name]["output"]
    assert "problem in the test itself" not in json.dumps(measured["results"])


MANY_MAGICS = "\n".join("!true" if i % 33 == 0 else f"x{i} = {i}" for i in range(10_000))


def test_a_cell_full_of_magics_costs_the_grading_process_no_time(arena, stub_score):
    from grader.notebook.isolated import read_prepared

    path = arena.notebook("magics", [MANY_MAGICS])
    cpu, children, started = time.process_time(), os.times(), time.monotonic()
    cells = read_prepared(path).cells
    after = os.times()
    assert len(cells) == 5 and any(c.source == MANY_MAGICS for c in cells)
    intake_cpu = (
        time.process_time()
        - cpu
        + (after.children_user + after.children_system - children.children_user - children.children_system)
    )
    assert intake_cpu < 2 and time.monotonic() - started < 5
    measured = grade_measured(arena, stub_score, path)
    assert "- Code cell 2, starting " in measured["results"]["output"]
    assert "did not finish in time" in measured["results"]["output"]
    assert measured["seconds"] < 20, measured


def test_a_notebook_of_tiny_json_lists_is_refused_within_bounded_memory(arena, stub_score, tmp_path):
    path = arena.notebook("tiny-lists", ["x = 1"])
    data = json.loads(path.read_text())
    data["cells"][1]["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "x", "junk": None}]
    text = json.dumps(data).replace('"junk": null', '"junk": [' + "[]," * (16 * MB // 3) + "[]]")
    path.write_text(text)  # 16 MB, well under the size limit: 5 million lists as Python objects
    measured = grade_measured(arena, stub_score, path)
    assert measured["peak_mb"] < 300, measured["peak_mb"]
    assert "could not be read within the grader's limits" in measured["results"]["output"]
    assert measured["seconds"] < 20


RECORDER = """
_seen = []
def scale(x, factor):
    _seen.append(repr(x))
    return 0
def count(n):
    _seen.append(n)
    return 0
def relu(z):
    raise RuntimeError(f"SEEN: {_seen}")
"""


def test_visible_tests_run_before_any_hidden_input_reaches_the_notebook(attack):
    results = attack("recorder", RECORDER)
    visible = [t for t in results.tests if t.visibility == "visible"]
    assert visible and all("SEEN: []" in t.output for t in visible), [t.output for t in visible]


SLOW_CELL = "import time\ntime.sleep(1.5)\n"
EXITING = """
import os
def relu(z):
    os._exit(0)
def scale(x, factor):
    os._exit(0)
def count(n):
    os._exit(0)
"""


def test_cells_replays_and_calls_share_one_budget_and_results_are_still_written(arena, stub_score, tmp_path):
    solutions = limited_solutions(arena, tmp_path, total_seconds=5.0)
    path = arena.notebook("budget", [EXITING, *[SLOW_CELL] * 6])
    measured = grade_measured(arena, stub_score, path, solutions)
    output = measured["results"]["output"]
    assert "the time for running your whole notebook (5 s" in output
    assert len(measured["results"]["tests"]) == 5
    assert all(
        "was not called" in t["output"] or "stopped the process" in t["output"]
        for t in measured["results"]["tests"]
    ), measured["results"]["tests"]
    assert measured["seconds"] < 5 + 2 + 6, measured  # budget, one grace, start-up and pytest


def test_functions_that_kill_the_worker_stop_at_the_restart_cap(arena, stub_score, tmp_path):
    solutions = limited_solutions(arena, tmp_path, max_restarts=3)
    measured = grade_measured(arena, stub_score, arena.notebook("restarts", [EXITING]), solutions)
    results = measured["results"]
    assert results["extra_data"]["worker_restarts"] <= 3
    count_test = next(t for t in results["tests"] if t["name"].startswith("count"))
    assert "was not called" in count_test["output"]
    # Stopped during the hidden tests: they say so; the top of the feedback was fixed before them.
    assert "had to be restarted 3 times" in count_test["output"]
    assert "Grading stopped early" not in results["output"]


MALFORMED = """
import grader.sandbox.runtime.worker as _worker
_worker.Worker.signatures = lambda self: ({"status": "ok", "data": {"relu": 7, "scale": 8, "count": 9}}, [])
def _forge(value):
    real = _worker.send_message
    def forged(sock, reply, reply_blobs=()):
        _worker.send_message = real
        real(sock, {"status": "ok", "output": "", "mutated": [], "value": value}, [])
    _worker.send_message = forged

def relu(z):
    _forge({"k": "float", "v": 10**400})
    return 0
def scale(x, factor):
    _forge({"k": "int", "v": "9" * 4299})
    return 0
def count(n):
    _forge({"k": "array", "blob": 0, "dtype": "<f8", "shape": [], "scalar": "yes"})
    return 0
"""


WITHHELD_AFTER = """
import numpy as np
import grader.sandbox.runtime.worker as _worker
_real = _worker.send_message
def _without_after(sock, reply, reply_blobs=()):
    if isinstance(reply, dict):
        reply.pop("after", None)
    _real(sock, reply, reply_blobs)
_worker.send_message = _without_after

def relu(z):
    z[z < 0] = 0.0
    return z
"""


PUTS_BACK_WHILE_ENCODED = """
import numpy as np
class _LooksLikeATensor:
    __module__ = "torch.fake"
    def __init__(self, out, z, saved):
        self.out, self.z, self.saved = out, z, saved
    def detach(self):
        self.z[...] = self.saved  # puts the input back while the answer is encoded
        return self
    def cpu(self):
        return self
    def numpy(self):
        return self.out

def relu(z):
    saved = np.array(z, copy=True)
    np.maximum(z, 0, out=z)
    return _LooksLikeATensor(z.copy(), z, saved)
"""


def test_an_answer_that_puts_the_input_back_while_it_is_encoded_is_still_judged_as_changing_it(arena):
    """The arguments are encoded before the answer, and only torch's own tensor classes are read
    as tensors: no code of the student's runs between the call and the copy of its arguments."""
    path = arena.notebook("puts-back", [PUTS_BACK_WHILE_ENCODED])
    results = grade_notebook(path, "demo", solutions_root=arena.solutions, hidden=arena.hidden_paths)
    verdict = next(t for t in results.tests if t.name == "relu: does not modify its input")
    assert verdict.score == 0, verdict.output


def test_a_worker_that_withholds_the_arguments_after_a_call_is_judged_as_changing_them(arena):
    path = arena.notebook("withheld-after", [WITHHELD_AFTER])
    results = grade_notebook(path, "demo", solutions_root=arena.solutions, hidden=arena.hidden_paths)
    verdict = next(t for t in results.tests if t.name == "relu: does not modify its input")
    assert verdict.score == 0 and verdict.output.startswith("relu modified its input"), verdict.output


def test_malformed_answers_fail_as_unreadable_never_as_a_problem_in_the_test(attack):
    results = attack("malformed", MALFORMED)
    for test in results.tests:
        assert test.outcome == "failed", (test.name, test.output)
        assert "problem in the test itself" not in test.output


def test_huge_parameter_shapes_are_unreadable_answers_not_test_errors(arena):
    from grader.config import Limits
    from grader.testing import FailureKind, GradingFailure, Student

    settings = Settings(hidden_paths=tuple(map(str, arena.hidden_paths)))
    spec = IsolationSpec.from_settings(settings, secret=[arena.solutions])
    cell = """
import grader.sandbox.runtime.worker as _worker
class Model:
    def named_parameters(self):
        return []
def make():
    return Model()
_worker.model_request = lambda worker, request, blobs: (
    {"status": "ok", "data": [["weight", [10**4298] * 8, True]] * 100}, [])
"""
    with Sandbox([(1, cell)], Limits(cell_seconds=5.0, call_seconds=2.0), spec) as sandbox:
        assert [run.status for run in sandbox.start()] == ["ok"]
        model = Student(sandbox).make()
        started = time.process_time()
        with pytest.raises(GradingFailure) as failure:
            model.parameters()
        # Refused on the wire or by the parameters' reader: an answer, never a problem in the test.
        assert failure.value.kind in (FailureKind.UNSENDABLE, FailureKind.UNREADABLE)
        assert time.process_time() - started < 1


KEPT_AFTER_RESTART = [
    """
def _double(x):
    return 2 * np.asarray(x, dtype=float)
while True:  # stopped by the cell's time limit; _double exists already
    pass
""",
    """
def _half(x):
    return np.asarray(x, dtype=float) / 2
1 / 0
""",
    """
import os
lost_value = 5
os._exit(0)
""",
    """
def scale(x, factor):
    return _half(_double(x)) * factor
""",
]


def test_a_restart_keeps_what_an_unfinished_cell_defined_and_names_what_a_crashed_one_lost(arena):
    results = grade_notebook(
        arena.notebook("kept", KEPT_AFTER_RESTART),
        "demo",
        solutions_root=arena.solutions,
        hidden=arena.hidden_paths,
    )
    assert_schema_valid(results)
    scale_tests = [t for t in results.tests if t.function == "scale"]
    assert scale_tests and all(t.outcome == "passed" for t in scale_tests), [t.output for t in scale_tests]
    assert "- Code cell 2, starting " in results.output and "did not finish in time" in results.output
    assert re.search(r"- Code cell 3, starting .*, raised ZeroDivisionError", results.output), results.output
    assert re.search(
        r"- Code cell 4, starting .* stopped the process.*\n.*without the names it defines "
        r"\(os, lost_value\)",
        results.output,
    ), results.output


# ---- round two: isolation, cleanup, batch, text ---------------------------------------------------------
from grader import terminal  # noqa: E402
from grader.sandbox.supervisor import leftovers  # noqa: E402
from without_namespaces import refuse_namespaces  # noqa: E402

NO_NAMESPACES = [sys.executable, str(Path(__file__).parent / "without_namespaces.py")]
# What no stored or printed student text may hold: terminal escapes, other controls, bidi overrides.
UNSAFE_TEXT = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def grade_without_namespaces(arena: Arena, stub_score: float, path: Path) -> dict:
    """Grade ``path`` in a forked child that is refused namespaces (as in Docker, on Gradescope)."""
    out = arena.base / f"no-namespaces-{path.parent.name}.json"
    out.unlink(missing_ok=True)
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            refuse_namespaces()
            results = grade_notebook(path, "demo", solutions_root=arena.solutions, hidden=arena.hidden_paths)
            out.write_text(results.to_json())
            code = 0
        finally:
            os._exit(code)
    assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0
    data = assert_schema_valid(json.loads(out.read_text()))
    assert sum(t["score"] for t in data["tests"]) <= stub_score
    assert MARKER not in json.dumps(data)
    return data


def _strings(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in [*_strings(k), *_strings(v)]]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def test_shared_memory_counts_against_the_memory_limit(attack):
    # One cell per kind (each has its own time limit); at most 640 MiB each way, over the limit.
    results = attack(
        "shared-memory",
        """
import ctypes, mmap, os
libc = ctypes.CDLL(None, use_errno=True)
libc.shmat.restype = ctypes.c_void_p
CHUNK = 64 << 20
held, got = [], {"mmap": 0, "shm": 0, "memfd": 0}
for _ in range(10):
    try:
        view = mmap.mmap(-1, CHUNK)
    except OSError:
        break
    ctypes.memset(ctypes.addressof(ctypes.c_char.from_buffer(view)), 1, CHUNK)
    held.append(view)
    got["mmap"] += 64
""",
        """
for _ in range(10):
    ident = libc.shmget(0, CHUNK, 0o1600)  # IPC_PRIVATE, IPC_CREAT | 0600
    if ident < 0:
        break
    address = libc.shmat(ident, None, 0)
    libc.shmctl(ident, 0, None)  # IPC_RMID now: gone once detached, whatever the grader does
    if address in (None, 2**64 - 1):
        break
    ctypes.memset(address, 1, CHUNK)
    got["shm"] += 64
""",
        """
block = b"x" * (4 << 20)
for _ in range(10):
    try:
        fd = os.memfd_create("hog")
        for offset in range(0, CHUNK, len(block)):
            os.pwrite(fd, block, offset)
    except OSError:
        break
    held.append(fd)
    got["memfd"] += 64
""",
        """
raise RuntimeError(f"held {sum(got.values())} MiB of shared memory {got}")
""",
    )
    held = int(cell_message(results, r"held (\d+) MiB").group(1))
    assert held <= 512


@needs_root
def test_ipc_objects_and_files_in_shared_places_do_not_outlive_grading(arena, stub_score):
    path = arena.notebook(
        "leftovers",
        [
            """
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
made = [f"uid={os.getuid()}"]
made.append(f"msg={libc.msgget(0, 0o1600)}")  # IPC_PRIVATE, IPC_CREAT | 0600
made.append(f"sem={libc.semget(0, 1, 0o1600)}")
made.append(f"shm={libc.shmget(0, 1 << 20, 0o1600)}")
for folder in ("/tmp", "/var/tmp", "/dev/shm"):
    try:
        with open(f"{folder}/grader-leftover-{os.getuid()}", "w") as handle:
            handle.write("still here")
        made.append(folder)
    except OSError as exc:
        made.append(type(exc).__name__)
raise RuntimeError(" ".join(made))
"""
        ],
    )
    data = grade_without_namespaces(arena, stub_score, path)
    uid = int(re.search(r"uid=(\d+)", data["output"]).group(1))
    try:
        owned = []
        for table in ("shm", "msg", "sem"):
            lines = Path(f"/proc/sysvipc/{table}").read_text().splitlines()
            header = lines[0].split()
            rows = [dict(zip(header, line.split())) for line in lines[1:]]
            owned += [(table, row) for row in rows if uid in (int(row["uid"]), int(row["cuid"]))]
        assert not owned
        for folder in ("/tmp", "/var/tmp", "/dev/shm"):
            assert not [e.name for e in os.scandir(folder) if e.stat(follow_symlinks=False).st_uid == uid]
    finally:
        leftovers.remove_ipc_of(uid)
        leftovers.remove_files_of(uid)


@needs_root
def test_a_full_disk_under_the_results_folder_still_ends_in_results_json(arena, stub_score):
    disk = arena.base / "small-disk"
    disk.mkdir()
    if not kernel.mount("none", str(disk), "tmpfs", 0, "size=8m,mode=755"):
        pytest.skip("no small tmpfs can be mounted here (a container without CAP_SYS_ADMIN)")
    try:
        (disk / "drop").mkdir(mode=0o777)
        (disk / "drop").chmod(0o777)
        (disk / "results").mkdir()
        path = arena.notebook(
            "fill-disk",
            [
                """
import os
block = b"x" * (1 << 20)
written = 0
for n in range(64):  # at most 64 MB, and the disk holds 8
    try:
        with open(f"DROP/fill-{n}", "wb") as handle:
            handle.write(block)
        written += 1
    except OSError:
        break
raise RuntimeError(f"wrote {written} MB")
""".replace("DROP", str(disk / "drop"))
            ],
        )
        out = disk / "results" / "results.json"
        env = {**os.environ, HIDDEN_ENV: arena.hidden, "PYTHONPATH": GRADER_HOME}
        run = run_grader(
            "grade",
            str(path),
            "--out",
            str(out),
            solutions=str(arena.solutions),
            env=env,
            cwd=arena.base,
            prefix=NO_NAMESPACES,
        )
        assert run.returncode in (0, 1), run.stderr[-2000:]
        data = assert_schema_valid(json.loads(out.read_text()))
        assert re.search(r"wrote [1-7] MB", data["output"])  # the disk really was full
        assert sum(t["score"] for t in data["tests"]) <= stub_score
        assert out.stat().st_mode & 0o777 == 0o600
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


@needs_isolation
@pytest.mark.skipif(IN_CONTAINER, reason="needs a mount namespace")
def test_a_results_folder_that_holds_the_graders_paths_is_hidden_all_the_same(arena, stub_score):
    folder = arena.base / "out-with-lib"
    (folder / "lib").mkdir(parents=True)
    (folder / "lib" / "visible.txt").write_text("bound back\n")
    (folder / "classmate").mkdir()
    (folder / "classmate" / "results.json").write_text('{"output": "CLASSMATE-RESULTS-55"}')
    for item in [folder, *folder.rglob("*")]:
        item.chmod(0o755 if item.is_dir() else 0o644)
    path = arena.notebook(
        "beside-lib",
        [
            """
import os
seen = []
for name in ("classmate/results.json", "lib/visible.txt"):
    try:
        with open(os.path.join(FOLDER, name)) as handle:
            seen.append(handle.read().strip())
    except OSError as exc:
        seen.append(type(exc).__name__)
try:
    seen.append(",".join(os.listdir(FOLDER)))
except OSError as exc:
    seen.append(type(exc).__name__)
raise RuntimeError(" | ".join(seen))
""".replace("FOLDER", repr(str(folder)))
        ],
    )
    out = folder / "results.json"
    # A PYTHONPATH entry inside the results folder makes it one of the paths the worker needs.
    env = {
        **os.environ,
        HIDDEN_ENV: arena.hidden,
        "PYTHONPATH": os.pathsep.join([GRADER_HOME, str(folder / "lib")]),
    }
    run = run_grader(
        "grade",
        str(path),
        "--out",
        str(out),
        solutions=str(arena.solutions),
        env=env,
        cwd=arena.base,
    )
    assert run.returncode in (0, 1), run.stderr[-2000:]
    data = assert_schema_valid(json.loads(out.read_text()))
    assert "CLASSMATE-RESULTS-55" not in data["output"] and "classmate" not in data["output"]
    assert "bound back" in data["output"]
    assert "hidden-files" in data["extra_data"]["protections"]
    assert sum(t["score"] for t in data["tests"]) <= stub_score


@needs_isolation
def test_results_written_straight_into_tmp_where_the_scratch_lives_still_grade(arena, tmp_path):
    """The results folder is hidden and the worker's scratch is inside it: the scratch is kept."""
    out = Path("/tmp") / f"grader-results-{os.getpid()}-{tmp_path.name}.json"
    path = arena.notebook("plain-tmp", ["import numpy as np\ndef relu(z):\n    return np.maximum(z, 0)"])
    env = {**os.environ, HIDDEN_ENV: arena.hidden}
    try:
        run = run_grader(
            "grade", str(path), "--out", str(out), solutions=str(arena.solutions), env=env, cwd=arena.base
        )
        assert run.returncode in (0, 1), run.stderr[-2000:]
        data = assert_schema_valid(json.loads(out.read_text()))
        assert "did not start" not in data["output"], data["output"]
        assert any(t["score"] > 0 for t in data["tests"] if "relu" in t["name"])
    finally:
        out.unlink(missing_ok=True)


def test_terminal_escapes_and_bidi_overrides_never_reach_results_or_the_terminal(attack):
    lie = (
        "\\x1b]0;owned\\x07\\x1b]52;c;cm0gLXJmIH4=\\x07\\x1b[2K\\r  PASS  1.1 relu  5/5"
        "\\u202eScore: 20/20\\u2066\\x9b31m\\x00"
    )
    results = attack(
        "escapes",
        f"""
LIE = "{lie}"
print(LIE)
raise RuntimeError(LIE)
""",
        """
def relu(z):
    z[...] = -7.0  # a changed input: no points for "leaves input alone"
    print(LIE)
    raise ValueError(LIE)
def scale(x, factor):
    raise type(LIE[:20], (Exception,), {})(LIE)
""",
    )
    stored = _strings(results.to_dict())
    assert any("owned" in text for text in stored)  # the text is there, its escapes are not
    assert not [text for text in stored if UNSAFE_TEXT.search(text)]
    assert not UNSAFE_TEXT.search(terminal.summary("escapes.ipynb", results))


def test_student_code_cannot_reach_any_unix_socket(attack, arena):
    # Where D-Bus and systemd keep theirs (visible to the worker), or this user's own runtime folder.
    folder = "/run" if AS_ROOT else os.environ.get("XDG_RUNTIME_DIR", tempfile.gettempdir())
    path = os.path.join(folder, f"grader-test-bus-{os.getpid()}.sock")
    abstract = f"\0grader-test-bus-{os.getpid()}"
    listeners = []
    for address in (path, abstract):
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(address)
        listener.listen(8)
        listener.setblocking(False)
        listeners.append(listener)
    os.chmod(path, 0o777)
    try:
        results = attack(
            "unix-sockets",
            """
import socket
def _dial():
    got = []
    for address in (PATH, ABSTRACT):
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
                conn.settimeout(0.5)
                conn.connect(address)
                conn.sendall(b"leak")
                got.append("connected")
        except OSError as exc:
            got.append(type(exc).__name__)
    return " ".join(got)
raise RuntimeError(_dial())
def relu(z):
    z[...] = -7.0  # a changed input: no points for "leaves input alone"
    _dial()
    return z
""".replace("PATH", repr(path)).replace("ABSTRACT", repr(abstract)),
        )
        assert "connected" not in results.output
        assert "no-unix-sockets" in results.extra_data["protections"]
        for listener in listeners:
            with pytest.raises(BlockingIOError):
                listener.accept()
    finally:
        for listener in listeners:
            listener.close()
        os.unlink(path)


@needs_root
def test_an_ordinary_users_detached_processes_end_with_grading_without_namespaces(arena):
    folder = Path(tempfile.mkdtemp(prefix="grader-nonroot-detach-"))
    pid = None
    try:
        folder.chmod(0o777)
        solutions = Path(shutil.copytree(arena.solutions, folder / "solutions"))
        for item in [solutions, *solutions.rglob("*")]:
            item.chmod(0o755 if item.is_dir() else 0o644)
        pid_file = folder / "detached.pid"
        notebook = shutil.copy(
            arena.notebook(
                "nonroot-detach",
                [
                    """
import os, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        with open(PID_FILE, "w") as handle:
            handle.write(str(os.getpid()))
        time.sleep(8)  # bounded: gone by itself after 8 s whatever the grader does
        os._exit(0)
    os._exit(0)
os.wait()
deadline = time.monotonic() + 1.5
while not os.path.exists(PID_FILE) and time.monotonic() < deadline:
    time.sleep(0.02)
""".replace("PID_FILE", repr(str(pid_file)))
                ],
            ),
            folder / "nb.ipynb",
        )
        out = folder / "results.json"
        run = grade_as_nobody(notebook, out, solutions, folder, prefix=NO_NAMESPACES)
        assert run.returncode in (0, 1), run.stderr[-2000:]
        data = assert_schema_valid(json.loads(out.read_text()))
        assert "pid" not in data["extra_data"]["protections"]  # really without namespaces
        pid = int(pid_file.read_text())
        state = (
            Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            if Path(f"/proc/{pid}").exists()
            else "gone"
        )
        assert state in ("gone", "Z")
    finally:
        if pid is not None:
            try:
                os.kill(pid, 9)
            except ProcessLookupError:
                pass
        shutil.rmtree(folder, ignore_errors=True)


def test_a_three_thousand_deep_tree_in_scratch_is_removed_and_the_grade_stands(arena, stub_score):
    path = arena.notebook(
        "deep-tree",
        [
            """
import os
start = os.getcwd()
for _ in range(3000):
    os.mkdir("d")
    os.chdir("d")
os.chdir(start)
raise RuntimeError(f"scratch={start}")
"""
        ],
    )
    data = grade_without_namespaces(arena, stub_score, path)
    assert "internal problem" not in data["output"] and "cleanup_problems" not in data["extra_data"]
    scratch = re.search(r"scratch=(\S+)", data["output"]).group(1)
    assert scratch.startswith(tempfile.gettempdir()) and not os.path.exists(scratch)


def test_batch_grading_without_namespaces_refuses_rather_than_expose_classmates(arena, stub_score):
    inputs = arena.base / "batch-input"
    inputs.mkdir()
    shutil.copy(arena.solutions / "demo" / "demo.ipynb", inputs / "alice.ipynb")
    mallory = arena.notebook(
        "mallory",
        [
            """
import json, os
def _classmates():
    found = {}
    for pid in sorted(p for p in os.listdir("/proc") if p.isdigit())[:500]:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                args = handle.read(4096).decode(errors="replace").split("\\x00")
        except OSError:
            continue
        for arg in args:
            if not os.path.isdir(arg):
                continue
            for name in sorted(os.listdir(arg))[:20]:
                if name.endswith(".ipynb") and "mallory" not in name:
                    try:
                        with open(os.path.join(arg, name)) as handle:
                            cells = json.load(handle)["cells"]
                        for cell in cells:
                            if cell["cell_type"] == "code":
                                exec("".join(cell["source"]), found)
                    except Exception:
                        pass
    return found
_theirs = _classmates()
def relu(z):
    return _theirs["relu"](z)
def scale(x, factor):
    return _theirs["scale"](x, factor)
def count(n):
    return _theirs["count"](n)
"""
        ],
    )
    shutil.copy(mallory, inputs / "mallory.ipynb")
    for item in [inputs, *inputs.iterdir()]:
        item.chmod(0o755 if item.is_dir() else 0o644)  # as an instructor's umask leaves them
    out = arena.base / "batch-output"
    env = {**os.environ, HIDDEN_ENV: arena.hidden, "PYTHONPATH": GRADER_HOME}
    run = run_grader(
        "grade-all",
        str(inputs),
        "--out",
        str(out),
        "--jobs",
        "1",
        "--assignment",
        "demo",
        solutions=str(arena.solutions),
        env=env,
        cwd=arena.base,
        prefix=NO_NAMESPACES,
        timeout=300,
    )
    try:
        if run.returncode == 2:
            assert "needs mount and PID namespaces" in run.stderr
            assert not (out / "mallory" / "results.json").exists()
        else:
            assert run.returncode == 0, run.stderr[-2000:]
            data = assert_schema_valid(json.loads((out / "mallory" / "results.json").read_text()))
            assert sum(t["score"] for t in data["tests"]) <= stub_score
    finally:
        shutil.rmtree(out, ignore_errors=True)


def test_without_namespaces_a_batch_grades_only_when_asked_and_the_report_says_so(arena):
    inputs = arena.base / "batch-unisolated"
    inputs.mkdir()
    shutil.copy(arena.notebook("plain", ["x = 1"]), inputs / "plain.ipynb")
    for item in [inputs, *inputs.iterdir()]:
        item.chmod(0o755 if item.is_dir() else 0o644)
    env = {**os.environ, HIDDEN_ENV: arena.hidden, "PYTHONPATH": GRADER_HOME}

    def grade_all(out: Path, *flags: str) -> subprocess.CompletedProcess:
        return run_grader(
            "grade-all", str(inputs), "--out", str(out), "--jobs", "1", "--assignment", "demo", *flags,
            solutions=str(arena.solutions), env=env, cwd=arena.base, prefix=NO_NAMESPACES, timeout=300,
        )  # fmt: skip

    refused = grade_all(arena.base / "refused")
    assert refused.returncode == 2 and "--without-namespaces" in refused.stderr
    accepted = grade_all(arena.base / "accepted", "--without-namespaces")
    assert accepted.returncode == 0, accepted.stderr[-2000:]
    report = (arena.base / "accepted" / "report.html").read_text(encoding="utf-8")
    assert "1 of 1 submissions were graded without a mount namespace" in report


def secret_and_peeker(arena: Arena, request: pytest.FixtureRequest) -> tuple[Path, Path]:
    """A world-readable secret folder, and a notebook whose relu is right only if it can see it.

    The folder is inside one the worker needs (its parent goes on sys.path): only the hiding can
    keep it unseen there, since the worker's root holds nothing else of the host."""
    # Outside /tmp, which the worker gets a private copy of.
    parent = Path(tempfile.mkdtemp(prefix="grader-packages-", dir="/opt"))
    request.addfinalizer(lambda: shutil.rmtree(parent, ignore_errors=True))
    parent.chmod(0o755)
    secret = parent / "instructor-notes"
    secret.mkdir()
    (secret / "answers.txt").write_text("42\n")
    for item in [secret, *secret.iterdir()]:
        item.chmod(0o755 if item.is_dir() else 0o644)
    peeker = arena.notebook(
        "peeker",
        [
            f"""
import os
import numpy as np
_seen = os.path.exists({str(secret / "answers.txt")!r})
def relu(z):
    z = np.asarray(z, dtype=float)
    return np.maximum(z, 0) if _seen else z * 0 - 7
"""
        ],
    )
    return secret, peeker


@pytest.mark.skipif(IN_CONTAINER, reason="needs a mount namespace")
def test_a_batch_hides_what_the_environment_names_from_every_submission(arena, request):
    # The policy is read once by the command line, passed to the batch's servers in their
    # environment, read once there and handed to each sandbox: a link dropped anywhere shows here.
    secret, peeker = secret_and_peeker(arena, request)
    inputs = arena.base / "batch-peek"
    inputs.mkdir()
    shutil.copy(peeker, inputs / "peeker.ipynb")
    for item in [inputs, *inputs.iterdir()]:
        item.chmod(0o755 if item.is_dir() else 0o644)

    def relu_points(hidden: str, out: Path) -> float:
        env = {
            **os.environ,
            HIDDEN_ENV: hidden,
            "PYTHONPATH": os.pathsep.join([GRADER_HOME, str(secret.parent)]),
        }
        run = cli(arena, "grade-all", str(inputs), "--out", str(out), "--jobs", "1", env=env, timeout=300)
        assert run.returncode == 0, run.stderr[-2000:]
        data = assert_schema_valid(json.loads((out / "peeker" / "results.json").read_text()))
        return sum(t["score"] for t in data["tests"] if "relu" in t["name"])

    seen = relu_points(arena.hidden, arena.base / "seen")  # readable when nobody hides it
    unseen = relu_points(os.pathsep.join([arena.hidden, str(secret)]), arena.base / "unseen")
    assert unseen < seen


@pytest.mark.skipif(IN_CONTAINER, reason="needs a mount namespace")
def test_a_script_grading_without_settings_hides_what_the_environment_names(arena, request, monkeypatch):
    secret, peeker = secret_and_peeker(arena, request)
    monkeypatch.syspath_prepend(str(secret.parent))

    def relu_points() -> float:
        results = grade_notebook(peeker, "demo", solutions_root=arena.solutions, hidden=arena.hidden_paths)
        return sum(t.score for t in results.tests if "relu" in t.name)

    seen = relu_points()
    monkeypatch.setenv(HIDDEN_ENV, str(secret))
    assert relu_points() < seen

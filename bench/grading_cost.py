"""What grading one submission costs, against the floor of starting Python and importing numpy/torch.

Every figure comes from this one run, so the ratios are comparable even on a busy machine, and
each case's ratio is to its floor measured in turns with it (the floor drifts by 10-20 % over a
run): CPU time (user + system, all processes of a command) as the median of several runs, and the
peak memory of the whole process tree (summed PSS, so pages the forked worker shares with the
grader count once), sampled every 10 ms while it runs.

    python bench/grading_cost.py [--runs N]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
GRADER = [PYTHON, "-m", "grader"]
# The same command with the sandbox's namespaces, hidden files and socket filter switched off
# (limits and the unprivileged uid stay), to price the hardening itself.
UNHARDENED = [
    PYTHON,
    "-c",
    (
        "import sys; from grader.sandbox.jail import confine; from grader.sandbox.supervisor import spawn; "
        "confine.enter_namespaces = lambda as_root: []; confine.forbid_sockets = lambda: False; "
        "spawn.next_child_starts_a_pid_namespace = lambda: None; "
        "from grader.cli import main; sys.exit(main(sys.argv[1:]))"
    ),
]


def _pss(pid: int) -> int:
    """Proportional set size: pages shared between the grader and its forked worker count once."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as handle:
            for line in handle:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


def _tree_memory(root: int) -> tuple[int, int]:
    """Memory of ``root`` and of all its descendants together (summed PSS), in bytes."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                ppid = int(handle.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    total, stack = 0, list(children.get(root, []))
    while stack:
        pid = stack.pop()
        total += _pss(pid)
        stack += children.get(pid, [])
    return _pss(root), total


Measured = tuple[float, int, float, int, int]


def measure(command: list[str], env: dict | None = None) -> Measured:
    """(CPU seconds of the command and its children, peak memory of its tree in bytes, wall seconds,
    peak memory of the command's own process, peak memory of its descendants: the worker)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peak = own = rest = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak, own, rest
        while not done.is_set():
            mine, theirs = _tree_memory(proc.pid)
            peak, own, rest = max(peak, mine + theirs), max(own, mine), max(rest, theirs)
            time.sleep(0.01)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    proc.wait()
    done.set()
    sampler.join()
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed with exit code {proc.returncode}")
    return cpu, peak, wall, own, rest


def _summary(samples: list[Measured]) -> Measured:
    return (
        statistics.median(s[0] for s in samples),
        max(s[1] for s in samples),
        statistics.median(s[2] for s in samples),
        max(s[3] for s in samples),
        max(s[4] for s in samples),
    )


def median_of(command: list[str], runs: int, env: dict | None = None) -> Measured:
    return _summary([measure(command, env) for _ in range(runs)])


def paired(
    command: list[str], floor: list[str], runs: int, env: dict, floor_env: dict
) -> tuple[Measured, float]:
    """The command's figures and its floor's CPU (median), measured in turns: a floor of 50 ms
    drifts by 10-20 % over a bench run on a shared machine, and a ratio is only as good as its floor."""
    cases, floors = [], []
    for _ in range(runs):
        floors.append(measure(floor, floor_env)[0])
        cases.append(measure(command, env))
    return _summary(cases), statistics.median(floors)


# A notebook as Colab leaves it: an install line, the inline-plots magic, pyplot imported at the
# top, and a plot of a result at the end.
COLAB_TOP = "!pip install -q numpy\n%matplotlib inline\nimport matplotlib.pyplot as plt\n"
COLAB_END = "plt.plot([1, 2, 3], [2, 1, 3])\nplt.title('a result')\nplt.show()\n"


def colab_style(reference: Path, out: Path) -> Path:
    """The reference with Colab's usual first and last cells."""
    notebook = json.loads(reference.read_text(encoding="utf-8"))
    cell = {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": []}
    notebook["cells"] = [{**cell, "source": COLAB_TOP}, *notebook["cells"], {**cell, "source": COLAB_END}]
    out.write_text(json.dumps(notebook), encoding="utf-8")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    installed = sorted(p.parent.name for p in (REPO / "solutions").glob("*/assignment.toml"))
    parser.add_argument("--assignments", nargs="*", default=installed)
    args = parser.parse_args()
    default_env = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}
    one_thread = {**default_env, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}

    pyplot = "import matplotlib; matplotlib.use('Agg'); import matplotlib.pyplot"
    # name: (command, environment); "numpy" is the one-thread floor, as the grader runs numpy.
    floor_commands = {
        "numpy": ([PYTHON, "-c", "import numpy"], one_thread),
        "numpy+torch": ([PYTHON, "-c", "import numpy, torch"], default_env),
        "numpy+pyplot": ([PYTHON, "-c", f"import numpy; {pyplot}"], default_env),
        "numpy+torch+pyplot": ([PYTHON, "-c", f"import numpy, torch; {pyplot}"], default_env),
    }
    floors = {
        "numpy (all BLAS threads)": median_of([PYTHON, "-c", "import numpy"], args.runs, default_env),
        **{name: median_of(command, args.runs, env) for name, (command, env) in floor_commands.items()},
    }
    scratch = Path(tempfile.mkdtemp(prefix="grader-bench-"))
    cases = []
    for assignment in args.assignments:
        reference = REPO / "solutions" / assignment / f"{assignment}.ipynb"
        # The floor of what the assignment's own reference imports.
        floor = "numpy+torch" if "import torch" in reference.read_text(encoding="utf-8") else "numpy"
        stub = REPO / "assignments" / assignment / f"{assignment}.ipynb"
        colab = colab_style(reference, scratch / f"{assignment}.ipynb")
        for label, path, its_floor in (
            ("reference", reference, floor),
            ("stub", stub, floor),
            ("Colab-style", colab, f"{floor}+pyplot"),
        ):
            if path.exists():
                command = [*GRADER, "grade", str(path), "--assignment", assignment]
                floor_command, floor_env = floor_commands[its_floor]
                measured, paired_floor = paired(command, floor_command, args.runs, default_env, floor_env)
                cases.append((f"{assignment} {label}", its_floor, measured, paired_floor))
        if assignment == "nn_basics" and reference.exists():
            measured = next(c[2] for c in cases if c[0] == "nn_basics reference")
            hardening = (median_of([*UNHARDENED, "grade", str(reference)], args.runs, default_env), measured)

    print(f"Grading cost, median of {args.runs} runs (CPU = user + system of all processes)")
    print(f"{'command':<40} {'CPU s':>7} {'peak MiB':>9} {'wall s':>7} {'grader':>7} {'worker':>7}")
    for name, (cpu, peak, wall, _own, _rest) in floors.items():
        print(f"{'floor: import ' + name:<40} {cpu:7.3f} {peak / 2**20:9.0f} {wall:7.3f}")
    for name, _floor, (cpu, peak, wall, own, rest), _paired in cases:
        print(
            f"{'grade ' + name:<40} {cpu:7.3f} {peak / 2**20:9.0f} {wall:7.3f} {own / 2**20:7.0f} {rest / 2**20:7.0f}"
        )
    print("(peak: summed PSS of all processes; grader: the grading process alone; worker: its children)")
    if "nn_basics" in args.assignments:
        (plain_cpu, *_), (hard_cpu, *_) = hardening
        print(f"{'grade nn_basics reference, unhardened':<34} {plain_cpu:7.3f}")
    print(
        "\nRatios to the floor, each measured in turns with its case (CPU time; numpy with one BLAS thread):"
    )
    for name, floor, (cpu, *_), paired_floor in cases:
        print(f"  grade {name:<26} {cpu / paired_floor:5.2f}x  import {floor} ({paired_floor:.3f} CPU s)")
    base_case = next((c for c in cases if c[0] == "nn_basics reference"), None)
    if base_case is not None:
        print("\nAgainst grading the nn_basics reference (CPU time):")
        for name, _floor, (cpu, *_), _paired in cases:
            if name.endswith("reference"):
                print(f"  grade {name:<26} {cpu / base_case[2][0]:5.2f}x")
    shutil.rmtree(scratch, ignore_errors=True)
    if "nn_basics" in args.assignments:
        print(
            f"\nSandbox hardening (namespaces, hidden files, socket filter) on the nn_basics reference: "
            f"{(hard_cpu / plain_cpu - 1) * 100:+.1f}% CPU"
        )


if __name__ == "__main__":
    main()

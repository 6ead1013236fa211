"""Batch grading throughput: a generated class of submissions, graded with grader.batch.grade_all.

The batch is a realistic mix: mostly correct notebooks (a third of them Colab-style: an install
line, `%matplotlib inline`, pyplot imported and a plot drawn), many with one or two typical bugs (made
with tests/nbtools.replace_function on the reference), some untouched stubs, and broken ones:
invalid JSON, an infinite loop in a function, a cell that raises. Printed: submissions per second,
the amortized wall-clock seconds per submission, the CPU seconds per submission, and their ratios
to the floor of one interpreter importing numpy (CPU time, measured in the same run).

    python bench/batch.py [--count 200] [--cnn-count 60] [--jobs N] [--assignments nn_basics cnn]
    python bench/batch.py --assignments nn_basics --count 30 --out DIR --keep   # a sample batch to look at
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from grading_cost import colab_style  # noqa: E402

from grader.batch import grade_all  # noqa: E402
from nbtools import replace_function  # noqa: E402

NN_BUGS = {
    "step": ["def step(z):\n    return np.where(np.asarray(z) > 0, 1.0, 0.0)\n"],
    "sigmoid": [
        "def sigmoid(z):\n    return 1 / (1 + np.exp(-np.asarray(z, dtype=float)))\n",
        "def sigmoid(z):\n    return 1 / (1 + np.exp(np.asarray(z, dtype=float)))\n",
    ],
    "tanh": [
        "def tanh(z):\n    z = np.asarray(z, dtype=float)\n    return (np.exp(z) - np.exp(-z)) / (np.exp(z) + np.exp(-z))\n",
        "def tanh(z):\n    return 1 / (1 + np.exp(-np.asarray(z, dtype=float)))\n",
    ],
    "relu": [
        "def relu(z):\n    z[z < 0] = 0\n    return z\n",
        "def relu(z):\n    return np.maximum(z, 1.0)\n",
    ],
    "neuron": [
        "def neuron(x, w, b, activation):\n    return float(activation(np.dot(w, x)))\n",
        "def neuron(x, w, b, activation):\n    return np.dot(w, x) + b\n",
    ],
    "dense": [
        "def dense(x, W, b, activation):\n    return activation(x @ W + b)\n",
        "def dense(x, W, b, activation):\n    return activation(W @ x + b)\n",
    ],
    "forward": [
        "def forward(x, layers):\n    h = x\n    for W, b, activation in layers:\n        h = h @ W.T + b\n"
        "    return layers[-1][2](h)\n",
        "def forward(x, layers):\n    h = x\n    for W, b, activation in layers:\n        h = activation(h @ W.T + b)\n"
        "        return h\n",
    ],
    "count_connections": [
        "def count_connections(layer_sizes):\n    return sum(layer_sizes[i] * layer_sizes[i + 1] "
        "for i in range(len(layer_sizes) - 2))\n",
        "def count_connections(layer_sizes):\n    return sum(layer_sizes) ** 2\n",
    ],
    "count_parameters": [
        "def count_parameters(layer_sizes):\n    return count_connections(layer_sizes) + sum(layer_sizes)\n",
        "def count_parameters(layer_sizes):\n    return count_connections(layer_sizes)\n",
    ],
}
NN_INFINITE = (
    "count_connections",
    "def count_connections(layer_sizes):\n    total, i = 0, 0\n    while i < len(layer_sizes) - 1:\n"
    "        total += layer_sizes[i] * layer_sizes[i + 1]\n    return total\n",
)
CNN_INFINITE = (
    "conv_output_size",
    "def conv_output_size(n, kernel_size, padding='valid', stride=1):\n    size = 0\n"
    "    while n > 0:\n        size += 1\n    return size\n",
)
CELL_ERROR = "print(f'layer sizes: {layer_sizes_of_my_network}')  # a name defined in a deleted cell\n"


def _with_cell(reference: Path, source: str, out: Path, position: int = 3) -> Path:
    notebook = json.loads(reference.read_text(encoding="utf-8"))
    cell = {
        "cell_type": "code",
        "id": "added-cell",
        "metadata": {},
        "execution_count": None,
        "outputs": [],
        "source": source,
    }
    notebook["cells"].insert(position, cell)
    out.write_text(json.dumps(notebook, indent=1), encoding="utf-8")
    return out


def _buggy(reference: Path, bugs: dict[str, list[str]], rng: random.Random, out: Path, how_many: int) -> Path:
    current = reference
    for name in rng.sample(sorted(bugs), how_many):
        current = replace_function(current, name, rng.choice(bugs[name]), out)
    return current


def make_batch(
    assignment: str, count: int, folder: Path, seed: int = 7, loops: bool = True
) -> dict[str, int]:
    """Write ``count`` submissions for ``assignment`` into ``folder``; returns how many of each kind.

    ``loops=False`` leaves out infinite loops (each costs the assignment's time limits, about a minute).
    """
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    reference = REPO / "solutions" / assignment / f"{assignment}.ipynb"
    stub = REPO / "assignments" / assignment / f"{assignment}.ipynb"
    fixtures = sorted((REPO / "tests" / "fixtures" / assignment).glob("*.ipynb"))
    kinds: dict[str, int] = {}
    for i in range(count):
        out = folder / f"student_{i:03d}.ipynb"
        roll = rng.random()
        if roll < 0.03:
            kind = "invalid JSON"
            out.write_text(
                reference.read_text(encoding="utf-8")[: rng.randrange(100, 2000)], encoding="utf-8"
            )
        elif roll < 0.05 and loops:
            kind = "infinite loop"
            name, code = NN_INFINITE if assignment == "nn_basics" else CNN_INFINITE
            replace_function(reference, name, code, out)
        elif roll < 0.08:
            kind = "cell error"
            _with_cell(reference, CELL_ERROR, out)
        elif roll < 0.10:
            kind = "untouched stub"
            shutil.copyfile(stub, out)
        elif roll < 0.50:
            kind = "buggy"
            if assignment == "nn_basics":
                _buggy(reference, NN_BUGS, rng, out, rng.choice((1, 1, 2)))
            else:
                shutil.copyfile(rng.choice(fixtures), out)
        elif roll < 0.67:
            kind = "Colab-style"
            colab_style(reference, out)
        else:
            kind = "correct"
            shutil.copyfile(reference, out)
        kinds[kind] = kinds.get(kind, 0) + 1
    return kinds


def floor_cpu(runs: int = 5) -> float:
    samples = []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run([sys.executable, "-c", "import numpy"], check=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        samples.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return statistics.median(samples)


def run(
    assignment: str, count: int, jobs: int | None, workdir: Path, floor: float, loops: bool = True
) -> None:
    inputs, out = workdir / assignment / "submissions", workdir / assignment / "graded"
    kinds = make_batch(assignment, count, inputs, loops=loops)
    shutil.rmtree(out, ignore_errors=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    summary = grade_all(inputs, out, jobs=jobs, assignment=assignment, progress=sys.stderr.isatty())
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    per = wall / count
    print(f"\n{assignment}: {count} submissions ({', '.join(f'{n} {k}' for k, n in sorted(kinds.items()))})")
    print(
        f"  jobs {jobs or os.cpu_count()}, wall {wall:.1f} s (report {summary.report_seconds:.1f} s), "
        f"{summary.internal_errors} internal errors, mean score {statistics.fmean(summary.scores.values()):.2f}"
    )
    print(
        f"  {count / wall:.2f} submissions/s, {per:.3f} s/submission amortized, "
        f"{cpu / count:.3f} CPU s/submission (grading processes and sandboxes)"
    )
    print(
        f"  ratio to the floor (import numpy, {floor:.3f} CPU s): amortized wall {per / floor:.2f}x, "
        f"CPU {cpu / count / floor:.2f}x"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200, help="nn_basics submissions")
    parser.add_argument("--cnn-count", type=int, default=60, help="cnn submissions")
    parser.add_argument("--jobs", type=int, default=None)
    parser.add_argument("--assignments", nargs="*", default=["nn_basics", "cnn"])
    parser.add_argument("--out", type=Path, default=None, help="work folder (default: a temporary one)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    parser.add_argument(
        "--no-infinite-loops",
        dest="loops",
        action="store_false",
        help="leave out infinite loops (they cost the time limits, about a minute each)",
    )
    args = parser.parse_args()
    workdir = args.out or Path(tempfile.mkdtemp(prefix="grader-bench-"))
    floor = floor_cpu()
    print(f"floor: python -c 'import numpy' = {floor:.3f} CPU s (median of 5); {os.cpu_count()} cores")
    try:
        for assignment in args.assignments:
            if not (REPO / "solutions" / assignment).is_dir():
                print(f"\n{assignment}: not present, skipped")
                continue
            run(
                assignment,
                args.count if assignment == "nn_basics" else args.cnn_count,
                args.jobs,
                workdir,
                floor,
                args.loops,
            )
    finally:
        if args.keep:
            print(f"\nKept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()

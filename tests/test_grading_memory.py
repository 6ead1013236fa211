"""The grading process holds a few copies of an answer at a time, however many calls answer with as
much as the value cap allows (each case bounded: 40 answers of 16 MB)."""

from __future__ import annotations

FLOOD = """
import sys, tracemalloc
from pathlib import Path
sys.path.insert(0, {tests!r})
from nbtools import write_notebook
from grader.api import grade_notebook
cells = ["import numpy as np\\n_BIG = np.ones(2_000_000)"] + [
    f"def {{name}}(*args, **kwargs):\\n    return _BIG.copy()"
    for name in ("step", "sigmoid", "tanh", "relu", "neuron", "dense", "forward", "count_connections", "count_parameters")
]
path = write_notebook(Path({out!r}), cells, assignment="nn_basics")
tracemalloc.start()  # numpy's arrays are traced too: what the grading process holds, not how RSS looks
results = grade_notebook(path, "nn_basics")
print(results.score, tracemalloc.get_traced_memory()[1] // 2**20)
"""


def test_answers_of_sixteen_megabytes_each_do_not_pile_up_in_the_grading_process(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    script = FLOOD.format(tests=str(Path(__file__).parent), out=str(tmp_path / "flood.ipynb"))
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    score, peak_mb = done.stdout.split()
    assert float(score) == 0
    # Forty calls answer 16 MB each (the value cap): the grading process holds a few at a time
    # (about 6 copies of 16 MB at the peak; one per test, 640 MB, before).
    assert int(peak_mb) < 128, peak_mb

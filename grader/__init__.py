"""A notebook autograder: student code runs in a sandboxed worker, hidden pytest tests judge plain data."""

import os as _os

# Grading works on small arrays with half a CPU. BLAS and OpenMP thread pools only add start-up
# cost (OpenBLAS's pool doubles numpy's import time) and give student code threads it should not
# have, so both the grader and its worker run single-threaded unless the caller says otherwise.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    _os.environ.setdefault(_var, "1")

__version__ = "0.1.0"

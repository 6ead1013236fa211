"""One verdict per visible test: for every notebook of the corpus, each visible test's self-check in
the notebook passes or fails exactly as the same test does on Gradescope.

The notebooks' code runs in a child process (``selfcheck_replay.py``) with the current handout's
engine, as a student's kernel runs it; the Gradescope side is the notebook's results.json.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from test_corpus import CORPUS, MANIFEST

from grader.authoring.selfcheck import engine_source, record
from grader.config import load_assignment

ASSIGNMENTS = sorted({key.split("/", 1)[0] for key in MANIFEST})


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_visible_test_says_the_same_in_the_notebook_as_on_gradescope_for_every_corpus_notebook(
    assignment, tmp_path, batch_graded
):
    spec = load_assignment(assignment)
    engine = tmp_path / "engine.py"
    engine.write_text(engine_source(spec), encoding="utf-8")
    functions = sorted({test["function"] for test in record(spec)})
    keys = sorted(key for key in MANIFEST if key.startswith(f"{assignment}/"))
    done = subprocess.run(
        [
            sys.executable,
            str(Path(__file__).with_name("selfcheck_replay.py")),
            str(tmp_path / "verdicts.json"),
            str(engine),
            json.dumps(functions),
        ]
        + [str(CORPUS / key) for key in keys],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    in_notebooks = json.loads((tmp_path / "verdicts.json").read_text(encoding="utf-8"))
    disagreements = []
    for key in keys:
        notebook = in_notebooks[str(CORPUS / key)]
        assert "error" not in notebook, (key, notebook)
        results = batch_graded(CORPUS / key, assignment)
        on_gradescope = {t.number: t.status == "passed" for t in results.tests if t.visibility == "visible"}
        assert on_gradescope, (key, results.output)  # no visible test graded: nothing to compare
        for number, passed in on_gradescope.items():
            if notebook.get(number) is not passed:
                disagreements.append(f"{key} {number}: notebook {notebook.get(number)}, Gradescope {passed}")
    assert not disagreements, "\n".join(disagreements)

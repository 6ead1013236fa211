"""Batch grading: folders and Gradescope exports, parallel and resumable, grades.csv and the report."""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import zipfile
from pathlib import Path

import pytest
from bounded import bounded
from conftest import CORE

from grader import cli
from grader.api import grade_notebook
from grader.batch import discover, grade_all, parse_metadata
from nbtools import ASSIGNMENTS, REPO, SOLUTIONS, replace_function, write_notebook

REFERENCE = SOLUTIONS / "nn_basics" / "nn_basics.ipynb"
STUB = ASSIGNMENTS / "nn_basics" / "nn_basics.ipynb"
BUGGY_RELU = "def relu(z):\n    z[z < 0] = 0\n    return z\n"

EXPORT_METADATA = """---
submission_1001:
  :submitters:
  - :name: Ada Lovelace
    :sid: '0042'
    :email: ada@example.edu
  :created_at: 2024-03-01 12:00:00.000000000 -08:00
  :score: 0.0
  :status: processed
submission_1002:
  :submitters:
  - :name: Clara Schumann
    :sid: '0043'
    :email: clara@example.edu
  - :name: Fanny Hensel
    :sid: '0044'
    :email: fanny@example.edu
  :created_at: 2024-03-02 09:30:00.000000000 -08:00
  :results: !ruby/hash:ActiveSupport::HashWithIndifferentAccess
    score: 3.0
"""


def without_time(path: Path) -> dict:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    data.pop("execution_time")
    return data


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def grade_quietly(input: Path, out: Path, **options):
    """grade_all as most tests here call it: two servers, nn_basics, no progress bar, no report."""
    return grade_all(
        input, out, **{"jobs": 2, "assignment": "nn_basics", "progress": False, "report": False, **options}
    )


@pytest.fixture(scope="module")
def folder_batch(tmp_path_factory):
    """A graded folder: a correct notebook, a buggy one, the stub, invalid JSON."""
    root = tmp_path_factory.mktemp("folder")
    inputs = root / "in"
    inputs.mkdir()
    shutil.copyfile(REFERENCE, inputs / "alice.ipynb")
    replace_function(REFERENCE, "relu", BUGGY_RELU, inputs / "bob.ipynb")
    shutil.copyfile(STUB, inputs / "carol.ipynb")
    (inputs / "dave.ipynb").write_text('{"cells": [', encoding="utf-8")
    summary = grade_all(inputs, root / "out", jobs=2, assignment="nn_basics", progress=False)
    return inputs, root / "out", summary


def test_every_notebook_in_a_folder_gets_its_own_results_file(folder_batch):
    _inputs, out, summary = folder_batch
    assert summary.submissions == summary.graded == 4 and summary.skipped == 0
    assert summary.scores["alice"] == 20
    assert 0 < summary.scores["bob"] < 20
    assert summary.scores["carol"] == 0
    for name in ("alice", "bob", "carol", "dave"):
        assert json.loads((out / name / "results.json").read_text())["tests"]


def test_a_broken_notebook_gets_an_explanation_and_does_not_stop_the_batch(folder_batch):
    _, out, summary = folder_batch
    results = json.loads((out / "dave" / "results.json").read_text())
    assert results["score"] == 0 and "could not be graded" in results["output"]
    assert summary.internal_errors == 0


def test_grades_csv_has_one_row_per_submission_and_one_column_per_test(folder_batch):
    _, out, _ = folder_batch
    rows = read_csv(out / "grades.csv")
    assert [r["submission"] for r in rows] == ["alice", "bob", "carol", "dave"]
    header = list(rows[0])
    assert header[:8] == ["submission", "names", "emails", "sids", "total", "max", "made for", "notes"]
    tests = json.loads((out / "alice" / "results.json").read_text())["tests"]
    assert header[8:] == [f"{t['number']} {t['name']}" for t in tests]
    assert {r["max"] for r in rows} == {"20"}
    assert rows[0]["total"] == "20"
    relu_columns = [c for c in header if " relu:" in c]
    assert relu_columns and any(rows[1][c] == "0" for c in relu_columns)
    assert all(rows[0][c] == "0.5" for c in relu_columns)


def test_batch_results_are_identical_to_grading_one_notebook_alone(folder_batch, tmp_path):
    inputs, out, _ = folder_batch
    for name in ("alice", "bob", "carol"):
        single = tmp_path / f"{name}.json"
        assert cli.main(
            ["grade", str(inputs / f"{name}.ipynb"), "--assignment", "nn_basics", "--out", str(single)]
        ) in (0, 1)
        assert without_time(single) == without_time(out / name / "results.json")


def test_grading_the_same_batch_again_gives_identical_results(folder_batch, tmp_path):
    inputs, out, _ = folder_batch
    again = grade_quietly(inputs, tmp_path / "again")
    assert again.graded == 4
    for name in ("alice", "bob", "carol", "dave"):
        assert without_time(tmp_path / "again" / name / "results.json") == without_time(
            out / name / "results.json"
        )


def test_the_report_is_one_self_contained_html_file(folder_batch):
    _, out, summary = folder_batch
    assert summary.report == out / "report.html"
    page = summary.report.read_text(encoding="utf-8")
    assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:)?//", page)
    assert not re.search(r"https?://", page)
    assert page.count('<img alt="') >= 3 and page.count('src="data:image/png;base64,') >= 3
    for heading in (
        "Scores",
        "Pass rate per test",
        "Pass rate per function",
        "Most common diagnostics",
        "Submissions whose cells failed to run",
        "Slowest submissions",
    ):
        assert f"<h2>{heading}</h2>" in page
    assert "relu changed its input" in page or "relu" in page
    assert "dave" in page  # it could not be graded


def test_a_notebook_made_for_another_assignment_is_flagged_in_grades_csv_and_the_report(tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    shutil.copyfile(REFERENCE, inputs / "alice.ipynb")
    shutil.copyfile(SOLUTIONS / "training" / "training.ipynb", inputs / "wrong_homework.ipynb")
    summary = grade_all(inputs, tmp_path / "out", jobs=1, assignment="nn_basics", progress=False)
    rows = {r["submission"]: r for r in read_csv(tmp_path / "out" / "grades.csv")}
    assert rows["wrong_homework"]["made for"] == "training" and rows["alice"]["made for"] == ""
    page = summary.report.read_text(encoding="utf-8")
    section = page.split("<h2>Notebooks made for another assignment</h2>", 1)[1].split("<h2>", 1)[0]
    assert '<a href="#submission-wrong_homework">wrong_homework</a>' in section and "training" in section
    assert "alice" not in section


def test_the_report_reaches_every_submissions_own_feedback_offline(folder_batch):
    _, _out, summary = folder_batch
    page = summary.report.read_text(encoding="utf-8")
    for name in ("alice", "bob", "carol", "dave"):
        assert f'<details id="submission-{name}">' in page
    bob = page.split('<details id="submission-bob">', 1)[1].split("</details>", 1)[0]
    assert "changed its input z in place" in bob  # the failing test's own feedback
    assert '<a href="#submission-dave">dave</a>' in page  # linked from the table of ungraded ones


def test_already_graded_submissions_are_skipped_and_force_grades_them_again(tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    shutil.copyfile(REFERENCE, inputs / "one.ipynb")
    shutil.copyfile(STUB, inputs / "two.ipynb")
    out = tmp_path / "out"
    first = grade_quietly(inputs, out)
    assert (first.graded, first.skipped) == (2, 0)
    stamp = (out / "one" / "results.json").stat().st_mtime_ns

    again = grade_quietly(inputs, out)
    assert (again.graded, again.skipped) == (0, 2)
    assert (out / "one" / "results.json").stat().st_mtime_ns == stamp
    assert [r["submission"] for r in read_csv(out / "grades.csv")] == ["one", "two"]

    later = (out / "two" / "results.json").stat().st_mtime + 5
    os.utime(inputs / "two.ipynb", (later, later))  # a resubmission: newer than its results
    changed = grade_quietly(inputs, out)
    assert (changed.graded, changed.skipped) == (1, 1)

    forced = grade_quietly(inputs, out, force=True)
    assert (forced.graded, forced.skipped) == (2, 0)
    assert (out / "one" / "results.json").stat().st_mtime_ns != stamp


def make_export(root: Path) -> Path:
    export = root / "assignment_77_export"
    (export / "submission_1001").mkdir(parents=True)
    (export / "submission_1002" / "work").mkdir(parents=True)
    (export / "submission_1003").mkdir(parents=True)
    shutil.copyfile(REFERENCE, export / "submission_1001" / "nn_basics.ipynb")
    (export / "submission_1001" / "notes.txt").write_text("hello")
    replace_function(REFERENCE, "relu", BUGGY_RELU, export / "submission_1002" / "work" / "mine.ipynb")
    shutil.copyfile(STUB, export / "submission_1002" / "nn_basics.ipynb")
    (export / "submission_1003" / "nn_basics.py").write_text("def relu(z): return z\n")
    (export / "submission_metadata.yml").write_text(EXPORT_METADATA, encoding="utf-8")
    return export


def test_a_gradescope_export_folder_is_graded_with_the_students_names(tmp_path):
    export = make_export(tmp_path)
    summary = grade_quietly(tmp_path, tmp_path / "out")
    assert summary.submissions == 3
    rows = {r["submission"]: r for r in read_csv(tmp_path / "out" / "grades.csv")}
    assert rows["submission_1001"]["names"] == "Ada Lovelace"
    assert (
        rows["submission_1001"]["emails"] == "ada@example.edu" and rows["submission_1001"]["sids"] == "0042"
    )
    assert rows["submission_1002"]["names"] == "Clara Schumann; Fanny Hensel"
    assert rows["submission_1001"]["total"] == "20"
    assert rows["submission_1003"]["total"] == "0" and rows["submission_1003"]["names"] == ""
    second = json.loads((tmp_path / "out" / "submission_1002" / "results.json").read_text())
    assert "You uploaded 2 notebooks" in second["output"]
    assert second["extra_data"]["graded_file"] == "nn_basics.ipynb"  # ties go to the shallower path
    third = json.loads((tmp_path / "out" / "submission_1003" / "results.json").read_text())
    assert "Python script" in third["output"] and third["tests"]
    assert export.is_dir()


def test_a_gradescope_export_zip_is_graded_like_its_folder(tmp_path):
    export = make_export(tmp_path / "unzipped")
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(export.rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(export.parent).as_posix())
        zf.writestr("../outside.txt", "never extracted")
    summary = grade_quietly(archive, tmp_path / "out")
    assert summary.submissions == 3 and not (tmp_path / "outside.txt").exists()
    rows = {r["submission"]: r for r in read_csv(tmp_path / "out" / "grades.csv")}
    assert rows["submission_1002"]["emails"] == "clara@example.edu; fanny@example.edu"
    again = grade_quietly(archive, tmp_path / "out")
    assert again.skipped == 3


def test_export_metadata_is_read_with_plain_keys_and_ruby_tags_as_plain_data():
    data = parse_metadata(EXPORT_METADATA)
    assert data["submission_1001"]["submitters"] == [
        {"name": "Ada Lovelace", "sid": "0042", "email": "ada@example.edu"}
    ]
    assert [p["name"] for p in data["submission_1002"]["submitters"]] == [
        "Clara Schumann",
        "Fanny Hensel",
    ]
    assert data["submission_1002"]["results"] == {"score": 3.0}


def test_a_grading_process_that_dies_costs_only_its_own_submission(tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    for name in ("a", "b", "c", "d"):
        shutil.copyfile(REFERENCE, inputs / f"{name}.ipynb")
    summary = grade_quietly(inputs, tmp_path / "out", faults={"b": "child-dies"})
    assert summary.internal_errors == 1
    assert summary.scores == {"a": 20, "b": 0, "c": 20, "d": 20}
    died = json.loads((tmp_path / "out" / "b" / "results.json").read_text())
    assert (
        "internal problem" in died["output"] and "exited with code 9" in died["extra_data"]["internal_error"]
    )

    summary = grade_quietly(inputs, tmp_path / "out2", faults={"c": "server-dies"})
    assert summary.scores == {"a": 20, "b": 20, "c": 0, "d": 20}
    assert (
        "server stopped"
        in json.loads((tmp_path / "out2" / "c" / "results.json").read_text())["extra_data"]["internal_error"]
    )


def test_submission_ids_are_safe_folder_names_and_stay_unique(tmp_path):
    (tmp_path / "Jo Smith (late).ipynb").write_text("{}")
    (tmp_path / "jo_smith_late.ipynb").write_text("{}")
    (tmp_path / ".hidden.ipynb").write_text("{}")
    ids = [s.id for s in discover(tmp_path)]
    assert ids == ["Jo_Smith_late", "jo_smith_late-2"]


def test_grader_grade_all_on_the_command_line_prints_where_the_grades_are(tmp_path, capsys):
    inputs = tmp_path / "in"
    inputs.mkdir()
    shutil.copyfile(REFERENCE, inputs / "solo.ipynb")
    args = [
        "grade-all",
        str(inputs),
        "--out",
        str(tmp_path / "out"),
        "--jobs",
        "1",
        "--assignment",
        "nn_basics",
    ]
    assert cli.main(args) == 0
    out = capsys.readouterr().out
    assert "1 submissions: 1 graded" in out and str(tmp_path / "out" / "grades.csv") in out
    assert read_csv(tmp_path / "out" / "grades.csv")[0]["total"] == "20"
    assert cli.main(args) == 0
    assert "1 already graded" in capsys.readouterr().out


def test_single_grading_through_the_api_matches_the_batch_for_an_export_notebook(tmp_path):
    export = make_export(tmp_path)
    grade_quietly(export, tmp_path / "out")
    alone = json.loads(grade_notebook(export / "submission_1001" / "nn_basics.ipynb", "nn_basics").to_json())
    batch = json.loads((tmp_path / "out" / "submission_1001" / "results.json").read_text())
    for data in (alone, batch):
        data.pop("execution_time")
        data["extra_data"].pop("graded_file", None)
    assert alone == batch


# ---- round two: export root, metadata aliases, spreadsheet cells, output permissions ----------------
LAUGHS = "\n".join(
    [
        "lol0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]",
        *(f"lol{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 9)}]" for n in range(1, 9)),
        "submission_1:",
        "  :submitters: *a8",
        "",
    ]
)


def test_a_metadata_file_in_one_students_folder_does_not_hide_the_other_students(tmp_path):
    for name in ("alice", "bob", "mallory"):
        (tmp_path / name).mkdir()
        shutil.copyfile(STUB, tmp_path / name / "nn_basics.ipynb")
    (tmp_path / "mallory" / "submission_metadata.yml").write_text("mallory:\n  :submitters: []\n")
    (tmp_path / "mallory" / "mallory").mkdir()
    assert [s.id for s in discover(tmp_path)] == ["alice", "bob", "mallory"]


def test_an_export_zipped_with_its_top_folder_is_still_an_export(tmp_path):
    export = tmp_path / "wrapped"
    (export / "assignment_export" / "submission_1").mkdir(parents=True)
    (export / "assignment_export" / "submission_metadata.yml").write_text(
        "submission_1:\n  :submitters:\n  - :name: Ada\n"
    )
    assert [(s.id, s.submitters[0].name) for s in discover(export)] == [("submission_1", "Ada")]


def test_metadata_aliases_are_refused_instead_of_expanding_to_gigabytes():
    assert len(LAUGHS) < 600
    answer = bounded(lambda: {k: repr(v)[:200] for k, v in parse_metadata(LAUGHS).items()})
    assert answer is not None, "parsing did not finish within its memory and time"
    assert "submission_1" in answer and "lol" not in answer["submission_1"]  # nothing expanded


def test_names_and_emails_that_look_like_formulas_are_written_as_text(tmp_path):
    from grader.batch import Record, Submitter, write_grades_csv
    from grader.results import GradingResults

    people = (
        Submitter('=HYPERLINK("http://evil.example","x")', "+1@example.edu", "-2+3"),
        Submitter("@SUM(A1)", "\t=1", "0042"),
    )
    results = GradingResults.from_dict({"score": -1, "tests": []})
    write_grades_csv(tmp_path / "grades.csv", [Record("@id", people, results)])
    row = read_csv(tmp_path / "grades.csv")[0]
    assert row["submission"] == "'@id"
    assert row["names"] == '\'=HYPERLINK("http://evil.example","x"); @SUM(A1)'
    assert row["emails"] == "'+1@example.edu; \t=1" and row["sids"] == "'-2+3; 0042"
    assert row["total"] == "-1"  # numbers stay numbers
    for text in (row["submission"], row["names"], row["emails"], row["sids"]):
        assert text[:1] not in "=+-@\t\r"


def test_batch_output_is_readable_only_by_the_instructor(folder_batch):
    _, out, _ = folder_batch
    assert out.stat().st_mode & 0o777 == 0o700
    assert (out / "grades.csv").stat().st_mode & 0o777 == 0o600
    for name in ("alice", "bob", "carol", "dave"):
        assert (out / name).stat().st_mode & 0o777 == 0o700
        assert (out / name / "results.json").stat().st_mode & 0o777 == 0o600


def test_a_batch_without_assignment_is_refused_when_several_are_installed(tmp_path, capsys):
    inputs = tmp_path / "in"
    inputs.mkdir()
    shutil.copyfile(REFERENCE, inputs / "solo.ipynb")
    assert cli.main(["grade-all", str(inputs), "--out", str(tmp_path / "out"), "--jobs", "1"]) == 2
    assert "--assignment is required" in capsys.readouterr().err
    assert not (tmp_path / "out" / "solo").exists()


def test_the_servers_import_what_the_notebooks_mention_and_the_environment_has(tmp_path):
    from grader.batch.inputs import Submission
    from grader.batch.run import preloads

    plots = tmp_path / "plots.ipynb"
    shutil.copyfile(
        REPO / "tests" / "corpus" / "nn_basics" / "correct_colab_preamble_plots_audio.ipynb", plots
    )
    plain = tmp_path / "plain.ipynb"
    shutil.copyfile(REFERENCE, plain)
    subs = [Submission("plots", plots, 0.0), Submission("plain", plain, 0.0)]
    assert "matplotlib.pyplot" in preloads(subs, "nn_basics", None)
    assert "torch" not in preloads(subs, "nn_basics", None) and "torch" in preloads(subs, "cnn", None)
    assert preloads(subs[1:], "nn_basics", None) == ("IPython.core.inputtransformer2",)


def test_a_colab_notebook_grades_the_same_in_a_batch_whose_servers_preloaded_its_imports(tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    source = REPO / "tests" / "corpus" / "nn_basics" / "correct_colab_preamble_plots_audio.ipynb"
    shutil.copyfile(source, inputs / "colab.ipynb")
    grade_quietly(inputs, tmp_path / "out", jobs=1)
    single = tmp_path / "single.json"
    cli.main(["grade", str(inputs / "colab.ipynb"), "--assignment", "nn_basics", "--out", str(single)])
    assert without_time(single) == without_time(tmp_path / "out" / "colab" / "results.json")


def test_an_assignment_that_cannot_be_loaded_is_said_once_the_same_way_for_files_and_folders(tmp_path):
    from grader.batch.grading import grade_submission
    from grader.settings import Settings

    solutions = tmp_path / "solutions"
    shutil.copytree(CORE, solutions)
    (solutions / "demo" / "assignment.toml").write_text("this is = = not toml\n", encoding="utf-8")
    (tmp_path / "sub").mkdir()
    notebook = write_notebook(tmp_path / "sub" / "demo.ipynb", ["x = 1"], assignment="demo")
    for source in (notebook, notebook.parent):
        results = grade_submission(source, "demo", solutions_root=solutions, settings=Settings())
        assert results.score == 0 and "could not be loaded" in results.output, results.output

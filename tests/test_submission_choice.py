import json
import os
from pathlib import Path

import pytest

from grader.notebook.choice import choose, handout_fingerprints, submitted_files


def write_notebook(
    path: Path, code: str = "x = 1", assignment: str | None = None, mtime: float | None = None
) -> Path:
    cells = [
        {"cell_type": "markdown", "metadata": {}, "source": "# Answers"},
        {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [], "source": code},
    ]
    metadata = {"grader": {"assignment": assignment}} if assignment else {}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"cells": cells, "metadata": metadata, "nbformat": 4, "nbformat_minor": 5}))
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


def write_file(path: Path, text: str = "content") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def choice_for(root: Path, assignment: str | None = "nn_basics", expected: str | None = "nn_basics.ipynb"):
    return choose(submitted_files(root), assignment, expected, root)


def test_files_are_found_in_subfolders_in_a_stable_order(tmp_path):
    write_file(tmp_path / "b.txt")
    write_file(tmp_path / "hw" / "a.ipynb")
    write_file(tmp_path / "a.txt")
    assert [p.relative_to(tmp_path).as_posix() for p in submitted_files(tmp_path)] == [
        "a.txt",
        "b.txt",
        "hw/a.ipynb",
    ]


def test_mac_archive_folders_hidden_files_and_checkpoints_are_ignored(tmp_path):
    write_file(tmp_path / "__MACOSX" / "._hw.ipynb")
    write_file(tmp_path / ".ipynb_checkpoints" / "hw-checkpoint.ipynb")
    write_file(tmp_path / "hw" / ".ipynb_checkpoints" / "hw-checkpoint.ipynb")
    write_file(tmp_path / ".hidden.ipynb")
    write_file(tmp_path / ".git" / "config")
    kept = write_file(tmp_path / "hw" / "hw.ipynb")
    assert submitted_files(tmp_path) == [kept]


def test_symbolic_links_are_never_followed(tmp_path):
    outside = write_notebook(tmp_path / "solutions" / "nn_basics.ipynb")
    submission = tmp_path / "submission"
    submission.mkdir()
    (submission / "nn_basics.ipynb").symlink_to(outside)
    (submission / "folder").symlink_to(outside.parent, target_is_directory=True)
    assert submitted_files(submission) == []


def test_a_missing_submission_folder_has_no_files(tmp_path):
    assert submitted_files(tmp_path / "absent") == []


def test_an_empty_submission_asks_for_a_notebook_and_says_it_earns_zero(tmp_path):
    choice = choice_for(tmp_path)
    assert choice.notebook is None
    assert "no files" in choice.message and ".ipynb" in choice.message and "zero credit" in choice.message
    assert "Colab: File > Download > Download .ipynb" in choice.message.replace("Colab,", "Colab:")


def test_a_python_script_upload_is_named_and_the_notebook_is_asked_for(tmp_path):
    write_file(tmp_path / "nn_basics.py", "def relu(x): ...")
    choice = choice_for(tmp_path)
    assert choice.notebook is None
    assert "You uploaded nn_basics.py (a Python script)" in choice.message
    assert "upload the .ipynb" in choice.message and "zero credit" in choice.message
    assert "File > Download as > Notebook (.ipynb)" in choice.message


@pytest.mark.parametrize(
    "name, described, advice",
    [
        ("nn_basics.pdf", "nn_basics.pdf (a PDF)", "no runnable code"),
        ("nn_basics.html", "nn_basics.html (a web page)", "no runnable code"),
        ("nn_basics.zip", "nn_basics.zip (a zip archive)", "not unpacked"),
        ("nn_basics.ipynb.txt", "rename it to end in .ipynb", "zero credit"),
        ("notes.docx", "notes.docx (a Word document)", "zero credit"),
        ("README", "You uploaded README,", "zero credit"),
    ],
)
def test_each_wrong_format_gets_a_message_about_what_was_uploaded(tmp_path, name, described, advice):
    write_file(tmp_path / name)
    choice = choice_for(tmp_path)
    assert choice.notebook is None
    assert described in choice.message and advice in choice.message and ".ipynb" in choice.message


def test_a_long_list_of_wrong_files_is_shortened(tmp_path):
    for index in range(8):
        write_file(tmp_path / f"part{index}.py")
    assert "and 3 more" in choice_for(tmp_path).message


def test_a_single_notebook_is_graded_without_comment(tmp_path):
    notebook = write_notebook(tmp_path / "whatever name.ipynb")
    write_file(tmp_path / "helper.py")
    choice = choice_for(tmp_path)
    assert choice.notebook == notebook and choice.message == ""


def test_an_upper_case_extension_still_counts_as_a_notebook(tmp_path):
    notebook = write_notebook(tmp_path / "HW.IPYNB")
    assert choice_for(tmp_path).notebook == notebook


def test_of_two_notebooks_the_one_naming_the_assignment_is_graded(tmp_path):
    write_notebook(tmp_path / "scratch.ipynb", mtime=2_000_000_000)
    mine = write_notebook(tmp_path / "homework.ipynb", assignment="nn_basics", mtime=1_000_000_000)
    choice = choice_for(tmp_path)
    assert choice.notebook == mine
    assert "2 notebooks" in choice.message and "Graded homework.ipynb" in choice.message
    assert "metadata names this assignment" in choice.message and "only one notebook" in choice.message


def test_a_notebook_naming_another_assignment_loses_to_one_naming_this_one(tmp_path):
    write_notebook(tmp_path / "last_week.ipynb", assignment="intro", mtime=2_000_000_000)
    mine = write_notebook(tmp_path / "this_week.ipynb", assignment="nn_basics", mtime=1_000_000_000)
    assert choice_for(tmp_path).notebook == mine


def test_without_metadata_the_only_notebook_with_code_is_graded(tmp_path):
    write_notebook(tmp_path / "blank.ipynb", code="   \n", mtime=2_000_000_000)
    mine = write_notebook(tmp_path / "answers.ipynb", code="def relu(x):\n    return x", mtime=1_000_000_000)
    choice = choice_for(tmp_path)
    assert choice.notebook == mine and "no code" in choice.message


def test_a_notebook_that_cannot_be_read_loses_to_one_that_can(tmp_path):
    write_file(
        tmp_path / "broken.ipynb",
        "{ not json",
    )
    os.utime(tmp_path / "broken.ipynb", (2_000_000_000, 2_000_000_000))
    mine = write_notebook(tmp_path / "good.ipynb", mtime=1_000_000_000)
    choice = choice_for(tmp_path)
    assert choice.notebook == mine and "could not be read" in choice.message


def test_the_assignment_notebook_name_breaks_a_tie(tmp_path):
    write_notebook(tmp_path / "copy.ipynb", mtime=2_000_000_000)
    mine = write_notebook(tmp_path / "nn_basics.ipynb", mtime=1_000_000_000)
    choice = choice_for(tmp_path)
    assert choice.notebook == mine and "notebook name (nn_basics.ipynb)" in choice.message


def test_otherwise_the_most_recently_modified_notebook_is_graded(tmp_path):
    write_notebook(tmp_path / "a.ipynb", mtime=1_000_000_000)
    newer = write_notebook(tmp_path / "b.ipynb", mtime=2_000_000_000)
    choice = choice_for(tmp_path)
    assert choice.notebook == newer and "most recently modified" in choice.message


def test_the_most_recent_is_taken_among_those_naming_the_assignment(tmp_path):
    write_notebook(tmp_path / "other.ipynb", mtime=3_000_000_000)
    write_notebook(tmp_path / "v1.ipynb", assignment="nn_basics", mtime=1_000_000_000)
    v2 = write_notebook(tmp_path / "v2.ipynb", assignment="nn_basics", mtime=2_000_000_000)
    choice = choice_for(tmp_path)
    assert choice.notebook == v2
    assert "most recently modified of the notebooks whose metadata names this assignment" in choice.message


def test_equal_times_are_broken_by_folder_depth_then_name_so_reruns_agree(tmp_path):
    write_notebook(tmp_path / "sub" / "a.ipynb", mtime=1_000_000_000)
    write_notebook(tmp_path / "z.ipynb", mtime=1_000_000_000)
    top = write_notebook(tmp_path / "b.ipynb", mtime=1_000_000_000)
    assert choice_for(tmp_path).notebook == top


def test_when_no_notebook_can_be_read_one_is_still_chosen_so_grading_can_explain(tmp_path):
    write_file(tmp_path / "a.ipynb", "nope")
    write_file(tmp_path / "b.ipynb", "[]")
    choice = choice_for(tmp_path)
    assert choice.notebook is not None and "none of them could be read" in choice.message


def test_without_a_known_assignment_the_metadata_rule_is_skipped(tmp_path):
    write_notebook(tmp_path / "named.ipynb", assignment="nn_basics", mtime=1_000_000_000)
    newer = write_notebook(tmp_path / "newer.ipynb", mtime=2_000_000_000)
    assert choice_for(tmp_path, assignment=None, expected=None).notebook == newer


def test_the_message_shows_paths_inside_the_submission(tmp_path):
    write_notebook(tmp_path / "hw" / "a.ipynb", assignment="nn_basics")
    write_notebook(tmp_path / "hw" / "b.ipynb")
    message = choice_for(tmp_path).message
    assert "hw/a.ipynb, hw/b.ipynb" in message and str(tmp_path) not in message


HANDOUT_CODE = "def relu(z):\n    # YOUR CODE HERE\n    raise NotImplementedError"


def test_an_untouched_copy_of_the_handout_never_wins_over_a_notebook_with_work(tmp_path):
    handout = handout_fingerprints(["import numpy as np", HANDOUT_CODE])
    write_notebook(
        tmp_path / "nn_basics.ipynb", code=HANDOUT_CODE + "\n\n", assignment="nn_basics", mtime=1_000_000_000
    )
    work = write_notebook(
        tmp_path / "nn_basics_final.ipynb",
        code="def relu(z):\n    return z * (z > 0)",
        assignment="nn_basics",
        mtime=2_000_000_000,
    )
    choice = choose(submitted_files(tmp_path), "nn_basics", "nn_basics.ipynb", tmp_path, handout)
    assert choice.notebook == work
    assert "none of your own code" in choice.message and "most recently" not in choice.message


def test_a_newer_untouched_handout_loses_to_older_work_without_metadata(tmp_path):
    handout = handout_fingerprints([HANDOUT_CODE])
    work = write_notebook(
        tmp_path / "Copy of homework.ipynb", code="def relu(z):\n    return z", mtime=1_000_000_000
    )
    write_notebook(
        tmp_path / "nn_basics.ipynb", code=HANDOUT_CODE, assignment="nn_basics", mtime=2_000_000_000
    )
    assert (
        choose(submitted_files(tmp_path), "nn_basics", "nn_basics.ipynb", tmp_path, handout).notebook == work
    )


def test_a_tie_on_modification_time_is_reported_as_a_tie_not_as_most_recent(tmp_path):
    write_notebook(tmp_path / "sub" / "a.ipynb", mtime=1_000_000_000)
    top = write_notebook(tmp_path / "b.ipynb", mtime=1_000_000_000)
    choice = choice_for(tmp_path)
    assert choice.notebook == top
    assert "most recently" not in choice.message
    assert "modified at the same time" in choice.message and "shallowest folder" in choice.message


def test_the_chosen_notebook_comes_back_read_and_each_notebook_is_read_once(tmp_path, notebook_reads):
    from grader.notebook import Notebook, NotebookError

    reads = notebook_reads
    write_notebook(tmp_path / "old.ipynb", assignment="demo", mtime=1_000_000_000)
    write_notebook(tmp_path / "new.ipynb", code="y = 2", assignment="demo", mtime=1_000_000_100)
    write_file(tmp_path / "broken.ipynb", "{")
    choice = choose(submitted_files(tmp_path), "demo", root=tmp_path)
    assert choice.notebook == tmp_path / "new.ipynb" and sorted(reads.names()) == [
        "broken.ipynb",
        "new.ipynb",
        "old.ipynb",
    ]
    assert isinstance(choice.read, Notebook) and choice.read.cells[0].source == "y = 2"
    reads.clear()
    only = choose([tmp_path / "broken.ipynb"])
    assert reads.names() == ["broken.ipynb"] and isinstance(only.read, NotebookError)

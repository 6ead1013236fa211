"""Removing what a worker leaves behind: any depth, never through a link."""

from __future__ import annotations

import os

from grader.sandbox.supervisor.leftovers import remove_tree


def _deep(root, levels: int) -> None:
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    for _ in range(levels):
        os.mkdir("dd", dir_fd=fd)
        inner = os.open("dd", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        os.close(fd)
        fd = inner
    os.close(fd)


def test_a_tree_deeper_than_the_path_limit_and_the_recursion_limit_is_removed(tmp_path):
    (tmp_path / "scratch").mkdir()
    _deep(tmp_path / "scratch", 1500)  # 4,500 characters deep: past PATH_MAX and the recursion limit
    remove_tree(str(tmp_path / "scratch"))
    assert not (tmp_path / "scratch").exists()


def test_removing_a_tree_never_follows_a_link_out_of_it(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("keep")
    scratch = tmp_path / "scratch"
    (scratch / "sub").mkdir(parents=True)
    os.symlink(outside, scratch / "sub" / "link")
    os.symlink(outside / "keep.txt", scratch / "file-link")
    (scratch / "locked").mkdir(mode=0o000)
    remove_tree(str(scratch))
    assert not scratch.exists() and (outside / "keep.txt").read_text() == "keep"


def test_removing_something_already_gone_is_not_an_error(tmp_path):
    remove_tree(str(tmp_path / "never-made"))

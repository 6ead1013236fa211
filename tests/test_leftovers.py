"""Removing what a worker leaves behind: any depth, never through a link."""

from __future__ import annotations

import os
import socket

import pytest

from grader.sandbox.jail.confine import namespaces_available
from grader.sandbox.supervisor.leftovers import remove_tree

needs_pid_namespace = pytest.mark.skipif(
    os.geteuid() != 0 or not namespaces_available(), reason="needs root and a PID namespace"
)


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


def _sleeper(how: str) -> int:
    """A child standing for a worker: "init" is forked straight into a new PID namespace, as the
    grading process forks its first worker; "waiter" enters one itself and forks its init, as a
    replacement does; "plain" stays in ours."""
    import ctypes
    import time

    from grader.sandbox.jail.namespaces import back_to_own_pid_namespace, next_child_starts_a_pid_namespace

    own = next_child_starts_a_pid_namespace() if how == "init" else None
    pid = os.fork()
    if pid == 0:
        try:
            if how == "waiter":
                ctypes.CDLL(None, use_errno=True).unshare(0x20000000)  # CLONE_NEWPID
                if os.fork() == 0:
                    time.sleep(30)
            time.sleep(30)
        finally:
            os._exit(0)
    back_to_own_pid_namespace(own)
    return pid


@needs_pid_namespace
@pytest.mark.parametrize(("how", "spared"), [("init", True), ("waiter", False), ("plain", False)])
def test_only_a_worker_that_is_itself_the_init_of_a_pid_namespace_spares_its_uid_the_sweep(how, spared):
    from grader.sandbox.supervisor.spawn import WorkerProcess

    worker = WorkerProcess(socket.socket(), _sleeper(how))
    try:
        assert worker.in_own_pid_namespace() is spared
    finally:
        worker.kill()
    assert not worker.in_own_pid_namespace()  # gone: the uid is swept


def _children_born_in_our_pid_namespace() -> bool:
    return os.readlink("/proc/self/ns/pid_for_children") == os.readlink("/proc/self/ns/pid")


@needs_pid_namespace
def test_after_starting_a_worker_or_failing_to_this_processs_children_are_born_in_its_own_pid_namespace(
    grade_demo, monkeypatch
):
    from grader.sandbox.supervisor import spawn

    results = grade_demo()
    assert results.tests and "pid" in results.extra_data["protections"]
    assert _children_born_in_our_pid_namespace()

    def refused() -> int:
        raise OSError("fork refused")

    monkeypatch.setattr(spawn.os, "fork", refused)
    with pytest.raises(OSError):
        spawn.fork_worker({}, None)  # type: ignore[arg-type]
    assert _children_born_in_our_pid_namespace()


def test_a_worker_can_tell_that_its_socket_s_other_end_is_gone():
    # How a worker that is PID 1 of its namespace (its parent pid reads 0) learns that the grading
    # process died before the parent-death signal was armed.
    from grader.sandbox.jail.confine import hung_up

    mine, theirs = socket.socketpair()
    try:
        assert not hung_up(mine.fileno())
        theirs.close()
        assert hung_up(mine.fileno())
    finally:
        mine.close()
        theirs.close()

"""Removing what a worker leaves behind: any depth, never through a link."""

from __future__ import annotations

import os
import socket

import pytest

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


def _waiter(new_pid_namespace: bool) -> int:
    """A child standing for a worker's waiter: with a PID namespace, its child is that namespace's init."""
    import ctypes
    import time

    pid = os.fork()
    if pid == 0:
        try:
            if new_pid_namespace:
                ctypes.CDLL(None, use_errno=True).unshare(0x20000000)  # CLONE_NEWPID
            if os.fork() == 0:
                time.sleep(30)
                os._exit(0)
            time.sleep(30)
        finally:
            os._exit(0)
    return pid


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root for a PID namespace")
def test_only_a_worker_seen_in_a_pid_namespace_of_its_own_spares_its_uid_the_sweep():
    import time

    from grader.sandbox.supervisor.spawn import WorkerProcess

    for new_namespace in (True, False):
        pid = _waiter(new_namespace)
        worker = WorkerProcess(socket.socket(), pid)
        try:
            deadline = time.monotonic() + 10
            while not _children(pid) and time.monotonic() < deadline:
                time.sleep(0.01)
            assert worker.in_own_pid_namespace() is new_namespace
        finally:
            worker.kill()
    assert not worker.in_own_pid_namespace()  # gone: the uid is swept


def _children(pid: int) -> str:
    with open(f"/proc/{pid}/task/{pid}/children", encoding="ascii") as handle:
        return handle.read().strip()


def _children_born_in_our_pid_namespace() -> bool:
    return os.readlink("/proc/self/ns/pid_for_children") == os.readlink("/proc/self/ns/pid")


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root for a PID namespace")
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

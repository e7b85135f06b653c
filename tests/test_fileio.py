import os

import pytest

from effmnist.data.fileio import atomic_path, atomic_write_text, default_file_mode


def test_atomic_write_replaces_whole_file_with_the_usual_mode(tmp_path):
    path = tmp_path / "sub" / "a.txt"
    atomic_write_text(path, "old")
    atomic_write_text(path, "new")
    assert path.read_text() == "new"
    assert path.stat().st_mode & 0o777 == default_file_mode()
    assert [p.name for p in path.parent.iterdir()] == ["a.txt"]


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(path) as tmp:
            tmp.write_text("half")
            raise RuntimeError("disk full")
    assert path.read_text() == "old"
    assert os.listdir(tmp_path) == ["a.txt"]


def _mode_of_a_new_file(folder) -> int:
    path = folder / "plain.txt"
    path.write_text("x")
    mode = path.stat().st_mode & 0o777
    path.unlink()
    return mode


@pytest.mark.parametrize("proc_status", ["/proc/self/status", "/nonexistent/status"])
def test_the_default_mode_is_read_without_touching_the_umask(proc_status, tmp_path, monkeypatch):
    # before: os.umask(0) then os.umask(old), and for that moment every file another thread
    # created was world-writable. Both ways (Linux's /proc, and the probe file elsewhere)
    # give a plain file's mode and never set the umask.
    from effmnist.data import fileio

    expected = _mode_of_a_new_file(tmp_path)
    monkeypatch.setattr(fileio, "PROC_STATUS", proc_status)

    def no_umask(mask):
        raise AssertionError("os.umask was called")

    monkeypatch.setattr(os, "umask", no_umask)
    assert default_file_mode() == expected
    path = atomic_write_text(tmp_path / "a.txt", "x")
    assert path.stat().st_mode & 0o777 == expected


@pytest.mark.slow  # seconds of training or subprocesses: the full suite runs it, the quick tier stays short
@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
def test_files_another_thread_creates_meanwhile_keep_the_umask(tmp_path):
    import threading

    old = os.umask(0o022)  # this test's own umask, set before any thread starts
    try:
        stop, modes = threading.Event(), set()

        def create_files():
            for i in range(20_000):
                if stop.is_set():
                    break
                path = tmp_path / f"f{i % 8}"
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
                os.close(fd)
                modes.add(os.stat(path).st_mode & 0o777)
                os.unlink(path)

        creator = threading.Thread(target=create_files)
        creator.start()
        try:
            while creator.is_alive():
                default_file_mode()
        finally:
            stop.set()
            creator.join()
    finally:
        os.umask(old)
    assert modes == {0o644}  # never 0o666, world-writable

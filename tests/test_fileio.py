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

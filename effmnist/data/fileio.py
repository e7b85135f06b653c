"""Atomic writes: a temporary file in the same folder, then a rename.

A reader (or a second process) sees the old file or the new one, never half of one, and an
interrupted write leaves nothing behind. Every file effmnist writes goes through here:
the MNIST files, checkpoints, results and metrics.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

PROC_STATUS = "/proc/self/status"  # Linux: a ``Umask:`` line since kernel 4.7


def default_file_mode() -> int:
    """The mode a plainly created file gets (0o666 less the umask); mkstemp's own is 0o600.

    The umask is read without changing it: ``os.umask`` can only read it by setting another,
    which for that moment would apply to the files every other thread creates.
    """
    try:
        with open(PROC_STATUS, encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    # elsewhere (macOS, Windows, an older kernel): ask the system, by creating a file
    with tempfile.TemporaryDirectory() as folder:
        probe = os.path.join(folder, "probe")
        os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        return os.stat(probe).st_mode & 0o777


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path``, else it is removed.

    >>> with atomic_path("model.pt") as tmp:  # doctest: +SKIP
    ...     torch.save(payload, tmp)
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        with open(tmp, "rb+") as f:  # make the bytes durable before the rename publishes them
            os.fsync(f.fileno())
        os.chmod(tmp, default_file_mode())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; returns the path."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; returns the path."""
    return atomic_write_bytes(path, text.encode("utf-8"))

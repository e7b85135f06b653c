import dataclasses
import shutil
from pathlib import Path

import pytest
import torch

from effmnist import data
from effmnist.data import acquire
from effmnist.experiments.bench import run_bench
from effmnist.training import train


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


def test_the_torchvision_dataset_loads_in_spawned_workers(mnist_root, splits):
    """Windows and macOS start DataLoader workers with *spawn*: each gets the dataset pickled,
    transform included. The package's dataset survives that, and its batches are the splits'."""
    train_idx, _ = data.split_indices()
    dataset = torch.utils.data.Subset(data.torchvision_mnist(root=mnist_root), train_idx[:256])
    loader = torch.utils.data.DataLoader(
        dataset, batch_size=64, num_workers=2, multiprocessing_context="spawn"
    )
    images, labels = zip(*loader, strict=True)
    assert torch.equal(torch.cat(labels), splits.train_y[:256])
    assert torch.equal(torch.cat(images), splits.train_x[:256])  # the same floats


def test_split_sizes_and_disjointness(splits):
    assert splits.sizes() == {"train": 54_000, "validation": 6_000, "test": 10_000}
    train_idx, val_idx = data.split_indices()
    assert len(set(train_idx.tolist()) | set(val_idx.tolist())) == 60_000
    assert not set(train_idx.tolist()) & set(val_idx.tolist())


def test_tensor_path_and_dataloader_path_yield_the_same_batches(mnist_root, splits):
    conventional = data.torchvision_train_loader(splits, batch_size=64, seed=3)
    fast = data.TensorLoader(splits.train_x, splits.train_y, batch_size=64, shuffle=True, seed=3)
    assert len(fast) == len(conventional) == 844
    for (xa, ya), (xb, yb), _ in zip(fast, conventional, range(3), strict=False):
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


def test_loaded_splits_remember_their_folder_and_training_rows(mnist_root, splits):
    train_idx, _ = data.split_indices()
    assert splits.root == Path(mnist_root).absolute()
    assert torch.equal(splits.train_index, train_idx)
    part = splits.take(640, 100, 200).to("cpu")
    assert part.sizes() == {"train": 640, "validation": 100, "test": 200}
    assert part.root == splits.root and torch.equal(part.train_index, train_idx[:640])
    labels = data.load_mnist(mnist_root).train_labels
    assert torch.equal(labels[part.train_index], part.train_y)
    fields = [f.name for f in dataclasses.fields(splits)]
    assert fields == ["train_x", "train_y", "val_x", "val_y", "test_x", "test_y"]
    by_hand = data.Splits(*(getattr(part, name) for name in fields))
    assert by_hand.root is None and by_hand.train_index is None


# --- the conventional pipeline trains on the splits it is given, read from their folder ---


def test_conventional_pipeline_trains_on_the_splits_it_is_given(splits):
    small = splits.take(640, 500, 500)
    result = train("reference", small, pipeline="conventional", progress=False, evaluate_test=False)
    assert len(result.history["loss"]) == 10  # 640 rows: 10 batches of 64, not 844
    loader = data.torchvision_train_loader(small, batch_size=64, seed=0)
    assert [len(labels) for _, labels in loader] == [64] * 10


def test_conventional_pipeline_reads_the_folder_the_splits_came_from(
    mnist_root, tmp_path, monkeypatch
):
    copy = tmp_path / "copy"
    shutil.copytree(acquire.raw_folder(mnist_root), acquire.raw_folder(copy))
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv("EFFMNIST_DATA", str(blocker / "data"))  # neither $EFFMNIST_DATA
    monkeypatch.chdir(tmp_path)  # nor ./data holds MNIST: only the copy does
    small = data.load_splits(copy).take(640, 500, 500)  # as `bench --data-dir copy` loads it
    report = run_bench(small, repeats=1, pipelines=("conventional",), log=lambda *a: None)
    assert len(report["pipelines"]["conventional"]["seconds"]) == 1
    loader = data.torchvision_train_loader(small)
    assert Path(loader.dataset.dataset.root) == copy.absolute()


def test_conventional_pipeline_refuses_a_splits_built_by_hand(splits):
    by_hand = data.Splits(*(t[:64] for t in dataclasses.astuple(splits.take(64))))
    with pytest.raises(ValueError, match="built by hand.*load_splits"):
        data.torchvision_train_loader(by_hand)
    relabelled = splits.take(64)
    relabelled.train_y = relabelled.train_y.roll(1)
    with pytest.raises(ValueError, match="not those of"):
        data.torchvision_train_loader(relabelled)


def test_normalize_gives_torchvisions_floats_and_leaves_its_input_alone():
    from torchvision.transforms import Normalize, ToTensor

    from effmnist.data import MEAN, STD, normalize

    images = torch.randint(0, 256, (50, 28, 28), dtype=torch.uint8)
    tv = Normalize((MEAN,), (STD,))
    expected = torch.stack([tv(ToTensor()(image.numpy())) for image in images])
    assert torch.equal(normalize(images), expected)
    floats = images.float()
    before = floats.clone()
    normalize(floats)  # in place on its own copy only
    assert torch.equal(floats, before)

import torch

from effmnist import data


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


def test_split_sizes_and_disjointness(splits):
    assert splits.sizes() == {"train": 54_000, "validation": 6_000, "test": 10_000}
    train_idx, val_idx = data.split_indices()
    assert len(set(train_idx.tolist()) | set(val_idx.tolist())) == 60_000
    assert not set(train_idx.tolist()) & set(val_idx.tolist())


def test_tensor_path_and_dataloader_path_yield_the_same_batches(mnist_root, splits):
    loaders = data.torchvision_loaders(mnist_root, batch_size=64, seed=3)
    fast = data.TensorLoader(splits.train_x, splits.train_y, batch_size=64, shuffle=True, seed=3)
    assert len(fast) == len(loaders["train"]) == 844
    for (xa, ya), (xb, yb), _ in zip(fast, loaders["train"], range(3), strict=False):
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

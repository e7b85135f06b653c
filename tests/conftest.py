import pytest


@pytest.fixture(scope="session")
def mnist_root():
    """The real, verified MNIST folder ($EFFMNIST_DATA or ./data), prepared once per session."""
    from effmnist.acquire import prepare_mnist

    return prepare_mnist()


@pytest.fixture(scope="session")
def splits(mnist_root):
    from effmnist.data import load_splits

    return load_splits(mnist_root)


@pytest.fixture(scope="session")
def reference(splits, tmp_path_factory):
    """The reference model trained once (one epoch, seed 0) and its checkpoint."""
    from effmnist.checkpoint import save_checkpoint
    from effmnist.train import train

    result = train("reference", splits, seed=0, progress=False)
    path = save_checkpoint(
        tmp_path_factory.mktemp("ckpt") / "reference.pt", result.model, result.metrics()
    )
    return result.model.eval(), path


@pytest.fixture(scope="session")
def mnist(mnist_root):
    """All of MNIST as uint8 images and labels (train and test)."""
    from effmnist.data import load_mnist

    return load_mnist(mnist_root)


@pytest.fixture
def fresh_training(monkeypatch):
    """Every train() call in the test trains, bypassing the suite's run cache."""
    from effmnist.runcache import ENV

    monkeypatch.delenv(ENV, raising=False)

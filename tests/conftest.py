import pytest


@pytest.fixture(scope="session")
def mnist_root():
    """The real, verified MNIST folder (this test run's own home), prepared once per session."""
    from effmnist.data.acquire import prepare_mnist

    return prepare_mnist()


@pytest.fixture(scope="session")
def splits(mnist_root):
    from effmnist.data import load_splits

    return load_splits(mnist_root)


@pytest.fixture(scope="session")
def reference(splits, tmp_path_factory):
    """The reference model trained once (one epoch, seed 0) and its checkpoint."""
    from effmnist import save_checkpoint, train

    result = train("reference", splits, seed=0, progress=False)
    path = save_checkpoint(result, tmp_path_factory.mktemp("ckpt") / "reference.pt")
    return result.model.eval(), path


@pytest.fixture(scope="session")
def mnist(mnist_root):
    """All of MNIST as uint8 images and labels (train and test)."""
    from effmnist.data import load_mnist

    return load_mnist(mnist_root)


@pytest.fixture
def fresh_training(monkeypatch):
    """Every train() call in the test, and in the processes it starts, trains for real."""
    from effmnist.experiments.runcache import ENV

    monkeypatch.delenv(ENV, raising=False)

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

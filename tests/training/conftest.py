"""Fixtures of the training tests: generated data sets (see :mod:`training_data`), one torch thread."""

from __future__ import annotations

from pathlib import Path

import pytest
from training_data import make_mnist


@pytest.fixture(scope="session")
def fmnist_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Fashion-MNIST idx files, gzipped as downloaded: 1,200 training and 300 test images."""
    return make_mnist(tmp_path_factory.mktemp("fmnist"), "FashionMNIST", 1200, 300, packed=True)


@pytest.fixture(scope="session")
def mnist_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """MNIST idx files, unpacked as torchvision leaves them: 400 training and 100 test images."""
    return make_mnist(tmp_path_factory.mktemp("mnist"), "MNIST", 400, 100, packed=False)


@pytest.fixture(autouse=True)
def one_thread() -> object:
    """One torch thread: on two busy cores, two OpenMP threads can make a LeNet step 50× slower."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)

"""Reads the real Fashion-MNIST files (Debian's dataset-fashion-mnist). Skipped locally when the
files are absent; in CI (CI=true) their absence is a failure, since .ci/run installs them."""

import os

import numpy as np
import pytest

from convlab.data import FashionMNIST


@pytest.mark.fashion_mnist
def test_real_fashion_mnist():
    if FashionMNIST.find() is None:
        if os.environ.get("CI"):
            pytest.fail("Fashion-MNIST is not installed (sudo apt-get install dataset-fashion-mnist)")
        pytest.skip("Fashion-MNIST is not installed (sudo apt-get install dataset-fashion-mnist)")
    train, test = FashionMNIST(), FashionMNIST(train=False)
    assert len(train) == 60000 and len(test) == 10000
    assert train.images.shape == (60000, 1, 28, 28) and train.images.dtype == np.uint8
    assert np.bincount(train.labels).tolist() == [6000] * 10
    assert np.bincount(test.labels).tolist() == [1000] * 10
    assert abs(train.images.mean() / 255 - 0.2860) < 1e-3
    assert abs(train.images.std() / 255 - 0.3530) < 1e-3
    assert train[0][1] == 9 and test[0][1] == 9  # both splits start with an ankle boot

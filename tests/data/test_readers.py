"""FashionMNIST/MNIST/KMNIST search and errors, CIFAR-10 binary batches, ImageFolder."""

import os

import numpy as np
import pytest
from fixtures import make_cifar_dir, make_idx_set, make_image_folder

from convlab.data import CIFAR10, KMNIST, MNIST, FashionMNIST, ImageFolder, load_image, read_cifar_bin


@pytest.mark.parametrize("gz", [True, False])
def test_fashion_mnist_from_root(tmp_path, gz):
    tr_x, tr_y, te_x, te_y = make_idx_set(tmp_path, gz=gz)
    train, test = FashionMNIST(tmp_path), FashionMNIST(tmp_path, train=False)
    assert len(train) == 12 and len(test) == 5 and train.num_classes == 10
    image, label = train[3]
    assert image.dtype == np.float32 and image.shape == (1, 28, 28) and isinstance(label, int)
    np.testing.assert_array_equal(image[0], tr_x[3] / np.float32(255))
    assert label == tr_y[3] and test[-1][1] == te_y[-1]
    assert train.classes[0] == "T-shirt/top" and train.classes[9] == "Ankle boot"


def test_search_order_uses_convlab_data(tmp_path, monkeypatch):
    make_idx_set(tmp_path / "fashion-mnist")
    monkeypatch.setenv("CONVLAB_DATA", str(tmp_path))
    assert FashionMNIST.search_paths()[0] == str(tmp_path / "fashion-mnist")
    assert FashionMNIST.search_paths()[-1] == "/usr/share/datasets/fashion-mnist"
    assert FashionMNIST().root == str(tmp_path / "fashion-mnist")
    # a root holding the dataset's directory works too
    assert FashionMNIST(tmp_path).root == str(tmp_path / "fashion-mnist")


def test_missing_names_places_and_install_command(tmp_path, monkeypatch):
    monkeypatch.setenv("CONVLAB_DATA", str(tmp_path / "nowhere"))
    monkeypatch.setattr("convlab.data.mnist.SYSTEM_DATA", str(tmp_path / "system"))
    with pytest.raises(FileNotFoundError) as info:
        FashionMNIST()
    msg = str(info.value)
    assert str(tmp_path / "nowhere" / "fashion-mnist") in msg
    assert str(tmp_path / "system" / "fashion-mnist") in msg
    assert "sudo apt-get install dataset-fashion-mnist" in msg
    assert FashionMNIST.find() is None


def test_missing_test_split_only(tmp_path):
    make_idx_set(tmp_path)
    os.remove(tmp_path / "t10k-labels-idx1-ubyte.gz")
    FashionMNIST(tmp_path)
    with pytest.raises(FileNotFoundError, match="t10k-labels-idx1-ubyte"):
        FashionMNIST(tmp_path, train=False)


@pytest.mark.parametrize("cls", [MNIST, KMNIST])
def test_mnist_and_kmnist_from_a_user_directory(tmp_path, cls):
    make_idx_set(tmp_path, n_train=7)
    ds = cls(tmp_path)
    assert len(ds) == 7 and len(ds.classes) == 10


def test_labels_images_count_mismatch(tmp_path):
    from convlab.data import write_idx

    make_idx_set(tmp_path)
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.zeros(3, np.uint8))
    with pytest.raises(ValueError, match="expected uint8 images"):
        FashionMNIST(tmp_path)


def test_cifar10_binary(tmp_path):
    records = make_cifar_dir(tmp_path / "cifar-10-batches-bin")
    train, test = CIFAR10(tmp_path), CIFAR10(tmp_path, train=False)
    assert len(train) == 8 and len(test) == 4 and train.classes[1] == "automobile"
    image, label = train[5]  # the second record of data_batch_2
    rec = records["data_batch_2.bin"][1]
    assert label == rec[0] and image.shape == (3, 32, 32)
    np.testing.assert_array_equal(image, rec[1:].reshape(3, 32, 32) / np.float32(255))
    # red plane first: pixel (0, 0) of channel 1 is byte 1 + 1024
    assert image[1, 0, 0] == np.float32(rec[1 + 1024]) / 255


def test_cifar10_wrong_length(tmp_path):
    make_cifar_dir(tmp_path)
    path = tmp_path / "test_batch.bin"
    path.write_bytes(path.read_bytes()[:-1])
    with pytest.raises(ValueError, match="length check failed") as info:
        CIFAR10(tmp_path, train=False)
    assert str(path) in str(info.value)
    with pytest.raises(ValueError, match="length check failed"):
        read_cifar_bin(path)


def test_cifar10_missing(tmp_path, monkeypatch):
    monkeypatch.delenv("CONVLAB_DATA", raising=False)
    with pytest.raises(FileNotFoundError, match="binary version"):
        CIFAR10(tmp_path)


def test_image_folder(tmp_path):
    make_image_folder(tmp_path, classes=("dog", "cat"), per_class=3)
    ds = ImageFolder(tmp_path)
    assert ds.classes == ["cat", "dog"] and len(ds) == 6 and ds.mode == "RGB"
    assert ds.targets == [0, 0, 0, 1, 1, 1]
    image, label = ds[4]
    assert image.shape == (3, 6, 5) and image.dtype == np.float32 and label == 1
    assert 0 <= image.min() and image.max() <= 1
    x, y = ds.get_batch([0, 5])
    assert x.shape == (2, 3, 6, 5) and y.tolist() == [0, 1]


def test_image_folder_mixed_sizes_and_modes(tmp_path):
    from PIL import Image

    make_image_folder(tmp_path, mode="L", size=(4, 4))
    Image.new("RGBA", (9, 7), (255, 0, 0, 255)).save(tmp_path / "cat" / "big.png")
    ds = ImageFolder(tmp_path, size="first")
    assert ds.mode == "L" and ds.size == (4, 4)
    x, _ = ds.get_batch(range(len(ds)))
    assert x.shape == (len(ds), 1, 4, 4)
    unresized = ImageFolder(tmp_path)
    with pytest.raises(ValueError, match="different shapes"):
        unresized.get_batch(range(len(unresized)))
    arr, note = load_image(tmp_path / "cat" / "big.png", mode="L", size=(4, 4))
    assert arr.shape == (1, 4, 4) and "RGBA -> L" in note and "9x7 -> 4x4" in note


def test_image_folder_empty(tmp_path):
    (tmp_path / "a").mkdir()
    with pytest.raises(ValueError, match="empty class folder a"):
        ImageFolder(tmp_path)

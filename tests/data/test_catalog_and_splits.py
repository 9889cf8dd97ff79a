"""The dataset catalogue (what ``--dataset NAME`` loads and what ``convlab datasets`` lists), a
folder's split layout, and ``ImageFolder.to_arrays``; each against the datasets built directly or
the files the test wrote."""

import os

import numpy as np
import pytest
from fixtures import make_cifar_dir, make_idx_set, make_image_folder

from convlab.data import catalog, mnist
from convlab.data.folder import ImageFolder, find_splits
from convlab.data.preprocess import Preprocessing
from convlab.data.synthetic import EdgesDataset, LinesDataset
from convlab.validate import ConvlabError


@pytest.fixture
def data_home(tmp_path, monkeypatch):
    """$CONVLAB_DATA with MNIST (6x6) and CIFAR-10 (2 batches of 4, a test batch of 4); nothing system-wide."""
    home = tmp_path / "home"
    idx = make_idx_set(home / "mnist", n_train=12, n_test=5, size=6)
    cifar = make_cifar_dir(home / "cifar10", per_batch=4, train_batches=2)
    monkeypatch.setenv("CONVLAB_DATA", str(home))
    monkeypatch.setattr(mnist, "SYSTEM_DATA", str(tmp_path / "system"))
    return home, idx, cifar


def test_installed_lists_each_file_backed_dataset_where_it_was_looked_for(data_home, tmp_path):
    home, _, _ = data_home
    rows = {r["name"]: r for r in catalog.installed()}
    assert list(rows) == ["fashion-mnist", "mnist", "kmnist", "cifar10"]
    assert rows["mnist"]["path"] == str(home / "mnist") and rows["cifar10"]["path"] == str(home / "cifar10")
    assert rows["fashion-mnist"]["path"] is None and rows["kmnist"]["path"] is None
    assert rows["kmnist"]["searched"] == [str(home / "kmnist"), str(tmp_path / "system" / "kmnist")]
    assert rows["cifar10"]["searched"] == [str(home / "cifar10"), str(home / "cifar10" / "cifar-10-batches-bin")]
    assert rows["mnist"]["hint"] == "Put the four MNIST IDX files in $CONVLAB_DATA/mnist, or pass root=DIR."
    assert rows["fashion-mnist"]["hint"].startswith("Install it with `sudo apt-get install dataset-fashion-mnist`")
    assert rows["cifar10"]["hint"] == "Unpack the binary version (cifar-10-binary.tar.gz) into $CONVLAB_DATA/cifar10."


def test_load_an_idx_dataset_with_its_statistics(data_home):
    home, (tr_x, tr_y, te_x, te_y), _ = data_home
    train, test, info = catalog.load("mnist")
    assert np.array_equal(train.images[:, 0], tr_x) and np.array_equal(np.asarray(train.labels), tr_y)
    assert np.array_equal(test.images[:, 0], te_x) and np.array_equal(np.asarray(test.labels), te_y)
    assert info == {"name": "mnist", "mean": (0.1307,), "std": (0.3081,), "flip": False, "source": str(home / "mnist"),
                    "classes": [str(d) for d in range(10)], "shape": (1, 6, 6)}
    fashion = home / "elsewhere"
    make_idx_set(fashion / "fashion-mnist", n_train=3, n_test=2, size=4)
    train, test, info = catalog.load("fashion-mnist", root=fashion)  # root= wins over $CONVLAB_DATA
    assert len(train) == 3 and len(test) == 2 and info["flip"] is True and info["source"] == str(fashion / "fashion-mnist")
    assert info["mean"] == (0.2860,) and info["std"] == (0.3530,) and info["classes"][0] == "T-shirt/top"
    make_idx_set(home / "kmnist", n_train=2, n_test=2, size=4)
    _, _, info = catalog.load("kmnist")
    assert info["mean"] == (0.1918,) and info["std"] == (0.3483,) and info["flip"] is False
    with pytest.raises(FileNotFoundError):
        catalog.load("fashion-mnist")


def test_load_cifar10(data_home):
    home, _, records = data_home
    train, test, info = catalog.load("cifar10")
    expect = np.concatenate([records["data_batch_1.bin"], records["data_batch_2.bin"]])
    assert np.array_equal(train.images.reshape(8, -1), expect[:, 1:]) and np.array_equal(train.labels, expect[:, 0])
    assert np.array_equal(test.images.reshape(4, -1), records["test_batch.bin"][:, 1:])
    assert info == {"name": "cifar10", "mean": (0.4914, 0.4822, 0.4465), "std": (0.2470, 0.2435, 0.2616), "flip": True,
                    "source": str(home / "cifar10"), "shape": (3, 32, 32),
                    "classes": ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]}


@pytest.mark.parametrize("name, full, source", [
    ("lines", lambda s: LinesDataset(n=2000, size=8, seed=s),
     "built in (seed 000 lesson: horizontal vs vertical lines, 8x8)"),
    ("edges-orientation", lambda s: EdgesDataset(n=2000, height=8, width=8, seed=s, target="orientation"),
     "built in (seed 002 lesson: vertical vs horizontal edges, 8x8)"),
])
def test_the_built_in_lessons_split_80_20_by_the_seed(name, full, source):
    train, test, info = catalog.load(name, seed=3)
    assert len(train) == 1600 and len(test) == 400
    whole = full(3)
    assert np.array_equal(train.dataset.images, whole.images)  # the seed reaches the generator
    assert not np.array_equal(catalog.load(name, seed=4)[0].dataset.images, whole.images)
    assert sorted([*train.indices, *test.indices]) == list(range(2000))
    assert list(catalog.load(name, seed=3)[1].indices) == list(test.indices)
    assert info == {"name": name, "mean": None, "std": None, "flip": False, "source": source,
                    "classes": ["vertical", "horizontal"], "shape": (1, 8, 8)}


def test_a_folder_by_name(tmp_path):
    root = make_image_folder(str(tmp_path / "pics"), per_class=5, size=(6, 5))
    train, test, info = catalog.load(f"folder:{root}", seed=1)
    assert len(train) == 8 and len(test) == 2
    assert info == {"name": f"folder:{root}", "mean": None, "std": None, "flip": False, "source": root,
                    "classes": ["cat", "dog"], "shape": (3, 6, 5)}


def test_an_unknown_name_lists_the_known_ones():
    with pytest.raises(KeyError) as e:
        catalog.load("nope")
    assert e.value.args[0] == ("unknown dataset 'nope'; choose one of fashion-mnist, mnist, kmnist, cifar10, lines, "
                               "edges-orientation, folder:PATH")


# ---- the split layout

def _dirs(root, *names):
    for n in names:
        os.makedirs(os.path.join(root, n))
    return str(root)


def test_find_splits_recognises_each_alias(tmp_path):
    root = _dirs(tmp_path / "a", "train", "val", "test", ".cache")
    assert find_splits(root) == {"train": os.path.join(root, "train"), "val": os.path.join(root, "val"),
                                 "test": os.path.join(root, "test")}
    root = _dirs(tmp_path / "b", "Training", "Validation", "TESTING")
    assert find_splits(root) == {"train": os.path.join(root, "Training"), "val": os.path.join(root, "Validation"),
                                 "test": os.path.join(root, "TESTING")}
    root = _dirs(tmp_path / "c", "train", "valid")
    assert find_splits(root) == {"train": os.path.join(root, "train"), "val": os.path.join(root, "valid")}
    assert find_splits(_dirs(tmp_path / "d", "cat", "dog", "test")) == {}  # class folders (one named test)
    (tmp_path / "e").mkdir()
    (tmp_path / "e" / "train").write_text("a file, not a folder")
    assert find_splits(tmp_path / "e") == {}


def test_find_splits_refuses_two_folders_for_one_split_and_strays(tmp_path):
    root = _dirs(tmp_path / "a", "train", "val", "validation")
    with pytest.raises(ConvlabError) as e:
        find_splits(root)
    assert str(e.value) == f"{root} has val and validation: both are the val split; keep one"
    root = _dirs(tmp_path / "b", "train", "test", "dog", "cat")
    with pytest.raises(ConvlabError) as e:
        find_splits(root)
    assert str(e.value) == (f"{root} holds split folders (test, train) and also cat, dog; "
                            "put class folders inside train/, val/ and test/ only")
    with pytest.raises(FileNotFoundError, match="is not a directory"):
        find_splits(tmp_path / "missing")


# ---- ImageFolder.to_arrays

def test_to_arrays_converts_every_picture_and_skips_or_names_bad_files(tmp_path):
    from PIL import Image

    root = tmp_path / "pics"
    for cls, levels in (("ant", [10, 20]), ("bee", [30])):
        (root / cls).mkdir(parents=True)
        for i, v in enumerate(levels):
            Image.fromarray(np.full((4, 4), v, np.uint8), "L").save(root / cls / f"{i}.png")
    (root / "ant" / "1b.png").write_bytes(b"not a png")
    with pytest.raises(ConvlabError, match="to_arrays needs one size: give size= or preprocessing="):
        ImageFolder(root, mode="L").to_arrays()
    folder = ImageFolder(root, preprocessing=Preprocessing(channels=3, size=(2, 2), invert=True))
    with pytest.raises(ValueError, match="1b.png"):
        folder.to_arrays()
    seen = []
    images, labels, bad = folder.to_arrays(skip_bad=True, on_bad=lambda p, e: seen.append((p, type(e).__name__)))
    assert images.dtype == np.uint8 and images.shape == (3, 3, 2, 2) and labels.dtype == np.int64
    assert images[:, :, 0, 0].tolist() == [[245] * 3, [235] * 3, [225] * 3] and labels.tolist() == [0, 0, 1]
    assert bad == [str(root / "ant" / "1b.png")] and seen == [(bad[0], "FileFormatError")]
    assert len(folder.to_arrays(skip_bad=True)[0]) == 3  # on_bad is optional

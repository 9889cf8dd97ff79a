"""MNIST-family datasets read from their IDX files: ``FashionMNIST``, ``MNIST``, ``KMNIST``.

Each needs the four files ``{train,t10k}-{images-idx3,labels-idx1}-ubyte`` (gzipped or
not) in one directory. When ``root`` is not given the directory is looked for in
``$CONVLAB_DATA/<name>`` and then in ``/usr/share/datasets/<name>``, which is where Debian's
``dataset-fashion-mnist`` package puts Fashion-MNIST.
"""

from __future__ import annotations

import os

import numpy as np

from ..validate import ConvlabError
from .datasets import ArrayDataset
from .idx import read_idx

SYSTEM_DATA = "/usr/share/datasets"

FILES = {
    True: ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    False: ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def _find_file(directory: str, name: str) -> str | None:
    for candidate in (name + ".gz", name):
        path = os.path.join(directory, candidate)
        if os.path.isfile(path):
            return path
    return None


class _IDXImageDataset(ArrayDataset):
    """An IDX images/labels pair found by :meth:`locate`."""

    dirname = ""  # the directory name under $CONVLAB_DATA and /usr/share/datasets
    title = ""
    classes_default: list[str] = []
    install_hint = ""

    def __init__(self, root=None, train: bool = True, transform=None):
        directory = self.locate(root, train)
        image_name, label_name = FILES[bool(train)]
        images = read_idx(_find_file(directory, image_name))
        labels = read_idx(_find_file(directory, label_name))
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels) or images.dtype != np.uint8:
            raise ConvlabError(
                f"{directory}: expected uint8 images (N, H, W) and labels (N,), "
                f"got images {images.dtype} {images.shape} and labels {labels.shape}"
            )
        self.root, self.train = directory, bool(train)
        super().__init__(images[:, None], labels.astype(np.int64), classes=self.classes_default, transform=transform)

    @classmethod
    def search_paths(cls, root=None) -> list[str]:
        """The directories looked in, in order."""
        if root is not None:
            root = os.fspath(root)
            return [root, os.path.join(root, cls.dirname)]
        paths = []
        if os.environ.get("CONVLAB_DATA"):
            paths.append(os.path.join(os.environ["CONVLAB_DATA"], cls.dirname))
        paths.append(os.path.join(SYSTEM_DATA, cls.dirname))
        return paths

    @classmethod
    def locate(cls, root=None, train: bool = True) -> str:
        """The first directory holding the split's two files; ``FileNotFoundError`` naming the places searched otherwise."""
        names = FILES[bool(train)]
        searched = cls.search_paths(root)
        for directory in searched:
            if all(_find_file(directory, n) for n in names):
                return directory
        raise FileNotFoundError(
            f"{cls.title} not found: looked for {names[0]}[.gz] and {names[1]}[.gz] in "
            + ", ".join(searched) + f". {cls.install_hint}"
        )

    @classmethod
    def find(cls, root=None) -> str | None:
        """The directory holding both splits, or None."""
        try:
            directory = cls.locate(root, True)
            return directory if cls.locate(directory, False) == directory else None
        except FileNotFoundError:
            return None


class FashionMNIST(_IDXImageDataset):
    """Zalando's Fashion-MNIST: 28x28 grayscale clothing images, 10 classes, 60,000 train / 10,000 test.

    Args:
        root: directory with the IDX files (default: ``$CONVLAB_DATA/fashion-mnist``, then
            ``/usr/share/datasets/fashion-mnist``).
        train: the training split (else the test split).
        transform: applied to each image / batch.

    Items are ``(float32 array (1, 28, 28) in [0, 1], int label)``.
    """

    dirname = "fashion-mnist"
    title = "Fashion-MNIST"
    classes_default = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                       "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
    install_hint = ("Install it with `sudo apt-get install dataset-fashion-mnist` (Debian/Ubuntu), or put the four "
                    "IDX files in $CONVLAB_DATA/fashion-mnist, or pass root=DIR.")


class MNIST(_IDXImageDataset):
    """LeCun's handwritten digits (IDX files in ``root`` or ``$CONVLAB_DATA/mnist``)."""

    dirname = "mnist"
    title = "MNIST"
    classes_default = [str(d) for d in range(10)]
    install_hint = "Put the four MNIST IDX files in $CONVLAB_DATA/mnist, or pass root=DIR."


class KMNIST(_IDXImageDataset):
    """Kuzushiji-MNIST: ten cursive Japanese hiragana (IDX files in ``root`` or ``$CONVLAB_DATA/kmnist``)."""

    dirname = "kmnist"
    title = "KMNIST"
    classes_default = ["o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"]
    install_hint = "Put the four KMNIST IDX files in $CONVLAB_DATA/kmnist, or pass root=DIR."

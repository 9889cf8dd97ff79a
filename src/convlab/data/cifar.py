"""CIFAR-10 from its official *binary* version (never the pickled one: unpickling runs code).

``cifar-10-batches-bin/`` holds ``data_batch_1.bin`` ... ``data_batch_5.bin`` and
``test_batch.bin``; each record is 1 label byte then 3072 pixel bytes (1024 red, 1024
green, 1024 blue, each 32x32 in row-major order), so a file is a whole number of
3073-byte records.
"""

from __future__ import annotations

import glob
import os

import numpy as np

from ..validate import ConvlabError
from .datasets import ArrayDataset

RECORD = 1 + 3 * 32 * 32
CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def read_cifar_bin(path) -> tuple[np.ndarray, np.ndarray]:
    """Read one CIFAR-10 binary batch: ``(images uint8 (N, 3, 32, 32), labels int64 (N,))``."""
    path = os.fspath(path)
    raw = np.fromfile(path, dtype=np.uint8)
    if raw.size == 0 or raw.size % RECORD:
        raise ConvlabError(
            f"{path}: not a CIFAR-10 binary batch: length check failed: {raw.size} bytes is not a positive "
            f"multiple of the {RECORD}-byte record (1 label byte + 3072 pixel bytes)"
        )
    records = raw.reshape(-1, RECORD)
    labels = records[:, 0].astype(np.int64)
    if labels.max() >= len(CLASSES):
        raise ConvlabError(f"{path}: not a CIFAR-10 binary batch: label check failed: label {labels.max()} > 9")
    return records[:, 1:].reshape(-1, 3, 32, 32), labels


class CIFAR10(ArrayDataset):
    """CIFAR-10: 32x32 colour images, 10 classes, 50,000 train / 10,000 test.

    Args:
        root: a directory holding the ``*.bin`` files, or its parent holding ``cifar-10-batches-bin/``
            (default: ``$CONVLAB_DATA/cifar10``).
        train: ``data_batch_*.bin`` (else ``test_batch.bin``).
        transform: applied to each image / batch.
    """

    def __init__(self, root=None, train: bool = True, transform=None):
        directory = self.locate(root)
        if train:
            files = sorted(glob.glob(os.path.join(directory, "data_batch_*.bin")))
        else:
            files = [os.path.join(directory, "test_batch.bin")]
        parts = [read_cifar_bin(f) for f in files]
        self.root, self.train = directory, bool(train)
        super().__init__(np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]),
                         classes=CLASSES, transform=transform)

    @staticmethod
    def search_paths(root=None) -> list[str]:
        if root is None:
            base = os.environ.get("CONVLAB_DATA")
            if not base:
                return []
            root = os.path.join(base, "cifar10")
        root = os.fspath(root)
        return [root, os.path.join(root, "cifar-10-batches-bin")]

    @classmethod
    def locate(cls, root=None) -> str:
        searched = cls.search_paths(root)
        for d in searched:
            if os.path.isfile(os.path.join(d, "test_batch.bin")) and glob.glob(os.path.join(d, "data_batch_*.bin")):
                return d
        where = ", ".join(searched) if searched else "nowhere (no root given and $CONVLAB_DATA is not set)"
        raise FileNotFoundError(
            f"CIFAR-10 (binary version) not found: looked for data_batch_*.bin and test_batch.bin in {where}. "
            "Unpack cifar-10-binary.tar.gz into $CONVLAB_DATA/cifar10 or pass root=DIR."
        )

    @classmethod
    def find(cls, root=None) -> str | None:
        try:
            return cls.locate(root)
        except FileNotFoundError:
            return None

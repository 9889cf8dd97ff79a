"""Small on-disk fixtures the data tests build themselves: IDX sets, CIFAR batches, image folders."""

from __future__ import annotations

import os

import numpy as np

from convlab.data import write_idx
from convlab.data.cifar import RECORD


def make_idx_set(directory, n_train=12, n_test=5, size=28, gz=True, seed=0):
    """Write the four MNIST-style IDX files; return (train_images, train_labels, test_images, test_labels)."""
    os.makedirs(directory, exist_ok=True)
    rng = np.random.default_rng(seed)
    arrays = (
        rng.integers(0, 256, (n_train, size, size), dtype=np.uint8),
        rng.integers(0, 10, n_train).astype(np.uint8),
        rng.integers(0, 256, (n_test, size, size), dtype=np.uint8),
        rng.integers(0, 10, n_test).astype(np.uint8),
    )
    names = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
    for name, a in zip(names, arrays):
        write_idx(os.path.join(directory, name + (".gz" if gz else "")), a)
    return arrays


def make_cifar_dir(directory, per_batch=4, train_batches=2, seed=0):
    """Write data_batch_1..k.bin and test_batch.bin; return the records of every file."""
    os.makedirs(directory, exist_ok=True)
    rng = np.random.default_rng(seed)
    written = {}
    names = [f"data_batch_{i + 1}.bin" for i in range(train_batches)] + ["test_batch.bin"]
    for name in names:
        records = rng.integers(0, 256, (per_batch, RECORD), dtype=np.uint8)
        records[:, 0] = rng.integers(0, 10, per_batch)
        records.tofile(os.path.join(directory, name))
        written[name] = records
    return written


def make_image_folder(directory, classes=("cat", "dog"), per_class=3, size=(6, 5), mode="RGB"):
    """class-per-folder PNG images (and one JPEG); return the folder."""
    from PIL import Image

    rng = np.random.default_rng(0)
    for c in classes:
        os.makedirs(os.path.join(directory, c), exist_ok=True)
        for i in range(per_class):
            shape = (size[0], size[1], 3) if mode == "RGB" else size
            im = Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode=mode)
            ext = "jpg" if i == per_class - 1 else "png"
            im.save(os.path.join(directory, c, f"{i:03d}.{ext}"))
    return directory

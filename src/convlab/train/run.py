"""Glue between the command line and the library: run directories, the preprocessing a
checkpoint records, and the data of a run."""

from __future__ import annotations

import os
import re

import numpy as np

from ..data import Compose, DataLoader, Normalize, Pad, RandomCrop, RandomErasing, RandomHorizontalFlip, Subset, catalog


def new_run_dir(kind: str, base: str = "runs") -> str:
    """``runs/<kind>-001``, ``-002``, ...: the first number not yet used (never an existing directory)."""
    os.makedirs(base, exist_ok=True)
    pattern = re.compile(rf"^{re.escape(kind)}-(\d+)$")
    used = [int(m.group(1)) for name in os.listdir(base) if (m := pattern.match(name))]
    number = max(used, default=0) + 1
    while True:
        path = os.path.join(base, f"{kind}-{number:03d}")
        try:
            os.makedirs(path)
            return path
        except FileExistsError:  # another run took it meanwhile
            number += 1


def prepare_out_dir(out: str | None, kind: str, force: bool) -> str:
    """The output directory: a new ``runs/<kind>-NNN`` when ``out`` is None; ``out`` itself when it
    is new or empty, or when ``force`` is given. Raises ``FileExistsError`` for a non-empty ``out``."""
    if out is None:
        return new_run_dir(kind)
    if os.path.exists(out) and not os.path.isdir(out):
        raise FileExistsError(f"--out {out} exists and is not a directory")
    if os.path.isdir(out) and os.listdir(out) and not force:
        raise FileExistsError(f"--out {out} already holds files; pass --force to write over them, or choose another --out")
    os.makedirs(out, exist_ok=True)
    return out


def preprocessing(info: dict, pad: int = 0) -> dict:
    """The deterministic preprocessing of a dataset, as recorded in checkpoints."""
    c, h, w = info["shape"]
    return {"mean": info.get("mean"), "std": info.get("std"), "pad": int(pad),
            "mode": "L" if c == 1 else "RGB", "image_size": [h, w], "input_shape": [c, h + 2 * pad, w + 2 * pad]}


def eval_transform(pre: dict):
    steps = []
    if pre.get("pad"):
        steps.append(Pad(pre["pad"]))
    if pre.get("mean") is not None:
        steps.append(Normalize(pre["mean"], pre["std"]))
    return Compose(steps) if steps else None


def train_transform(pre: dict, augment: bool, flip: bool, seed: int = 0, erase: float = 0.0):
    """The evaluation transform plus, with ``augment``, random crops (padding 4 pixels for 32x32
    and larger, 2 for 28x28, 1 for 8x8) and horizontal flips (when ``flip``: mirroring must keep
    the label); ``erase`` > 0 adds random erasing with that probability."""
    if not augment and not erase:
        return eval_transform(pre)
    steps = []
    if pre.get("pad"):
        steps.append(Pad(pre["pad"]))
    _, h, w = pre["input_shape"]
    if augment:
        steps.append(RandomCrop((h, w), padding=h // 8 if h >= 32 else max(1, h // 14), seed=seed))
        if flip:
            steps.append(RandomHorizontalFlip(seed=seed))
    if pre.get("mean") is not None:
        steps.append(Normalize(pre["mean"], pre["std"]))
    if erase:
        steps.append(RandomErasing(p=erase, seed=seed))
    return Compose(steps)


def _with_transform(ds, transform):
    """A view of ``ds`` (an ArrayDataset, a Subset of one, or any Dataset) using ``transform``."""
    if isinstance(ds, Subset):
        return Subset(_with_transform(ds.dataset, transform), ds.indices)
    if hasattr(ds, "with_transform"):
        return ds.with_transform(transform)
    clone = object.__new__(type(ds))
    clone.__dict__.update(ds.__dict__)
    clone.transform = transform
    return clone


def split_train(train, val_split, seed: int):
    """``(train_indices, val_indices)``: a seeded random hold-out of ``val_split`` items (an int, a
    fraction < 1, or None for 10% of the training set, at most 5,000)."""
    n = len(train)
    if val_split is None:
        k = min(5000, n // 10)
    elif isinstance(val_split, float) and val_split < 1:
        k = int(round(val_split * n))
    else:
        k = int(val_split)
    if not 0 <= k < n:
        raise ValueError(f"--val-split {val_split} must leave training data: the training set has {n} items")
    perm = np.random.default_rng([seed, 0x5A11]).permutation(n)
    return np.sort(perm[k:]), np.sort(perm[:k])


def load_run_data(cfg: dict):
    """Datasets of a run described by ``cfg`` (dataset, data_root, seed, val_split, limits, pad, augment).

    Returns ``(train_ds, val_ds or None, test_ds, info, pre)`` with transforms applied.
    """
    train, test, info = catalog.load(cfg["dataset"], cfg.get("data_root"), seed=cfg["seed"])
    pre = preprocessing(info, cfg.get("pad", 0))
    train_idx, val_idx = split_train(train, cfg["val_split"], cfg["seed"])
    if cfg.get("limit_train"):
        train_idx = np.random.default_rng([cfg["seed"], 0x117]).permutation(train_idx)[: cfg["limit_train"]]
        train_idx.sort()
    test_idx = np.arange(len(test))[: cfg["limit_test"]] if cfg.get("limit_test") else None
    aug = _with_transform(train, train_transform(pre, cfg.get("augment", False), info["flip"], cfg["seed"],
                                                 cfg.get("erase", 0.0)))
    plain = _with_transform(train, eval_transform(pre))
    test = _with_transform(test, eval_transform(pre))
    train_ds = Subset(aug, train_idx)
    val_ds = Subset(plain, val_idx) if len(val_idx) else None
    test_ds = Subset(test, test_idx) if test_idx is not None else test
    return train_ds, val_ds, test_ds, info, pre


def loaders(train_ds, val_ds, test_ds, batch_size: int, seed: int, rank: int = 0, world_size: int = 1,
            random_transform: bool = False):
    """The training, validation (or None) and test loaders of a run.

    ``batch_size`` is the global batch. Over ``world_size`` > 1 ranks the training loader serves
    rank ``rank`` its rows of each global batch (fetching the whole batch when the transform is
    random, so augmentation matches one process), and rank ``r`` evaluates the items ``r, r + W,
    ...`` of the validation and test sets (the metrics are then summed over the ranks).
    """
    eval_bs = max(batch_size, 256)
    if world_size == 1:
        return (DataLoader(train_ds, batch_size, shuffle=True, seed=seed),
                DataLoader(val_ds, eval_bs) if val_ds is not None else None,
                DataLoader(test_ds, eval_bs))

    def shard(ds):
        return DataLoader(Subset(ds, np.arange(rank, len(ds), world_size)), -(-eval_bs // world_size))

    return (DataLoader(train_ds, batch_size, shuffle=True, seed=seed, num_replicas=world_size, rank=rank,
                       fetch_global=random_transform),
            shard(val_ds) if val_ds is not None else None,
            shard(test_ds))

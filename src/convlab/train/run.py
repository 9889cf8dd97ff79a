"""Glue between the command line and the library: run directories, the preprocessing a
checkpoint records, and the data of a run."""

from __future__ import annotations

import contextlib
import os
import re
import shutil

import numpy as np

from ..data import Compose, DataLoader, RandomCrop, RandomErasing, RandomHorizontalFlip, Subset
from ..data.preprocess import Preprocessing
from ..validate import ConvlabError


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


def check_out_dir(out: str | None, force: bool) -> None:
    """Refuse (``FileExistsError``) an ``out`` that :func:`prepare_out_dir` would refuse, making nothing:
    a command checks this before its long work and makes the folder only when it has results."""
    if out is None:
        return
    if os.path.exists(out) and not os.path.isdir(out):
        raise FileExistsError(f"--out {out} exists and is not a directory")
    if os.path.isdir(out) and os.listdir(out) and not force:
        raise FileExistsError(f"--out {out} already holds files; pass --force to write over them, or choose another --out")


@contextlib.contextmanager
def writing_into(out: str | None, kind: str, force: bool):
    """:func:`prepare_out_dir`, and on an exception inside the block remove what the block added
    (the folder itself when it was made here), so a failed command leaves nothing half-written."""
    made = out is None or not os.path.isdir(out)
    before = set() if made else set(os.listdir(out))
    path = prepare_out_dir(out, kind, force)
    try:
        yield path
    except BaseException:
        if made:
            shutil.rmtree(path, ignore_errors=True)
        else:
            for name in set(os.listdir(path)) - before:
                target = os.path.join(path, name)
                shutil.rmtree(target, ignore_errors=True) if os.path.isdir(target) else os.remove(target)
        raise


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


def eval_transform(pre):
    """The deterministic part of a checkpoint's preprocessing (zero padding, normalisation) as a
    batched transform; ``pre`` is a :class:`~convlab.data.preprocess.Preprocessing` or its dict."""
    return Preprocessing.from_dict(pre).transform()


def train_transform(pre, augment: bool, flip: bool, seed: int = 0, erase: float = 0.0):
    """The evaluation transform plus, with ``augment``, random crops (padding 4 pixels for 32x32
    and larger, 2 for 28x28, 1 for 8x8), with ``flip`` random horizontal flips (mirroring must
    keep the label), and with ``erase`` > 0 random erasing with that probability (after normalisation)."""
    spec = Preprocessing.from_dict(pre)
    steps = []
    if augment:
        _, h, w = spec.input_shape
        steps.append(RandomCrop((h, w), padding=h // 8 if h >= 32 else max(1, h // 14), seed=seed))
    if flip:
        steps.append(RandomHorizontalFlip(seed=seed))
    t = spec.transform(augment=steps)
    if erase:
        t = Compose(([t] if t is not None else []) + [RandomErasing(p=erase, seed=seed)])
    return t


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


def parse_val_split(text):
    """``--val-split`` text -> a fraction in (0, 1) (a float) or a whole count (an int); anything
    else is a ``ValueError`` (``2.0`` is neither: a count is written without a decimal point)."""
    if isinstance(text, (int, np.integer)) and not isinstance(text, bool):
        value = int(text)
    elif isinstance(text, float):
        value = text
    else:
        s = str(text).strip()
        try:
            value = int(s)
        except ValueError:
            try:
                value = float(s.rstrip("%")) / (100 if s.endswith("%") else 1)
            except ValueError:
                value = None
    if isinstance(value, int) and value >= 0:
        return value
    if isinstance(value, float) and 0 < value < 1:
        return value
    raise ConvlabError(f"--val-split must be a fraction between 0 and 1 (like 0.1) or a whole count of images "
                     f"(like 500), got {text}")


def split_train(train, val_split, seed: int):
    """``(train_indices, val_indices)``: a seeded random hold-out of ``val_split`` items (an int, a
    fraction < 1, or None for 10% of the training set, at most 5000)."""
    n = len(train)
    if val_split is None:
        k = min(5000, n // 10)
    elif isinstance(val_split, float) and val_split < 1:
        k = int(round(val_split * n))
    else:
        k = int(val_split)
    if not 0 <= k < n:
        raise ConvlabError(f"--val-split {val_split} must leave training data: the training set has {n:,} images")
    perm = np.random.default_rng([seed, 0x5A11]).permutation(n)
    return np.sort(perm[k:]), np.sort(perm[:k])


def describe_val_split(val_split, k: int, n: int) -> str:
    """Words for the validation hold-out, saying whether ``--val-split`` was a fraction or a count."""
    if val_split is None:
        return f"{k:,} of {n:,} training images held out for validation (the default: 10%, at most 5,000)"
    if isinstance(val_split, float):
        return f"{k:,} of {n:,} training images held out for validation (--val-split {val_split:g}: a fraction)"
    return f"{k:,} of {n:,} training images held out for validation (--val-split {val_split}: a count)"


def load_run_data(cfg: dict, say=None):
    """Datasets of a run described by ``cfg`` (dataset, data_root, seed, val_split, limits, pad,
    augment, the preprocessing flags, val_data/test_data folders).

    Returns ``(train_ds, val_ds or None, test_ds, info, spec)`` with transforms applied; ``spec``
    is the run's :class:`~convlab.data.preprocess.Preprocessing`. ``say`` receives what was inferred.
    """
    from .run_data import load_datasets

    say = say or (lambda *a: None)
    train, val, test, info, spec = load_datasets(cfg, say)
    seed = cfg["seed"]
    if val is None:
        train_idx, val_idx = split_train(train, cfg.get("val_split"), seed)
        say("  " + describe_val_split(cfg.get("val_split"), len(val_idx), len(train)))
        if 0 < len(val_idx) < 20:
            say(f"  note: only {len(val_idx)} validation image{'s' if len(val_idx) > 1 else ''}: the best checkpoint is "
                "chosen on them, and their accuracy says little")
    else:
        if cfg.get("val_split") is not None:
            raise ConvlabError("--val-split holds out training pictures for validation, but this run validates on its "
                             "own folder (val/ or --val-data); leave --val-split out")
        train_idx, val_idx = np.arange(len(train)), None
    limit = cfg.get("limit")
    limit_train = min(v for v in (cfg.get("limit_train"), limit) if v) if (cfg.get("limit_train") or limit) else None
    if limit_train:
        train_idx = np.sort(np.random.default_rng([seed, 0x117]).permutation(train_idx)[:limit_train])
    limit_val = min(v for v in (cfg.get("limit_val"), limit) if v) if (cfg.get("limit_val") or limit) else None
    if limit_val is None and limit_train and cfg.get("val_split") is None and val is None:
        limit_val = max(1, limit_train // 10)  # a quick run validates on a tenth of its training images
    limit_test = min(v for v in (cfg.get("limit_test"), limit) if v) if (cfg.get("limit_test") or limit) else None
    spec = finish_spec(spec, cfg, train, train_idx, info, say)
    flip = cfg.get("flip")  # None: with --augment, where the dataset's labels survive mirroring
    flip = bool(cfg.get("augment")) and bool(info["flip"]) if flip is None else bool(flip)
    aug = _with_transform(train, train_transform(spec, cfg.get("augment", False), flip, seed, cfg.get("erase", 0.0)))
    plain = eval_transform(spec)
    train_ds = Subset(aug, train_idx)
    if val is None:
        val_ds = Subset(_with_transform(train, plain), val_idx) if len(val_idx) else None
    else:
        val_ds = _with_transform(val, plain)
    if val_ds is not None and limit_val and limit_val < len(val_ds):
        val_ds = Subset(val_ds, np.arange(limit_val))
        say(f"  validating on the first {limit_val:,} of them" + ("" if cfg.get("limit_val") or limit else
                                                                  " (a tenth of --limit-train; --limit-val to choose)"))
    test_ds = _with_transform(test, plain)
    if limit_test and limit_test < len(test_ds):
        test_ds = Subset(test_ds, np.arange(limit_test))
    return train_ds, val_ds, test_ds, info, spec


def finish_spec(spec: Preprocessing, cfg: dict, train, train_idx, info: dict, say) -> Preprocessing:
    """The normalisation of ``spec``: ``--mean``/``--std`` when given, ``--no-normalize`` for none, the
    dataset's known statistics, else the mean/std of the training pixels (measured, and said)."""
    if cfg.get("normalize") is False:
        return spec.replace(mean=None, std=None)
    if cfg.get("mean") is not None:
        n = max(len(cfg["mean"]), len(cfg["std"]))
        if n not in (1, spec.channels) or len(cfg["mean"]) != len(cfg["std"]):
            allowed = "1 value" if spec.channels == 1 else f"1 value or {spec.channels} (one per channel)"
            raise ConvlabError(f"--mean and --std take {allowed} for these {spec.channels}-channel pictures, "
                             f"got {len(cfg['mean'])} and {len(cfg['std'])}")
        return spec.replace(mean=tuple(cfg["mean"]), std=tuple(cfg["std"]))
    if spec.mean is not None or not info.get("measure_stats"):
        return spec
    idx = np.asarray(train_idx)[:20000]
    while isinstance(train, Subset):  # down to the arrays
        idx, train = train.indices[idx], train.dataset
    images = getattr(train, "images", None)
    if images is None:
        return spec
    raw = images[idx]
    sample = raw.astype(np.float32) / (255 if raw.dtype == np.uint8 else 1)
    mean = sample.mean(axis=(0, 2, 3))
    std = np.maximum(sample.std(axis=(0, 2, 3)), 1e-3)
    say("  normalisation measured on the training images: mean " + ",".join(f"{m:.3f}" for m in mean)
        + " std " + ",".join(f"{s:.3f}" for s in std) + " (--mean/--std or --no-normalize to choose)")
    return spec.replace(mean=tuple(float(m) for m in mean), std=tuple(float(s) for s in std))


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

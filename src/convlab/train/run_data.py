"""The datasets of a ``convlab train`` run and the preprocessing that comes with them.

A named dataset (``fashion-mnist``, ``cifar10``, ...) brings its size, channels and statistics;
a folder of pictures (``folder:PATH`` or just ``PATH``) is surveyed (every file's header) and
the preprocessing inferred from it unless the flags choose. Either way the flags
(``--image-size``, ``--channels``, ``--resize``, ``--invert``, ``--pad``) override, and the
pictures are converted once, through :meth:`Preprocessing.convert`, into uint8 arrays held in
memory; the loader's transform then pads, augments and normalises.
"""

from __future__ import annotations

import os

import numpy as np

from ..data import ArrayDataset, Subset, catalog, random_split
from ..data.folder import ImageFolder, display_name, find_splits, scan_classes
from ..data.preprocess import Preprocessing
from ..data.survey import infer, survey
from ..validate import ConvlabError

MAX_BYTES = 4 * 2**30  # converted pictures of one run held in memory (uint8)


def folder_path(name: str) -> str | None:
    """The directory a ``--dataset`` names (``folder:PATH``, or a path to an existing directory), else None."""
    if name.startswith("folder:"):
        return os.path.expanduser(name[len("folder:"):])
    if name not in catalog.NAMES and os.path.isdir(os.path.expanduser(name)):
        return os.path.expanduser(name)
    return None


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 'es' if word.endswith('s') else 's'}"


def load_datasets(cfg: dict, say):
    """``(train, val or None, test, info, spec)``: untransformed datasets of pixels and the
    :class:`Preprocessing` (normalisation still to be measured for folders)."""
    path = folder_path(cfg["dataset"])
    if path is not None:
        return _load_folder(path, cfg, say)
    if cfg.get("val_data") or cfg.get("test_data"):
        raise ConvlabError("--val-data and --test-data take folders of pictures, for a --dataset that is a folder")
    train, test, info = catalog.load(cfg["dataset"], cfg.get("data_root"), seed=cfg["seed"])
    c, h, w = info["shape"]
    channels = cfg.get("channels") or c
    mean, std = info.get("mean"), info.get("std")
    if mean is not None:
        if cfg.get("invert"):
            mean = tuple(1 - m for m in mean)
        if channels != c:  # grayscale statistics repeated for RGB, colour ones averaged for grayscale
            mean, std = ((mean * 3, std * 3) if c == 1 else ((float(np.mean(mean)),), (float(np.mean(std)),)))
    spec = Preprocessing(channels=channels, size=tuple(cfg.get("image_size") or (h, w)),
                         resize=cfg.get("resize") or "stretch", mean=mean, std=std,
                         invert=bool(cfg.get("invert")), pad=int(cfg.get("pad") or 0))
    if (channels, *spec.size) != (c, h, w) or spec.invert:
        train, test = _convert(train, spec), _convert(test, spec)
        say(f"  {info['name']} converted from {c}x{h}x{w} to {spec.describe()}")
    info["shape"] = spec.input_shape
    return train, None, test, info, spec


def _convert(ds, spec: Preprocessing):
    """``ds`` (an ArrayDataset or a Subset of one) with its pictures converted by ``spec``."""
    if isinstance(ds, Subset):
        return Subset(_convert(ds.dataset, spec), ds.indices)
    out = ArrayDataset(spec.convert_batch(ds.images), ds.labels, classes=ds.classes)
    return out


def _load_folder(path: str, cfg: dict, say):
    splits = find_splits(path)
    train_dir = splits.get("train", path)
    val_dir = cfg.get("val_data") or splits.get("val")
    test_dir = cfg.get("test_data") or splits.get("test")
    classes, samples, other = scan_classes(train_dir)
    if len(classes) < 2:
        raise ConvlabError(f"{train_dir} has one class folder ({classes[0]}); a classifier needs at least two")
    where = {"train": (train_dir, samples)}
    for split, d in (("validation", val_dir), ("test", test_dir)):
        if d:
            where[split] = (d, scan_classes(d, classes)[1])
    found = survey([p for p, _ in samples])
    bad = {p: why for p, why in found.bad}
    skip = bool(cfg.get("skip_bad_files"))
    if bad and not skip:
        first = next(iter(bad))
        raise OSError(f"{first}: not a readable picture ({bad[first]})"
                      + (f"; {len(bad) - 1:,} more unreadable files" if len(bad) > 1 else "")
                      + "; fix or remove it, or pass --skip-bad-files to leave such files out")
    inferred = infer(found, channels=cfg.get("channels"), size=cfg.get("image_size"), resize=cfg.get("resize"))
    spec = Preprocessing(channels=inferred.channels, size=inferred.size, resize=inferred.resize,
                         invert=bool(cfg.get("invert")), pad=int(cfg.get("pad") or 0))
    total = sum(len(s) for _, s in where.values()) * spec.channels * spec.size[0] * spec.size[1]
    if total > MAX_BYTES:  # the pictures are held in memory as bytes, converted once
        raise ConvlabError(f"{sum(len(s) for _, s in where.values()):,} pictures of {spec.channels}x{spec.size[0]}x"
                         f"{spec.size[1]} take {total / 2**30:.1f} GiB in memory (at most {MAX_BYTES / 2**30:.0f} GiB); "
                         "choose a smaller --image-size")
    say(f"  pictures: {_plural(found.n + len(found.bad), 'file')} in {_plural(len(classes), 'class')} under {train_dir}"
        + (f" ({', '.join(f'{k} {v:,}' for k, v in sorted(found.formats.items()))})" if found.formats else "")
        + (f"; {_plural(other, 'other file')} ignored" if other else ""))
    for phrase in inferred.words:
        say(f"  inferred {phrase}")
    skipped = []

    def on_bad(p, exc):
        skipped.append(p)
        if len(skipped) <= 5:
            say(f"  warning: skipped {p}: {exc}")

    datasets = {}
    for split, (d, split_samples) in where.items():
        folder = object.__new__(ImageFolder)
        folder.root, folder.classes, folder.samples = d, classes, [s for s in split_samples if s[0] not in bad]
        folder.preprocessing, folder.mode, folder.size, folder.transform = spec, spec.mode, spec.size, None
        images, labels, _ = folder.to_arrays(skip_bad=skip, on_bad=on_bad)
        if not len(images):
            raise ConvlabError(f"{d}: none of its pictures could be read")
        datasets[split] = ArrayDataset(images, labels, classes=classes)
    n_bad = len(bad) + len(skipped)
    if n_bad:
        for p in list(bad)[: max(0, 5 - len(skipped))]:
            say(f"  warning: skipped {p}: {bad[p]}")
        say(f"  warning: {_plural(n_bad, 'unreadable file')} skipped (--skip-bad-files)")
    train, test = datasets["train"], datasets.get("test")
    if test is None:
        train, test = random_split(train, [0.8, 0.2], seed=cfg["seed"])
        say("  no test/ folder or --test-data: 20% of the training pictures held out for testing")
    _class_table(classes, train, datasets.get("validation"), test, say)
    info = {"name": os.path.basename(os.path.normpath(path)) or path, "classes": classes, "shape": spec.input_shape,
            "source": os.path.abspath(path), "mean": None, "std": None, "flip": False,
            "skipped": n_bad, "measure_stats": True}
    return train, datasets.get("validation"), test, info, spec


def _labels(ds) -> np.ndarray:
    if isinstance(ds, Subset):
        return _labels(ds.dataset)[ds.indices]
    return np.asarray(ds.labels)


def _class_table(classes, train, val, test, say) -> None:
    """The pictures per class and split, printed before training."""
    cols = [("train", train), ("validation", val), ("test", test)]
    cols = [(name, np.bincount(_labels(ds), minlength=len(classes))) for name, ds in cols if ds is not None]
    width = max(5, *(len(display_name(c)) for c in classes))
    say("  " + "class".ljust(width) + "".join(f"  {name:>10}" for name, _ in cols))
    for k, c in enumerate(classes):
        say("  " + c.ljust(width) + "".join(f"  {int(counts[k]):>10,}" for _, counts in cols))
    missing = [(name, [classes[k] for k in np.flatnonzero(counts == 0)]) for name, counts in cols if name != "train"]
    for name, absent in missing:
        if absent:
            say(f"  note: no {name} pictures of {', '.join(absent)}")


__all__ = ["folder_path", "load_datasets"]


def load_eval_dataset(name: str, root, split: str, spec: Preprocessing, classes, seed: int = 0,
                      skip_bad: bool = False, say=None):
    """``(pixels dataset, info)``: the ``split`` ("test" or "train") of a named dataset or a folder,
    converted by the checkpoint's ``spec`` (the same :meth:`Preprocessing.convert` as in training).

    A folder with ``train/``/``test/`` folders gives that split; a folder of class folders is used
    whole. Its classes must be among the checkpoint's ``classes`` (labels follow the checkpoint)."""
    say = say or (lambda *a: None)
    path = folder_path(name)
    if path is None:
        train, test, info = catalog.load(name, root, seed=seed)
        ds = train if split == "train" else test
        c, h, w = info["shape"]
        if (spec.channels, *spec.size) != (c, h, w) or spec.invert:
            say(f"  {name} converted from {c}x{h}x{w} to {spec.channels}x{spec.size[0]}x{spec.size[1]}"
                + (", inverted" if spec.invert else ""))
            ds = _convert(ds, spec)
        return ds, info
    splits = find_splits(path)
    d = splits.get(split, path) if splits else path
    if splits and split not in splits:
        raise FileNotFoundError(f"{path} has no {split}/ folder (it has {', '.join(sorted(splits))})")
    if classes:
        _, samples, _ = scan_classes(d, list(classes))
    else:
        classes, samples, _ = scan_classes(d)
    folder = object.__new__(ImageFolder)
    folder.root, folder.classes, folder.samples = d, list(classes), samples
    folder.preprocessing, folder.mode, folder.size, folder.transform = spec, spec.mode, spec.size, None
    skipped = []
    images, labels, bad = folder.to_arrays(skip_bad=skip_bad, on_bad=lambda p, e: skipped.append((p, e)))
    for p, e in skipped[:5]:
        say(f"  warning: skipped {p}: {e}")
    if skipped:
        say(f"  warning: {_plural(len(skipped), 'unreadable file')} skipped (--skip-bad-files)")
    ds = ArrayDataset(images, labels, classes=list(classes))
    ds.paths = [p for p, _ in samples if p not in set(bad)]
    info = {"name": os.path.basename(os.path.normpath(d)), "classes": list(classes), "source": os.path.abspath(d),
            "shape": spec.input_shape}
    return ds, info

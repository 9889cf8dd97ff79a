"""Folders of pictures: ``ImageFolder`` (one sub-directory per class) and the split layout.

::

    root/cat/001.png                 root/train/cat/001.png
    root/cat/002.jpg       or        root/val/cat/017.jpg      (also valid/ or validation/)
    root/dog/xyz.png                 root/test/dog/xyz.png

Classes are the sub-directory names in sorted order (label = position). Every picture goes
through one :class:`~convlab.data.preprocess.Preprocessing` (channels, size, resize policy,
inversion), chosen by the caller or inferred from all the pictures' headers (the majority's
channels; the common size), never from one file.
"""

from __future__ import annotations

import os

import numpy as np

from ..validate import ConvlabError
from .datasets import Dataset
from .images import GRAY_MODES, _read, decode_image, read_image  # noqa: F401  (read_image re-exported)
from .preprocess import Preprocessing

MAX_DEPTH = 32  # sub-folders below a class folder; deeper trees are refused, not walked
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm")
SPLITS = {"train": ("train", "training"), "val": ("val", "valid", "validation"), "test": ("test", "testing")}


def open_image(path):
    """Decode a picture file (:func:`convlab.data.images.decode_image`: every Pillow mode, EXIF
    orientation applied) for :meth:`Preprocessing.convert`; errors name the file."""
    return decode_image(path)


def load_image(path, mode: str | None = None, size=None):
    """Read an image file as a float32 ``(C, H, W)`` array in [0, 1] (see :func:`read_image`).

    Args:
        mode: ``"L"`` (1 channel), ``"RGB"`` (3 channels) or None (``"L"`` for grayscale files, else ``"RGB"``).
        size: ``(height, width)`` to resize to (bilinear, stretching), or None.

    The commands read pictures through :class:`~convlab.data.preprocess.Preprocessing` instead,
    which adds the resize policies, inversion and normalisation a checkpoint records.

    Returns:
        ``(array, note)`` where ``note`` says what was converted (``""`` when nothing was).
    """
    return _read(path, mode, size)


def display_name(name: str) -> str:
    """A folder name as text: bytes that are not UTF-8 (kept by Python as surrogates) become U+FFFD."""
    return os.fsencode(name).decode("utf-8", "replace")


def find_splits(root) -> dict[str, str]:
    """``{"train": dir, "val": dir, "test": dir}`` for the split folders under ``root`` (those present),
    or ``{}`` when ``root`` holds class folders directly. Split folders are recognised when a
    ``train/`` (or ``training/``) folder is there; other folders beside them are an error."""
    root = os.fspath(root)
    if not os.path.isdir(root):
        raise FileNotFoundError(f"{root} is not a directory")
    names = {e.name: e.path for e in os.scandir(root) if e.is_dir() and not e.name.startswith(".")}
    lower = {n.lower(): n for n in names}
    if not any(alias in lower for alias in SPLITS["train"]):
        return {}
    found, used = {}, set()
    for split, aliases in SPLITS.items():
        hits = [lower[a] for a in aliases if a in lower]
        if len(hits) > 1:
            raise ConvlabError(f"{root} has {' and '.join(hits)}: both are the {split} split; keep one")
        if hits:
            found[split], _ = names[hits[0]], used.add(hits[0])
    other = sorted(set(names) - used)
    if other:
        raise ConvlabError(f"{root} holds split folders ({', '.join(sorted(used))}) and also "
                         f"{', '.join(map(display_name, other))}; "
                         "put class folders inside train/, val/ and test/ only")
    return found


def scan_classes(root, classes: list[str] | None = None) -> tuple[list[str], list[tuple[str, int]], int]:
    """``(class names, [(path, label)], other files)`` of ``root/CLASS/.../IMAGE``.

    ``classes``: the class names to use (a validation or test folder is labelled like the
    training folder); a class folder not among them is an error. A class folder without any
    picture is an error. ``other files`` counts files skipped for their extension.
    """
    root = os.fspath(root)
    if not os.path.isdir(root):
        raise FileNotFoundError(f"{root} is not a directory")
    folders = sorted((e.name for e in os.scandir(root) if e.is_dir() and not e.name.startswith(".")),
                     key=display_name)
    shown = [display_name(f) for f in folders]
    if not folders:
        raise FileNotFoundError(f"{root} has no class folders (expected {root}/CLASS/IMAGE, one folder per class)")
    if classes is None:
        classes = shown
        if len(set(shown)) != len(shown):
            raise ConvlabError(f"{root}: class folder names that differ only in bytes that are not UTF-8: {shown}")
    else:
        extra = [s for s in shown if s not in classes]
        if extra:
            raise ConvlabError(f"{root} has class folders the training data does not have: {', '.join(extra)} "
                             f"(training classes: {', '.join(classes)})")
    samples, empty, other = [], [], 0
    for folder, name in zip(folders, shown):
        label, before = classes.index(name), len(samples)
        top = os.path.join(root, folder)
        for dirpath, dirnames, filenames in os.walk(top):
            if dirpath[len(top):].count(os.sep) >= MAX_DEPTH:
                raise ConvlabError(f"{dirpath} is nested more than {MAX_DEPTH} folders deep under {top}")
            dirnames.sort()
            for f in sorted(filenames):
                if f.lower().endswith(IMAGE_EXTENSIONS):
                    samples.append((os.path.join(dirpath, f), label))
                elif not f.startswith("."):
                    other += 1
        if len(samples) == before:
            empty.append(name)
    if empty:
        raise ConvlabError(f"{root}: empty class folder{'s' if len(empty) > 1 else ''} {', '.join(empty)} (no pictures with "
                         f"an extension {', '.join(IMAGE_EXTENSIONS)}); remove {'them' if len(empty) > 1 else 'it'} "
                         "or add pictures")
    return list(classes), samples, other


class ImageFolder(Dataset):
    """Images sorted into one folder per class.

    Args:
        root: the directory holding the class folders.
        transform: applied to each image / batch (after ``preprocessing``'s conversion).
        mode: ``"L"``, ``"RGB"``, or None: the majority of the pictures' modes (grayscale or colour).
        size: ``(height, width)`` every image is resized to; None keeps each image's size;
            ``"infer"`` (or ``"first"``, the older name) the size most pictures have (see
            :func:`convlab.data.survey.infer`).
        preprocessing: a :class:`~convlab.data.preprocess.Preprocessing` (overrides ``mode`` and ``size``);
            its conversion step (channels, inversion, size) is applied when an item is read.
        classes: the class names (to label a validation/test folder like the training folder).
    """

    def __init__(self, root, transform=None, mode: str | None = None, size=None, preprocessing=None, classes=None):
        root = os.fspath(root)
        self.root = root
        try:
            self.classes, self.samples, _ = scan_classes(root, classes)
        except (OSError, ValueError) as exc:
            raise type(exc)(f"ImageFolder: {exc}") from None
        if preprocessing is None and (mode is None or size in ("infer", "first")):
            from .survey import infer, survey

            found = infer(survey([p for p, _ in self.samples]))
            mode = mode or ("L" if found.channels == 1 else "RGB")
            if size in ("infer", "first"):
                size = found.size
        if preprocessing is None:
            if mode not in ("L", "RGB"):
                raise ConvlabError(f"ImageFolder: mode must be 'L' or 'RGB', got {mode!r}")
            if size is not None:
                preprocessing = Preprocessing(channels=1 if mode == "L" else 3, size=size)
        self.preprocessing = preprocessing
        self.mode = preprocessing.mode if preprocessing else mode
        self.size = preprocessing.size if preprocessing else None
        self.transform = transform

    @property
    def targets(self) -> list[int]:
        return [label for _, label in self.samples]

    def __len__(self) -> int:
        return len(self.samples)

    def load(self, index):
        path, label = self.samples[index]
        picture = open_image(path)
        spec = self.preprocessing or Preprocessing(channels=1 if self.mode == "L" else 3, size=picture.pixels.shape[:2])
        return spec.convert(picture), label

    def to_arrays(self, skip_bad: bool = False, on_bad=None) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """Every picture converted, as ``(uint8 (N, C, H, W) pixels, int64 labels, unreadable paths)``.

        An unreadable file raises ``OSError``/``FileFormatError`` naming it, unless ``skip_bad``: then it is left out,
        ``on_bad(path, error)`` is called, and its path is in the third value."""
        from .preprocess import to_uint8

        if self.preprocessing is None:
            raise ConvlabError("ImageFolder.to_arrays needs one size: give size= or preprocessing=")
        images = np.empty((len(self.samples), *self.preprocessing.input_shape[:1], *self.preprocessing.size), np.uint8)
        labels, bad, n = np.empty(len(self.samples), np.int64), [], 0
        for path, label in self.samples:
            try:
                images[n] = to_uint8(self.preprocessing.convert(open_image(path)))
            except (OSError, ValueError) as exc:  # FileFormatError is a ValueError
                if not skip_bad:
                    raise
                bad.append(path)
                if on_bad is not None:
                    on_bad(path, exc)
                continue
            labels[n] = label
            n += 1
        return images[:n], labels[:n], bad

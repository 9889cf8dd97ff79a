"""``ImageFolder``: one sub-directory per class of PNG/JPEG/... images, read with Pillow.

::

    root/cat/001.png
    root/cat/002.jpg
    root/dog/xyz.png

Classes are the sub-directory names in sorted order (label = position). Images are
converted to one mode (``"L"`` grayscale or ``"RGB"``) and, when ``size`` is given,
resized, so they can be batched.
"""

from __future__ import annotations

import os

from ..validate import int_tuple
from .datasets import Dataset
from .images import GRAY_MODES, _read, read_image  # noqa: F401  (read_image re-exported)

MAX_DEPTH = 32  # sub-folders below a class folder; deeper trees are refused, not walked

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm")


def load_image(path, mode: str | None = None, size=None):
    """Read an image file as a float32 ``(C, H, W)`` array in [0, 1] (see :func:`read_image`).

    Args:
        mode: ``"L"`` (1 channel), ``"RGB"`` (3 channels) or None (``"L"`` for grayscale files, else ``"RGB"``).
        size: ``(height, width)`` to resize to (bilinear), or None.

    Returns:
        ``(array, note)`` where ``note`` says what was converted (``""`` when nothing was).
    """
    return _read(path, mode, size)


def _check_text(name: str, root: str, what: str) -> None:
    """Refuse a name that is not valid UTF-8 (Python keeps such bytes as lone surrogates, which
    crash the first print or JSON file that meets them, at the end of a run)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        shown = name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        raise ValueError(f"ImageFolder: the {what} name {shown!r} under {root} is not valid UTF-8; "
                         "rename it") from None


class ImageFolder(Dataset):
    """Images sorted into one folder per class.

    Args:
        root: the directory holding the class folders.
        transform: applied to each image / batch.
        mode: ``"L"``, ``"RGB"``, or None to take the first image's (grayscale -> ``"L"``, anything else -> ``"RGB"``).
        size: ``(height, width)`` every image is resized to; None keeps each image's size,
            ``"first"`` uses the first image's size.
    """

    def __init__(self, root, transform=None, mode: str | None = None, size=None):
        root = os.fspath(root)
        if not os.path.isdir(root):
            raise FileNotFoundError(f"ImageFolder: {root} is not a directory")
        self.root = root
        self.classes = sorted(e.name for e in os.scandir(root) if e.is_dir() and not e.name.startswith("."))
        for name in self.classes:
            _check_text(name, root, "class folder")
        self.samples: list[tuple[str, int]] = []
        for label, name in enumerate(self.classes):
            top = os.path.join(root, name)
            for dirpath, dirnames, filenames in os.walk(top):
                if dirpath[len(top):].count(os.sep) >= MAX_DEPTH:
                    raise ValueError(f"ImageFolder: {dirpath} is nested more than {MAX_DEPTH} folders deep "
                                     f"under {top}")
                dirnames.sort()
                for f in sorted(filenames):
                    if f.lower().endswith(IMAGE_EXTENSIONS):
                        self.samples.append((os.path.join(dirpath, f), label))
        if not self.samples:
            raise FileNotFoundError(
                f"ImageFolder: no images ({', '.join(IMAGE_EXTENSIONS)}) in class folders under {root} "
                "(expected root/CLASS/IMAGE)"
            )
        if mode is not None and mode not in ("L", "RGB"):
            raise ValueError(f"ImageFolder: mode must be 'L' or 'RGB', got {mode!r}")
        if mode is None or (isinstance(size, str) and size == "first"):
            first = read_image(self.samples[0][0], mode)
            mode = mode or ("L" if first.shape[0] == 1 else "RGB")
            if isinstance(size, str) and size == "first":
                size = first.shape[1:]
        if size is not None:
            size = int_tuple(size, 2, "ImageFolder", "size", min=1)
        self.mode, self.size = mode, size
        self.transform = transform

    @property
    def targets(self) -> list[int]:
        return [label for _, label in self.samples]

    def __len__(self) -> int:
        return len(self.samples)

    def load(self, index):
        path, label = self.samples[index]
        return load_image(path, self.mode, self.size)[0], label

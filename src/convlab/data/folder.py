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

import numpy as np

from .datasets import Dataset

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm")
GRAY_MODES = ("1", "L", "LA", "I", "I;16", "F", "P;L")


def load_image(path, mode: str | None = None, size=None):
    """Read an image file as a float32 ``(C, H, W)`` array in [0, 1].

    Args:
        mode: ``"L"`` (1 channel), ``"RGB"`` (3 channels) or None (``"L"`` for grayscale files, else ``"RGB"``).
        size: ``(height, width)`` to resize to (bilinear), or None.

    Returns:
        ``(array, note)`` where ``note`` says what was converted (``""`` when nothing was).
    """
    from PIL import Image

    with Image.open(path) as im:
        im.load()
        original_mode, original_size = im.mode, (im.height, im.width)
        if mode is None:
            mode = "L" if im.mode in GRAY_MODES else "RGB"
        notes = []
        if im.mode != mode:
            if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
                # composite transparent pixels on black, the background of the training images
                base = Image.new("RGBA", im.size, (0, 0, 0, 255))
                im = Image.alpha_composite(base, im.convert("RGBA"))
            im = im.convert(mode)
            notes.append(f"mode {original_mode} -> {mode}")
        if size is not None and (im.height, im.width) != tuple(size):
            im = im.resize((int(size[1]), int(size[0])), Image.BILINEAR)
            notes.append(f"size {original_size[1]}x{original_size[0]} -> {size[1]}x{size[0]}")
        a = np.asarray(im, dtype=np.float32) / 255
    a = a[None] if a.ndim == 2 else a.transpose(2, 0, 1)
    return np.ascontiguousarray(a, dtype=np.float32), ", ".join(notes)


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
        self.samples: list[tuple[str, int]] = []
        for label, name in enumerate(self.classes):
            for dirpath, dirnames, filenames in os.walk(os.path.join(root, name)):
                dirnames.sort()
                for f in sorted(filenames):
                    if f.lower().endswith(IMAGE_EXTENSIONS):
                        self.samples.append((os.path.join(dirpath, f), label))
        if not self.samples:
            raise FileNotFoundError(
                f"ImageFolder: no images ({', '.join(IMAGE_EXTENSIONS)}) in class folders under {root} "
                "(expected root/CLASS/IMAGE)"
            )
        from PIL import Image

        with Image.open(self.samples[0][0]) as first:
            if mode is None:
                mode = "L" if first.mode in GRAY_MODES else "RGB"
            if size == "first":
                size = (first.height, first.width)
        if mode not in ("L", "RGB"):
            raise ValueError(f"ImageFolder: mode must be 'L' or 'RGB', got {mode!r}")
        self.mode, self.size = mode, (tuple(int(s) for s in size) if size is not None else None)
        self.transform = transform

    @property
    def targets(self) -> list[int]:
        return [label for _, label in self.samples]

    def __len__(self) -> int:
        return len(self.samples)

    def load(self, index):
        path, label = self.samples[index]
        return load_image(path, self.mode, self.size)[0], label

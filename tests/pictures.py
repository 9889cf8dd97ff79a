"""Folders of real pictures for the tests: Fashion-MNIST items and the photographs that
scikit-image (``skimage.data``) and matplotlib ship, written in many formats, modes and sizes.

Every builder writes the pictures with Pillow and returns a record of what it wrote (path,
class, format, mode, size), so tests can compare the library's reading with an independent one.
"""

from __future__ import annotations

import gzip
import os
import pathlib

import numpy as np

FASHION = pathlib.Path(os.environ.get("CONVLAB_DATA", "/usr/share/datasets")) / "fashion-mnist"
FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                   "Ankle boot"]
# (extension, Pillow format, mode): the mix every folder cycles through
FORMATS = [(".png", "PNG", "L"), (".jpg", "JPEG", "RGB"), (".bmp", "BMP", "RGB"), (".gif", "GIF", "P"),
           (".tif", "TIFF", "I;16"), (".webp", "WEBP", "RGB"), (".png", "PNG", "RGBA"), (".jpg", "JPEG", "CMYK"),
           (".png", "PNG", "1"), (".tiff", "TIFF", "RGB"), (".png", "PNG", "P")]


def fashion_items(per_class: int, labels=(1, 7, 8), split: str = "train", offset: int = 0):
    """``{label: uint8 (n, 28, 28)}``: the first ``per_class`` (after ``offset``) Fashion-MNIST items of each label."""
    import pytest

    prefix = "train" if split == "train" else "t10k"
    img_path, lab_path = FASHION / f"{prefix}-images-idx3-ubyte.gz", FASHION / f"{prefix}-labels-idx1-ubyte.gz"
    if not img_path.exists():
        pytest.skip(f"Fashion-MNIST is not at {FASHION}")
    with gzip.open(img_path) as f:
        images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)
    with gzip.open(lab_path) as f:
        all_labels = np.frombuffer(f.read(), np.uint8, offset=8)
    return {k: images[np.flatnonzero(all_labels == k)[offset:offset + per_class]] for k in labels}


def save_picture(array: np.ndarray, path, fmt: str, mode: str, exif_rotate: bool = False) -> dict:
    """Write ``array`` (uint8 ``(H, W)`` or ``(H, W, 3)``) in Pillow ``mode`` and ``fmt``; return its record."""
    from PIL import Image

    im = Image.fromarray(array)
    if mode == "I;16":
        im = Image.fromarray((np.asarray(im.convert("L"), np.uint16) * 257).astype(np.uint16))
    elif mode == "RGBA":
        im = im.convert("RGBA")
        im.putalpha(255)
    elif mode == "P":
        im = im.convert("RGB").quantize(64) if fmt != "GIF" else im.convert("P")
    else:
        im = im.convert(mode)
    kwargs = {}
    if exif_rotate:  # store the picture turned a quarter left, with the EXIF tag that turns it back
        im = im.transpose(Image.Transpose.ROTATE_90)
        exif = Image.Exif()
        exif[0x0112] = 6
        kwargs["exif"] = exif.tobytes()
    if fmt == "JPEG":
        kwargs["quality"] = 95
    if fmt == "WEBP":
        kwargs["lossless"] = True
    im.save(path, fmt, **kwargs)
    return {"path": str(path), "format": fmt, "mode": mode, "size": array.shape[:2]}


def fashion_folder(root, per_class: int = 12, layout: str = "splits", labels=(1, 7, 8), scale_some: bool = True):
    """Fashion-MNIST items as a folder of pictures in every format and mode of :data:`FORMATS`.

    ``layout``: ``"splits"`` (``train/``, ``val/``, ``test/`` with ``per_class``, a quarter and a
    quarter of that per class) or ``"flat"`` (class folders only). With ``scale_some`` every third
    picture is written at 56x56 (Pillow bilinear), so sizes are mixed.
    Returns the records of the written pictures (with ``class`` and ``split``)."""
    from PIL import Image

    root = pathlib.Path(root)
    splits = {"train": per_class, "val": max(2, per_class // 4), "test": max(2, per_class // 4)} if layout == "splits" \
        else {"": per_class}
    records, k = [], 0
    offset = 0
    for split, n in splits.items():
        items = fashion_items(n, labels, "train", offset)
        offset += n
        for label, arrays in items.items():
            name = FASHION_CLASSES[label].replace("/", "-")
            folder = root / split / name if split else root / name
            folder.mkdir(parents=True, exist_ok=True)
            for i, a in enumerate(arrays):
                ext, fmt, mode = FORMATS[k % len(FORMATS)]
                if scale_some and k % 3 == 2:
                    a = np.asarray(Image.fromarray(a).resize((56, 56), Image.BILINEAR))
                rec = save_picture(a, folder / f"{i:03d}{ext}", fmt, mode, exif_rotate=(k % 7 == 3 and fmt == "JPEG"))
                records.append({**rec, "class": name, "split": split or "train"})
                k += 1
    return records


def photos(size: int = 96):
    """``{name: uint8 RGB photo}`` from skimage.data and matplotlib's sample data (no downloads)."""
    import pytest

    skdata = pytest.importorskip("skimage.data")
    from matplotlib import cbook
    from PIL import Image

    hopper = np.asarray(Image.open(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)).convert("RGB"))
    return {"cat": skdata.chelsea(), "coffee": skdata.coffee(), "rocket": skdata.rocket(), "astronaut": skdata.astronaut(),
            "hopper": hopper, "camera": np.stack([skdata.camera()] * 3, axis=2)}


def photo_folder(root, classes=("cat", "coffee", "rocket"), per_class: int = 8, seed: int = 0):
    """Random crops of the photos (different sizes and aspect ratios), one class per photo,
    written in the formats and modes of :data:`FORMATS`; returns the records."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    source, records, k = photos(), [], 0
    root = pathlib.Path(root)
    for name in classes:
        photo = source[name]
        (root / name).mkdir(parents=True, exist_ok=True)
        h, w = photo.shape[:2]
        for i in range(per_class):
            ch, cw = int(rng.integers(h // 2, h)), int(rng.integers(w // 2, w))
            top, left = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
            crop = photo[top:top + ch, left:left + cw]
            side = int(rng.integers(24, 80))
            crop = np.asarray(Image.fromarray(crop).resize((side, max(8, side * ch // cw)), Image.BILINEAR))
            ext, fmt, mode = FORMATS[k % len(FORMATS)]
            records.append({**save_picture(crop, root / name / f"{name}_{i:02d}{ext}", fmt, mode), "class": name})
            k += 1
    return records

"""Built-in synthetic datasets from the seed lessons; no files needed.

* :class:`LinesDataset` (seed 000, "Learned Convolution"): a one-pixel horizontal or
  vertical line at a random row/column; the network learns an edge kernel from it.
* :class:`EdgesDataset` (seed 002, "Convolutions for Images"): bright images with a dark
  band; the target is the band's edges, as found by the kernel ``[1, -1]``.
"""

from __future__ import annotations

import numpy as np

from .. import validate
from ..validate import ConvlabError
from .datasets import ArrayDataset


class LinesDataset(ArrayDataset):
    """Horizontal vs vertical one-pixel lines (seed 000).

    Each image is ``size x size`` zeros with one full row (horizontal, label 1) or one full
    column (vertical, label 0) set to 1.0, at a position drawn from ``1 .. size-2`` as in the
    lesson; the kind is a fair coin per image.

    Args:
        n: number of images.
        size: image height and width (>= 3).
        seed: seed of the generator (the same seed gives the same images).
        transform: applied to each image / batch.

    >>> ds = LinesDataset(n=4, size=8, seed=7)
    >>> image, label = ds[0]
    >>> image.shape, float(image.sum())
    ((1, 8, 8), 8.0)
    """

    def __init__(self, n: int = 1000, size: int = 8, seed: int = 0, transform=None):
        size = validate.integer(size, "LinesDataset", "size", 3, 1 << 16)
        n = validate.integer(n, "LinesDataset", "n", 1)
        if size < 3:
            raise ConvlabError(f"LinesDataset: size must be >= 3, got {size}")
        if n < 1:
            raise ConvlabError(f"LinesDataset: n must be >= 1, got {n}")
        rng = np.random.default_rng(seed)
        horizontal = rng.random(n) < 0.5
        position = rng.integers(1, size - 1, size=n)  # 1 .. size-2, the lesson's randint(1, 6) for size 8
        images = np.zeros((n, 1, size, size), dtype=np.float32)
        idx = np.arange(n)
        h, v = idx[horizontal], idx[~horizontal]
        images[h, 0, position[h], :] = 1.0
        images[v, 0, :, position[v]] = 1.0
        self.size, self.seed = size, seed
        super().__init__(images, horizontal.astype(np.int64), classes=["vertical", "horizontal"], transform=transform)


class EdgesDataset(ArrayDataset):
    """Images with a dark band in a bright field and the band's edges (seed 002).

    The lesson's picture is 6x8 ones with columns 2-5 set to zero; cross-correlating it with
    the kernel ``[[1, -1]]`` gives +1 where white turns black and -1 where black turns white.
    Here every image has such a band (a random position and width) running vertically.

    Args:
        n: number of images.
        height, width: image size (the lesson uses 6 x 8).
        seed: seed of the generator.
        target: ``"edges"`` -- the target is the ``(1, height, width - 1)`` edge map, for
            learning the kernel by regression as in the lesson; ``"orientation"`` -- half the
            bands are transposed to run horizontally (square images only) and the target is
            the label (0 vertical edges, 1 horizontal edges).

    ``EdgesDataset.lesson_example()`` returns the lesson's exact ``(X, Y)`` pair.
    """

    def __init__(self, n: int = 256, height: int = 6, width: int = 8, seed: int = 0, target: str = "edges", transform=None):
        if target not in ("edges", "orientation"):
            raise ConvlabError(f"EdgesDataset: target must be 'edges' or 'orientation', got {target!r}")
        if width < 3 or height < 1:
            raise ConvlabError(f"EdgesDataset: need width >= 3 and height >= 1, got {height}x{width}")
        if target == "orientation" and height != width:
            raise ConvlabError(f"EdgesDataset: target='orientation' needs square images, got {height}x{width}")
        rng = np.random.default_rng(seed)
        start = rng.integers(1, width - 1, size=n)  # the band starts after at least one bright column
        stop = start + 1 + (rng.random(n) * (width - 1 - start)).astype(np.int64)
        cols = np.arange(width)
        rows = ((cols >= start[:, None]) & (cols < stop[:, None]))  # (n, width): True inside the band
        images = np.broadcast_to(np.where(rows, 0.0, 1.0)[:, None, None, :], (n, 1, height, width)).astype(np.float32)
        self.height, self.width, self.seed = height, width, seed
        if target == "edges":
            targets = self.edges(images)
            classes = []
        else:
            horizontal = rng.random(n) < 0.5
            images[horizontal] = images[horizontal].transpose(0, 1, 3, 2)
            targets = horizontal.astype(np.int64)
            classes = ["vertical", "horizontal"]
        super().__init__(images, targets, classes=classes, transform=transform)

    @staticmethod
    def edges(images: np.ndarray) -> np.ndarray:
        """Cross-correlation with ``K = [[1, -1]]``: ``Y[i, j] = X[i, j] - X[i, j + 1]``."""
        return (images[..., :-1] - images[..., 1:]).astype(np.float32)

    @classmethod
    def lesson_example(cls) -> tuple[np.ndarray, np.ndarray]:
        """The lesson's 6x8 image (ones, columns 2-5 zero) and its 6x7 edge map."""
        x = np.ones((6, 8), dtype=np.float32)
        x[:, 2:6] = 0
        return x, cls.edges(x)

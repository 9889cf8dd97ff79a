"""Dataset base classes: ``Dataset``, ``ArrayDataset``, ``TensorDataset``, ``Subset`` and
``random_split``.

A dataset has ``len(ds)`` and ``ds[i] -> (image, label)``: the image a float32 ``(C, H, W)``
array with values in [0, 1] (unless a transform changes it), the label an ``int``.

Besides item access every convlab dataset has ``get_batch(indices, rng)``, which the
:class:`~convlab.data.DataLoader` calls to fetch a whole batch at once. Array-backed
datasets answer it with one fancy-index into their arrays and one call of a (batched)
transform, so a batch costs a few array operations whatever its size.
"""

from __future__ import annotations

import numpy as np

from ..tensor import Tensor, default_generator
from ..validate import ConvlabError
from .transforms import call_transform, is_batched


def _stack(items, field: str):
    first = items[0]
    if isinstance(first, Tensor):
        return np.stack([t._data for t in items])
    if isinstance(first, (bool, int, np.integer)):
        return np.asarray(items, dtype=np.int64)
    if isinstance(first, (float, np.floating)):
        return np.asarray(items, dtype=np.float32)
    try:
        return np.stack([np.asarray(a) for a in items])
    except ValueError:
        shapes = sorted({tuple(np.shape(a)) for a in items})
        raise ConvlabError(
            f"cannot batch {field}s of different shapes {shapes}: resize them to one size "
            "(ImageFolder(size=...)) or use batch_size=1"
        ) from None


def collate(items):
    """Turn a list of ``(image, label, ...)`` tuples into a tuple of stacked arrays."""
    if not isinstance(items, (list, tuple)) or not items:
        raise ConvlabError(f"collate: items must be a non-empty list of samples, got {items!r:.60}")
    if not isinstance(items[0], (tuple, list)):
        return _stack(items, "item")
    return tuple(_stack([it[k] for it in items], f"field {k}") for k in range(len(items[0])))


class Dataset:
    """Base class of map-style datasets.

    Subclasses implement ``__len__`` and ``load(i) -> (image, target)`` (untransformed);
    ``transform`` (if any) is applied to the image by ``__getitem__`` and ``get_batch``.
    """

    transform = None
    classes: list[str] = []

    def __len__(self) -> int:  # pragma: no cover - abstract
        raise NotImplementedError

    def load(self, index: int):  # pragma: no cover - abstract
        raise NotImplementedError

    def _check_index(self, index) -> int:
        n = len(self)
        i = int(index)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError(f"{type(self).__name__}: index {index} out of range for {n} items")
        return i

    def __getitem__(self, index):
        image, target = self.load(self._check_index(index))
        return call_transform(self.transform, image), target

    def get_batch(self, indices, rng=None):
        """``(images, targets)`` for ``indices`` as stacked arrays; the transform draws from ``rng``.

        A torch-style subclass that defines ``__getitem__`` and not ``load`` is batched with
        :func:`~convlab.data.collate.default_collate`, as torch's DataLoader batches it."""
        if type(self).load is Dataset.load:
            from .collate import default_collate

            return default_collate([self[int(i)] for i in indices])
        items = [self.load(self._check_index(i)) for i in indices]
        if is_batched(self.transform):
            try:
                images, targets = collate(items)
            except ValueError:  # images of different sizes: transform one at a time, then stack
                pass
            else:
                return call_transform(self.transform, images, rng), targets
        return collate([(call_transform(self.transform, x, rng), y) for x, y in items])

    def __add__(self, other):
        return ConcatDataset([self, other])

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(n={len(self)}, classes={len(self.classes)})"


class ArrayDataset(Dataset):
    """Images and labels held in two arrays.

    Args:
        images: ``(N, C, H, W)`` (or ``(N, H, W)``, given one channel); uint8 is scaled to
            [0, 1] on the fly (so 60,000 28x28 images take 47 MB, not 188 MB), float is used as is.
        labels: ``(N,)`` integer class indices (or any ``(N, ...)`` array of targets).
        classes: class names, index = label.
        transform: applied to each image (or to each batch, by ``get_batch``).
    """

    def __init__(self, images, labels, classes=None, transform=None):
        images = np.asarray(images)
        if images.ndim == 3:
            images = images[:, None]
        if images.ndim != 4:
            raise ConvlabError(f"ArrayDataset: images must be (N, C, H, W) or (N, H, W), got shape {images.shape}")
        labels = np.asarray(labels)
        if len(labels) != len(images):
            raise ConvlabError(f"ArrayDataset: {len(images)} images but {len(labels)} labels")
        self.images, self.labels = images, labels
        if classes is None and labels.dtype.kind in "iu" and labels.ndim == 1:
            classes = [str(c) for c in range(int(labels.max()) + 1 if len(labels) else 0)]
        self.classes = list(classes or [])
        self.transform = transform

    def __len__(self) -> int:
        return len(self.images)

    def _float(self, images: np.ndarray) -> np.ndarray:
        if images.dtype == np.uint8:
            out = images.astype(np.float32)
            out /= 255  # the same rounding as torchvision's ToTensor
            return out
        return images.astype(np.float32, copy=False)

    def _target(self, value):
        return int(value) if value.ndim == 0 and value.dtype.kind in "iub" else value

    def load(self, index):
        return self._float(self.images[index]), self._target(self.labels[index])

    def get_batch(self, indices, rng=None):
        indices = np.asarray(indices, dtype=np.int64)
        if len(indices) and (indices.min() < -len(self) or indices.max() >= len(self)):
            raise IndexError(f"{type(self).__name__}: batch index out of range for {len(self)} items")
        images = self._float(self.images[indices])
        labels = self.labels[indices]
        if labels.dtype.kind in "iub":
            labels = labels.astype(np.int64)
        if is_batched(self.transform):
            return call_transform(self.transform, images, rng), labels
        return collate([(call_transform(self.transform, x, rng), y) for x, y in zip(images, labels)])

    def with_transform(self, transform):
        """A copy sharing the arrays but with another transform (e.g. no augmentation for validation)."""
        clone = object.__new__(type(self))
        clone.__dict__.update(self.__dict__)
        clone.transform = transform
        return clone


class TensorDataset(Dataset):
    """Wrap arrays (or Tensors) of equal length; item ``i`` is the tuple of their ``i``-th rows.

    >>> import numpy as np
    >>> ds = TensorDataset(np.zeros((4, 1, 2, 2), np.float32), np.arange(4))
    >>> len(ds), ds[1][1]
    (4, 1)
    """

    def __init__(self, *arrays):
        if not arrays:
            raise ConvlabError("TensorDataset needs at least one array")
        self.arrays = [a._data if isinstance(a, Tensor) else np.asarray(a) for a in arrays]
        n = len(self.arrays[0])
        if any(len(a) != n for a in self.arrays):
            raise ConvlabError(f"TensorDataset: arrays have different lengths {[len(a) for a in self.arrays]}")

    def __len__(self) -> int:
        return len(self.arrays[0])

    def __getitem__(self, index):
        i = self._check_index(index)
        return tuple(a[i].item() if a.ndim == 1 else a[i] for a in self.arrays)

    def get_batch(self, indices, rng=None):
        indices = np.asarray(indices, dtype=np.int64)
        return tuple(a[indices] for a in self.arrays)


class Subset(Dataset):
    """The items of ``dataset`` at ``indices`` (batches are fetched from ``dataset`` in one call)."""

    def __init__(self, dataset, indices):
        self.dataset = dataset
        self.indices = np.asarray(indices, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.indices)

    @property
    def classes(self):
        return getattr(self.dataset, "classes", [])

    @property
    def transform(self):
        return getattr(self.dataset, "transform", None)

    def __getitem__(self, index):
        return self.dataset[int(self.indices[self._check_index(index)])]

    def get_batch(self, indices, rng=None):
        mapped = self.indices[np.asarray(indices, dtype=np.int64)]
        if hasattr(self.dataset, "get_batch"):
            return self.dataset.get_batch(mapped, rng)
        return collate([self.dataset[int(i)] for i in mapped])


class IterableDataset:
    """Base class of datasets that are a stream (``__iter__``) rather than indexable.

    The DataLoader batches the stream in order. With ``num_workers > 0`` every worker iterates its
    own copy, as in torch: split the work with :func:`~convlab.data.get_worker_info` in ``__iter__``.
    """

    def __iter__(self):  # pragma: no cover - abstract
        raise NotImplementedError

    def __add__(self, other):
        from itertools import chain

        a, b = self, other

        class _Chain(IterableDataset):
            def __iter__(self):
                return chain(a, b)

        return _Chain()


class ConcatDataset(Dataset):
    """The items of several datasets one after the other.

    >>> import numpy as np
    >>> ds = ConcatDataset([TensorDataset(np.arange(3)), TensorDataset(np.arange(10, 12))])
    >>> len(ds), ds[3], ds.cumulative_sizes
    (5, (10,), [3, 5])
    """

    def __init__(self, datasets):
        self.datasets = list(datasets)
        if not self.datasets:
            raise ConvlabError("ConcatDataset: datasets should not be an empty iterable")
        for i, d in enumerate(self.datasets):
            if not (hasattr(d, "__len__") and hasattr(d, "__getitem__")) or isinstance(d, (str, bytes)):
                raise TypeError(f"ConcatDataset: datasets[{i}] is not a dataset (no __len__/__getitem__), "
                                f"got {type(d).__name__}")
        for d in self.datasets:
            if isinstance(d, IterableDataset):
                raise TypeError("ConcatDataset does not support IterableDataset")
        self.cumulative_sizes = np.cumsum([len(d) for d in self.datasets]).tolist()

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    @property
    def classes(self):
        return getattr(self.datasets[0], "classes", [])

    def __getitem__(self, index):
        i = self._check_index(index)
        k = int(np.searchsorted(self.cumulative_sizes, i, side="right"))
        start = self.cumulative_sizes[k - 1] if k else 0
        return self.datasets[k][i - start]

    def get_batch(self, indices, rng=None):
        from .collate import default_collate

        return default_collate([self[int(i)] for i in indices])


def random_split(dataset, lengths, seed: int | None = None, generator=None):
    """Split ``dataset`` into non-overlapping random :class:`Subset` s of the given lengths.

    Args:
        lengths: item counts summing to ``len(dataset)``, or fractions summing to 1 (the
            remainder of flooring goes one item at a time to the first subsets, as in torch).
        seed: seed of the permutation (default: drawn from ``generator``, a
            :class:`convlab.Generator`, or else from the library generator).
    """
    n = len(dataset)
    lengths = list(lengths)
    if lengths and all(isinstance(x, float) for x in lengths) and abs(sum(lengths) - 1) < 1e-6:
        counts = [int(np.floor(n * f)) for f in lengths]
        for k in range(n - sum(counts)):
            counts[k % len(counts)] += 1
        lengths = counts
    if any(int(x) != x or x < 0 for x in lengths) or sum(lengths) != n:
        raise ConvlabError(
            f"random_split: lengths {lengths} must be non-negative and sum to len(dataset) = {n} "
            "(or be fractions summing to 1)"
        )
    if seed is None:
        seed = int((generator if generator is not None else default_generator()).integers(2**63))
    perm = np.random.default_rng(seed).permutation(n)
    bounds = np.cumsum([0] + [int(x) for x in lengths])
    return [Subset(dataset, perm[a:b]) for a, b in zip(bounds[:-1], bounds[1:])]

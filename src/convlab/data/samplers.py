"""Samplers: the order in which a :class:`~convlab.data.DataLoader` visits a dataset's indices
(torch's ``torch.utils.data`` samplers, with the same names and arguments).

A sampler is any iterable of indices with a ``len``. Random ones draw from their ``generator``
(a :class:`convlab.Generator` or NumPy generator) or, without one, from the library generator.
"""

from __future__ import annotations

import numpy as np

from ..random import default_generator
from ..validate import ConvlabError


class Sampler:
    """Base class: subclasses define ``__iter__`` (indices) and usually ``__len__``."""

    def __init__(self, data_source=None):
        pass

    def __iter__(self):  # pragma: no cover - abstract
        raise NotImplementedError


class SequentialSampler(Sampler):
    """``0, 1, ..., len(data_source) - 1``."""

    def __init__(self, data_source):
        self.data_source = data_source

    def __iter__(self):
        return iter(range(len(self.data_source)))

    def __len__(self) -> int:
        return len(self.data_source)


def _generator(generator):
    return generator if generator is not None else default_generator()


class RandomSampler(Sampler):
    """A random permutation (or, with ``replacement``, ``num_samples`` draws with replacement)."""

    def __init__(self, data_source, replacement: bool = False, num_samples: int | None = None, generator=None):
        self.data_source, self.replacement, self.generator = data_source, bool(replacement), generator
        self._num_samples = num_samples
        if num_samples is not None and (not isinstance(num_samples, int) or num_samples <= 0):
            raise ConvlabError(f"num_samples should be a positive integer value, but got num_samples={num_samples}")

    @property
    def num_samples(self) -> int:
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def __iter__(self):
        n, gen = len(self.data_source), _generator(self.generator)
        if self.replacement:
            return iter(gen.integers(0, n, self.num_samples).tolist())
        whole, rest = divmod(self.num_samples, n) if n else (0, 0)
        order = [gen.permutation(n) for _ in range(whole)] + [gen.permutation(n)[:rest]]
        return iter(np.concatenate(order).astype(np.int64).tolist())

    def __len__(self) -> int:
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The given ``indices`` in a random order."""

    def __init__(self, indices, generator=None):
        self.indices, self.generator = list(indices), generator

    def __iter__(self):
        perm = _generator(self.generator).permutation(len(self.indices))
        return iter([self.indices[i] for i in perm])

    def __len__(self) -> int:
        return len(self.indices)


class WeightedRandomSampler(Sampler):
    """``num_samples`` indices drawn with probabilities proportional to ``weights``."""

    def __init__(self, weights, num_samples: int, replacement: bool = True, generator=None):
        w = np.asarray(weights, dtype=np.float64)
        if w.ndim != 1 or (w < 0).any() or not np.isfinite(w).all() or w.sum() <= 0:
            raise ConvlabError(f"WeightedRandomSampler: weights must be a 1-d sequence of non-negative finite numbers "
                             f"with a positive sum, got {weights!r}")
        if not replacement and num_samples > int((w > 0).sum()):
            raise ConvlabError("WeightedRandomSampler: cannot draw more samples than non-zero weights without replacement")
        self.weights, self.num_samples, self.replacement, self.generator = w, int(num_samples), bool(replacement), generator

    def __iter__(self):
        gen = _generator(self.generator)
        p = self.weights / self.weights.sum()
        return iter(gen.choice(len(p), self.num_samples, replace=self.replacement, p=p).tolist())

    def __len__(self) -> int:
        return self.num_samples


class BatchSampler(Sampler):
    """Groups another sampler's indices into lists of ``batch_size``.

    >>> list(BatchSampler(SequentialSampler(range(5)), batch_size=2, drop_last=False))
    [[0, 1], [2, 3], [4]]
    """

    def __init__(self, sampler, batch_size: int, drop_last: bool):
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size <= 0:
            raise ConvlabError(f"batch_size should be a positive integer value, but got batch_size={batch_size}")
        self.sampler, self.batch_size, self.drop_last = sampler, batch_size, bool(drop_last)

    def __iter__(self):
        batch = []
        for i in self.sampler:
            batch.append(int(i))
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __len__(self) -> int:
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

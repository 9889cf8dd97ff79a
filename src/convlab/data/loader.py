"""``DataLoader``: batches from a dataset, in a reproducible order, optionally prefetched.

Determinism: everything random about an epoch is a pure function of ``(seed, epoch)``:

* the order is ``default_rng([seed, epoch]).permutation(len(dataset))`` when shuffling;
* batch ``b`` is augmented with a generator seeded from ``(seed, epoch, b)``.

So the loader's whole state is ``{seed, epoch, start_batch}``; a checkpoint holding it
resumes the data stream exactly, even in the middle of an epoch, and the background
prefetch thread cannot change what is drawn.

Data parallelism: with ``num_replicas=W, rank=r`` the loader still plans the global batches
of ``batch_size`` items in the order above, and serves rank ``r`` its rows ``r, r + W, ...``
of each one (see :meth:`DataLoader.shard`). The ``W`` ranks together see exactly the batches
of one process; with ``fetch_global`` each rank fetches (and augments) the whole global batch
and keeps its rows, so random augmentation matches one process too.
"""

from __future__ import annotations

import queue
import threading

import numpy as np

from ..tensor import Tensor, default_generator, from_numpy
from .datasets import collate

_AUGMENT_STREAM = 0xA0C  # keeps augmentation draws apart from the shuffling stream


def _take(a, rows):
    return (a._data if isinstance(a, Tensor) else np.asarray(a))[rows]


def _to_tensor(a):
    # batches are fresh arrays (fancy indexing and stacking copy), so they are wrapped, not copied again
    return a if isinstance(a, Tensor) else from_numpy(np.asarray(a))


class DataLoader:
    """Iterate over ``dataset`` in batches of ``(images Tensor, labels Tensor)``.

    Args:
        dataset: a map-style dataset; one with ``get_batch(indices, rng)`` (every convlab
            dataset) is fetched a whole batch at a time.
        batch_size: items per batch.
        shuffle: a new random order every epoch.
        drop_last: drop the last, smaller batch.
        seed: seed of the order and of augmentation (default: drawn from the library
            generator when the loader is made, so :func:`convlab.manual_seed` fixes it).
        prefetch: batches prepared ahead by a background thread (0: none). NumPy releases
            the GIL in its array work, so preparing the next batch overlaps the training step.
        collate_fn: turns a list of items into a batch (only for datasets without ``get_batch``).
        num_replicas, rank: serve only rank ``rank``'s rows of each global batch of ``batch_size``
            (data-parallel training over ``num_replicas`` processes; see :meth:`shard`).
        fetch_global: with ``num_replicas > 1``, fetch and transform the whole global batch and keep
            this rank's rows, so random augmentation draws exactly what one process draws (costs
            ``num_replicas`` times the data work). Otherwise only the rank's rows are fetched, and
            random transforms draw from a generator that also depends on the rank.

    Each epoch (each ``iter(loader)``) advances ``loader.epoch``; ``set_epoch(e, start_batch)``
    and ``state_dict()``/``load_state_dict()`` position it for a resume.
    """

    def __init__(self, dataset, batch_size: int = 1, shuffle: bool = False, drop_last: bool = False,
                 seed: int | None = None, prefetch: int = 2, collate_fn=None, num_replicas: int = 1, rank: int = 0,
                 fetch_global: bool = False):
        if int(batch_size) < 1:
            raise ValueError(f"DataLoader: batch_size must be >= 1, got {batch_size}")
        if int(prefetch) < 0:
            raise ValueError(f"DataLoader: prefetch must be >= 0, got {prefetch}")
        if int(num_replicas) < 1:
            raise ValueError(f"DataLoader: num_replicas must be >= 1, got {num_replicas}")
        if not 0 <= int(rank) < int(num_replicas):
            raise ValueError(f"DataLoader: rank {rank} is outside [0, {num_replicas})")
        self.num_replicas, self.rank, self.fetch_global = int(num_replicas), int(rank), bool(fetch_global)
        self.dataset = dataset
        self.batch_size, self.shuffle, self.drop_last = int(batch_size), bool(shuffle), bool(drop_last)
        self.prefetch = int(prefetch)
        self.collate_fn = collate_fn
        self.seed = int(default_generator().integers(2**63)) if seed is None else int(seed)
        self.epoch = 0
        self.start_batch = 0

    # ---- sizes and order
    def __len__(self) -> int:
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def order(self, epoch: int) -> np.ndarray:
        """The item indices of ``epoch`` in the order they are served."""
        n = len(self.dataset)
        if not self.shuffle:
            return np.arange(n)
        return np.random.default_rng([self.seed, int(epoch)]).permutation(n)

    def batch_rng(self, epoch: int, batch: int) -> np.random.Generator:
        """The generator that augments batch ``batch`` of ``epoch``."""
        if self.num_replicas > 1 and not self.fetch_global:  # each rank augments its own rows differently
            return np.random.default_rng([self.seed, int(epoch), int(batch), _AUGMENT_STREAM, self.rank])
        return np.random.default_rng([self.seed, int(epoch), int(batch), _AUGMENT_STREAM])

    def shard(self, batch: int) -> tuple[np.ndarray, int, float]:
        """``(rows, n, weight)`` of this rank for global batch ``batch``.

        ``n`` is the global batch's size, ``rows`` the positions in it this rank serves
        (``rank, rank + W, ...``) and ``weight = len(rows) * W / n``: scaling the rank's mean loss
        by it before averaging over the ``W`` ranks gives the mean over the global batch, also
        when the last batch does not split evenly. A rank left without rows (a last batch
        smaller than ``W``) is served row 0 again with weight 0, so every rank runs every step.
        """
        start = int(batch) * self.batch_size
        n = max(0, min(self.batch_size, len(self.dataset) - start))
        rows = np.arange(self.rank, n, self.num_replicas)
        if len(rows) == 0:
            return np.zeros(1, np.int64), n, 0.0
        return rows, n, len(rows) * self.num_replicas / n

    # ---- state, for checkpoints
    def set_epoch(self, epoch: int, start_batch: int = 0) -> None:
        """Make the next ``iter()`` serve ``epoch`` starting at batch ``start_batch``."""
        self.epoch, self.start_batch = int(epoch), int(start_batch)

    def state_dict(self) -> dict:
        return {"seed": self.seed, "epoch": self.epoch, "start_batch": self.start_batch}

    def load_state_dict(self, state: dict) -> None:
        self.seed = int(state["seed"])
        self.set_epoch(state["epoch"], state.get("start_batch", 0))

    # ---- batches
    def _fetch(self, epoch: int, b: int, indices: np.ndarray):
        rng = self.batch_rng(epoch, b)
        rows = None
        if self.num_replicas > 1:
            rows = self.shard(b)[0]
            if not self.fetch_global:
                indices, rows = indices[rows], None
        if self.collate_fn is None and hasattr(self.dataset, "get_batch"):
            batch = self.dataset.get_batch(indices, rng)
        else:
            batch = (self.collate_fn or collate)([self.dataset[int(i)] for i in indices])
        if isinstance(batch, (tuple, list)):
            return tuple(_to_tensor(a if rows is None else _take(a, rows)) for a in batch)
        return _to_tensor(batch if rows is None else _take(batch, rows))

    def _plan(self):
        epoch, start = self.epoch, self.start_batch
        self.epoch, self.start_batch = epoch + 1, 0
        order = self.order(epoch)
        spans = [(b, order[b * self.batch_size:(b + 1) * self.batch_size]) for b in range(start, len(self))]
        return epoch, spans

    def __iter__(self):
        epoch, spans = self._plan()
        if self.prefetch == 0:
            return (self._fetch(epoch, b, idx) for b, idx in spans)
        return self._prefetching(epoch, spans)

    def _prefetching(self, epoch, spans):
        q: queue.Queue = queue.Queue(maxsize=self.prefetch)
        stop = threading.Event()
        done = object()

        def produce():
            try:
                for b, idx in spans:
                    if stop.is_set():
                        return
                    item = self._fetch(epoch, b, idx)
                    while not stop.is_set():
                        try:
                            q.put(("ok", item), timeout=0.1)
                            break
                        except queue.Full:
                            continue
            except BaseException as exc:  # handed to the consumer, re-raised there
                q.put(("error", exc))
                return
            q.put(("ok", done))

        worker = threading.Thread(target=produce, name="convlab-prefetch", daemon=True)
        worker.start()
        try:
            while True:
                kind, item = q.get()
                if kind == "error":
                    raise item
                if item is done:
                    return
                yield item
        finally:  # also when the consumer stops early (break, exception, KeyboardInterrupt)
            stop.set()
            while worker.is_alive():
                try:
                    q.get_nowait()
                except queue.Empty:
                    worker.join(timeout=0.05)

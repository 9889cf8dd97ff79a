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

torch's arguments: ``sampler``/``batch_sampler`` choose the order instead of ``shuffle`` (drawn in
the main process, so workers do not change it); ``num_workers`` fetches in worker processes
(:mod:`.workers`), ``prefetch_factor`` batches ahead per worker, ``persistent_workers`` keeps
them between epochs; ``generator`` (a :class:`convlab.Generator`) sets the seed; while a batch is
fetched, the library generator (``convlab.rand``, torch-style transforms) draws from that batch's
own stream, so such augmentation is also the same for any ``num_workers``. ``pin_memory`` and
``pin_memory_device`` have no meaning without a GPU and are accepted; ``timeout`` bounds the
wait for a worker's batch.
"""

from __future__ import annotations

import queue
import threading

import numpy as np

from ..random import using_generator
from ..tensor import Tensor, default_generator
from ..validate import ConvlabError
from .collate import default_collate, to_tensors
from .datasets import IterableDataset, collate
from .workers import WorkerPool, get_worker_info  # noqa: F401  (get_worker_info is public here)

_AUGMENT_STREAM = 0xA0C  # keeps augmentation draws apart from the shuffling stream


def _take(a, rows):
    return (a._data if isinstance(a, Tensor) else np.asarray(a))[rows]


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

    def __init__(self, dataset, batch_size: int | None = 1, shuffle: bool | None = None, sampler=None,
                 batch_sampler=None, num_workers: int = 0, collate_fn=None, pin_memory: bool = False,
                 drop_last: bool = False, timeout: float = 0, worker_init_fn=None, multiprocessing_context=None,
                 generator=None, *, prefetch_factor: int | None = None, persistent_workers: bool = False,
                 pin_memory_device: str = "", seed: int | None = None, prefetch: int = 2, num_replicas: int = 1,
                 rank: int = 0, fetch_global: bool = False, in_order: bool = True):
        self.iterable = isinstance(dataset, IterableDataset)
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ConvlabError("batch_sampler option is mutually exclusive with batch_size, shuffle, sampler, and drop_last")
            batch_size = None
        elif sampler is not None and shuffle:
            raise ConvlabError("sampler option is mutually exclusive with shuffle")
        if self.iterable and (shuffle or sampler is not None or batch_sampler is not None):
            raise ConvlabError("DataLoader with IterableDataset: expected unspecified shuffle, sampler and batch_sampler options")
        if not isinstance(num_workers, int) or isinstance(num_workers, bool) or num_workers < 0:
            raise ConvlabError(f"num_workers option should be non-negative; use num_workers=0 to disable multiprocessing "
                             f"(got {num_workers!r})")
        if prefetch_factor is not None and num_workers == 0:
            raise ConvlabError("prefetch_factor option could only be specified in multiprocessing: "
                             "let num_workers > 0 to enable multiprocessing")
        if persistent_workers and num_workers == 0:
            raise ConvlabError("persistent_workers option needs num_workers > 0")
        if timeout < 0:
            raise ConvlabError(f"timeout option should be non-negative, got {timeout!r}")
        self.sampler, self.batch_sampler, self.num_workers = sampler, batch_sampler, num_workers
        self.prefetch_factor = 2 if prefetch_factor is None and num_workers else prefetch_factor
        self.persistent_workers, self.worker_init_fn, self.timeout = bool(persistent_workers), worker_init_fn, timeout
        self.multiprocessing_context, self.generator = multiprocessing_context, generator
        self.pin_memory, self.pin_memory_device = bool(pin_memory), pin_memory_device  # no page-locking on a CPU
        self._pool = None
        if seed is None and generator is not None:
            seed = int(generator.integers(2**63))
        self.unbatched = batch_size is None and batch_sampler is None
        shuffle = bool(shuffle)
        batch_size = 1 if batch_size is None else batch_size
        if int(batch_size) < 1:
            raise ConvlabError(f"DataLoader: batch_size must be >= 1, got {batch_size}")
        if int(prefetch) < 0:
            raise ConvlabError(f"DataLoader: prefetch must be >= 0, got {prefetch}")
        if int(num_replicas) < 1:
            raise ConvlabError(f"DataLoader: num_replicas must be >= 1, got {num_replicas}")
        if not 0 <= int(rank) < int(num_replicas):
            raise ConvlabError(f"DataLoader: rank {rank} is outside [0, {num_replicas})")
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
        if self.batch_sampler is not None:
            return len(self.batch_sampler)
        n = len(self.sampler) if self.sampler is not None else len(self.dataset)
        if self.unbatched:
            return n
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def order(self, epoch: int) -> np.ndarray:
        """The item indices of ``epoch`` in the order they are served."""
        if self.sampler is not None:
            return np.fromiter((int(i) for i in self.sampler), dtype=np.int64)
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
        return self._finish(self._fetch_raw(epoch, b, indices))

    def _finish(self, batch):
        """Tensors for what the fetch made: convlab's arrays always, a custom collate_fn's as it left them."""
        return to_tensors(batch, arrays_too=self.collate_fn is None)

    def _fetch_raw(self, epoch: int, b: int, indices):
        """Batch ``b`` of ``epoch``; the library generator draws from the batch's own stream meanwhile."""
        with using_generator(self.batch_rng(epoch, b)):
            if self.unbatched:
                return self.dataset[int(indices[0])]
            return self._fetch_rows(epoch, b, np.asarray(indices, dtype=np.int64))

    def _fetch_stream(self, stream, batch_size: int):
        """The next batch of an iterable dataset's ``stream`` (StopIteration when it is exhausted)."""
        if self.unbatched:
            return next(stream)
        items = [item for _, item in zip(range(batch_size), stream)]
        if not items or (self.drop_last and len(items) < batch_size):
            raise StopIteration
        return (self.collate_fn or default_collate)(items)

    def _fetch_rows(self, epoch: int, b: int, indices: np.ndarray):
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
        if rows is None:
            return batch
        if isinstance(batch, (tuple, list)):
            return tuple(_take(a, rows) for a in batch)
        return _take(batch, rows)

    def _plan(self):
        epoch, start = self.epoch, self.start_batch
        self.epoch, self.start_batch = epoch + 1, 0
        if self.batch_sampler is not None:
            spans = [(b, np.asarray(list(idx), dtype=np.int64)) for b, idx in enumerate(self.batch_sampler)]
            return epoch, spans[start:]
        order = self.order(epoch)
        size = 1 if self.unbatched else self.batch_size
        spans = [(b, order[b * size:(b + 1) * size]) for b in range(start, len(self))]
        return epoch, spans

    def __iter__(self):
        if self.iterable:
            return self._iterate_stream()
        epoch, spans = self._plan()
        if self.num_workers:
            return self._from_workers(epoch, spans)
        if self.prefetch == 0:
            return (self._fetch(epoch, b, idx) for b, idx in spans)
        return self._prefetching(epoch, spans)

    def _new_pool(self, iterable: bool) -> WorkerPool:
        fetch = self._fetch_stream if iterable else self._fetch_raw
        return WorkerPool(fetch, self.num_workers, self.dataset, seed=self.seed % 2**32 + self.epoch * self.num_workers,
                          worker_init_fn=self.worker_init_fn, context=self.multiprocessing_context,
                          prefetch_factor=self.prefetch_factor, timeout=self.timeout, iterable=iterable)

    def _from_workers(self, epoch, spans):
        pool = self._pool if self._pool is not None else self._new_pool(iterable=False)
        finished = False
        try:
            for batch in pool.map(epoch, spans):
                yield self._finish(batch)
            finished = True
        finally:  # also on break, an exception or Ctrl-C: no worker is left behind
            if self.persistent_workers and finished:
                self._pool = pool
            else:
                pool.shutdown()
                self._pool = None

    def _iterate_stream(self):
        self.epoch += 1
        if not self.num_workers:
            stream = iter(self.dataset)
            for b in range(2**62):
                try:
                    with using_generator(self.batch_rng(self.epoch - 1, b)):
                        batch = self._fetch_stream(stream, self.batch_size)
                except StopIteration:
                    return
                yield self._finish(batch)
        pool = self._new_pool(iterable=True)
        try:
            for batch in pool.stream(self.batch_size):
                yield self._finish(batch)
        finally:
            pool.shutdown()

    def __getstate__(self):  # a spawned worker gets the loader without the pool of processes
        state = self.__dict__.copy()
        state["_pool"] = None
        return state

    def __del__(self):
        pool = self.__dict__.get("_pool")
        if pool is not None:
            pool.shutdown()

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

"""Data-parallel training over MPI ranks, on ``mpi4py``.

Every rank holds a full copy of the model and a shard of each global batch. After the
backward pass the gradients are summed across ranks and divided by the number of ranks,
so each rank applies the same update as one process that saw the whole batch:

    g = (1/W) * sum_r g_r,   g_r = d(mean loss on rank r's shard)/d(theta)

which equals the gradient of the mean loss over the global batch when the shards have
equal size (otherwise each rank first scales its mean loss by ``n_r * W / N``, see
``DataLoader.shard``). Gradients travel in a few large flat buffers (buckets) rather than one
message per parameter.

``mpirun -n 2 convlab train --distributed`` trains with all of this (see
:mod:`convlab.commands.train`); a script of your own runs with ``mpirun -n 2 python train.py``
(``--oversubscribe`` when ranks outnumber cores; ``--allow-run-as-root`` as root).

Faults: every collective here is non-blocking and waited on with a deadline (``timeout``,
default :data:`DEFAULT_TIMEOUT`, set by :func:`init`); a rank whose peers do not answer in time
prints why and calls ``MPI_Abort``, which ends every rank, instead of hanging forever.

``mpi4py`` is optional:
``pip install 'convlab[distributed]'`` plus an MPI runtime (Debian: ``apt-get install
openmpi-bin``).
"""

from __future__ import annotations

import contextlib
import os
import sys
import time

import numpy as np

from . import backend
from .validate import ConvlabError

INSTALL_HINT = (
    "distributed training needs mpi4py and an MPI runtime: pip install 'convlab[distributed]' "
    "and apt-get install openmpi-bin (or mpich)"
)

_comm = None
DEFAULT_TIMEOUT = 600.0  # seconds a collective waits for the other ranks before aborting the job


def _mpi():
    try:
        from mpi4py import MPI
    except ImportError as exc:
        raise RuntimeError(f"{INSTALL_HINT} ({exc})") from None
    return MPI


def launched_by_mpi() -> bool:
    """True when this process was started by mpirun/mpiexec (Open MPI, MPICH or PMI)."""
    return any(k in os.environ for k in ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "MPI_LOCALNRANKS"))


def _env_int(names, default: int) -> int:
    for name in names:
        value = os.environ.get(name)
        if value is not None and value.strip().isdigit():
            return int(value)
    return default


def launched_world_size() -> int:
    """The number of processes mpirun started, read from the environment without importing MPI (1 outside mpirun)."""
    return _env_int(("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", "MPI_LOCALNRANKS"), 1)


def launched_rank() -> int:
    """This process's rank as mpirun set it in the environment (0 outside mpirun)."""
    return _env_int(("OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK"), 0)


def init(comm=None, timeout: float | None = None):
    """Initialise from the MPI environment (``COMM_WORLD`` unless ``comm`` is given).

    ``timeout`` (seconds, > 0) becomes the default of every collective below that is not
    given one: how long a rank waits for the others before it aborts the whole job.
    """
    global _comm, DEFAULT_TIMEOUT
    if timeout is not None:
        if not timeout > 0:
            raise ConvlabError(f"init: timeout must be > 0 seconds, got {timeout!r}")
        DEFAULT_TIMEOUT = float(timeout)
    if _comm is None or comm is not None:
        _comm = comm if comm is not None else _mpi().COMM_WORLD
    return _comm


def _timeout(timeout: float | None) -> float:
    return DEFAULT_TIMEOUT if timeout is None else float(timeout)


def is_initialized() -> bool:
    return _comm is not None


def rank() -> int:
    return _comm.Get_rank() if _comm is not None else 0


def world_size() -> int:
    return _comm.Get_size() if _comm is not None else 1


_current_rank = rank  # DistributedSampler's ``rank`` argument shadows the function


def is_main_process() -> bool:
    """Rank 0 writes checkpoints and logs; the others stay quiet."""
    return rank() == 0


def barrier(timeout: float | None = None) -> None:
    if world_size() > 1:
        _wait(_comm.Ibarrier(), _timeout(timeout), "barrier")


def _wait(request, timeout: float | None, what: str) -> None:
    """Wait for a non-blocking MPI request, aborting the job if a peer never answers."""
    _wait_all([request], timeout, what)


def _wait_all(requests, timeout: float | None, what: str) -> None:
    """Wait for non-blocking MPI requests; after ``timeout`` seconds print why and abort the whole job."""
    timeout = _timeout(timeout)
    deadline = time.monotonic() + timeout
    delay = 1e-5
    pending = list(requests)
    while pending:
        pending = [r for r in pending if not r.Test()]
        if not pending:
            return
        if time.monotonic() > deadline:
            msg = (f"convlab.distributed: rank {rank()} of {world_size()}: {what} did not complete within "
                   f"{timeout:g} s; a peer rank has probably died or hung. Aborting the job; resume from the "
                   "last checkpoint.")
            print(msg, file=sys.stderr, flush=True)
            abort(1)
            raise RuntimeError(msg)
        time.sleep(delay)
        delay = min(delay * 2, 1e-2)


def abort(code: int = 1) -> None:
    """End every rank of the job now (``MPI_Abort``); a no-op in a single process."""
    if _comm is not None and world_size() > 1:
        _comm.Abort(int(code))


def _broadcast_tensors(tensors, root: int, timeout: float | None, what: str) -> None:
    for t in tensors:
        arr = np.ascontiguousarray(backend.to_numpy(t._data))
        _wait(_comm.Ibcast(arr, root=root), timeout, what)
        t._data[...] = arr


def broadcast_parameters(module, root: int = 0, timeout: float | None = None) -> None:
    """Copy rank ``root``'s parameters and buffers to every rank (same initial weights)."""
    if world_size() == 1:
        return
    tensors = [p for _, p in module.named_parameters()] + [b for _, b in module.named_buffers()]
    _broadcast_tensors(tensors, root, timeout, "parameter broadcast")


def broadcast_buffers(module, root: int = 0, timeout: float | None = None) -> None:
    """Copy rank ``root``'s buffers (batch-norm running statistics) to every rank, as torch's DDP does."""
    if world_size() > 1:
        _broadcast_tensors([b for _, b in module.named_buffers()], root, timeout, "buffer broadcast")


def broadcast_bytes(data: bytes | None, root: int = 0, timeout: float | None = None) -> bytes:
    """Rank ``root``'s ``data`` on every rank (the others pass None). Plain bytes, no pickle."""
    if world_size() == 1:
        return data or b""
    is_root = rank() == root
    size = np.array([len(data) if is_root else 0], np.int64)
    _wait(_comm.Ibcast(size, root=root), timeout, "broadcast")
    buf = np.frombuffer(data, np.uint8).copy() if is_root else np.empty(int(size[0]), np.uint8)
    _wait(_comm.Ibcast(buf, root=root), timeout, "broadcast")
    return buf.tobytes()


def allreduce_(array: np.ndarray, average: bool = False, timeout: float | None = None, op: str = "sum") -> np.ndarray:
    """Sum (``op="sum"``, optionally averaged) or take the maximum (``op="max"``) of a contiguous array across ranks, in place."""
    if op not in ("sum", "max"):
        raise ConvlabError(f"allreduce_: op must be 'sum' or 'max', got {op!r}")
    if world_size() > 1:
        mpi_op = _mpi().SUM if op == "sum" else _mpi().MAX
        _wait(_comm.Iallreduce(_mpi().IN_PLACE, array, op=mpi_op), timeout, "all-reduce")
        if average:
            array /= world_size()
    return array


class GradientReducer:
    """Averages parameter gradients across ranks in a few flat buckets.

    Args:
        module: the model; its parameters are reduced in registration order.
        bucket_bytes: largest bucket size (torch's DDP uses 25 MiB).
        timeout: seconds to wait for peers before aborting the job (default: ``DEFAULT_TIMEOUT``, see :func:`init`).

    Call :meth:`reduce` after ``loss.backward()`` and before ``optimizer.step()``. The
    communication time and bytes of the last call are kept in ``last_seconds`` and
    ``last_bytes`` for benchmarks.

    A parameter whose gradient is ``None`` on every rank (unused in this step) keeps ``None``,
    so optimizers skip it exactly as in one process; a gradient missing on some ranks only
    counts as zeros there.
    """

    def __init__(self, module, bucket_bytes: int = 25 * 2**20, timeout: float | None = None):
        self.params = [p for _, p in module.named_parameters() if p.requires_grad]
        self.timeout = timeout
        self.buckets: list[list[int]] = []
        current, size = [], 0
        for i, p in enumerate(self.params):
            nbytes = p._data.size * p._data.itemsize
            if current and (size + nbytes > bucket_bytes or p.dtype != self.params[current[0]].dtype):
                self.buckets.append(current)
                current, size = [], 0
            current.append(i)
            size += nbytes
        if current:
            self.buckets.append(current)
        self.last_seconds = 0.0
        self.last_bytes = 0

    def reduce(self, extra=None) -> np.ndarray | None:
        """Average the gradients over the ranks. ``extra`` (numbers, e.g. a loss and a stop flag)
        travels with them and comes back summed over the ranks, as a float64 array."""
        from .tensor import _leaf

        start = time.perf_counter()
        n_extra = 0 if extra is None else len(extra)
        side = np.zeros(n_extra + len(self.params), np.float64)  # extra values, then "has a gradient" flags
        if n_extra:
            side[:n_extra] = np.asarray(extra, np.float64).reshape(-1)
        side[n_extra:] = [p.grad is not None for p in self.params]
        flats = []
        for bucket in self.buckets:
            ps = [self.params[i] for i in bucket]
            dtype = ps[0].dtype
            flats.append(np.concatenate([
                np.zeros(p._data.size, dtype) if p.grad is None else backend.to_numpy(p.grad._data).reshape(-1)
                for p in ps
            ]))
        if world_size() > 1:
            MPI = _mpi()
            requests = [_comm.Iallreduce(MPI.IN_PLACE, buf, op=MPI.SUM) for buf in [side, *flats]]
            _wait_all(requests, self.timeout, "gradient all-reduce")
        world = world_size()
        for bucket, flat in zip(self.buckets, flats):
            if world > 1:
                flat /= world
            offset = 0
            for i in bucket:
                p = self.params[i]
                n = p._data.size
                p.grad = _leaf(flat[offset : offset + n].reshape(p.shape)) if side[n_extra + i] > 0 else None
                offset += n
        self.last_seconds = time.perf_counter() - start
        self.last_bytes = sum(f.nbytes for f in flats)
        return side[:n_extra].copy() if extra is not None else None


class DistributedSampler:
    """Indices of one rank's shard of a dataset, reshuffled deterministically per epoch.

    The epoch's permutation (seeded by ``seed + epoch``) is padded by repeating its head
    until it divides evenly, then rank ``r`` takes positions ``r, r + W, r + 2W, ...``.
    Batching each rank's indices by ``B / W`` therefore gives, batch by batch, exactly the
    global batches of size ``B`` that one process would see in the same order.
    """

    def __init__(self, dataset_size: int, num_replicas: int | None = None, rank: int | None = None,
                 shuffle: bool = True, seed: int = 0, drop_last: bool = False):
        self.n = int(dataset_size)
        self.num_replicas = world_size() if num_replicas is None else int(num_replicas)
        self.rank = _current_rank() if rank is None else int(rank)
        if not 0 <= self.rank < self.num_replicas:
            raise ConvlabError(f"DistributedSampler: rank {self.rank} is outside [0, {self.num_replicas})")
        self.shuffle, self.seed, self.drop_last, self.epoch = shuffle, seed, drop_last, 0
        if drop_last:
            self.per_rank = self.n // self.num_replicas
        else:
            self.per_rank = -(-self.n // self.num_replicas)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def global_order(self) -> np.ndarray:
        """This epoch's permutation of the whole dataset (identical on every rank)."""
        if self.shuffle:
            return np.random.default_rng(self.seed + self.epoch).permutation(self.n)
        return np.arange(self.n)

    def indices(self) -> np.ndarray:
        order = self.global_order()
        total = self.per_rank * self.num_replicas
        if total > self.n:
            order = np.concatenate([order, order[: total - self.n]])
        return order[:total][self.rank :: self.num_replicas]

    def __iter__(self):
        return iter(self.indices().tolist())

    def __len__(self) -> int:
        return self.per_rank


# --------------------------------------------------------------------------- sharded random draws
_SIZE_ARG = {"random": 0, "standard_normal": 0, "uniform": 2, "normal": 2, "integers": 2, "binomial": 2}


class _ShardDraws:
    """The library generator as one rank sees it while it runs its rows of a global batch.

    A draw whose first dimension is the rank's number of rows (a dropout mask, a drop-path
    draw) is made for the whole global batch, first dimension ``global_n``, and this rank's
    rows of it are returned. So every rank's masks are the rows one process would draw for
    the global batch, and every rank's generator advances by the same amount (its state,
    which checkpoints store, stays identical across ranks). Other draws pass through.
    """

    def __init__(self, generator, rows, global_n: int):
        self._generator, self._rows, self._global_n = generator, np.asarray(rows), int(global_n)

    def __getattr__(self, name):
        attr = getattr(self._generator, name)
        pos = _SIZE_ARG.get(name)
        if pos is None:
            return attr

        def draw(*args, **kwargs):
            size = kwargs["size"] if "size" in kwargs else (args[pos] if len(args) > pos else None)
            if size is None or "out" in kwargs:
                return attr(*args, **kwargs)
            shape = (int(size),) if np.ndim(size) == 0 else tuple(int(d) for d in size)
            others = [a for i, a in enumerate(args) if i != pos]
            others += [v for k, v in kwargs.items() if k not in ("size", "dtype", "endpoint")]
            if not shape or shape[0] != len(self._rows) or any(np.ndim(a) for a in others):
                return attr(*args, **kwargs)
            full = (self._global_n,) + shape[1:]
            if "size" in kwargs:
                kwargs["size"] = full
            else:
                args = args[:pos] + (full,) + args[pos + 1 :]
            return attr(*args, **kwargs)[self._rows]

        return draw


@contextlib.contextmanager
def sharded_draws(rows, global_n: int):
    """While active, per-sample random draws of the library generator (dropout) are made for the
    global batch of ``global_n`` rows and this rank's ``rows`` of them are used (see
    :class:`_ShardDraws`). A no-op in a single process or when the rank holds the whole batch."""
    from .tensor import default_generator, using_generator

    real = default_generator()
    if world_size() == 1 or len(rows) == global_n or isinstance(real, _ShardDraws):
        yield
        return
    with using_generator(_ShardDraws(real, rows, global_n)):
        yield


def save_on_main(obj, path) -> None:
    """``convlab.save`` on rank 0 only, then wait so no rank reads a half-written file."""
    if is_main_process():
        from .serialization import save

        save(obj, path)
    barrier()


def log(*args, **kwargs) -> None:
    """``print`` on rank 0 only."""
    if is_main_process():
        print(*args, **kwargs)


def convert_sync_batchnorm(module, timeout: float | None = None):
    """Make every batch-norm layer in ``module`` synchronise its statistics across ranks.

    Converts in place (the layers keep their parameters and buffers) and returns ``module``.
    Without this, each rank normalises with its own shard's statistics (torch's default).
    """
    from .distributed_batchnorm import _sync_forward
    from .nn.normalization import _BatchNorm

    for m in module.modules():
        if isinstance(m, _BatchNorm) and not type(m).__name__.startswith("Sync"):
            m.__class__ = type(f"Sync{type(m).__name__}", (type(m),), {"forward": _sync_forward})
            m.timeout = timeout
    return module


from .distributed_api import (  # noqa: E402,F401  (torch.distributed's names)
    ReduceOp,
    all_reduce,
    destroy_process_group,
    get_rank,
    get_world_size,
    init_process_group,
    is_available,
)

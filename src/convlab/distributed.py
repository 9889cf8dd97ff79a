"""Data-parallel training over MPI ranks, on ``mpi4py``.

Every rank holds a full copy of the model and a shard of each global batch. After the
backward pass the gradients are summed across ranks and divided by the number of ranks,
so each rank applies the same update as one process that saw the whole batch:

    g = (1/W) * sum_r g_r,   g_r = d(mean loss on rank r's shard)/d(theta)

which equals the gradient of the mean loss over the global batch when the shards have
equal size. Gradients travel in a few large flat buffers (buckets) rather than one
message per parameter.

Run with ``mpirun -n 2 python train.py`` (``--oversubscribe`` when ranks outnumber
cores; ``--allow-run-as-root`` as root). ``mpi4py`` is optional:
``pip install 'convlab[distributed]'`` plus an MPI runtime (Debian: ``apt-get install
openmpi-bin``).
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np

from . import backend

INSTALL_HINT = (
    "distributed training needs mpi4py and an MPI runtime: pip install 'convlab[distributed]' "
    "and apt-get install openmpi-bin (or mpich)"
)

_comm = None


def _mpi():
    try:
        from mpi4py import MPI
    except ImportError as exc:
        raise RuntimeError(f"{INSTALL_HINT} ({exc})") from None
    return MPI


def launched_by_mpi() -> bool:
    """True when this process was started by mpirun/mpiexec (Open MPI, MPICH or PMI)."""
    return any(k in os.environ for k in ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "MPI_LOCALNRANKS"))


def init(comm=None):
    """Initialise from the MPI environment (``COMM_WORLD`` unless ``comm`` is given)."""
    global _comm
    if _comm is None or comm is not None:
        _comm = comm if comm is not None else _mpi().COMM_WORLD
    return _comm


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


def barrier(timeout: float = 600.0) -> None:
    if world_size() > 1:
        _wait(_comm.Ibarrier(), timeout, "barrier")


def _wait(request, timeout: float, what: str) -> None:
    """Wait for a non-blocking MPI request, aborting the job if a peer never answers."""
    deadline = time.monotonic() + timeout
    delay = 1e-5
    while not request.Test():
        if time.monotonic() > deadline:
            msg = (f"convlab.distributed: rank {rank()}: {what} did not complete within {timeout:.0f} s; "
                   "a peer rank has probably died. Aborting the job; resume from the last checkpoint.")
            print(msg, file=sys.stderr, flush=True)
            _comm.Abort(1)
            raise RuntimeError(msg)
        time.sleep(delay)
        delay = min(delay * 2, 1e-2)


def broadcast_parameters(module, root: int = 0, timeout: float = 600.0) -> None:
    """Copy rank ``root``'s parameters and buffers to every rank (same initial weights)."""
    if world_size() == 1:
        return
    tensors = [p for _, p in module.named_parameters()] + [b for _, b in module.named_buffers()]
    for t in tensors:
        arr = np.ascontiguousarray(backend.to_numpy(t.data))
        _wait(_comm.Ibcast(arr, root=root), timeout, "parameter broadcast")
        t.data[...] = arr


def allreduce_(array: np.ndarray, average: bool = False, timeout: float = 600.0) -> np.ndarray:
    """Sum (or average) a contiguous array across ranks, in place."""
    if world_size() > 1:
        _wait(_comm.Iallreduce(_mpi().IN_PLACE, array, op=_mpi().SUM), timeout, "all-reduce")
        if average:
            array /= world_size()
    return array


class GradientReducer:
    """Averages parameter gradients across ranks in a few flat buckets.

    Args:
        module: the model; its parameters are reduced in registration order.
        bucket_bytes: largest bucket size (torch's DDP uses 25 MiB).
        timeout: seconds to wait for peers before aborting the job.

    Call :meth:`reduce` after ``loss.backward()`` and before ``optimizer.step()``. The
    communication time and bytes of the last call are kept in ``last_seconds`` and
    ``last_bytes`` for benchmarks.
    """

    def __init__(self, module, bucket_bytes: int = 25 * 2**20, timeout: float = 600.0):
        self.params = [p for _, p in module.named_parameters() if p.requires_grad]
        self.timeout = timeout
        self.buckets: list[list[int]] = []
        current, size = [], 0
        for i, p in enumerate(self.params):
            nbytes = p.data.size * p.data.itemsize
            if current and (size + nbytes > bucket_bytes or p.dtype != self.params[current[0]].dtype):
                self.buckets.append(current)
                current, size = [], 0
            current.append(i)
            size += nbytes
        if current:
            self.buckets.append(current)
        self.last_seconds = 0.0
        self.last_bytes = 0

    def reduce(self) -> None:
        from .tensor import _leaf

        start, moved = time.perf_counter(), 0
        for bucket in self.buckets:
            ps = [self.params[i] for i in bucket]
            dtype = ps[0].dtype
            flat = np.concatenate([
                np.zeros(p.data.size, dtype) if p.grad is None else backend.to_numpy(p.grad.data).reshape(-1)
                for p in ps
            ])
            allreduce_(flat, average=True, timeout=self.timeout)
            moved += flat.nbytes
            offset = 0
            for p in ps:
                n = p.data.size
                p.grad = _leaf(flat[offset : offset + n].reshape(p.shape).copy())
                offset += n
        self.last_seconds = time.perf_counter() - start
        self.last_bytes = moved


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
            raise ValueError(f"DistributedSampler: rank {self.rank} is outside [0, {self.num_replicas})")
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


# --------------------------------------------------------------------------- synchronised batch norm
def _sync_batch_norm_function():
    from .tensor import Function

    class SyncBatchNorm(Function):
        """Batch norm whose statistics cover the global batch (all ranks' shards).

        Forward: each rank sums x and x^2 per channel, one all-reduce gives the global
        mean and (biased) variance over M = sum of the ranks' N*L. Backward: with
        xc = x - mean, k = weight * invstd, the input gradient is

            dx = k * (g - sum(g)/M - xc * invstd^2 * sum(g * xc)/M)

        where both sums run over the global batch, so they are all-reduced too. Weight and
        bias gradients stay local; the gradient reducer averages them like any other.
        """

        @staticmethod
        def forward(ctx, x, weight, bias, running_mean, running_var, momentum, eps, timeout):
            n, c = x.shape[:2]
            x3 = x.reshape(n, c, -1)
            stats = np.concatenate([x3.sum(axis=(0, 2)), (x3 * x3).sum(axis=(0, 2)), [n * x3.shape[2]]]).astype(np.float64)
            allreduce_(stats, timeout=timeout)
            m = stats[-1]
            mean = stats[:c] / m
            var = np.maximum(stats[c : 2 * c] / m - mean * mean, 0.0)
            if running_mean is not None:
                running_mean *= 1 - momentum
                running_mean += (momentum * mean).astype(running_mean.dtype)
                running_var *= 1 - momentum
                running_var += (momentum * var * (m / max(m - 1, 1))).astype(running_var.dtype)
            invstd = (1.0 / np.sqrt(var + eps)).astype(x.dtype)
            xc = x3 - mean.astype(x.dtype)[:, None]
            scale = invstd if weight is None else weight * invstd
            y = xc * scale[:, None]
            if bias is not None:
                y += bias[:, None]
            ctx.save_for_backward(xc, invstd)
            ctx.info = (x.shape, weight, m, timeout)
            return y.reshape(x.shape)

        @staticmethod
        def backward(ctx, g):
            xc, invstd = ctx.saved
            shape, weight, m, timeout = ctx.info
            c = shape[1]
            g3 = g.reshape(shape[0], c, -1)
            local_g, local_gxc = g3.sum(axis=(0, 2)), (g3 * xc).sum(axis=(0, 2))
            sums = allreduce_(np.concatenate([local_g, local_gxc]).astype(np.float64), timeout=timeout)
            sum_g, sum_gxc = sums[:c].astype(g.dtype), sums[c:].astype(g.dtype)
            k = invstd if weight is None else weight * invstd
            dx = k[:, None] * (g3 - sum_g[:, None] / m - xc * (invstd * invstd * sum_gxc / m)[:, None])
            return (dx.reshape(shape), local_gxc * invstd, local_g) + (None,) * 5

    return SyncBatchNorm


def _sync_forward(self, input):
    if not self.training or world_size() == 1:
        return type(self).__mro__[1].forward(self, input)
    self._check_input_dim(input)
    momentum = 0.1 if self.momentum is None else self.momentum
    if self.num_batches_tracked is not None:
        self.num_batches_tracked.data += 1
    fn = _sync_batch_norm_function()
    rm = self.running_mean.data if self.running_mean is not None else None
    rv = self.running_var.data if self.running_var is not None else None
    return fn.apply(input, self.weight, self.bias, rm, rv, momentum, self.eps, self.timeout)


def convert_sync_batchnorm(module, timeout: float = 600.0):
    """Make every batch-norm layer in ``module`` synchronise its statistics across ranks.

    Converts in place (the layers keep their parameters and buffers) and returns ``module``.
    Without this, each rank normalises with its own shard's statistics (torch's default).
    """
    from .nn.normalization import _BatchNorm

    for m in module.modules():
        if isinstance(m, _BatchNorm) and not type(m).__name__.startswith("Sync"):
            m.__class__ = type(f"Sync{type(m).__name__}", (type(m),), {"forward": _sync_forward})
            m.timeout = timeout
    return module

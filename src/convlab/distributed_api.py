"""torch.distributed's process-group names over :mod:`convlab.distributed` (MPI ranks).

A program run as one process (``python train.py``: no ``mpirun``, ``WORLD_SIZE`` unset or 1)
gets a group of one: ``init_process_group`` succeeds, rank 0 of 1, and every collective leaves
its tensor as it is, which is what the collective means with one member. Under ``mpirun`` the
group is MPI's ``COMM_WORLD``. A launch that asks for several processes any other way (torchrun's
``WORLD_SIZE=2``, ``mp.spawn`` with ``world_size=2``) is refused by name: convlab's ranks are MPI's.
"""

from __future__ import annotations

import os

import numpy as np

from . import distributed as _d

__all__ = ["ReduceOp", "all_reduce", "destroy_process_group", "get_rank", "get_world_size", "init_process_group",
           "is_available"]

_single = False  # a one-process group made by init_process_group


class ReduceOp:
    SUM, AVG, MAX, MIN, PRODUCT = "sum", "avg", "max", "min", "prod"


def is_available() -> bool:
    return True


def init_process_group(backend=None, init_method=None, timeout=None, world_size: int = -1, rank: int = -1,
                       store=None, group_name: str = "", pg_options=None, device_id=None) -> None:
    global _single
    wanted = world_size if world_size not in (-1, None) else int(os.environ.get("WORLD_SIZE", "1") or 1)
    if _d.launched_by_mpi():
        _d.init(timeout=None if timeout is None else float(getattr(timeout, "total_seconds", lambda: timeout)()))
        return
    if wanted != 1:
        raise RuntimeError(f"init_process_group(world_size={wanted}, backend={backend!r}): convlab's processes are MPI "
                           "ranks; start the program with `mpirun -n N python prog.py` (this process was not started "
                           "by mpirun), or run it as one process")
    _single = True


def is_initialized() -> bool:
    return _single or _d.is_initialized()


def destroy_process_group(group=None) -> None:
    global _single
    _single = False


def get_rank(group=None) -> int:
    return _d.rank()


def get_world_size(group=None) -> int:
    return _d.world_size()


def all_reduce(tensor, op=ReduceOp.SUM, group=None, async_op: bool = False):
    """Reduce ``tensor`` over the ranks, in place (with one rank: unchanged)."""
    if _d.world_size() > 1:
        if op in (ReduceOp.SUM, ReduceOp.AVG):
            tensor._data[...] = _d.allreduce_(np.ascontiguousarray(tensor._data), average=op == ReduceOp.AVG)
        else:
            raise NotImplementedError(f"all_reduce: op {op!r} across MPI ranks; convlab reduces by sum or average")
    return None

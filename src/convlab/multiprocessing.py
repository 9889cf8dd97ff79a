"""``torch.multiprocessing``: Python's :mod:`multiprocessing` (convlab's tensors are NumPy arrays,
which it already passes between processes), plus torch's :func:`spawn`.

>>> import convlab.multiprocessing as mp
>>> mp.cpu_count() >= 1
True
"""

from __future__ import annotations

from multiprocessing import *  # noqa: F401,F403
from multiprocessing import get_context


class ProcessRaisedException(Exception):
    """A spawned process exited with an error (its exit code and index in the message)."""


def spawn(fn, args=(), nprocs: int = 1, join: bool = True, daemon: bool = False, start_method: str = "spawn"):
    """Run ``fn(i, *args)`` for ``i`` in ``range(nprocs)``, each in its own process; with ``join``,
    wait for all and raise :class:`ProcessRaisedException` if one failed."""
    ctx = get_context(start_method)
    procs = [ctx.Process(target=fn, args=(i, *args), daemon=daemon) for i in range(nprocs)]
    for p in procs:
        p.start()
    if not join:
        return procs
    for p in procs:
        p.join()
    failed = [(i, p.exitcode) for i, p in enumerate(procs) if p.exitcode]
    if failed:
        raise ProcessRaisedException("; ".join(f"process {i} terminated with exit code {code}" for i, code in failed))
    return None

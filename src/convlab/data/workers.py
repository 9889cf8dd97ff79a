"""Worker processes for ``DataLoader(num_workers=N)``.

The main process plans every batch (its position, its indices, its epoch) and hands batch ``k`` to
worker ``k % N``; each worker fetches and augments it exactly as the main process would (the
augmentation generator depends on ``(seed, epoch, batch)`` only), so the batches are the same for
any ``N``. Results come back in order through one queue per worker, at most ``prefetch_factor``
batches ahead per worker.

A worker's exception comes back with its traceback and is raised again in the main process with
the same type, as torch does ("Caught ValueError in DataLoader worker process 1. Original
Traceback: ..."). Workers ignore Ctrl-C (the main process handles it and stops them), exit when
their parent disappears, and are daemons, so no worker outlives the program.
"""

from __future__ import annotations

import builtins
import importlib
import os
import queue
import random as py_random
import signal
import traceback
from dataclasses import dataclass

from .. import random as cl_random
from .collate import to_arrays

_POLL_S = 0.5  # how often a waiting side checks that the other is still alive
_info = None


@dataclass(frozen=True)
class WorkerInfo:
    """What :func:`get_worker_info` tells code running in a worker."""

    id: int
    num_workers: int
    seed: int
    dataset: object


def get_worker_info():
    """In a DataLoader worker process, its :class:`WorkerInfo`; in the main process, None."""
    return _info


def _exception_type(module: str, name: str):
    """The exception class named by a worker (a builtin, or importable by its module and name)."""
    try:
        cls = getattr(builtins, name) if module == "builtins" else getattr(importlib.import_module(module), name)
    except Exception:
        return RuntimeError
    return cls if isinstance(cls, type) and issubclass(cls, Exception) else RuntimeError


def _reraise(worker_id: int, type_name: tuple, text: str):
    exc_type = _exception_type(*type_name)
    message = f"Caught {getattr(exc_type, '__name__', 'an exception')} in DataLoader worker process {worker_id}.\n" \
              f"Original {text}"
    try:
        error = exc_type(message)
    except Exception:  # an exception type whose constructor wants other arguments
        error = RuntimeError(message)
    raise error


def _worker_loop(fetch, worker_id, num_workers, seed, dataset, init_fn, tasks, results, parent_pid, iterable):
    global _info
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the main process's to handle
    _info = WorkerInfo(worker_id, num_workers, seed, dataset)
    py_random.seed(seed)
    cl_random.manual_seed(seed % 2**63)

    def send(kind, payload):
        while True:
            try:
                results.put((kind, payload), timeout=_POLL_S)
                return True
            except queue.Full:
                if os.getppid() != parent_pid:
                    return False

    def fail(exc):  # the type travels by name: the main process looks it up, it never unpickles it
        return send("error", ((type(exc).__module__, type(exc).__qualname__), traceback.format_exc()))

    try:
        if init_fn is not None:
            init_fn(worker_id)
        stream = iter(dataset) if iterable else None
        while True:
            try:
                task = tasks.get(timeout=_POLL_S)
            except queue.Empty:
                if os.getppid() != parent_pid:  # the main process is gone: leave no orphan behind
                    break
                continue
            if task is None:
                break
            try:
                batch = fetch(stream, task) if iterable else fetch(*task)
            except StopIteration:
                if not send("done", None):
                    break
                continue
            except Exception as exc:  # this batch failed; the worker stays to serve the next ones
                if not fail(exc):
                    break
                continue
            if not send("ok", to_arrays(batch)):
                break
    except Exception as exc:  # worker_init_fn (or iter(dataset)) failed
        fail(exc)
    finally:
        results.cancel_join_thread()  # never block at exit on a pipe nobody reads any more


class WorkerPool:
    """``num_workers`` processes fetching batches through ``fetch(epoch, batch, indices)`` (map-style)
    or ``fetch(stream, batch_size)`` on each worker's own iterator (iterable-style)."""

    def __init__(self, fetch, num_workers: int, dataset, seed: int, worker_init_fn=None, context=None,
                 prefetch_factor: int = 2, timeout: float = 0, iterable: bool = False):
        import multiprocessing as mp

        if context is None:
            context = "fork" if "fork" in mp.get_all_start_methods() else "spawn"
        ctx = mp.get_context(context) if isinstance(context, str) else context
        self.n, self.prefetch, self.timeout, self.iterable = num_workers, prefetch_factor, float(timeout), iterable
        self.tasks = [ctx.Queue() for _ in range(num_workers)]
        self.results = [ctx.Queue(maxsize=prefetch_factor + 1) for _ in range(num_workers)]
        self.procs = []
        for w in range(num_workers):
            p = ctx.Process(target=_worker_loop, name=f"convlab-dataloader-{w}", daemon=True,
                            args=(fetch, w, num_workers, seed + w, dataset, worker_init_fn, self.tasks[w],
                                  self.results[w], os.getpid(), iterable))
            p.start()
            self.procs.append(p)

    def _receive(self, w: int):
        waited = 0.0
        while True:
            try:
                kind, payload = self.results[w].get(timeout=_POLL_S)
            except queue.Empty:
                waited += _POLL_S
                proc = self.procs[w]
                if not proc.is_alive():
                    try:  # its last words may still be in the pipe
                        kind, payload = self.results[w].get(timeout=_POLL_S)
                    except queue.Empty:
                        pass
                    else:
                        if kind == "error":
                            _reraise(w, *payload)
                        return kind, payload
                    raise RuntimeError(f"DataLoader worker (pid {proc.pid}) exited unexpectedly with exit code "
                                       f"{proc.exitcode}") from None
                if self.timeout and waited >= self.timeout:
                    raise RuntimeError(f"DataLoader timed out after {self.timeout:g} seconds") from None
                continue
            if kind == "error":
                _reraise(w, *payload)
            return kind, payload

    def map(self, epoch: int, spans):
        """Yield the fetched batches of ``spans`` (``[(batch, indices), ...]``) in order."""
        spans = list(spans)
        sent = 0

        def send_next():
            nonlocal sent
            b, idx = spans[sent]
            self.tasks[sent % self.n].put((epoch, b, idx))
            sent += 1

        while sent < min(len(spans), self.n * self.prefetch):
            send_next()
        for k in range(len(spans)):
            _, batch = self._receive(k % self.n)
            if sent < len(spans):
                send_next()
            yield batch

    def stream(self, batch_size):
        """Yield batches from the workers' own iterators, round robin, until every one is exhausted."""
        live = list(range(self.n))
        for w in live:
            for _ in range(self.prefetch):
                self.tasks[w].put(batch_size)
        while live:
            for w in list(live):
                kind, batch = self._receive(w)
                if kind == "done":
                    live.remove(w)
                    continue
                self.tasks[w].put(batch_size)
                yield batch

    def shutdown(self) -> None:
        for q in self.tasks:
            try:
                q.put_nowait(None)
            except Exception:
                pass
        for p in self.procs:
            p.join(timeout=2 * _POLL_S)
        for p in self.procs:
            if p.is_alive():
                p.terminate()
                p.join(timeout=5)
        for q in self.tasks + self.results:
            q.cancel_join_thread()
            q.close()
        self.procs = []

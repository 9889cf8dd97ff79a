"""One training step and one epoch of :class:`~convlab.train.loop.Trainer`, with the NaN/Inf guard.

A step is the textbook one (forward, loss, ``zero_grad``, ``backward``, ``step``); in data-parallel
training the gradient all-reduce sits between ``backward()`` and the guard. The guard checks the
loss, the gradients (one float64 sum first: a NaN or Inf anywhere makes the sum non-finite), the
parameters and the buffers, and names the step. A step interrupted by Ctrl-C is undone: the RNG
and the buffers it may have changed go back to their values at the step's start.
"""

from __future__ import annotations

import math
import time

import numpy as np

from ..tensor import get_rng_state, set_rng_state
from .evaluation import _allreduce_meter, _bar
from .metrics import Meter


class NonFiniteError(RuntimeError):
    """The loss, a gradient or a parameter became NaN or infinite; the message names the step."""


def _lr(optimizer) -> float | None:
    groups = getattr(optimizer, "param_groups", None)
    return float(groups[0]["lr"]) if groups else None


class TrainingSteps:
    """The step, the guard and the epoch loop; mixed into :class:`~convlab.train.loop.Trainer`,
    whose ``__init__`` sets the attributes used here (model, optimizer, loss_fn, scheduler, ema,
    reducer, log, tb, counters)."""

    # ------------------------------------------------------------------ the guard
    def _check_grads(self, where: str) -> None:
        total = 0.0
        for _, p in self._named:
            if p.grad is not None:
                total += float(p.grad._data.sum(dtype=np.float64))
        if math.isfinite(total):
            return
        for name, p in self._named:
            if p.grad is not None and not np.isfinite(p.grad._data).all():
                bad = "nan" if np.isnan(p.grad._data).any() else "inf"
                raise NonFiniteError(f"the gradient of parameter '{name}' became {bad} {where}")
        raise NonFiniteError(f"the gradients became too large to sum {where}")

    def _check_params(self, where: str) -> None:
        for name, p in self._named:
            if not np.isfinite(p._data).all():
                raise NonFiniteError(f"parameter '{name}' became non-finite {where}")
        for name, b in self.model.named_buffers():  # batch-norm running statistics overflow too
            if b._data.dtype.kind == "f" and not np.isfinite(b._data).all():
                raise NonFiniteError(f"buffer '{name}' became non-finite {where}")

    def _snapshot(self):
        """The state a step may change before it completes: the RNG and the buffers (BN running stats)."""
        return get_rng_state(), [(b, b._data.copy()) for b in self.model.buffers()]

    def _restore(self, snap) -> None:
        rng, buffers = snap
        set_rng_state(rng)
        for b, data in buffers:
            b._data[...] = data

    def _single_step(self, images, labels, where):
        """Forward, backward and optimizer step of one process on the whole batch; ``(logits, mean loss)``."""
        logits = self.model(images)
        loss = self.loss_fn(logits, labels)
        value = float(loss.item())
        if not math.isfinite(value):
            raise NonFiniteError(f"the loss became {value} {where}")
        self.optimizer.zero_grad()
        loss.backward()
        self._check_grads(where)
        self.optimizer.step()
        return logits, value

    def _distributed_step(self, loader, images, labels, where, requested):
        """Forward and backward on this rank's rows, then the all-reduce; ``(logits, global mean loss,
        local mean loss, weight, stop requested on any rank)``. Raises the same error on every rank."""
        from .. import distributed as dist

        shard = getattr(loader, "shard", None)  # a loader that is not a convlab DataLoader: whole batches, weight 1
        rows, n, weight = shard(self.batch_in_epoch) if shard else (np.arange(len(labels)), len(labels), 1.0)
        with dist.sharded_draws(rows, n):  # dropout masks: this rank's rows of the global batch's
            logits = self.model(images)
        loss = self.loss_fn(logits, labels)
        local = float(loss.item())
        self.optimizer.zero_grad()
        (loss if weight == 1.0 else loss * weight).backward()
        total, stops = self.reducer.reduce([local * weight if weight else 0.0, float(requested)])
        value = float(total) / dist.world_size()
        if not math.isfinite(value):
            raise NonFiniteError(f"the loss became {value} {where}")
        self._check_grads(where)
        self.optimizer.step()
        return logits, value, local, weight, stops > 0

    def _train_epoch(self, loader, epoch, epochs, sigint, max_steps):
        self.model.train()
        self._interrupted = False
        loader.set_epoch(epoch, self.batch_in_epoch)
        meter = Meter(topk=5)
        bar = _bar(len(loader), f"epoch {epoch + 1}/{epochs}", self.progress, initial=self.batch_in_epoch)
        t0, seen, last_post = time.time(), 0, 0.0
        try:
            for images, labels in loader:
                where = f"at step {self.step + 1} (epoch {epoch + 1}, batch {self.batch_in_epoch + 1})"
                snap = self._snapshot()
                try:
                    if self.reducer is None:
                        logits, value = self._single_step(images, labels, where)
                        local, weight = value, 1.0  # the whole batch is this process's
                    else:
                        logits, value, local, weight, stop = self._distributed_step(loader, images, labels, where,
                                                                                     sigint.requested)
                        self._stop = self._stop or stop
                except KeyboardInterrupt:
                    self._restore(snap)  # back to the boundary before this step
                    self._interrupted = True
                    return None
                self.step += 1
                self.batch_in_epoch += 1
                if self.ema is not None:
                    self.ema.update(self.model)
                if self.scheduler is not None and self.scheduler_interval == "batch":
                    self.scheduler.step()
                if weight:  # this process's rows; in data-parallel training summed over the ranks at the end of the epoch
                    meter.update(logits._data, labels._data, local)
                    seen += len(labels)
                if (self.log or self.tb) and self.step % self.log_every == 0:
                    step_record = {"kind": "step", "step": self.step, "epoch_float": epoch + self.batch_in_epoch / len(loader),
                                   "loss": value, "lr": _lr(self.optimizer)}
                    if self.log:
                        self.log.write(step_record)
                    if self.tb:
                        self.tb.step(step_record)
                bar.update(1)
                now = time.time()
                if self.progress and now - last_post > 0.5:
                    last_post = now
                    ips = seen / max(now - t0, 1e-9)
                    acc = meter.accuracy if meter.correct or meter.n else float("nan")
                    bar.set_postfix_str(f"loss {meter.loss:.4f} acc {100 * acc:.2f}% {ips:,.0f} img/s")
                if self._stop_seen(sigint) or (max_steps is not None and self.step >= max_steps):
                    return None
        finally:
            bar.close()
        seconds = time.time() - t0
        if self.reducer is not None:
            _allreduce_meter(meter)
            seen = meter.n
        self.epoch, self.batch_in_epoch = epoch + 1, 0
        return {"kind": "epoch", "epoch": epoch + 1, "step": self.step, "lr": _lr(self.optimizer),
                "train_loss": meter.loss, "train_accuracy": meter.accuracy if meter.confusion is not None else None,
                "epoch_seconds": seconds, "images_per_second": seen / max(seconds, 1e-9)}

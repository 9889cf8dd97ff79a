"""Evaluation of a classifier on a loader: loss, accuracy, top-k, per-class accuracy, confusion.

Used by :class:`~convlab.train.loop.Trainer` for validation after each epoch, and by ``convlab
evaluate``. In data-parallel training every rank evaluates its part and the counts are summed.
"""

from __future__ import annotations

import sys

import numpy as np

from ..tensor import no_grad
from .metrics import Meter


def _default_loss():
    from ..nn import CrossEntropyLoss

    return CrossEntropyLoss()


def evaluate(model, loader, loss_fn=None, num_classes: int | None = None, topk: int = 5, progress: bool = False,
             distributed: bool = False, on_batch=None) -> dict:
    """Loss, accuracy, top-``k`` accuracy, per-class accuracy and confusion matrix of ``model`` on ``loader``.

    Runs in eval mode without recording a graph and restores the model's mode afterwards.
    Returns a dict: ``n``, ``loss``, ``accuracy``, ``top5``, ``per_class`` (list), ``confusion`` (list of lists).

    With ``distributed`` (every rank calls it, each with its own part of the data), rank 0's
    buffers (batch-norm running statistics) are first copied to every rank and the counts are
    summed over the ranks, so every rank returns the metrics of the whole data.
    ``on_batch(logits, labels)`` (NumPy arrays), when given, sees every batch (to keep predictions).
    """
    loss_fn = loss_fn or _default_loss()
    if distributed:
        from .. import distributed as dist

        dist.broadcast_buffers(model)
    meter = Meter(num_classes, topk)
    was_training = getattr(model, "training", False)
    model.eval()
    bar = _bar(len(loader), "evaluate", progress)
    try:
        with no_grad():
            for images, labels in loader:
                logits = model(images)
                meter.update(logits._data, labels._data, float(loss_fn(logits, labels).item()))
                if on_batch is not None:
                    on_batch(np.asarray(logits._data), np.asarray(labels._data))
                bar.update(1)
    finally:
        bar.close()
        model.train(was_training)
    if distributed:
        _allreduce_meter(meter)
    return meter.result()


def _allreduce_meter(meter: Meter) -> None:
    """Sum a :class:`Meter`'s counts over the ranks, in place (a rank may have seen no data)."""
    from .. import distributed as dist

    k = np.array([0.0 if meter.confusion is None else meter.confusion.shape[0]])
    k = int(dist.allreduce_(k, op="max")[0])
    confusion = meter.confusion if meter.confusion is not None else np.zeros((k, k), np.int64)
    buf = np.concatenate([[meter.n, meter.loss_sum, meter.correct, meter.topk_hits], confusion.ravel()]).astype(np.float64)
    dist.allreduce_(buf)
    meter.n, meter.loss_sum, meter.correct, meter.topk_hits = int(buf[0]), float(buf[1]), int(buf[2]), int(buf[3])
    meter.confusion = np.rint(buf[4:]).astype(np.int64).reshape(k, k) if k else None


def _bar(total, desc, enabled, initial=0):
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, desc=desc, unit="batch", disable=not enabled, leave=False,
                dynamic_ncols=True, file=sys.stderr, mininterval=0.25)

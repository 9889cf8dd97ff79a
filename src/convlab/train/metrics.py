"""Classification metrics on NumPy arrays: accuracy, top-k accuracy, confusion matrix,
per-class accuracy, and :class:`Meter`, which accumulates them over batches.

>>> import numpy as np
>>> logits = np.array([[2.0, 1.0, 0.0], [0.0, 2.0, 1.0], [1.0, 0.0, 2.0]])
>>> labels = np.array([0, 2, 2])
>>> accuracy(logits, labels), topk_accuracy(logits, labels, k=2)
(0.6666666666666666, 1.0)
>>> confusion_matrix(logits.argmax(1), labels, 3).tolist()
[[1, 0, 0], [0, 0, 0], [0, 1, 1]]
"""

from __future__ import annotations

import numpy as np


def _np(x):
    return x.numpy() if hasattr(x, "numpy") and not isinstance(x, np.ndarray) else np.asarray(x)


def accuracy(logits, labels) -> float:
    """Fraction of rows whose largest logit is at the label."""
    logits, labels = _np(logits), _np(labels)
    return float((logits.argmax(axis=1) == labels).mean()) if len(labels) else 0.0


def topk_correct(logits, labels, k: int) -> np.ndarray:
    """Boolean per row: the label is among the ``k`` largest logits (ties broken by index)."""
    logits, labels = _np(logits), _np(labels)
    k = min(k, logits.shape[1])
    top = np.argpartition(-logits, k - 1, axis=1)[:, :k]
    return (top == labels[:, None]).any(axis=1)


def topk_accuracy(logits, labels, k: int = 5) -> float:
    """Fraction of rows whose label is among the ``k`` largest logits."""
    hit = topk_correct(logits, labels, k)
    return float(hit.mean()) if len(hit) else 0.0


def confusion_matrix(predictions, labels, num_classes: int) -> np.ndarray:
    """``C[true, predicted]`` counts, shape ``(num_classes, num_classes)``."""
    predictions, labels = _np(predictions).astype(np.int64), _np(labels).astype(np.int64)
    return np.bincount(labels * num_classes + predictions, minlength=num_classes * num_classes).reshape(
        num_classes, num_classes
    )


def per_class_accuracy(confusion: np.ndarray) -> np.ndarray:
    """Recall of each class: the diagonal over the row sums (NaN for a class with no items)."""
    totals = confusion.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(totals > 0, np.diag(confusion) / np.maximum(totals, 1), np.nan)


def precision_recall_f1(confusion) -> dict:
    """Per-class ``precision`` (diagonal / column sums), ``recall`` (diagonal / row sums), ``f1``
    (their harmonic mean) and ``support`` (row sums), as lists; None where undefined (0 / 0),
    as scikit-learn's ``zero_division`` leaves it to the caller.

    >>> precision_recall_f1([[3, 1], [0, 2]])["precision"]
    [1.0, 0.6666666666666666]
    """
    cm = np.asarray(confusion, dtype=np.float64)
    tp, predicted, actual = np.diag(cm), cm.sum(axis=0), cm.sum(axis=1)

    def ratio(a, b):
        return [float(x / y) if y > 0 else None for x, y in zip(a, b)]

    precision, recall = ratio(tp, predicted), ratio(tp, actual)
    f1 = [None if p is None or r is None else (0.0 if p + r == 0 else 2 * p * r / (p + r)) for p, r in zip(precision, recall)]
    return {"precision": precision, "recall": recall, "f1": f1, "support": [int(v) for v in actual]}


class Meter:
    """Accumulate loss, accuracy, top-k and the confusion matrix over batches.

    ``update(logits, labels, loss)`` with ``loss`` the batch *mean*; ``result()`` gives a dict.
    """

    def __init__(self, num_classes: int | None = None, topk: int = 5):
        self.num_classes, self.topk = num_classes, topk
        self.n = 0
        self.loss_sum = 0.0
        self.correct = 0
        self.topk_hits = 0
        self.confusion = None

    def update(self, logits, labels, loss: float | None = None) -> None:
        logits, labels = _np(logits), _np(labels)
        n = len(labels)
        if logits.ndim != 2 or labels.ndim != 1:  # not classification (e.g. regression): loss only
            self.n += n
            self.loss_sum += 0.0 if loss is None else float(loss) * n
            return
        num_classes = self.num_classes or logits.shape[1]
        pred = logits.argmax(axis=1)
        self.n += n
        self.loss_sum += 0.0 if loss is None else float(loss) * n
        self.correct += int((pred == labels).sum())
        self.topk_hits += int(topk_correct(logits, labels, self.topk).sum())
        cm = confusion_matrix(pred, labels, num_classes)
        self.confusion = cm if self.confusion is None else self.confusion + cm

    @property
    def loss(self) -> float:
        return self.loss_sum / self.n if self.n else float("nan")

    @property
    def accuracy(self) -> float:
        return self.correct / self.n if self.n else float("nan")

    def result(self, full: bool = True) -> dict:
        """``loss``, ``accuracy``, ``top{k}`` and ``n``; with ``full`` also ``per_class`` and ``confusion`` (lists)."""
        out = {"n": self.n, "loss": self.loss, "accuracy": self.accuracy,
               f"top{self.topk}": self.topk_hits / self.n if self.n else float("nan")}
        if full and self.confusion is not None:
            out["per_class"] = [None if np.isnan(v) else float(v) for v in per_class_accuracy(self.confusion)]
            out["confusion"] = self.confusion.tolist()
        return out

"""Training: :func:`fit` / :class:`Trainer`, :func:`evaluate`, metrics, checkpoints and logs.

>>> from convlab.train import accuracy
>>> accuracy([[0.1, 0.9], [0.8, 0.2]], [1, 1])
0.5
"""

from .checkpoint import load_checkpoint, model_from_checkpoint, save_checkpoint
from .logs import plot_confusion, plot_curves, read_jsonl
from .loop import FitResult, NonFiniteError, Trainer, evaluate, fit
from .metrics import Meter, accuracy, confusion_matrix, per_class_accuracy, topk_accuracy

__all__ = [
    "FitResult", "Meter", "NonFiniteError", "Trainer", "accuracy", "confusion_matrix", "evaluate", "fit",
    "load_checkpoint", "model_from_checkpoint", "per_class_accuracy", "plot_confusion", "plot_curves",
    "read_jsonl", "save_checkpoint", "topk_accuracy",
]

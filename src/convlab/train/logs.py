"""Run logs and plots: a JSONL log (step and epoch records), a CSV of epochs, the training-curve
PNG and the confusion-matrix PNG. Plots use matplotlib's file-only ``Agg`` backend."""

from __future__ import annotations

import csv
import json
import math
import os

import numpy as np

EPOCH_COLUMNS = ["epoch", "step", "lr", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "val_top5",
                 "epoch_seconds", "images_per_second"]


def _clean(value):
    """JSON has no NaN/Inf: write them as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (np.floating, np.integer)):
        return _clean(value.item())
    return value


class RunLog:
    """Appends records to ``metrics.jsonl`` and epoch rows to ``metrics.csv`` in ``out_dir``.

    On resume the files are cut back to the checkpoint's step, so a resumed run's log reads
    like an uninterrupted one.
    """

    def __init__(self, out_dir: str):
        self.jsonl = os.path.join(out_dir, "metrics.jsonl")
        self.csv = os.path.join(out_dir, "metrics.csv")

    def truncate_after(self, step: int) -> None:
        """Drop records written after ``step`` (they belong to the part of the run being redone)."""
        if os.path.exists(self.jsonl):
            with open(self.jsonl) as f:
                keep = [line for line in f if line.strip() and json.loads(line).get("step", 0) <= step]
            with open(self.jsonl, "w") as f:
                f.writelines(keep)
        if os.path.exists(self.csv):
            with open(self.csv, newline="") as f:
                rows = [r for r in csv.DictReader(f) if int(r["step"]) <= step]
            os.remove(self.csv)
            for r in rows:
                self.epoch(r)

    def write(self, record: dict) -> None:
        with open(self.jsonl, "a") as f:
            f.write(json.dumps({k: _clean(v) for k, v in record.items()}) + "\n")

    def epoch(self, record: dict) -> None:
        new = not os.path.exists(self.csv)
        with open(self.csv, "a", newline="") as f:
            w = csv.DictWriter(f, fieldnames=EPOCH_COLUMNS, extrasaction="ignore")
            if new:
                w.writeheader()
            w.writerow({k: ("" if _clean(record.get(k)) is None else record.get(k)) for k in EPOCH_COLUMNS})


def read_jsonl(path: str) -> list[dict]:
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def plot_curves(records: list[dict], path: str, title: str = "") -> str:
    """Loss (per logged step and per epoch) and accuracy (per epoch) against epochs; writes ``path``."""
    plt = _pyplot()
    steps = [r for r in records if r.get("kind") == "step" and r.get("loss") is not None]
    epochs = [r for r in records if r.get("kind") == "epoch"]
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    if steps:
        ax_loss.plot([r["epoch_float"] for r in steps], [r["loss"] for r in steps], color="0.7", lw=1, label="train (batches)")
    for key, label, style in (("train_loss", "train", "o-"), ("val_loss", "validation", "s-")):
        pts = [(r["epoch"], r[key]) for r in epochs if r.get(key) is not None]
        if pts:
            ax_loss.plot(*zip(*pts), style, label=label)
    for key, label, style in (("train_accuracy", "train", "o-"), ("val_accuracy", "validation", "s-")):
        pts = [(r["epoch"], 100 * r[key]) for r in epochs if r.get(key) is not None]
        if pts:
            ax_acc.plot(*zip(*pts), style, label=label)
    ax_loss.set(xlabel="epoch", ylabel="loss", title="loss")
    ax_acc.set(xlabel="epoch", ylabel="accuracy (%)", title="accuracy")
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        if ax.lines:
            ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_confusion(confusion, classes, path: str, title: str = "confusion matrix") -> str:
    """A confusion-matrix heat map with counts, rows = true class, columns = predicted; writes ``path``."""
    plt = _pyplot()
    cm = np.asarray(confusion)
    k = len(cm)
    size = max(5.0, 0.6 * k + 2)
    fig, ax = plt.subplots(figsize=(size, size))
    ax.imshow(cm, cmap="Blues")
    ticks = np.arange(k)
    labels = list(classes) if classes and len(classes) == k else [str(i) for i in range(k)]
    ax.set_xticks(ticks, labels, rotation=45, ha="right")
    ax.set_yticks(ticks, labels)
    ax.set(xlabel="predicted", ylabel="true", title=title)
    if k <= 30:
        top = cm.max() if cm.size else 0
        for i in range(k):
            for j in range(k):
                ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=8,
                        color="white" if cm[i, j] > top / 2 else "black")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path

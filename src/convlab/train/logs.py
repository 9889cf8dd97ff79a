"""Run logs and plots: a JSONL log (step and epoch records), a CSV of epochs, the training-curve
PNG and the confusion-matrix PNG. Plots use matplotlib's file-only ``Agg`` backend."""

from __future__ import annotations

import csv
import io
import json
import math
import os

import numpy as np

from ..files import write_text

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
    like an uninterrupted one: :meth:`truncate_after` drops what was written after the
    checkpoint, drops a line torn by a process killed while writing it, and (given the
    checkpoint's ``history``) puts back epoch records that the checkpoint holds but the log
    lacks, because the process died between writing the checkpoint and logging its epoch.
    """

    def __init__(self, out_dir: str):
        self.jsonl = os.path.join(out_dir, "metrics.jsonl")
        self.csv = os.path.join(out_dir, "metrics.csv")

    def truncate_after(self, step: int, history: list[dict] | None = None) -> None:
        """Drop records written after ``step`` (they belong to the part of the run being redone).

        ``history`` is the checkpoint's list of epoch records; those missing from the files are
        written back in their place. Both files are rewritten atomically.
        """
        records = [r for r in _read_records(self.jsonl) if _step(r) is not None and _step(r) <= step]
        logged = {_int(r.get("epoch")) for r in records if r.get("kind") == "epoch"}
        for h in _missing_epochs(logged, history, step):
            record = {"kind": "epoch", **{k: v for k, v in h.items() if k not in ("kind", "val_per_class")}}
            at = next((i for i, r in enumerate(records) if _step(r) > record["step"]), len(records))
            records.insert(at, record)
        if os.path.exists(self.jsonl) or records:
            write_jsonl(records, self.jsonl)
        rows = [r for r in csv.DictReader(io.StringIO(_complete_lines(self.csv), newline=""))
                if _int(r.get("step")) is not None and _int(r["step"]) <= step]
        rows += _missing_epochs({_int(r.get("epoch")) for r in rows}, history, step)
        rows.sort(key=lambda r: (_int(r["step"]), _int(r.get("epoch")) or 0))
        if os.path.exists(self.csv) or rows:
            buf = io.StringIO(newline="")
            w = csv.DictWriter(buf, fieldnames=EPOCH_COLUMNS, extrasaction="ignore")
            w.writeheader()
            for r in rows:
                w.writerow(_csv_row(r))
            write_text(self.csv, buf.getvalue())

    def write(self, record: dict) -> None:
        with open(self.jsonl, "a") as f:
            f.write(json_line(record))

    def epoch(self, record: dict) -> None:
        new = not os.path.exists(self.csv)
        with open(self.csv, "a", newline="") as f:
            w = csv.DictWriter(f, fieldnames=EPOCH_COLUMNS, extrasaction="ignore")
            if new:
                w.writeheader()
            w.writerow(_csv_row(record))


# fields of the records that measure wall-clock time: they differ between two runs of the same
# command (everything else in the logs is a function of the seed and the command line)
WALL_CLOCK_FIELDS = ("epoch_seconds", "images_per_second")


def json_line(record: dict) -> str:
    """``record`` as one line of a JSONL log (NaN/Inf as null, NumPy scalars as numbers)."""
    return json.dumps({k: _clean(v) for k, v in record.items()}) + "\n"


def _csv_row(record: dict) -> dict:
    return {k: ("" if _clean(record.get(k)) is None else record.get(k)) for k in EPOCH_COLUMNS}


def _int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _step(record: dict):
    return _int(record.get("step", 0))


def _missing_epochs(logged: set, history, step: int) -> list[dict]:
    """The checkpoint ``history`` records up to ``step`` whose epoch is not in ``logged``."""
    return [h for h in history or () if _int(h.get("epoch")) not in logged and _int(h.get("step")) is not None
            and _int(h["step"]) <= step]


def _complete_lines(path: str) -> str:
    """The text of ``path`` without a last line that has no newline (torn by a kill mid-write); '' if absent."""
    if not os.path.exists(path):
        return ""
    with open(path, newline="") as f:
        text = f.read()
    return text if text.endswith("\n") else text[:text.rfind("\n") + 1]


def _read_records(path: str) -> list[dict]:
    """The records of a JSONL log; a line that does not parse (torn by a kill mid-write) is skipped."""
    out = []
    for line in _complete_lines(path).split("\n"):
        if line.strip():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(record, dict):
                out.append(record)
    return out


def read_jsonl(path: str) -> list[dict]:
    """The records of a JSONL log. A last line cut short (the writer was killed) is left out;
    a bad line anywhere else raises ``json.JSONDecodeError``."""
    with open(path) as f:
        lines = [line for line in f if line.strip()]
    out = []
    for i, line in enumerate(lines):
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            if i == len(lines) - 1 and not line.endswith("\n"):
                break
            raise
    return out


def write_jsonl(records, path) -> str:
    """Write ``records`` (dicts) to ``path`` as JSON lines (:func:`json_line`), atomically; returns ``path``.
    Its directory must exist."""
    path = os.fspath(path)
    write_text(path, "".join(json_line(r) for r in records))
    return path


_TEXT_FONTS = ("DejaVu Sans", "Noto Sans CJK JP", "Noto Sans CJK SC", "WenQuanYi Zen Hei", "Droid Sans Fallback",
               "Last Resort High-Efficiency")


def text_fonts() -> list[str]:
    """Font families for text that may be in any script (class names): DejaVu Sans, then any CJK font
    installed, then matplotlib's Last Resort font (a box naming the Unicode block, rather than a warning)."""
    from matplotlib import font_manager

    have = {f.name for f in font_manager.fontManager.ttflist}
    return [f for f in _TEXT_FONTS if f in have] or ["sans-serif"]


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
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
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
    _save(fig, path)
    return path


def plot_confusion(confusion, classes, path: str, title: str = "confusion matrix") -> str:
    """A confusion-matrix heat map with counts, rows = true class, columns = predicted; writes ``path``."""
    plt = _pyplot()
    cm = np.asarray(confusion)
    k = len(cm)
    size = max(5.0, 0.6 * k + 2)
    fig, ax = plt.subplots(figsize=(size, size), layout="constrained")
    ax.imshow(cm, cmap="Blues")
    ticks = np.arange(k)
    labels = list(classes) if classes and len(classes) == k else [str(i) for i in range(k)]
    fonts = text_fonts()
    ax.set_xticks(ticks, labels, rotation=45, ha="right", fontfamily=fonts)
    ax.set_yticks(ticks, labels, fontfamily=fonts)
    ax.set(xlabel="predicted", ylabel="true")
    ax.set_title(title, fontfamily=fonts)
    if k <= 30:
        top = cm.max() if cm.size else 0
        for i in range(k):
            for j in range(k):
                ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=8,
                        color="white" if cm[i, j] > top / 2 else "black")
    _save(fig, path)
    return path


def _save(fig, path) -> None:
    from ..viz import save_figure

    save_figure(fig, path, dpi=100)


def plot_mistakes(pixels, true, predicted, confidence, classes, path: str, title: str = "most confidently wrong") -> str:
    """A grid of pictures the model got wrong, most confident first: each titled with the true
    class, the predicted class and its probability. ``pixels``: ``(N, C, H, W)`` in [0, 1] or uint8."""
    plt = _pyplot()
    n = len(pixels)
    cols = min(4, max(1, n))
    rows = max(1, -(-n // cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.0 * cols, 3.3 * rows + 0.6), squeeze=False, layout="constrained")
    for k, ax in enumerate(axes.ravel()):
        ax.axis("off")
        if k >= n:
            continue
        img = np.asarray(pixels[k], dtype=np.float32)
        if pixels.dtype == np.uint8:
            img = img / 255
        img = img[0] if img.shape[0] == 1 else img.transpose(1, 2, 0)
        ax.imshow(np.clip(img, 0, 1), cmap="gray" if img.ndim == 2 else None, vmin=0, vmax=1)
        ax.set_title(f"true: {classes[true[k]]}\npredicted: {classes[predicted[k]]} ({100 * confidence[k]:.1f}%)",
                     fontsize=10, fontfamily=text_fonts())
    if n == 0:
        axes[0, 0].text(0.5, 0.5, "no mistakes", ha="center", va="center", fontsize=14)
    fig.suptitle(title, fontsize=12)
    _save(fig, path)
    return path

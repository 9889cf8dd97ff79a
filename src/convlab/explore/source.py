"""What the explorer looks at: a checkpoint, a run folder (maybe still being written) or a live run.

A :class:`Source` answers, at any moment: the model (rebuilt from a checkpoint's state, never
the training process's own object), its classes and preprocessing, the run's log records, the
first convolution's kernels and a *version* that changes whenever any of these do. Files are
only ever read, and only these names inside the run folder given on the command line:
:data:`RUN_FILES`. Nothing a request says becomes a path.
"""

from __future__ import annotations

import json
import os
import threading

import numpy as np

RUN_FILES = ("last.safetensors", "best.safetensors", "metrics.jsonl", "config.json")
MAX_LOG_BYTES = 64 * 1024 * 1024


def _read_records(path: str) -> list[dict]:
    """The complete JSON lines of a log that may be being appended to (a torn last line is skipped)."""
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_LOG_BYTES)
    except OSError:
        return []
    out = []
    for line in data.split(b"\n")[:-1]:  # the part after the last newline is not complete yet
        if line.strip():
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
    return out


def _first_conv(model):
    from .. import nn

    for name, m in model.named_modules():
        if isinstance(m, nn.Conv2d):
            return name, m
    return None, None


class Source:
    """A checkpoint file or a run folder. ``refresh()`` rereads the files when they changed."""

    live = False
    start = None  # (step, layer name, kernels) at the start of a live run

    def __init__(self, path: str):
        path = os.path.abspath(os.fspath(path))
        if os.path.isdir(path):
            self.run_dir, self.ckpt_path = path, None
        elif os.path.isfile(path):
            self.run_dir, self.ckpt_path = os.path.dirname(path), path
        else:
            raise FileNotFoundError(f"{path}: no such checkpoint or run folder")
        self._lock = threading.Lock()
        self._stamp = None
        self.version = 0
        self.ckpt = None
        self._model = None
        self.refresh()
        if self.ckpt_path is None and self.ckpt is None and not os.path.exists(self._file("metrics.jsonl")):
            raise FileNotFoundError(f"{path} is neither a checkpoint nor a run folder of convlab train "
                                    f"(it has none of {', '.join(RUN_FILES)})")

    def _file(self, name: str) -> str:
        assert name in RUN_FILES  # the only names ever joined to the run folder
        return os.path.join(self.run_dir, name)

    def _checkpoint_path(self) -> str | None:
        if self.ckpt_path is not None:
            return self.ckpt_path
        for name in ("last.safetensors", "best.safetensors"):
            if os.path.isfile(self._file(name)):
                return self._file(name)
        return None

    def _stat(self):
        out = []
        for p in (self._checkpoint_path(), self._file("metrics.jsonl")):
            try:
                st = os.stat(p) if p else None
                out.append((p, st.st_mtime_ns, st.st_size) if st else None)
            except OSError:
                out.append(None)
        return tuple(out)

    def refresh(self) -> bool:
        """Reread what changed on disk; True when anything did (then ``version`` grows)."""
        from ..train import load_checkpoint

        with self._lock:
            stamp = self._stat()
            if stamp == self._stamp:
                return False
            ckpt_stamp = stamp[0]
            if ckpt_stamp and (self._stamp is None or self._stamp[0] != ckpt_stamp):
                self.ckpt = load_checkpoint(ckpt_stamp[0])
                self._model = None
            self._stamp = stamp
            self.version += 1
            return True

    # ------------------------------------------------------------------ what the views read
    @property
    def meta(self) -> dict:
        return dict((self.ckpt or {}).get("meta") or {})

    @property
    def has_model(self) -> bool:
        return self.ckpt is not None

    def model(self):
        """The model of the current checkpoint, in eval mode (built once per checkpoint version)."""
        from ..train import model_from_checkpoint

        with self._lock:
            if self.ckpt is None:
                raise LookupError("the run has no checkpoint yet (it is written at the end of each epoch)")
            if self._model is None:
                self._model = model_from_checkpoint(self.ckpt, self._checkpoint_path() or "checkpoint")
            return self._model

    def title(self) -> str:
        return self.meta.get("title") or os.path.basename(self._checkpoint_path() or self.run_dir)

    def records(self) -> list[dict]:
        return _read_records(self._file("metrics.jsonl"))

    def config(self) -> dict:
        cfg = self.meta.get("config")
        if cfg:
            return dict(cfg)
        try:
            with open(self._file("config.json"), "rb") as f:
                return json.loads(f.read(1 << 20))
        except (OSError, ValueError):
            return {}

    def step(self) -> int | None:
        return None if self.ckpt is None else int(self.ckpt.get("step", 0))

    def first_kernels(self):
        """``(layer name, weight array (O, I, kh, kw))`` of the first convolution, or ``(None, None)``."""
        if self.ckpt is None:
            return None, None
        name, conv = _first_conv(self.model())
        return (name, np.asarray(conv.weight.detach().numpy(), dtype=np.float32)) if conv is not None else (None, None)


class LiveSource(Source):
    """The run of ``convlab train --live``: the training process's model, read between steps.

    The views never run the training model itself (its training flags, hooks and buffers belong
    to the trainer): ``model()`` is a copy rebuilt from a snapshot of its state, refreshed at most
    every ``snapshot_every`` steps. Kernels are copied from the live weights at each tick.
    """

    live = True

    def __init__(self, model, run_dir: str, model_spec: dict, meta: dict, step_fn, snapshot_every: int = 50):
        self.run_dir, self.ckpt_path = os.path.abspath(run_dir), None
        self._lock = threading.Lock()
        self._train_model, self._spec, self._meta, self._step_fn = model, dict(model_spec), dict(meta), step_fn
        self._snapshot_every = max(1, int(snapshot_every))
        self._model, self._model_step = None, None
        self._stamp, self.version = None, 0
        self.ckpt = {"meta": self._meta, "model_spec": self._spec}
        self.start = (self.step(), *self.first_kernels())  # the kernels before training (or at the resumed step)

    def refresh(self) -> bool:
        stamp = (self._step_fn(), self._stat()[1])
        if stamp == self._stamp:
            return False
        self._stamp = stamp
        self.version += 1
        return True

    def step(self) -> int:
        return int(self._step_fn())

    def model(self):
        from .. import models
        from ..train import recipes  # noqa: F401 - registers the recipe models

        with self._lock:
            step = self.step()
            if self._model is None or step - self._model_step >= self._snapshot_every:
                state = {k: np.array(v.detach().numpy() if hasattr(v, "detach") else v, copy=True)
                         for k, v in self._train_model.state_dict().items()}
                model = models.get(self._spec["name"], **dict(self._spec.get("kwargs") or {}))
                model.load_state_dict(state)
                self._model, self._model_step = model.eval(), step
            return self._model

    def first_kernels(self):
        name, conv = _first_conv(self._train_model)
        return (name, np.array(conv.weight.detach().numpy(), dtype=np.float32, copy=True)) if conv is not None else (None, None)

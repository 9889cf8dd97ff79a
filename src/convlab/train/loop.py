"""The training loop: :class:`Trainer` / :func:`fit`, and :func:`evaluate`.

One step is the textbook one::

    logits = model(images); loss = loss_fn(logits, labels)
    optimizer.zero_grad(); loss.backward(); optimizer.step()

around which the trainer keeps a progress bar, validates every epoch, logs, writes the best
and last checkpoints, stops early, guards against NaN/Inf, and turns Ctrl-C into a
checkpoint. Resuming restores model, optimizer, scheduler, counters and every random state,
so an interrupted-and-resumed run ends with the same weights as an uninterrupted one.

Data-parallel training (``reducer=``, one process per MPI rank, see :mod:`convlab.distributed`)
is the same loop with one more call between ``backward()`` and the NaN check: the gradient
all-reduce. The loader serves each rank its rows of the global batch (``DataLoader(...,
num_replicas=W, rank=r)``); metrics are summed over the ranks; only the rank with
``is_main=True`` writes files and prints.
"""

from __future__ import annotations

import math
import os
import signal
import sys
import threading
import time

import numpy as np

from ..validate import ConvlabError
from . import checkpoint as ck
from .evaluation import _default_loss, evaluate
from .logs import RunLog, plot_curves, read_jsonl
from .steps import NonFiniteError, TrainingSteps


def _scheduler_interval(scheduler) -> str:
    return "batch" if type(scheduler).__name__ in ("OneCycleLR", "CyclicLR") else "epoch"


def _fmt_seconds(s: float) -> str:
    s = int(round(s))
    return f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"


class FitResult:
    """What :meth:`Trainer.fit` returns: ``history`` (epoch records), ``best``, ``stopped``
    ("completed", "early_stopping", "interrupted", "max_steps"), ``epoch``, ``step``, ``seconds``,
    ``last_checkpoint``, ``best_checkpoint``."""

    def __init__(self, **kw):
        self.__dict__.update(kw)

    def __repr__(self) -> str:
        return f"FitResult(stopped={self.stopped!r}, epoch={self.epoch}, step={self.step}, best={self.best})"


class _DeferredSigint:
    """While active (main thread only), the first Ctrl-C sets a flag that the loop checks between
    steps, so the checkpoint is written at a step boundary; a second Ctrl-C interrupts at once."""

    def __init__(self, say):
        self.requested = False
        self.say = say
        self.previous = None

    def __enter__(self):
        main = threading.current_thread() is threading.main_thread()
        if main and signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            self.previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        self.say("\ninterrupt: stopping after this step and saving a checkpoint (Ctrl-C again to stop at once)")

    def __exit__(self, *exc):
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)
        return False


class Trainer(TrainingSteps):
    """Train a classifier (or any model with a loss) with checkpoints, logs and exact resume.

    Args:
        model: a :class:`convlab.nn.Module`.
        optimizer: a :mod:`convlab.optim` optimizer over ``model.parameters()``.
        loss_fn: ``loss_fn(logits, targets) -> scalar Tensor`` (default ``nn.CrossEntropyLoss()``).
        scheduler: an ``lr_scheduler``; stepped every batch for ``OneCycleLR``/``CyclicLR``, else every epoch
            (``scheduler_interval`` overrides).
        out_dir: where ``last.safetensors``, ``best.safetensors``, ``metrics.jsonl``, ``metrics.csv`` and
            ``curves.png`` go (None: nothing is written). Only files inside it are written.
        model_spec: ``{"name": ..., "kwargs": {...}}`` recorded in checkpoints so the model can be rebuilt.
        meta: anything JSON-like recorded in checkpoints (dataset, classes, preprocessing).
        preprocessing: the :class:`~convlab.data.preprocess.Preprocessing` (or its dict) that turns a
            picture into this model's input; recorded in every checkpoint (``meta["preprocessing"]``), so
            ``convlab evaluate``/``predict`` can use them. Default: the training dataset's
            ``preprocessing`` (an ``ImageFolder`` has one), when it has one.
        classes: the class names, recorded in checkpoints (default: the training dataset's ``classes``).
        early_stopping: stop after this many epochs without improvement of ``monitor`` (None: never).
        monitor: ``"val_accuracy"`` (default with validation), ``"val_loss"``, ``"train_loss"`` or ``"train_accuracy"``.
        progress: show tqdm bars (default: when stderr is a terminal).
        print_fn: receives the one-line epoch summaries (None: silent).
        log_every: a step record (loss, lr) goes to the JSONL log every this many steps.
        reducer: a :class:`convlab.distributed.GradientReducer` for data-parallel training (every rank
            runs a Trainer; the training loader must serve this rank's rows, ``DataLoader(...,
            num_replicas=W, rank=r)``, and evaluation loaders this rank's part of the data). After
            ``backward()`` the gradients, the loss and any stop request are all-reduced, so every rank
            takes the same step, raises the same NaN error and stops at the same step. None: one process.
        is_main: this process writes checkpoints and logs, prints and shows progress (False on ranks > 0).
        on_epoch_end: called as ``on_epoch_end(trainer, record)`` after each epoch's checkpoint and log
            records are written (for example to flush per-layer statistics beside them).
        tensorboard: a directory for TensorBoard event files of the same records, plus the first layer's
            kernels and weight histograms each epoch (:mod:`convlab.train.tensorboard`; needs tensorboardX).
        ema: an :class:`~convlab.train.ema.EMA` of the model's weights, updated after every step;
            validation uses the averaged weights, and checkpoints hold them as ``model`` (what
            ``evaluate``/``predict`` load) with the training weights as ``training_model`` (for resuming).
    """

    def __init__(self, model, optimizer, loss_fn=None, scheduler=None, *, scheduler_interval: str | None = None,
                 out_dir: str | None = None, model_spec: dict | None = None, meta: dict | None = None,
                 early_stopping: int | None = None, monitor: str | None = None, min_delta: float = 0.0,
                 progress: bool | None = None, print_fn=print, log_every: int = 20, plot: bool = True,
                 reducer=None, is_main: bool = True, on_epoch_end=None, tensorboard: str | None = None,
                 preprocessing=None, classes=None, ema=None):
        self.model, self.optimizer, self.scheduler, self.ema = model, optimizer, scheduler, ema
        self.loss_fn = loss_fn or _default_loss()
        self.scheduler_interval = scheduler_interval or _scheduler_interval(scheduler)
        if self.scheduler_interval not in ("batch", "epoch"):
            raise ConvlabError(f"scheduler_interval must be 'batch' or 'epoch', got {scheduler_interval!r}")
        self.out_dir, self.meta = out_dir, dict(meta or {})
        # a zoo model (convlab.models.get) knows how to rebuild itself
        self.model_spec = model_spec if model_spec is not None else getattr(model, "zoo_spec", None)
        if preprocessing is not None:
            from ..data.preprocess import Preprocessing

            self.meta["preprocessing"] = Preprocessing.from_dict(preprocessing).to_dict()
        if classes is not None:
            self.meta["classes"] = list(classes)
        self.early_stopping, self.monitor, self.min_delta = early_stopping, monitor, min_delta
        self.reducer, self.is_main, self.on_epoch_end = reducer, bool(is_main), on_epoch_end
        self.progress = (sys.stderr.isatty() if progress is None else progress) and self.is_main
        self.print_fn = print_fn if self.is_main else None
        self.log_every, self.plot = max(1, int(log_every)), plot
        self.epoch = 0  # completed epochs
        self.step = 0  # completed optimizer steps
        self.batch_in_epoch = 0  # completed batches of the unfinished epoch
        self.history: list[dict] = []
        self.best: dict | None = None
        self.bad_epochs = 0
        self.loader_seed: int | None = None
        self.log = RunLog(out_dir) if out_dir and self.is_main else None
        self._named = [(n, p) for n, p in model.named_parameters()]
        self.tensorboard, self.tb = tensorboard if self.is_main else None, None
        self._interrupted = False
        self._stop = False  # a stop (Ctrl-C) requested on any rank, learnt at the last all-reduce

    # ------------------------------------------------------------------ paths and state
    def path(self, name: str) -> str | None:
        return os.path.join(self.out_dir, name) if self.out_dir else None

    def state_dict(self) -> dict:
        weights = {"model": self.model.state_dict()}
        if self.ema is not None:  # inference reads "model": the average; resuming also needs the training weights
            weights = {"model": self.ema.state_dict(), "training_model": self.model.state_dict(),
                       "ema": {"decay": self.ema.decay, "updates": self.ema.updates}}
        return {
            "model_spec": self.model_spec,
            **weights,
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
            "epoch": self.epoch, "step": self.step, "batch_in_epoch": self.batch_in_epoch,
            "rng": ck.rng_state(),
            "loader": {"seed": self.loader_seed},
            "history": self.history, "best": self.best,
            "early_stopping": {"bad_epochs": self.bad_epochs},
            "meta": self.meta,
        }

    def load_state_dict(self, state: dict) -> None:
        self.model.load_state_dict(state.get("training_model", state["model"]))
        if self.ema is not None:
            if state.get("ema") is None:
                raise ConvlabError("this checkpoint holds no weight average (its run trained without EMA); "
                                   "resume it without one")
            self.ema.load_state_dict(state["model"], int(state["ema"]["updates"]))
        if state.get("optimizer") is not None:
            self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler is not None and state.get("scheduler") is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        self.epoch, self.step = int(state["epoch"]), int(state["step"])
        self.batch_in_epoch = int(state.get("batch_in_epoch", 0))
        self.history = list(state.get("history") or [])
        self.best = state.get("best")
        self.bad_epochs = int((state.get("early_stopping") or {}).get("bad_epochs", 0))
        self.loader_seed = (state.get("loader") or {}).get("seed")
        ck.restore_rng_state(state["rng"])

    def save(self, name: str, state: dict | None = None) -> str | None:
        path = self.path(name)
        if path and self.is_main:
            ck.save_checkpoint(path, state or self.state_dict())
        return path

    def resume(self, path) -> dict:
        """Continue from a checkpoint written by a trainer (model, optimizer, scheduler, counters, RNG)."""
        state = ck.load_checkpoint(path)
        self.load_state_dict(state)
        if self.log:  # the log's records after the checkpoint are redone; its epoch records missing are restored
            self.log.truncate_after(self.step, self.history)
        return state

    # ------------------------------------------------------------------ fit
    def fit(self, train_loader, val_loader=None, epochs: int = 1, resume=None, max_steps: int | None = None) -> FitResult:
        """Train until ``epochs`` epochs are complete (counting those of a resumed checkpoint).

        Returns a :class:`FitResult`. Ctrl-C (or a ``KeyboardInterrupt`` raised inside a step)
        writes ``last.safetensors`` at the last completed step and returns with
        ``stopped="interrupted"``. A NaN/Inf loss, gradient or parameter raises
        :class:`NonFiniteError` naming the step, and the last good checkpoint is left as it was.
        ``max_steps`` stops (with a checkpoint) after that many steps in all.
        """
        if self.out_dir and self.is_main:
            os.makedirs(self.out_dir, exist_ok=True)
        self._meta_from(getattr(train_loader, "dataset", None))
        if resume is not None:
            self.resume(resume)
        elif self.step == 0 and self.log:  # a new run: records left in out_dir by an earlier run are not ours
            self.log.truncate_after(0)
        if self.tensorboard and self.tb is None:
            from .tensorboard import TensorBoardLog

            self.tb = TensorBoardLog(self.tensorboard, self.model, purge_step=self.step + 1)
        if self.loader_seed is None:
            self.loader_seed = train_loader.seed
        train_loader.seed = self.loader_seed
        monitor = self.monitor or ("val_accuracy" if val_loader is not None else "train_loss")
        higher_better = monitor.endswith("accuracy")
        say = self.print_fn or (lambda *a, **k: None)
        started = time.time()
        stopped = "completed"
        seconds_per_epoch: list[float] = []
        # NumPy's overflow/invalid warnings are silenced: the guard above checks the loss, the
        # gradients, the parameters and the buffers and stops with one message naming the step
        with _DeferredSigint(say) as sigint, np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            try:
                while self.epoch < epochs:
                    epoch = self.epoch
                    record = self._train_epoch(train_loader, epoch, epochs, sigint, max_steps)
                    if record is None:  # interrupted or max_steps inside the epoch
                        stopped = "interrupted" if self._stop_seen(sigint) or self._interrupted else "max_steps"
                        self.save("last.safetensors")
                        break
                    if self.scheduler is not None and self.scheduler_interval == "epoch":
                        self.scheduler.step()
                    self._check_params(f"after epoch {epoch + 1} (step {self.step})")
                    if val_loader is not None:
                        with self.evaluation_weights():
                            val = evaluate(self.model, val_loader, self.loss_fn, progress=self.progress,
                                           distributed=self.reducer is not None)
                        record.update(val_loss=val["loss"], val_accuracy=val["accuracy"], val_top5=val.get("top5"),
                                      val_per_class=val.get("per_class"))
                        if not math.isfinite(val["loss"]):
                            raise NonFiniteError(f"the validation loss became {val['loss']} after epoch {epoch + 1} "
                                                 f"(step {self.step})")
                    seconds_per_epoch.append(record["epoch_seconds"])
                    self.history.append({k: v for k, v in record.items() if k != "kind"})
                    improved = self._update_best(record, monitor, higher_better)
                    if improved:
                        self.save("best.safetensors")
                    self.save("last.safetensors")
                    self._log_epoch(record)
                    if self.on_epoch_end is not None:
                        self.on_epoch_end(self, record)
                    remaining = (epochs - self.epoch) * float(np.mean(seconds_per_epoch))
                    say(self._summary(record, epochs, remaining, improved))
                    if self.early_stopping is not None and self.bad_epochs >= self.early_stopping:
                        stopped = "early_stopping"
                        say(f"early stopping: {monitor} has not improved for {self.bad_epochs} epochs "
                            f"(best {self.best['value']:.4f} at epoch {self.best['epoch']})")
                        break
                    if self._stop_requested(sigint):
                        stopped = "interrupted"
                        break
            except KeyboardInterrupt:  # a second Ctrl-C, or one outside the main thread
                stopped = "interrupted"
                self.save("last.safetensors")
            finally:
                if self.tb is not None:
                    self.tb.close()
                    self.tb = None
        return FitResult(history=self.history, best=self.best, stopped=stopped, epoch=self.epoch, step=self.step,
                         batch_in_epoch=self.batch_in_epoch,
                         seconds=time.time() - started, last_checkpoint=self.path("last.safetensors"),
                         best_checkpoint=self.path("best.safetensors") if self.best else None, monitor=monitor)

    def evaluation_weights(self):
        """A context in which the model holds the weights to evaluate: the EMA's when there is one."""
        import contextlib

        return self.ema.applied(self.model) if self.ema is not None else contextlib.nullcontext(self.model)

    def _meta_from(self, dataset) -> None:
        """Record the training dataset's preprocessing and classes, unless given."""
        while dataset is not None and "preprocessing" not in self.meta:
            spec = getattr(dataset, "preprocessing", None)
            if spec is not None:
                self.meta["preprocessing"] = spec.to_dict()
                break
            dataset = getattr(dataset, "dataset", None)  # through a Subset
        if "classes" not in self.meta and dataset is not None and getattr(dataset, "classes", None):
            self.meta["classes"] = list(dataset.classes)

    def _stop_seen(self, sigint) -> bool:
        """Ctrl-C seen here or, in data-parallel training, on any rank as of the last all-reduce (no collective call)."""
        return sigint.requested if self.reducer is None else self._stop

    def _stop_requested(self, sigint) -> bool:
        """Ctrl-C seen here or, in data-parallel training, on any rank (a collective call)."""
        if self.reducer is not None:
            from .. import distributed as dist

            self._stop = self._stop or dist.allreduce_(np.array([float(sigint.requested)]))[0] > 0
        return self._stop_seen(sigint)

    def _update_best(self, record, monitor, higher_better) -> bool:
        value = record.get(monitor)
        if value is None or not math.isfinite(value):
            return False
        if self.best is None:
            better = True
        else:
            delta = value - self.best["value"] if higher_better else self.best["value"] - value
            better = delta > self.min_delta
        if better:
            self.best = {"metric": monitor, "value": float(value), "epoch": record["epoch"], "step": record["step"]}
            self.bad_epochs = 0
        else:
            self.bad_epochs += 1
        return better

    def _log_epoch(self, record) -> None:
        if self.tb:
            self.tb.epoch(record)
        if not self.log:
            return
        self.log.write({k: v for k, v in record.items() if k != "val_per_class"})
        self.log.epoch(record)
        if self.plot:
            try:
                plot_curves(read_jsonl(self.log.jsonl), self.path("curves.png"), title=self.meta.get("title", ""))
            except ImportError:  # matplotlib missing: the logs are still there
                self.plot = False

    def _summary(self, r, epochs, remaining, improved) -> str:
        parts = [f"epoch {r['epoch']}/{epochs}", f"train loss {r['train_loss']:.4f}"]
        if r.get("train_accuracy") is not None:
            parts[-1] += f" acc {100 * r['train_accuracy']:.2f}%"
        if r.get("val_loss") is not None:
            parts.append(f"val loss {r['val_loss']:.4f} acc {100 * r['val_accuracy']:.2f}%" + (" *" if improved else ""))
        parts.append(f"{_fmt_seconds(r['epoch_seconds'])} ({r['images_per_second']:,.0f} img/s)")
        if remaining > 0:
            parts.append(f"ETA {_fmt_seconds(remaining)}")
        return " | ".join(parts)


def fit(model, train_loader, val_loader=None, optimizer=None, loss_fn=None, epochs: int = 1, scheduler=None,
        out_dir: str | None = None, resume=None, **kwargs) -> FitResult:
    """Train ``model``: ``Trainer(model, optimizer, loss_fn, scheduler, out_dir=..., **kwargs).fit(...)``.

    ``optimizer`` defaults to ``Adam(model.parameters(), lr=1e-3)``. See :class:`Trainer` for the options.
    """
    if optimizer is None:
        from ..optim import Adam

        optimizer = Adam(model.parameters(), lr=1e-3)
    max_steps = kwargs.pop("max_steps", None)
    trainer = Trainer(model, optimizer, loss_fn, scheduler, out_dir=out_dir, **kwargs)
    return trainer.fit(train_loader, val_loader, epochs=epochs, resume=resume, max_steps=max_steps)


__all__ = ["FitResult", "NonFiniteError", "Trainer", "evaluate", "fit"]

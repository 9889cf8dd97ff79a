"""Every ``convlab train`` flag and default reaches what it names.

Each test runs the command in-process on the synthetic lines data and stops it where training
would begin (``Trainer.fit`` is replaced by a recorder), then looks at the objects the command
built: the model, the optimizer's groups, the scheduler, the loaders and the trainer. A flag that
the command parsed but dropped, or a default that changed, fails here. The default recipe's values
are written out literally.
"""

import json

import numpy as np
import pytest

from convlab import optim
from convlab.cli import build_parser, main
from convlab.optim import lr_scheduler as S
from convlab.train import loop, recipes

TINY = ["--dataset", "lines", "--limit-train", "48", "--limit-test", "16", "-q"]


class Stop(Exception):
    """Raised by the recorder in place of training."""


@pytest.fixture
def built(monkeypatch, tmp_path):
    """``run(*flags)``: ``convlab train TINY *flags``, stopped at ``Trainer.fit``; returns what it built:
    ``trainer``, ``train_loader``, ``val_loader``, ``epochs`` and the written ``config``."""

    def run(*flags):
        seen = {}

        def record(self, train_loader, val_loader=None, epochs=1, resume=None, max_steps=None):
            seen.update(trainer=self, train_loader=train_loader, val_loader=val_loader, epochs=epochs)
            raise Stop

        monkeypatch.setattr(loop.Trainer, "fit", record)
        out = tmp_path / f"run{len(list(tmp_path.iterdir()))}"
        assert main(["train", *TINY, "--out", str(out), *flags]) == 1  # the recorder's Stop: one line, exit 1
        seen["config"] = json.loads((out / "config.json").read_text())
        return seen

    return run


def test_the_default_recipe():
    """``convlab train`` with no flags: CompactCNN on Fashion-MNIST, 4 epochs of batch 128, AdamW at
    3e-3 with weight decay 5e-4 and a one-cycle schedule, no validation split, seed 0."""
    assert recipes.DEFAULT == {"model": "compactcnn", "dataset": "fashion-mnist", "epochs": 4, "batch_size": 128,
                               "optimizer": "adamw", "lr": 3e-3, "weight_decay": 5e-4, "schedule": "onecycle",
                               "val_split": None}
    args = build_parser().parse_args(["train"])
    assert (args.model, args.dataset, args.batch_size, args.optimizer, args.lr, args.weight_decay, args.schedule) == (
        "compactcnn", "fashion-mnist", 128, "adamw", 3e-3, 5e-4, "onecycle")
    assert (args.epochs, args.seed, args.augment, args.erase, args.pad, args.early_stopping, args.val_split) == (
        None, 0, False, 0.0, 0, None, None)


def test_defaults_reach_the_built_objects(built):
    seen = built()
    trainer, cfg = seen["trainer"], seen["config"]
    assert type(trainer.model).__name__ == "CompactCNN" and cfg["model_spec"]["name"] == "compactcnn"
    opt = trainer.optimizer
    assert type(opt) is optim.AdamW
    # one cycle: from 3e-3 / 25 up to 3e-3
    assert opt.param_groups[0]["max_lr"] == 3e-3 and opt.param_groups[0]["initial_lr"] == 3e-3 / 25
    assert opt.param_groups[0]["weight_decay"] == 5e-4
    assert type(trainer.scheduler) is S.OneCycleLR and trainer.scheduler_interval == "batch"
    assert trainer.scheduler.total_steps == 4 * len(seen["train_loader"])
    assert seen["epochs"] == 4 == cfg["epochs"]
    assert seen["train_loader"].batch_size == 128 and cfg["batch_size"] == 128
    assert trainer.early_stopping is None
    assert trainer.progress is False  # -q, and not a terminal
    assert cfg["seed"] == 0 and cfg["pad"] == 0


@pytest.mark.parametrize("name, cls, extra", [
    ("sgd", optim.SGD, {"momentum": 0.9, "nesterov": True}),
    ("adam", optim.Adam, {}),
    ("adamw", optim.AdamW, {}),
])
def test_optimizer_lr_and_weight_decay(built, name, cls, extra):
    seen = built("--optimizer", name, "--lr", "0.02", "--weight-decay", "0.125", "--schedule", "none")
    opt = seen["trainer"].optimizer
    assert type(opt) is cls
    group = opt.param_groups[0]
    assert group["lr"] == 0.02 and group["weight_decay"] == 0.125
    assert {k: group[k] for k in extra} == extra
    assert sum(len(g["params"]) for g in opt.param_groups) == len(list(seen["trainer"].model.parameters()))


@pytest.mark.parametrize("schedule", ["cosine", "onecycle", "step", "none"])
def test_schedule(built, schedule):
    seen = built("--schedule", schedule, "--epochs", "3", "--lr", "0.01")
    sched, steps = seen["trainer"].scheduler, len(seen["train_loader"])
    if schedule == "none":
        assert sched is None
    elif schedule == "cosine":
        assert type(sched) is S.CosineAnnealingLR and sched.T_max == 3 and sched.eta_min == 0.0
        assert seen["trainer"].scheduler_interval == "epoch"
    elif schedule == "onecycle":
        assert type(sched) is S.OneCycleLR and sched.total_steps == 3 * steps
        assert seen["trainer"].scheduler_interval == "batch"
    else:
        assert type(sched) is S.StepLR and sched.step_size == 1 and sched.gamma == 0.1
    assert seen["config"]["schedule"] == schedule and seen["epochs"] == 3


def test_batch_size_epochs_seed_and_early_stopping(built):
    seen = built("--batch-size", "8", "--epochs", "2", "--seed", "7", "--early-stopping", "3", "--val-split", "8")
    assert seen["train_loader"].batch_size == 8 and seen["epochs"] == 2
    assert seen["trainer"].early_stopping == 3 and seen["config"]["early_stopping"] == 3
    assert seen["config"]["seed"] == 7 and seen["val_loader"] is not None and len(seen["val_loader"].dataset) == 8


def test_seed_changes_the_initial_weights(built):
    a = [p.detach().numpy().copy() for p in built("--seed", "1")["trainer"].model.parameters()]
    b = [p.detach().numpy().copy() for p in built("--seed", "1")["trainer"].model.parameters()]
    c = [p.detach().numpy().copy() for p in built("--seed", "2")["trainer"].model.parameters()]
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not all(np.array_equal(x, z) for x, z in zip(a, c))


def test_model_flag(built):
    seen = built("--model", "lenet5", "--pad", "10")  # the 8x8 lines padded to the 28x28 LeNet-5 takes
    assert type(seen["trainer"].model).__name__ == "LeNet5" and seen["config"]["model_spec"]["name"] == "lenet5"


def test_pad_adds_zero_border_to_every_batch(built):
    plain = next(iter(built("--schedule", "none")["train_loader"]))[0].numpy()
    seen = built("--pad", "3", "--schedule", "none", "--no-normalize")
    padded = next(iter(seen["train_loader"]))[0].numpy()
    assert padded.shape[2:] == (plain.shape[2] + 6, plain.shape[3] + 6)
    border = np.ones(padded.shape[2:], bool)
    border[3:-3, 3:-3] = False
    assert (padded[:, :, border] == 0).all() and seen["config"]["pad"] == 3
    assert padded[:, :, 3:-3, 3:-3].any()


def test_progress_flag_without_quiet(monkeypatch, tmp_path):
    """--progress turns the bar on on a non-terminal stderr, --no-progress off on a terminal."""
    import sys

    seen = {}

    def record(self, *a, **k):
        seen["progress"] = self.progress
        raise Stop

    for flag, tty, expected in (("--progress", False, True), ("--no-progress", True, False), (None, True, True)):

        monkeypatch.setattr(loop.Trainer, "fit", record)
        monkeypatch.setattr(sys.stderr, "isatty", lambda tty=tty: tty, raising=False)
        flags = [f for f in TINY if f != "-q"] + ([flag] if flag else [])
        assert main(["train", *flags, "--out", str(tmp_path / f"p{flag}")]) == 1
        assert seen["progress"] is expected, flag

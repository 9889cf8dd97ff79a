"""convlab.train: metrics, evaluate, logs, early stopping, the NaN guard, and exact resume."""

import json
import os

import numpy as np
import pytest

import convlab
from convlab import nn, optim
from convlab.data import Compose, DataLoader, LinesDataset, RandomCrop, RandomHorizontalFlip
from convlab.train import (
    NonFiniteError,
    Trainer,
    confusion_matrix,
    evaluate,
    fit,
    load_checkpoint,
    model_from_checkpoint,
    per_class_accuracy,
    topk_accuracy,
)
from convlab.train.recipes import CompactCNN


def tiny_model(seed=0):
    convlab.manual_seed(seed)
    return CompactCNN(in_channels=1, num_classes=2, width=4, hidden=8, dropout=0.3, image_size=8)


def setup(seed=0, loader_seed=5, lr=0.01):
    """A model with batch norm and dropout, AdamW + one-cycle, shuffled and augmented lines."""
    model = tiny_model(seed)
    aug = Compose([RandomCrop(8, padding=1), RandomHorizontalFlip()])
    train = DataLoader(LinesDataset(n=80, seed=1, transform=aug), batch_size=16, shuffle=True, seed=loader_seed, prefetch=1)
    val = DataLoader(LinesDataset(n=32, seed=2), batch_size=16)
    opt = optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    sched = optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=3 * len(train))
    return model, opt, sched, train, val


def weights(model):
    return {k: v.numpy().copy() for k, v in model.state_dict().items()}


def assert_same_weights(a, b):
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


def spec():
    return {"name": "compactcnn", "kwargs": {"in_channels": 1, "num_classes": 2, "width": 4, "hidden": 8,
                                             "dropout": 0.3, "image_size": 8}}


def test_metrics():
    logits = np.array([[3.0, 2, 1, 0], [0, 3, 2, 1], [0, 1, 2, 3], [3, 0, 1, 2]])
    labels = np.array([0, 2, 1, 3])
    assert topk_accuracy(logits, labels, k=1) == 0.25
    assert topk_accuracy(logits, labels, k=2) == 0.75
    assert topk_accuracy(logits, labels, k=10) == 1.0
    cm = confusion_matrix(logits.argmax(1), labels, 4)
    assert cm.sum() == 4 and cm[0, 0] == 1 and cm[2, 1] == 1
    pc = per_class_accuracy(np.array([[3, 1], [0, 0]]))
    assert pc[0] == 0.75 and np.isnan(pc[1])


def test_evaluate_and_model_mode():
    model, *_ , val = setup()
    model.train()
    r = evaluate(model, val)
    assert model.training and r["n"] == 32 and len(r["per_class"]) == 2
    assert sum(map(sum, r["confusion"])) == 32 and 0 <= r["accuracy"] <= 1 and r["top5"] == 1.0


def test_fit_writes_logs_checkpoints_and_learns(tmp_path):
    model, opt, sched, train, val = setup(lr=0.05)
    lines = []
    result = fit(model, train, val, opt, epochs=3, scheduler=sched, out_dir=str(tmp_path), print_fn=lines.append, log_every=2)
    assert result.stopped == "completed" and result.epoch == 3 and result.step == 15
    assert len(lines) == 3 and "val loss" in lines[0] and "img/s" in lines[0]
    records = [json.loads(x) for x in open(tmp_path / "metrics.jsonl")]
    assert [r["epoch"] for r in records if r["kind"] == "epoch"] == [1, 2, 3]
    assert sum(r["kind"] == "step" for r in records) == 7
    csv_rows = open(tmp_path / "metrics.csv").read().splitlines()
    assert csv_rows[0].startswith("epoch,step,lr,train_loss") and len(csv_rows) == 4
    assert (tmp_path / "curves.png").stat().st_size > 1000
    assert result.history[-1]["val_accuracy"] > 0.9
    ckpt = load_checkpoint(tmp_path / "last.safetensors")
    assert ckpt["epoch"] == 3 and ckpt["step"] == 15 and ckpt["batch_in_epoch"] == 0
    assert os.path.exists(result.best_checkpoint) and result.best["metric"] == "val_accuracy"
    # the model can be rebuilt from the checkpoint alone
    trainer_ckpt = dict(ckpt, model_spec=spec())
    rebuilt = model_from_checkpoint(trainer_ckpt)
    assert_same_weights(weights(rebuilt), weights(model))


def run_uninterrupted(tmp_path):
    model, opt, sched, train, val = setup()
    Trainer(model, opt, scheduler=sched, out_dir=str(tmp_path / "full"), print_fn=None).fit(train, val, epochs=3)
    return weights(model), opt


class InterruptAt:
    """A loss that raises KeyboardInterrupt on its n-th call: after the forward pass has run
    (batch norm statistics and dropout's random numbers already drawn) but before the update."""

    def __init__(self, n):
        self.n, self.calls, self.loss = n, 0, nn.CrossEntropyLoss()

    def __call__(self, logits, labels):
        self.calls += logits.requires_grad  # count training steps, not validation batches
        if self.calls == self.n and logits.requires_grad:
            raise KeyboardInterrupt
        return self.loss(logits, labels)


@pytest.mark.parametrize("stop_at", [8, 10])  # mid-epoch 2, and the first step of epoch 3
def test_interrupted_and_resumed_equals_uninterrupted(tmp_path, stop_at):
    expected, expected_opt = run_uninterrupted(tmp_path)

    model, opt, sched, train, val = setup()
    part = Trainer(model, opt, InterruptAt(stop_at + 1), sched, out_dir=str(tmp_path / "run"), print_fn=None)
    result = part.fit(train, val, epochs=3)
    assert result.stopped == "interrupted" and result.step == stop_at
    ckpt = load_checkpoint(tmp_path / "run" / "last.safetensors")
    assert ckpt["step"] == stop_at and ckpt["batch_in_epoch"] == stop_at % 5

    # a fresh process: different initial weights and loader seed, all restored from the checkpoint
    model2, opt2, sched2, train2, val2 = setup(seed=123, loader_seed=77)
    convlab.manual_seed(999)
    resumed = Trainer(model2, opt2, scheduler=sched2, out_dir=str(tmp_path / "run"), print_fn=None)
    result2 = resumed.fit(train2, val2, epochs=3, resume=tmp_path / "run" / "last.safetensors")
    assert result2.stopped == "completed" and result2.step == 15 and len(result2.history) == 3
    assert_same_weights(weights(model2), expected)
    for (a, b) in zip(opt2.state_dict()["param_groups"], expected_opt.state_dict()["param_groups"]):
        assert a["lr"] == b["lr"]
    epochs_logged = [json.loads(x)["epoch"] for x in open(tmp_path / "run" / "metrics.jsonl") if '"kind": "epoch"' in x]
    assert epochs_logged == [1, 2, 3]


def test_max_steps_then_resume_at_an_epoch_boundary(tmp_path):
    expected, _ = run_uninterrupted(tmp_path)
    model, opt, sched, train, val = setup()
    t = Trainer(model, opt, scheduler=sched, out_dir=str(tmp_path / "run"), print_fn=None)
    assert t.fit(train, val, epochs=3, max_steps=5).stopped == "max_steps"
    model2, opt2, sched2, train2, val2 = setup(seed=9)
    resumed = Trainer(model2, opt2, scheduler=sched2, print_fn=None)
    resumed.fit(train2, val2, epochs=3, resume=tmp_path / "run" / "last.safetensors")
    assert_same_weights(weights(model2), expected)


class PoisonAt:
    """A loss whose value stays finite but whose gradient for ``fc2.bias`` is NaN from call ``n`` on:
    d sqrt(0 * b) / db = 0 * inf."""

    def __init__(self, model, n):
        self.model, self.n, self.calls, self.loss = model, n, 0, nn.CrossEntropyLoss()

    def __call__(self, logits, labels):
        self.calls += self.model.training
        loss = self.loss(logits, labels)
        if self.model.training and self.calls >= self.n:
            loss = loss + convlab.sqrt(self.model.fc2.bias * 0.0).sum()
        return loss


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_nan_guard_names_step_and_parameter_and_keeps_last_good_checkpoint(tmp_path):
    model, opt, sched, train, val = setup()
    t = Trainer(model, opt, PoisonAt(model, 7), sched, out_dir=str(tmp_path), print_fn=None)
    with pytest.raises(NonFiniteError, match=r"gradient of parameter 'fc2.bias' became nan at step 7 \(epoch 2, batch 2\)"):
        t.fit(train, val, epochs=3)
    ckpt = load_checkpoint(tmp_path / "last.safetensors")  # written after epoch 1, not touched since
    assert ckpt["epoch"] == 1 and ckpt["step"] == 5
    assert all(np.isfinite(p.detach().numpy()).all() for p in model.parameters())


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_nan_loss(tmp_path):
    model, opt, sched, train, val = setup()

    def bad_loss(logits, labels):
        return nn.CrossEntropyLoss()(logits, labels) * float("nan")

    with pytest.raises(NonFiniteError, match=r"the loss became nan at step 1 \(epoch 1, batch 1\)"):
        Trainer(model, opt, bad_loss, out_dir=str(tmp_path), print_fn=None).fit(train, val, epochs=1)
    assert not (tmp_path / "last.safetensors").exists()


def test_early_stopping(tmp_path):
    model, _, _, train, val = setup()
    opt = optim.SGD(model.parameters(), lr=0.0)
    said = []
    result = Trainer(model, opt, early_stopping=2, print_fn=said.append).fit(train, val, epochs=10)
    assert result.stopped == "early_stopping" and result.epoch == result.best["epoch"] + 2 < 10
    assert "early stopping" in said[-1]


def test_epoch_scheduler_and_train_loss_monitor():
    model, _, _, train, _ = setup()
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    sched = optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    result = Trainer(model, opt, scheduler=sched, print_fn=None).fit(train, None, epochs=2)
    assert result.monitor == "train_loss" and opt.param_groups[0]["lr"] == pytest.approx(0.025)
    assert result.last_checkpoint is None


@pytest.mark.parametrize("name", ["compactcnn", "compactcnn_deep", "lenet5"])
def test_benchmark_torch_twin_matches_the_convlab_model(name):
    """The torch twins benchmarks/accuracy.py trains (convlab.bench.torch_twin, called with the
    model spec as that script calls it) compute what the convlab models compute, from the same weights."""
    from convlab.bench import torch_twin
    from convlab.train.recipes import build_model
    from helpers import require_torch

    torch = require_torch()
    model, spec = build_model(name, 1, 10, (28, 28))
    twin = torch_twin(name, seed=0, **spec["kwargs"])
    twin.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in model.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((4, 1, 28, 28)).astype(np.float32)
    model.eval()
    twin.eval()
    with torch.no_grad():
        expected = twin(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(model(convlab.tensor(x)).detach().numpy(), expected, rtol=1e-4, atol=1e-5)


def test_trainer_hooks_for_data_parallel_ranks(tmp_path, capsys):
    """The data-parallel path (a reducer; here one process) trains exactly like the plain loop, and a
    rank that is not the main one writes and prints nothing."""
    from convlab.distributed import GradientReducer

    model, opt, sched, train, val = setup()
    plain = Trainer(model, opt, scheduler=sched, out_dir=str(tmp_path / "plain"), plot=False).fit(train, val, epochs=2)
    expected = weights(model)
    capsys.readouterr()

    model, opt, sched, train, val = setup()
    trainer = Trainer(model, opt, scheduler=sched, out_dir=str(tmp_path / "rank1"), plot=False,
                      reducer=GradientReducer(model), is_main=False)
    result = trainer.fit(train, val, epochs=2)
    assert_same_weights(weights(model), expected)
    assert [r["val_accuracy"] for r in result.history] == [r["val_accuracy"] for r in plain.history]
    assert [r["train_loss"] for r in result.history] == pytest.approx([r["train_loss"] for r in plain.history], rel=1e-6)
    assert not (tmp_path / "rank1").exists() and capsys.readouterr().out == ""
    assert result.last_checkpoint == str(tmp_path / "rank1" / "last.safetensors")

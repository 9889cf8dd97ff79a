"""The losses and accuracies that training prints and logs, recomputed independently.

A learning rate of 0 keeps the model fixed through the epoch, so every batch's logits are those of
the same weights; torch recomputes them (the model is copied into a plain-torch linear layer) and
gives the per-sample cross-entropy, the epoch's weighted mean loss (batches of 4, 4 and 2: an
unweighted mean of batch means would differ) and the accuracy. The printed epoch line, the
metrics.jsonl records (epoch and every step) and FitResult's history must all say the same.
"""

import re

import numpy as np

import convlab
from convlab import nn, optim
from convlab.data import ArrayDataset, DataLoader
from convlab.train import Trainer
from convlab.train.logs import read_jsonl
from helpers import no_plots, require_torch

N_TRAIN, N_VAL, CLASSES, FEATURES = 10, 7, 3, 12


def _data(n, seed):
    rng = np.random.default_rng(seed)
    images = rng.standard_normal((n, 1, 3, 4)).astype(np.float32)
    labels = rng.integers(0, CLASSES, n)
    labels[:3] = [0, 1, 2]
    return images, labels


def _torch_metrics(torch, model, images, labels):
    """Per-sample cross-entropy, mean loss and accuracy of the linear model, in float64 torch."""
    w = torch.tensor(model[1].weight.detach().numpy(), dtype=torch.float64)
    b = torch.tensor(model[1].bias.detach().numpy(), dtype=torch.float64)
    logits = torch.tensor(images.reshape(len(images), -1), dtype=torch.float64) @ w.T + b
    per_sample = torch.nn.functional.cross_entropy(logits, torch.tensor(labels), reduction="none").numpy()
    acc = float((logits.argmax(1).numpy() == labels).mean())
    return per_sample, float(per_sample.mean()), acc


def test_printed_and_logged_losses_and_accuracies_are_the_weighted_means(tmp_path, monkeypatch):
    torch = require_torch()
    no_plots(monkeypatch)
    model = nn.Sequential(nn.Flatten(), nn.Linear(FEATURES, CLASSES))
    (xt, yt), (xv, yv) = _data(N_TRAIN, 1), _data(N_VAL, 2)
    train = DataLoader(ArrayDataset(xt, yt), batch_size=4, shuffle=True, seed=3)
    val = DataLoader(ArrayDataset(xv, yv), batch_size=3)
    printed = []
    trainer = Trainer(model, optim.SGD(model.parameters(), lr=0.0), out_dir=str(tmp_path), print_fn=printed.append,
                      log_every=1, progress=False)
    result = trainer.fit(train, val, epochs=1)

    per_train, train_loss, train_acc = _torch_metrics(torch, model, xt, yt)
    _, val_loss, val_acc = _torch_metrics(torch, model, xv, yv)
    unweighted = np.mean([per_train[:4].mean(), per_train[4:8].mean(), per_train[8:].mean()])
    assert abs(unweighted - train_loss) > 1e-3  # the test can tell the two means apart

    records = read_jsonl(str(tmp_path / "metrics.jsonl"))
    epoch = [r for r in records if r.get("kind") == "epoch"][-1]
    for r in (epoch, result.history[-1]):
        assert abs(r["train_loss"] - train_loss) <= 1e-6 * train_loss
        assert abs(r["val_loss"] - val_loss) <= 1e-6 * val_loss
        assert r["train_accuracy"] == train_acc and r["val_accuracy"] == val_acc

    # every step's record is its batch's mean loss: the shuffled batches' losses, in order
    steps = [r for r in records if r.get("kind") == "step"]
    assert [r["step"] for r in steps] == [1, 2, 3]
    order = np.concatenate(_batches(train, xt))
    expected = [per_train[order[i:i + 4]].mean() for i in (0, 4, 8)]
    np.testing.assert_allclose([r["loss"] for r in steps], expected, rtol=1e-6)
    assert all(r["lr"] == 0.0 for r in steps)

    # the printed epoch line rounds the same numbers
    line = next(p for p in printed if p.startswith("epoch 1/1"))
    m = re.search(r"train loss ([\d.]+) acc ([\d.]+)% \| val loss ([\d.]+) acc ([\d.]+)%", line)
    assert m, line
    assert [float(v) for v in m.groups()] == [round(train_loss, 4), round(100 * train_acc, 2), round(val_loss, 4),
                                              round(100 * val_acc, 2)]


def _batches(loader, images):
    """The sample indices of each batch of the loader's first epoch (its order is seeded), found by
    matching the batches' images with ``images``."""
    flat_all = images.reshape(len(images), -1)
    loader.set_epoch(0, 0)
    return [np.array([int(np.flatnonzero((flat_all == row).all(axis=1))[0]) for row in x.numpy().reshape(len(x), -1)])
            for x, _ in loader]


def test_evaluate_weights_each_batch_by_its_size():
    """evaluate(): loss = mean over samples (batches of 3, 3, 1), accuracy, top-k and confusion from
    the logits, against torch and NumPy."""
    torch = require_torch()
    from convlab.train import evaluate

    model = nn.Sequential(nn.Flatten(), nn.Linear(FEATURES, CLASSES))
    x, y = _data(N_VAL, 5)
    out = evaluate(model, DataLoader(ArrayDataset(x, y), batch_size=3), topk=2)
    per, loss, acc = _torch_metrics(torch, model, x, y)
    with convlab.no_grad():
        logits = model(convlab.tensor(x)).numpy().astype(np.float64)
    assert out["n"] == N_VAL
    assert abs(out["loss"] - loss) <= 1e-6 * loss and out["accuracy"] == acc
    top2 = np.argsort(-logits, axis=1)[:, :2]
    assert out["top2"] == float((top2 == y[:, None]).any(axis=1).mean())
    confusion = np.zeros((CLASSES, CLASSES), int)
    np.add.at(confusion, (y, logits.argmax(1)), 1)
    assert np.array_equal(np.asarray(out["confusion"]), confusion)
    per_class = [float((logits.argmax(1)[y == c] == c).mean()) for c in range(CLASSES)]
    np.testing.assert_allclose(out["per_class"], per_class)

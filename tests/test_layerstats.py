"""LayerStats: per-layer activation and gradient statistics during training, checked by hand and against torch."""

import json

import numpy as np
import pytest

import convlab
from convlab import functional as F
from convlab import nn, optim
from convlab.data import DataLoader, LinesDataset
from convlab.layerstats import LayerStats, format_table, plot_layer_stats, save_to_run
from convlab.train import Trainer
from convlab.train.logs import read_jsonl
from helpers import is_png, require_torch

RNG = np.random.default_rng(4)
X = RNG.normal(size=(6, 1, 6, 6)).astype(np.float32)
Y = np.array([0, 1, 2, 3, 0, 1])


def small(seed=0):
    """Conv2d-ReLU-Flatten-Linear; channel 2's bias is so negative that its ReLU is dead everywhere."""
    convlab.manual_seed(seed)
    model = nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(3 * 6 * 6, 4))
    model[0].bias.data[2] = -100.0
    return model


def torch_twin(torch, model):
    t = torch.nn.Sequential(torch.nn.Conv2d(1, 3, 3, padding=1), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(108, 4))
    with torch.no_grad():
        for i in (0, 3):
            t[i].weight.copy_(torch.from_numpy(model[i].weight.detach().numpy().copy()))
            t[i].bias.copy_(torch.from_numpy(model[i].bias.detach().numpy().copy()))
    return t


def step(model, x=X, y=Y):
    loss = F.cross_entropy(model(convlab.tensor(x)), convlab.tensor(y))
    model.zero_grad()
    loss.backward()
    return loss


def test_activation_and_gradient_statistics_match_numpy_and_torch():
    model = small()
    with LayerStats(model, every=1) as stats:
        step(model)
    recs = {r["layer"]: r for r in stats.records()}
    assert list(recs) == ["0", "1", "3"]  # conv, relu, linear; Flatten is not watched by default
    assert [recs[n]["type"] for n in recs] == ["Conv2d", "ReLU", "Linear"] and recs["0"]["shape"] == [3, 6, 6]

    torch = require_torch()
    tm = torch_twin(torch, model)
    outs = {}

    def keep(name, out):
        out.retain_grad()
        outs[name] = out

    for i in (0, 1, 3):
        tm[i].register_forward_hook(lambda m, inp, out, i=i: keep(str(i), out))
    torch.nn.functional.cross_entropy(tm(torch.from_numpy(X)), torch.from_numpy(Y)).backward()
    for name, out in outs.items():
        a, g = out.detach().numpy().astype(np.float64), out.grad.numpy().astype(np.float64)
        # float32 forward and backward in both libraries: agreement to 1e-5 relative
        assert recs[name]["mean"] == pytest.approx(a.mean(), rel=1e-5, abs=1e-6), name
        assert recs[name]["std"] == pytest.approx(a.std(), rel=1e-5), name  # population std, ddof=0
        assert recs[name]["grad_mean"] == pytest.approx(g.mean(), rel=1e-4, abs=1e-9), name
        assert recs[name]["grad_std"] == pytest.approx(g.std(), rel=1e-5), name
        assert recs[name]["grad_std"] == pytest.approx(out.grad.std(correction=0).item(), rel=1e-5), name
    a = outs["1"].detach().numpy()
    assert recs["1"]["zero_fraction"] == pytest.approx(np.mean(a == 0), abs=1e-12)
    assert recs["1"]["dead_fraction"] == pytest.approx(np.mean(np.all(a == 0, axis=0)), abs=1e-12)
    assert recs["1"]["dead_fraction"] >= 1 / 3  # channel 2: 36 of the 108 units are off for every image
    assert recs["0"]["dead_fraction"] is None and recs["3"]["zero_fraction"] is None
    for name, i in (("0", 0), ("3", 3)):
        assert recs[name]["weight_grad_norm"] == pytest.approx(tm[i].weight.grad.norm().item(), rel=1e-5)
    assert recs["1"]["weight_grad_norm"] is None


def test_dead_and_zero_fractions_by_hand():
    model = nn.Sequential(nn.Linear(2, 3, bias=False), nn.ReLU())
    model[0].weight.data[...] = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, -1.0]])
    with LayerStats(model, every=1, layers=["1"]) as stats:
        model(convlab.tensor([[1.0, -1.0], [2.0, 0.0]])).sum().backward()
    (r,) = stats.records()
    # pre-activations [[1, -1, 0], [2, 0, -2]] -> outputs [[1, 0, 0], [2, 0, 0]]
    assert r["zero_fraction"] == 4 / 6  # 4 of the 6 (example, unit) outputs are 0
    assert r["dead_fraction"] == 2 / 3  # units 1 and 2 are 0 for both examples
    assert r["mean"] == pytest.approx(0.5, abs=1e-7) and r["std"] == pytest.approx(np.sqrt(5 / 6 - 0.25), rel=1e-6)
    # d(sum)/d(output) is all ones
    assert r["grad_mean"] == 1.0 and r["grad_std"] == 0.0


def test_every_counts_only_training_forwards_with_gradients():
    model = small()
    with LayerStats(model, every=3) as stats:
        for _ in range(7):
            step(model)
            model.eval()
            with convlab.no_grad():
                model(convlab.tensor(X))  # an evaluation pass: not a step
            model.train()
            with convlab.no_grad():
                model(convlab.tensor(X))  # no graph, no gradients: not a step either
    assert stats.step == 7
    recs = stats.records()
    assert [r["step"] for r in recs] == [3, 3, 3, 6, 6, 6]
    assert all(r["grad_std"] is not None for r in recs)


def test_close_removes_every_hook_and_pending_gradient_hook():
    model = small()
    stats = LayerStats(model, every=1)
    loss = F.cross_entropy(model(convlab.tensor(X)), convlab.tensor(Y))  # recorded forward, backward not yet run
    stats.close()
    stats.close()  # closing twice is harmless
    loss.backward()
    assert all(r["grad_std"] is None and r["weight_grad_norm"] is None for r in stats.records())
    for m in model.modules():
        assert not m._forward_hooks and not m._forward_pre_hooks
    assert all(not p._retain for p in model.parameters())  # the weights' one-shot hooks are gone
    n = len(stats.records())
    step(model)
    assert len(stats.records()) == n == 3 and stats.step == 1


class SharedReLU(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1, self.fc2, self.act = nn.Linear(4, 5), nn.Linear(5, 3), nn.ReLU()

    def forward(self, x):
        return self.act(self.fc2(self.act(self.fc1(x))))


def test_a_module_called_twice_gives_one_record_per_call():
    convlab.manual_seed(1)
    model = SharedReLU()
    x = convlab.randn(8, 4)
    with LayerStats(model, every=2) as stats:
        for _ in range(4):
            model(x).sum().backward()
    recs = stats.records()
    assert [(r["step"], r["layer"]) for r in recs] == [(s, n) for s in (2, 4) for n in ("fc1", "act", "fc2", "act[2]")]
    assert [r["shape"] for r in recs[:4]] == [[5], [5], [3], [3]]
    assert all(r["grad_std"] is not None for r in recs)


def test_a_short_trainer_run_records_and_writes_jsonl_and_figure(tmp_path):
    convlab.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(64, 2))
    train = DataLoader(LinesDataset(n=96, seed=1), batch_size=16, shuffle=True, seed=3)
    val = DataLoader(LinesDataset(n=32, seed=2), batch_size=16)
    trainer = Trainer(model, optim.SGD(model.parameters(), lr=0.1), print_fn=None, progress=False)
    trainer.step = 100  # as if resumed: the trainer's count numbers the records
    with LayerStats(model, every=2) as stats, LayerStats(model, every=5, steps=lambda: trainer.step) as resumed:
        trainer.fit(train, val, epochs=2)
    assert [r["step"] for r in resumed.records()] == [105, 105, 105, 110, 110, 110]
    recs = stats.records()
    assert stats.step == 12  # 6 batches x 2 epochs; the validation passes are not steps
    assert [r["step"] for r in recs] == [s for s in range(2, 13, 2) for _ in range(3)]
    for r in recs:
        assert r["grad_std"] > 0 and np.isfinite(r["std"]), r
    assert all(r["weight_grad_norm"] > 0 for r in recs if r["type"] != "ReLU")
    path = stats.to_jsonl(tmp_path / "stats" / "layers.jsonl")
    assert read_jsonl(path) == recs
    assert [json.loads(line)["step"] for line in open(path)][:3] == [2, 2, 2]
    png = plot_layer_stats(path, tmp_path / "layers.png")
    assert is_png(png)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["layers.png", "stats"]  # no temporary files left
    table = format_table(recs)
    assert table.splitlines()[0] == "layer statistics at step 12" and len(table.splitlines()) == 2 + 3


def test_bad_arguments_raise_clear_errors(tmp_path):
    model = small()
    with pytest.raises(ValueError, match="every must be a positive integer, got 0"):
        LayerStats(model, every=0)
    with pytest.raises(ValueError, match="no layer named"):
        LayerStats(model, layers=["conv9"])
    with pytest.raises(TypeError, match="steps must be a callable"):
        LayerStats(model, steps=5)
    with pytest.raises(TypeError, match="model must be a convlab.nn.Module, got int"):
        LayerStats(3)
    with pytest.raises(ValueError, match="no convolution, linear or activation"):
        LayerStats(nn.Sequential(nn.Flatten()))
    with pytest.raises(ValueError, match="records is empty"):
        plot_layer_stats([], tmp_path / "x.png")
    with pytest.raises(ValueError, match="no records at step=5"):
        format_table([{"step": 1, "layer": "a"}], step=5)


def test_save_to_run_continues_a_resumed_runs_file(tmp_path):
    first = [{"step": s, "layer": "0", "type": "ReLU", "std": 1.0, "grad_std": 0.1, "dead_fraction": 0.0} for s in (5, 10, 15)]
    jsonl, png = save_to_run(first, tmp_path)
    resumed = [{"step": s, "layer": "0", "type": "ReLU", "std": 2.0, "grad_std": 0.2, "dead_fraction": 0.5} for s in (15, 20)]
    assert save_to_run(resumed, tmp_path) == (jsonl, png)
    # the resumed run redid step 15: its record replaces the old one, steps 5 and 10 are kept
    assert [(r["step"], r["std"]) for r in read_jsonl(jsonl)] == [(5, 1.0), (10, 1.0), (15, 2.0), (20, 2.0)]
    assert save_to_run([], tmp_path / "none") is None and not (tmp_path / "none").exists()

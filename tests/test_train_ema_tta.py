"""The weight average (convlab.train.ema.EMA) and flip test-time augmentation (convlab.train.tta.FlipTTA),
checked against hand-computed values, and the Trainer's use of the average (validation, checkpoints, resume)."""

import numpy as np
import pytest

import convlab
from convlab import nn, optim
from convlab.data import ArrayDataset, DataLoader
from convlab.train import Trainer, evaluate, load_checkpoint
from convlab.train.ema import EMA
from convlab.train.tta import FlipTTA
from convlab.validate import ConvlabError


def _net(seed=0):
    convlab.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.BatchNorm2d(3), nn.ReLU(), nn.Flatten(), nn.Linear(3 * 4 * 5, 4))


def test_ema_is_the_hand_computed_average_with_warmup():
    """After updates with weights w_0, w_1, w_2 (decay 0.9): avg_0 = w_0, then avg_t = d_t avg + (1 - d_t) w_t
    with d_t = min(0.9, (1 + t) / (10 + t)): d_1 = 2/11, d_2 = 3/12. Buffers are averaged the same way;
    the integer num_batches_tracked is copied."""
    net = _net()
    ema = EMA(net, decay=0.9)
    states = []
    rng = np.random.default_rng(1)
    for t in range(3):
        for p in net.parameters():
            p.data[...] = rng.standard_normal(p.shape).astype(np.float32)
        net[1].running_mean.data[...] = rng.standard_normal(3).astype(np.float32)
        net[1].num_batches_tracked.data[...] = 10 + t
        states.append({k: v.numpy().astype(np.float64).copy() for k, v in net.state_dict().items()})
        ema.update(net)
    d1, d2 = 2 / 11, 3 / 12
    for key, got in ema.state_dict().items():
        w0, w1, w2 = (s[key] for s in states)
        if key.endswith("num_batches_tracked"):
            assert int(got) == 12
            continue
        want = d2 * (d1 * w0 + (1 - d1) * w1) + (1 - d2) * w2
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6, err_msg=key)  # float32 arithmetic
    assert ema.updates == 3 and ema.current_decay() == pytest.approx(4 / 13)


def test_ema_without_warmup_uses_the_decay_from_the_second_update():
    layer = nn.Linear(1, 1, bias=False)
    ema = EMA(layer, decay=0.75, warmup=False)
    for w in (4.0, 0.0, 8.0):
        layer.weight.data[...] = w
        ema.update(layer)
    # 4 -> 0.75 * 4 + 0.25 * 0 = 3 -> 0.75 * 3 + 0.25 * 8 = 4.25
    assert float(ema.state_dict()["weight"][0, 0]) == pytest.approx(4.25, abs=1e-6)


def test_ema_applied_swaps_the_average_in_and_the_training_weights_back():
    net = _net()
    ema = EMA(net, decay=0.5)
    ema.update(net)
    trained = {k: v.numpy().copy() for k, v in net.state_dict().items()}
    for p in net.parameters():
        p.data[...] += 1.0
    moved = {k: v.numpy().copy() for k, v in net.state_dict().items()}
    with ema.applied(net):
        inside = {k: v.numpy().copy() for k, v in net.state_dict().items()}
    after = {k: v.numpy() for k, v in net.state_dict().items()}
    for k in trained:
        np.testing.assert_array_equal(inside[k], trained[k])  # the average of one update is that update
        np.testing.assert_array_equal(after[k], moved[k])


def test_ema_rejects_a_decay_outside_0_1():
    for bad in (1.0, -0.1, 2):
        with pytest.raises(ConvlabError, match=r"decay must be in \[0, 1\)"):
            EMA(_net(), decay=bad)


def test_flip_tta_averages_the_logits_of_the_picture_and_its_mirror():
    net = _net().eval()
    x = np.random.default_rng(3).standard_normal((6, 1, 4, 5)).astype(np.float32)
    with convlab.no_grad():
        plain = net(convlab.tensor(x)).numpy()
        mirrored = net(convlab.tensor(np.ascontiguousarray(x[..., ::-1]))).numpy()
        got = FlipTTA(net)(convlab.tensor(x)).numpy()
    np.testing.assert_allclose(got, (plain + mirrored) / 2, rtol=1e-6, atol=1e-6)
    assert not np.allclose(plain, mirrored, atol=1e-3)  # the mirror really is another input for this net


def test_flip_tta_follows_the_models_mode():
    tta = FlipTTA(_net())
    tta.eval()
    assert not tta.model.training and not tta.model[1].training


def _arr(v):
    return np.asarray(v.numpy() if hasattr(v, "numpy") else v)


def _loader(n=64, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.standard_normal((n, 1, 4, 5)).astype(np.float32)
    labels = (images[:, 0, :, :2].sum(axis=(1, 2)) > 0).astype(np.int64) + 2 * (images[:, 0, 0, 0] > 0)
    return DataLoader(ArrayDataset(images, labels), batch_size=16, shuffle=True, seed=seed)


def _trainer(out, ema=True):
    net = _net()
    opt = optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    return Trainer(net, opt, out_dir=str(out), print_fn=None, progress=False, plot=False,
                   ema=EMA(net, decay=0.9) if ema else None)


def test_trainer_validates_and_saves_the_average_and_resumes_it_exactly(tmp_path):
    """Validation accuracy is that of the averaged weights; the checkpoint's "model" is the average (what
    evaluate/predict load) and "training_model" the weights being trained; 2 epochs then 2 more from the
    checkpoint end where 4 straight epochs do, average included."""
    straight = _trainer(tmp_path / "a")
    result = straight.fit(_loader(), _loader(32, seed=5), epochs=4)
    ckpt = load_checkpoint(tmp_path / "a" / "last.safetensors")
    for k, v in straight.ema.state_dict().items():
        np.testing.assert_array_equal(_arr(ckpt["model"][k]), v)
    for k, v in straight.model.state_dict().items():
        np.testing.assert_array_equal(_arr(ckpt["training_model"][k]), v.numpy())
    assert ckpt["ema"]["updates"] == straight.step == 16
    with straight.ema.applied(straight.model):
        val = evaluate(straight.model, _loader(32, seed=5))
    assert result.history[-1]["val_accuracy"] == val["accuracy"]

    half = _trainer(tmp_path / "b")
    half.fit(_loader(), None, epochs=2)
    resumed = _trainer(tmp_path / "b")
    resumed.fit(_loader(), None, epochs=4, resume=str(tmp_path / "b" / "last.safetensors"))
    for k, v in straight.ema.state_dict().items():
        np.testing.assert_array_equal(resumed.ema.state_dict()[k], v, err_msg=k)
    for (k, a), b in zip(straight.model.state_dict().items(), resumed.model.state_dict().values()):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=k)


def test_resuming_an_ema_run_without_an_ema_keeps_the_training_weights_and_the_reverse_refuses(tmp_path):
    with_ema = _trainer(tmp_path / "e")
    with_ema.fit(_loader(), None, epochs=1)
    plain = _trainer(tmp_path / "e", ema=False)
    plain.resume(str(tmp_path / "e" / "last.safetensors"))
    for (k, a), b in zip(with_ema.model.state_dict().items(), plain.model.state_dict().values()):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=k)
    no_ema = _trainer(tmp_path / "n", ema=False)
    no_ema.fit(_loader(), None, epochs=1)
    with pytest.raises(ConvlabError, match="no weight average"):
        _trainer(tmp_path / "n").resume(str(tmp_path / "n" / "last.safetensors"))


def test_the_torch_twins_weight_average_is_convlabs():
    """benchmarks/accuracy.py's TorchEMA (the torch side of a recipe with --ema) gives the same average
    as convlab's EMA over the same sequence of weights (float32: rtol 1e-6)."""
    import importlib.util
    import os

    from helpers import require_torch

    torch = require_torch()
    path = os.path.join(os.path.dirname(__file__), "..", "benchmarks", "accuracy.py")
    spec = importlib.util.spec_from_file_location("accuracy_benchmark", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    net = _net()
    twin = torch.nn.Sequential(torch.nn.Conv2d(1, 3, 3, padding=1), torch.nn.BatchNorm2d(3), torch.nn.ReLU(),
                               torch.nn.Flatten(), torch.nn.Linear(3 * 4 * 5, 4))
    ema, torch_ema = EMA(net, decay=0.8), None
    rng = np.random.default_rng(4)
    for _ in range(5):
        state = {k: rng.standard_normal(v.shape).astype(np.float32) if v.numpy().dtype.kind == "f"
                 else np.array(rng.integers(100)) for k, v in net.state_dict().items()}
        net.load_state_dict(state)
        twin.load_state_dict({k: torch.from_numpy(np.asarray(v)) for k, v in state.items()})
        ema.update(net)
        torch_ema = torch_ema or bench.TorchEMA(torch, twin, 0.8)
        torch_ema.update(twin)
    for k, v in ema.state_dict().items():
        np.testing.assert_allclose(torch_ema.shadow[k].numpy(), v, rtol=1e-6, atol=1e-7, err_msg=k)

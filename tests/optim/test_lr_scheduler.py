"""Schedulers follow torch's learning rates and parameter trajectories; state dicts resume."""

import json
import math

import numpy as np
import pytest

import convlab as cl
from convlab import optim
from convlab.nn import Parameter
from convlab.optim import lr_scheduler as S
from helpers import require_torch

STEPS = 50

SCHEDULERS = [
    ("StepLR", {"step_size": 7, "gamma": 0.5}),
    ("MultiStepLR", {"milestones": [5, 12, 12, 30], "gamma": 0.3}),
    ("CosineAnnealingLR", {"T_max": 20, "eta_min": 1e-3}),  # 50 steps run past T_max: the cosine rises again
    ("LinearLR", {"start_factor": 0.1, "end_factor": 1.0, "total_iters": 10}),
    ("LinearLR", {"start_factor": 1.0, "end_factor": 0.2, "total_iters": 30}),
    ("OneCycleLR", {"max_lr": 0.5, "total_steps": STEPS}),
    ("OneCycleLR", {"max_lr": [0.5, 0.2], "total_steps": STEPS + 5, "three_phase": True, "anneal_strategy": "linear"}),
    ("ExponentialLR", {"gamma": 0.93}),
    ("ConstantLR", {"factor": 0.25, "total_iters": 8}),
    ("PolynomialLR", {"total_iters": 30, "power": 2.0}),
    ("CosineAnnealingWarmRestarts", {"T_0": 5, "T_mult": 2, "eta_min": 1e-3}),
    ("CosineAnnealingWarmRestarts", {"T_0": 7}),
    ("LambdaLR", {"lr_lambda": lambda epoch: 0.95**epoch / (1 + epoch % 3)}),
    ("MultiplicativeLR", {"lr_lambda": [lambda epoch: 0.9, lambda epoch: 1.0 - epoch / 100]}),
    ("CyclicLR", {"base_lr": 0.01, "max_lr": 0.1, "step_size_up": 6, "step_size_down": 4}),
    ("CyclicLR", {"base_lr": [0.01, 0.02], "max_lr": 0.1, "step_size_up": 5, "mode": "triangular2",
                  "base_momentum": 0.85, "max_momentum": 0.95}),
    ("CyclicLR", {"base_lr": 0.01, "max_lr": 0.2, "step_size_up": 7, "mode": "exp_range", "gamma": 0.97,
                  "cycle_momentum": False}),
    ("CyclicLR", {"base_lr": 0.01, "max_lr": 0.1, "step_size_up": 4, "scale_fn": lambda x: 0.9**x,
                  "scale_mode": "iterations"}),
]


def _name(value):
    """A test id that is the same in every process (a function's repr holds its address)."""
    if callable(value):
        return "fn"
    if isinstance(value, dict):
        return "{" + ",".join(f"{k}={_name(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_name(v) for v in value) + "]"
    return str(value)


def _setup(torch, opt_name="SGD", **opt_kw):
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal((3, 2)), rng.standard_normal(4)]
    ours = [Parameter(cl.tensor(a)) for a in arrays]
    theirs = [torch.nn.Parameter(torch.tensor(a)) for a in arrays]
    kw = {"lr": 0.1, **({"momentum": 0.9} if opt_name == "SGD" else {}), **opt_kw}
    groups = lambda ps: [{"params": ps[:1]}, {"params": ps[1:], "lr": 0.05}]  # noqa: E731
    return ours, theirs, getattr(optim, opt_name)(groups(ours), **kw), getattr(torch.optim, opt_name)(groups(theirs), **kw)


def _step(ours, theirs, opt, ref, step, torch):
    for i, (p, q) in enumerate(zip(ours, theirs)):
        g = np.random.default_rng(100 * step + i).standard_normal(p.shape)
        p.grad, q.grad = cl.tensor(g), torch.tensor(g)
    opt.step()
    ref.step()


def _compare(ours, theirs, opt, ref, sched, tsched, step):
    np.testing.assert_allclose(sched.get_last_lr(), tsched.get_last_lr(), rtol=1e-10, err_msg=f"lr at step {step}")
    for p, q in zip(ours, theirs):
        np.testing.assert_allclose(p.data, q.detach().numpy(), rtol=1e-10, atol=1e-14, err_msg=f"params at step {step}")
    for g, h in zip(opt.param_groups, ref.param_groups):
        for key in ("momentum", "betas"):
            if key in h:
                np.testing.assert_allclose(g[key], h[key], rtol=1e-10, err_msg=f"{key} at step {step}")


@pytest.mark.parametrize("opt_name", ["SGD", "Adam"])
@pytest.mark.parametrize("name,kw", SCHEDULERS, ids=_name)
def test_scheduler_follows_torch_for_50_steps(name, kw, opt_name):
    torch = require_torch()
    ours, theirs, opt, ref = _setup(torch, opt_name)
    sched, tsched = getattr(S, name)(opt, **kw), getattr(torch.optim.lr_scheduler, name)(ref, **kw)
    _compare(ours, theirs, opt, ref, sched, tsched, 0)
    for step in range(1, STEPS + 1):
        _step(ours, theirs, opt, ref, step, torch)
        sched.step()
        tsched.step()
        _compare(ours, theirs, opt, ref, sched, tsched, step)


def test_chained_schedulers_compose_like_torch():
    torch = require_torch()
    ours, theirs, opt, ref = _setup(torch)
    mine = [S.LinearLR(opt, start_factor=0.2, total_iters=5), S.StepLR(opt, step_size=10, gamma=0.5)]
    ref_s = [torch.optim.lr_scheduler.LinearLR(ref, start_factor=0.2, total_iters=5),
             torch.optim.lr_scheduler.StepLR(ref, step_size=10, gamma=0.5)]
    for step in range(1, 31):
        _step(ours, theirs, opt, ref, step, torch)
        for s in mine + ref_s:
            s.step()
        _compare(ours, theirs, opt, ref, mine[1], ref_s[1], step)


@pytest.mark.parametrize("kw", [
    {"patience": 3},
    {"mode": "max", "factor": 0.5, "patience": 2, "cooldown": 3, "threshold_mode": "abs", "threshold": 0.01},
    {"patience": 1, "min_lr": [0.02, 0.01], "eps": 1e-3},
], ids=_name)
def test_reduce_on_plateau_follows_torch(kw):
    torch = require_torch()
    ours, theirs, opt, ref = _setup(torch)
    sched, tsched = S.ReduceLROnPlateau(opt, **kw), torch.optim.lr_scheduler.ReduceLROnPlateau(ref, **kw)
    for step in range(1, STEPS + 1):
        metric = 1.0 / step if step < 10 else 0.1 + 0.01 * math.sin(step)  # improves, then plateaus
        _step(ours, theirs, opt, ref, step, torch)
        sched.step(metric)
        tsched.step(metric)
        _compare(ours, theirs, opt, ref, sched, tsched, step)
    assert sched.get_last_lr()[0] < 0.1  # it did reduce


@pytest.mark.parametrize("name,kw", SCHEDULERS + [("ReduceLROnPlateau", {"patience": 2})], ids=_name)
def test_scheduler_state_dict_resumes(name, kw):
    torch = require_torch()
    ours, theirs, opt, ref = _setup(torch)
    sched = getattr(S, name)(opt, **kw)
    plateau = name == "ReduceLROnPlateau"
    metrics = [1.0, 0.9, 0.95, 0.96, 0.97, 0.98, 0.99, 1.0, 1.1, 1.2, 1.3, 1.4]
    for step in range(1, 13):
        _step(ours, theirs, opt, ref, step, torch)
        sched.step(metrics[step - 1]) if plateau else sched.step()
    state = json.loads(json.dumps(sched.state_dict()))  # plain JSON values (inf is written as Infinity)
    opt_state = opt.state_dict()
    # a new optimizer and scheduler, built the usual way, then restored (both: building a
    # scheduler writes the group's lr, which the optimizer's state then restores)
    _, _, opt2, _ = _setup(torch)
    sched2 = getattr(S, name)(opt2, **kw)
    opt2.load_state_dict(opt_state)
    sched2.load_state_dict(state)
    for _ in range(13, 30):
        for s in (sched, sched2):
            s.step(0.5) if plateau else s.step()
        assert sched2.get_last_lr() == pytest.approx(sched.get_last_lr(), rel=1e-12)
        assert [g["lr"] for g in opt2.param_groups] == pytest.approx([g["lr"] for g in opt.param_groups], rel=1e-12)


def test_scheduler_errors():
    p = Parameter(cl.zeros(1))
    opt = optim.SGD([p], lr=0.1)
    with pytest.raises(ValueError, match="total_steps"):
        S.OneCycleLR(opt, max_lr=1.0)
    with pytest.raises(ValueError, match="momentum or beta1"):
        S.OneCycleLR(optim.Adagrad([p]), max_lr=1.0, total_steps=10)
    one = S.OneCycleLR(opt, max_lr=1.0, total_steps=2)
    one.step()
    one.step()
    with pytest.raises(ValueError, match="Tried to step 3 times"):
        one.step()
    with pytest.raises(ValueError, match="Factor"):
        S.ReduceLROnPlateau(opt, factor=2.0)
    with pytest.raises(TypeError, match="not an Optimizer"):
        S.StepLR(object(), step_size=1)
    with pytest.raises(KeyError, match="initial_lr"):
        S.StepLR(optim.SGD([Parameter(cl.zeros(1))], lr=0.1), step_size=1, last_epoch=3)


@pytest.mark.parametrize("combinator", ["SequentialLR", "ChainedScheduler"])
def test_sequential_and_chained_schedulers_follow_torch(combinator):
    """A warm-up then a decay: torch's combinators, including their reset of the first epoch."""
    torch = require_torch()
    ours, theirs, opt, ref = _setup(torch)

    def make(lib, o):
        parts = [lib.optim.lr_scheduler.LinearLR(o, start_factor=0.1, total_iters=4),
                 lib.optim.lr_scheduler.CosineAnnealingLR(o, T_max=20, eta_min=1e-3)]
        if combinator == "SequentialLR":
            return lib.optim.lr_scheduler.SequentialLR(o, parts, milestones=[4])
        return lib.optim.lr_scheduler.ChainedScheduler(parts)

    sched, tsched = make(cl, opt), make(torch, ref)
    for step in range(30):
        _compare(ours, theirs, opt, ref, sched, tsched, step)
        _step(ours, theirs, opt, ref, step, torch)
        sched.step()
        tsched.step()


def test_step_with_an_epoch_uses_the_closed_form():
    torch = require_torch()
    for name, kw in [("StepLR", {"step_size": 3, "gamma": 0.5}), ("ExponentialLR", {"gamma": 0.9}),
                     ("CosineAnnealingLR", {"T_max": 10}), ("CosineAnnealingWarmRestarts", {"T_0": 4, "T_mult": 2})]:
        ours, theirs, opt, ref = _setup(torch)
        sched, tsched = getattr(S, name)(opt, **kw), getattr(torch.optim.lr_scheduler, name)(ref, **kw)
        for epoch in (5, 2.5, 11, 0) if name == "CosineAnnealingWarmRestarts" else (5, 2, 11, 0):
            sched.step(epoch)
            tsched.step(epoch)
            np.testing.assert_allclose(sched.get_last_lr(), tsched.get_last_lr(), rtol=1e-12, err_msg=f"{name} {epoch}")

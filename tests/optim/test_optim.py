"""Optimizers follow torch's parameter trajectory; groups, zero_grad and state dicts."""

import json

import numpy as np
import pytest

import convlab as cl
from convlab import optim
from convlab.nn import Parameter
from helpers import require_torch

STEPS = 50
SHAPES = [(4, 3), (3,), (2, 2, 2)]


def _params(torch, seed=0):
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(s) for s in SHAPES]
    return [Parameter(cl.tensor(a)) for a in arrays], [torch.nn.Parameter(torch.tensor(a)) for a in arrays]


def _grads(step, seed=1):
    rng = np.random.default_rng(seed * 1000 + step)
    return [rng.standard_normal(s) for s in SHAPES]


def _set_grads(ours, theirs, step, torch):
    for p, q, g in zip(ours, theirs, _grads(step)):
        p.grad = cl.tensor(g)
        q.grad = torch.tensor(g)


def assert_same_params(ours, theirs, step, rtol=1e-10, atol=1e-14):  # float64: rounding only, over 50 steps
    for i, (p, q) in enumerate(zip(ours, theirs)):
        np.testing.assert_allclose(p.data, q.detach().numpy(), rtol=rtol, atol=atol,
                                   err_msg=f"parameter {i} after step {step}")


# float64 trajectories agree to rounding: 1e-10 relative over 50 steps. NAdam: torch keeps its
# momentum-schedule product mu_1 * ... * mu_t in a float32 scalar (torch's default scalar dtype),
# convlab in float64, which moves torch's parameters by up to 1.5e-10 (values of order 1) in 50 steps
TOL = {"NAdam": {"rtol": 1e-9, "atol": 5e-10}}

CASES = [
    ("SGD", {"lr": 0.1}),
    ("SGD", {"lr": 0.05, "momentum": 0.9}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "dampening": 0.3, "weight_decay": 1e-2}),
    ("SGD", {"lr": 0.05, "momentum": 0.8, "nesterov": True, "weight_decay": 1e-3, "maximize": True}),
    ("Adam", {"lr": 1e-2}),
    ("Adam", {"lr": 1e-2, "betas": (0.8, 0.99), "eps": 1e-6, "weight_decay": 0.1, "amsgrad": True}),
    ("AdamW", {"lr": 1e-2}),
    ("AdamW", {"lr": 1e-2, "weight_decay": 0.3, "amsgrad": True, "maximize": True}),
    ("RMSprop", {"lr": 1e-2}),
    ("RMSprop", {"lr": 1e-3, "alpha": 0.9, "momentum": 0.9, "centered": True, "weight_decay": 0.1}),
    ("Adagrad", {"lr": 0.1}),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.05, "weight_decay": 0.1, "initial_accumulator_value": 0.5, "eps": 1e-6}),
    ("Adadelta", {"lr": 1.0}),
    ("Adadelta", {"lr": 0.5, "rho": 0.8, "eps": 1e-5, "weight_decay": 0.1, "maximize": True}),
    ("Adamax", {"lr": 1e-2}),
    ("Adamax", {"lr": 1e-2, "betas": (0.8, 0.99), "eps": 1e-6, "weight_decay": 0.1}),
    ("NAdam", {"lr": 1e-2}),
    ("NAdam", {"lr": 1e-2, "weight_decay": 0.1, "momentum_decay": 1e-2}),
    ("NAdam", {"lr": 1e-2, "weight_decay": 0.1, "decoupled_weight_decay": True}),
    ("RAdam", {"lr": 1e-2}),  # the first steps are plain momentum (rho_t <= 5), then rectified
    ("RAdam", {"lr": 1e-2, "betas": (0.8, 0.9), "weight_decay": 0.1}),
    ("RAdam", {"lr": 1e-2, "weight_decay": 0.1, "decoupled_weight_decay": True}),
    ("ASGD", {"lr": 1e-2}),
    ("ASGD", {"lr": 0.05, "lambd": 1e-3, "alpha": 0.5, "t0": 10, "weight_decay": 0.1}),
]


@pytest.mark.parametrize("name,kw", CASES, ids=str)
def test_optimizer_follows_torch_for_50_steps(name, kw):
    torch = require_torch()
    ours, theirs = _params(torch)
    opt, ref = getattr(optim, name)(ours, **kw), getattr(torch.optim, name)(theirs, **kw)
    for step in range(STEPS):
        _set_grads(ours, theirs, step, torch)
        opt.step()
        ref.step()
        assert_same_params(ours, theirs, step, **TOL.get(name, {}))


@pytest.mark.parametrize("name", ["SGD", "Adam", "RMSprop"])
def test_param_groups_with_their_own_options(name):
    torch = require_torch()
    ours, theirs = _params(torch)
    extra = {"SGD": {"momentum": 0.9}, "Adam": {"betas": (0.5, 0.9)}, "RMSprop": {"momentum": 0.5}}[name]
    opt = getattr(optim, name)([{"params": ours[:2]}, {"params": ours[2:], "lr": 1e-3, **extra}], lr=0.05)
    ref = getattr(torch.optim, name)([{"params": theirs[:2]}, {"params": theirs[2:], "lr": 1e-3, **extra}], lr=0.05)
    assert opt.param_groups[1]["lr"] == 1e-3 and opt.param_groups[0]["lr"] == 0.05
    for step in range(STEPS):
        _set_grads(ours, theirs, step, torch)
        opt.step()
        ref.step()
    assert_same_params(ours, theirs, STEPS)


def test_add_param_group_and_validation():
    a, b = Parameter(cl.zeros(2)), Parameter(cl.zeros(3))
    opt = optim.SGD([a], lr=0.1)
    opt.add_param_group({"params": b, "lr": 0.01})
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.01] and opt.param_groups[1]["momentum"] == 0
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [a]})
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.Adam([])
    with pytest.raises(ValueError, match="Invalid learning rate"):
        optim.Adam([a], lr=-1)
    with pytest.raises(ValueError, match="Nesterov"):
        optim.SGD([a], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="required optimization parameter lr"):
        optim.SGD([a])
    with pytest.raises(TypeError, match="iterable"):
        optim.SGD(a, lr=0.1)


def test_zero_grad_and_parameters_without_grad_are_skipped():
    a, b = Parameter(cl.ones(2)), Parameter(cl.ones(2))
    opt = optim.SGD([a, b], lr=1.0)
    a.grad = cl.tensor([1.0, 2.0])
    opt.step()
    assert a.data.tolist() == [0.0, -1.0] and b.data.tolist() == [1.0, 1.0] and b not in opt.state
    opt.zero_grad(set_to_none=False)
    assert a.grad.data.tolist() == [0.0, 0.0]
    opt.zero_grad()
    assert a.grad is None


def test_step_builds_no_graph_and_keeps_arrays():
    p = Parameter(cl.ones(3))
    data = p._data
    opt = optim.Adam([p])
    p.grad = cl.ones(3)
    opt.step()
    assert p._data is data and p.is_leaf and p._node is None


def test_closure_is_called_with_grad_enabled():
    p = Parameter(cl.tensor([2.0]))
    opt = optim.SGD([p], lr=0.1)

    def closure():
        opt.zero_grad()
        loss = (p * p).sum()
        loss.backward()
        return loss

    assert opt.step(closure).item() == 4.0 and p.data.tolist() == pytest.approx([1.6])


def _plain(obj):
    """The state dict with arrays replaced by lists: proves everything else is JSON-able."""
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return obj


@pytest.mark.parametrize("name,kw", [c for c in CASES if c[1].get("momentum") or c[0] != "SGD"], ids=str)
def test_state_dict_resume_equals_uninterrupted(name, kw, tmp_path):
    torch = require_torch()
    ours, theirs = _params(torch)
    opt, ref = getattr(optim, name)(ours, **kw), getattr(torch.optim, name)(theirs, **kw)
    for step in range(10):
        _set_grads(ours, theirs, step, torch)
        opt.step()
        ref.step()
    sd = opt.state_dict()
    json.dumps(_plain(sd))
    assert sorted(sd["state"]) == [0, 1, 2] and sd["param_groups"][0]["params"] == [0, 1, 2]
    assert all(isinstance(v, (np.ndarray, int, float)) for s in sd["state"].values() for v in s.values())
    assert set(sd["state"][0]) == set(ref.state_dict()["state"][0])  # torch's state names
    path = tmp_path / "opt.safetensors"
    cl.save({"optimizer": sd}, path)
    loaded = cl.load(path)["optimizer"]
    # a fresh optimizer over copies of the parameters, resumed from the file
    resumed = [Parameter(cl.tensor(p.data)) for p in ours]
    opt2 = getattr(optim, name)(resumed, lr=123.0)
    opt2.load_state_dict(loaded)
    assert opt2.param_groups[0]["lr"] == kw["lr"]
    for step in range(10, 20):
        _set_grads(ours, theirs, step, torch)
        for p, q in zip(resumed, ours):
            p.grad = q.grad
        opt.step()
        opt2.step()
        ref.step()
    assert_same_params(resumed, theirs, 20, **TOL.get(name, {}))
    for p, q in zip(resumed, ours):
        np.testing.assert_array_equal(p.data, q.data)


def test_load_state_dict_checks_structure():
    a = Parameter(cl.zeros(2))
    opt = optim.Adam([a])
    a.grad = cl.ones(2)
    opt.step()
    sd = opt.state_dict()
    with pytest.raises(ValueError, match="parameter groups"):
        optim.Adam([{"params": [a]}, {"params": [Parameter(cl.zeros(1))]}]).load_state_dict(sd)
    with pytest.raises(ValueError, match="doesn't match the size"):
        optim.Adam([a, Parameter(cl.zeros(1))]).load_state_dict(sd)
    with pytest.raises(ValueError, match="shape"):
        optim.Adam([Parameter(cl.zeros(3))]).load_state_dict(sd)


def test_asgd_average_follows_torch():
    """ASGD's averaged iterate ``ax`` (what one evaluates with) after averaging starts at t0."""
    torch = require_torch()
    ours, theirs = _params(torch)
    opt = optim.ASGD(ours, lr=0.05, t0=5)
    ref = torch.optim.ASGD(theirs, lr=0.05, t0=5)
    for step in range(20):
        _set_grads(ours, theirs, step, torch)
        opt.step()
        ref.step()
    for p, q in zip(ours, theirs):
        np.testing.assert_allclose(opt.state[p]["ax"], ref.state[q]["ax"].numpy(), rtol=1e-10)

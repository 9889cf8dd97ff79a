"""Param-group options checked as the constructor's are, schedulers' refusals naming their argument,
and the counters of a scheduler built or resumed, against torch (from the survivors of
``benchmarks/mutation.py optim``, seed 1)."""

from __future__ import annotations

import math

import pytest

import convlab as cl
from convlab import optim
from convlab.nn import Parameter
from convlab.optim import lr_scheduler as S
from helpers import require_torch

torch = require_torch()


def _sgd_pair(lr=0.1):
    ours, theirs = [Parameter(cl.zeros(2))], [torch.nn.Parameter(torch.zeros(2))]
    return optim.SGD(ours, lr=lr, momentum=0.9), torch.optim.SGD(theirs, lr=lr, momentum=0.9)


@pytest.mark.parametrize("betas, message", [
    ((1.0, 0.999), r"^Invalid beta parameter at index 0: 1\.0$"),  # [0, 1): 1 itself is out
    ((0.9, 1.5), r"^Invalid beta parameter at index 1: 1\.5$"),
    ((0.9,), r"^Invalid betas: \(0\.9,\) \(expected two numbers in \[0, 1\)\)$"),
], ids=[f"case{i}" for i in range(3)])  # plain ids: mutmut hands them to pytest
def test_a_param_groups_betas_are_checked_as_the_constructors(betas, message):
    p, q = Parameter(cl.zeros(2)), Parameter(cl.zeros(2))
    with pytest.raises(ValueError, match=message):
        optim.Adam([{"params": [p], "betas": betas}])
    opt = optim.Adam([p])
    with pytest.raises(ValueError, match=message):
        opt.add_param_group({"params": [q], "betas": betas})
    opt.add_param_group({"params": [q], "betas": (0.0, 0.5)})  # the ends of [0, 1) that are in
    assert opt.param_groups[1]["betas"] == (0.0, 0.5)


def test_a_param_groups_other_options_must_be_finite():
    p = Parameter(cl.zeros(2))
    with pytest.raises(ValueError, match=r"^Invalid rho value: nan \(expected a finite number\)$"):
        optim.Adadelta([{"params": [p], "rho": math.nan}])
    with pytest.raises(ValueError, match=r"^Invalid lr_decay value: inf \(expected a finite number >= 0\)$"):
        optim.Adagrad([{"params": [p], "lr_decay": math.inf}])


@pytest.mark.parametrize("build, message", [
    (lambda o: S.OneCycleLR(o, max_lr=[0.1, 0.2], total_steps=10), r"^expected 1 values for max_lr, got 2$"),
    (lambda o: S.CyclicLR(o, 0.01, 0.1, scale_mode="bad"),
     r"^CyclicLR: scale_mode must be one of 'cycle', 'iterations', got 'bad'$"),
    (lambda o: S.LinearLR(o, start_factor=math.nan), r"^LinearLR: start_factor must be a finite number, got nan$"),
    (lambda o: S.LinearLR(o, end_factor=math.inf), r"^LinearLR: end_factor must be a finite number, got inf$"),
], ids=[f"case{i}" for i in range(4)])  # plain ids: mutmut hands them to pytest
def test_scheduler_refusals_name_the_argument(build, message):
    opt, _ = _sgd_pair()
    with pytest.raises(ValueError, match=message):
        build(opt)


@pytest.mark.parametrize("name, kw", [("StepLR", {"step_size": 2}), ("ExponentialLR", {"gamma": 0.5}),
                                      ("CosineAnnealingLR", {"T_max": 10})], ids=["step", "exponential", "cosine"])
@pytest.mark.parametrize("start", [-1, 0, 3], ids=["new", "at0", "at3"])
def test_a_scheduler_just_built_holds_torchs_counters(name, kw, start):
    """After construction (the initial step): ``_step_count`` 1 and ``last_epoch`` start + 1, with the
    groups' rates as they were; then each step as torch's."""
    opt, ref = _sgd_pair()
    if start >= 0:
        for o in (opt, ref):
            o.param_groups[0]["initial_lr"] = 0.4  # resuming: the rate left at 0.1, the base 0.4
    ours = getattr(S, name)(opt, last_epoch=start, **kw)
    theirs = getattr(torch.optim.lr_scheduler, name)(ref, last_epoch=start, **kw)
    state, tstate = ours.state_dict(), theirs.state_dict()
    assert state["_step_count"] == tstate["_step_count"] == 1
    assert state["last_epoch"] == tstate["last_epoch"] == start + 1
    for step in range(6):
        opt.step()
        ref.step()
        ours.step()
        theirs.step()
        assert ours.get_last_lr() == pytest.approx(theirs.get_last_lr(), rel=1e-12), step
        assert ours.last_epoch == theirs.last_epoch == start + 2 + step


def test_cosine_resumed_at_epoch_0_takes_the_closed_form_on_its_first_step():
    """Resumed with last_epoch=0 (the group's rate 0.1, its base 0.4): the initial step leaves 0.1;
    get_lr() at epoch 1 is the closed form eta + (base - eta)(1 + cos(pi/T))/2 from the base, as
    torch's, not the recursive form from 0.1."""
    import warnings

    opt, ref = _sgd_pair()
    for o in (opt, ref):
        o.param_groups[0]["initial_lr"] = 0.4
    ours = S.CosineAnnealingLR(opt, T_max=10, eta_min=0.01, last_epoch=0)
    theirs = torch.optim.lr_scheduler.CosineAnnealingLR(ref, T_max=10, eta_min=0.01, last_epoch=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = theirs.get_lr()
    assert ours.get_lr() == pytest.approx(expected, rel=1e-12)
    assert ours.get_lr()[0] == pytest.approx(0.01 + 0.39 * (1 + math.cos(math.pi / 10)) / 2, rel=1e-12)

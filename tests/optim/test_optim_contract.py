"""What a torch user relies on without passing it: every default, every refusal's message, the
repr, and the schedulers' branches (resumed closed form, plateau thresholds) against torch.

Written from the mutation run (benchmarks/mutation.py optim): each test kills mutants that the
trajectory tests let through (a changed default, a changed message, a changed comparison).
"""

import inspect
import math

import numpy as np
import pytest

import convlab as cl
from convlab import optim
from convlab.nn import Parameter
from convlab.optim import lr_scheduler as S
from helpers import require_torch

torch = require_torch()
OPTIMIZERS = ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "Adamax", "NAdam", "RAdam", "ASGD"]
TORCH_ONLY = {"differentiable", "foreach", "fused", "capturable", "decoupled_weight_decay"}


def _pair(name, **kw):
    ours = [Parameter(cl.tensor(np.linspace(-1, 1, 6).reshape(2, 3)))]
    theirs = [torch.nn.Parameter(torch.tensor(np.linspace(-1, 1, 6).reshape(2, 3)))]
    return ours, theirs, getattr(optim, name)(ours, **kw), getattr(torch.optim, name)(theirs, **kw)


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_optimizer_defaults_are_torchs(name):
    """Every option left out takes torch's default (SGD's lr is required in both... torch >= 2.1
    gives it 1e-3, convlab requires it, so it is passed)."""
    kw = {"lr": 0.1} if name == "SGD" else {}
    _, _, opt, ref = _pair(name, **kw)
    ours, theirs = opt.param_groups[0], ref.param_groups[0]
    assert set(ours) - {"params"} == set(theirs) - {"params"} - (TORCH_ONLY - set(ours))
    for key, value in ours.items():
        if key != "params":
            assert value == theirs[key] and type(value) is not bool or value is theirs[key], (key, value, theirs[key])


def test_sgd_requires_a_learning_rate():
    with pytest.raises(ValueError, match="parameter group didn't specify a value of required optimization parameter lr"):
        optim.SGD([Parameter(cl.zeros(2))])


def _numeric_options(name):
    sig = inspect.signature(getattr(optim, name).__init__)
    return [a for a, p in sig.parameters.items()
            if type(p.default) in (int, float) or (a == "lr" and name == "SGD")]


BAD_OPTIONS = [(name, arg) for name in OPTIMIZERS for arg in _numeric_options(name)]


def _refusal(build):
    """``'Type: message'`` of what ``build()`` raises, or None; convlab's ConvlabError (a ValueError
    and a RuntimeError) is named by the torch type it stands for, ValueError."""
    try:
        build()
    except Exception as e:  # noqa: BLE001 - compared, not handled
        kind = "ValueError" if isinstance(e, ValueError) else type(e).__name__
        return f"{kind}: {e}"
    return None


@pytest.mark.parametrize("name,arg", BAD_OPTIONS, ids=[f"{n}-{a}" for n, a in BAD_OPTIONS])
def test_negative_option_is_refused_with_torchs_message(name, arg):
    """A negative value of each numeric option: refused with torch's message (SGD's dampening, which
    torch takes, is refused too)."""
    kw = {"lr": 0.1} if name == "SGD" and arg != "lr" else {}
    kw[arg] = -0.5
    theirs = _refusal(lambda: getattr(torch.optim, name)([torch.nn.Parameter(torch.zeros(2))], **kw))
    ours = _refusal(lambda: _pair(name, **kw))
    # torch's message first; convlab may add what it expected ("(expected a finite number >= 0)")
    if (name, arg) in (("SGD", "dampening"), ("ASGD", "alpha")):  # torch takes them; convlab refuses them
        assert theirs is None and ours.startswith(f"ValueError: Invalid {arg} value: -0.5")
    elif (name, arg) in (("ASGD", "lambd"), ("ASGD", "t0")):  # both take them (a growing rate, an early average)
        assert theirs is None and ours is None
    else:
        assert theirs is not None and ours.startswith(theirs), (ours, theirs)


@pytest.mark.parametrize("index", [0, 1])
@pytest.mark.parametrize("name", ["Adam", "AdamW"])
def test_beta_outside_unit_interval_is_refused_with_torchs_message(name, index):
    for bad in (-0.1, 1.0):
        betas = [0.9, 0.999]
        betas[index] = bad
        with pytest.raises(ValueError) as ours:
            _pair(name, betas=tuple(betas))
        with pytest.raises(ValueError) as theirs:
            getattr(torch.optim, name)([torch.nn.Parameter(torch.zeros(2))], betas=tuple(betas))
        assert str(ours.value) == str(theirs.value)


def test_non_numbers_and_bad_groups_are_refused():
    p = Parameter(cl.zeros(2))
    with pytest.raises(ValueError, match=r"Invalid learning rate: 'fast' \(expected a non-negative number\)"):
        optim.SGD([p], lr="fast")
    with pytest.raises(ValueError, match=r"Invalid learning rate: True \(expected a non-negative number\)"):
        optim.Adam([p], lr=True)
    with pytest.raises(ValueError, match="Nesterov momentum requires a momentum and zero dampening"):
        optim.SGD([p], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="Nesterov momentum requires a momentum and zero dampening"):
        optim.SGD([p], lr=0.1, momentum=0.9, dampening=0.1, nesterov=True)
    with pytest.raises(TypeError, match="param_group must be a dict, got list"):
        optim.SGD([p], lr=0.1).add_param_group([p])
    with pytest.raises(ValueError, match="^some parameters appear in more than one parameter group$"):
        optim.SGD([p], lr=0.1).add_param_group({"params": [p]})
    with pytest.raises(TypeError, match="optimizer can only optimize Tensors, got int"):
        optim.SGD([1], lr=0.1)
    with pytest.raises(ValueError, match="^optimizer got an empty parameter list$"):
        optim.SGD([], lr=0.1)
    with pytest.raises(TypeError, match="should be an iterable of Tensors or dicts, but got a Tensor"):
        optim.SGD(p, lr=0.1)


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_repr_is_torchs_without_its_device_options(name):
    """``Name (`` / ``Parameter Group i`` / one ``    key: value`` line per option, sorted, as torch
    prints it (less torch's foreach/fused/... options; numbers compared as numbers)."""
    kw = {"lr": 0.1, "momentum": 0.9} if name == "SGD" else {"lr": 0.05}
    _, _, opt, ref = _pair(name, **kw)
    ours, theirs = repr(opt).splitlines(), repr(ref).splitlines()
    theirs = [line for line in theirs if line.split(":")[0].strip() not in TORCH_ONLY - set(opt.param_groups[0])]
    assert len(ours) == len(theirs) and ours[:2] == theirs[:2] == [f"{name} (", "Parameter Group 0"], (ours, theirs)
    assert ours[-1] == theirs[-1] == ")"
    for a, b in zip(ours[2:-1], theirs[2:-1]):
        (ka, va), (kb, vb) = a.split(": ", 1), b.split(": ", 1)
        assert ka == kb and ka.startswith("    ")
        try:
            assert float(va) == float(vb), (ka, va, vb)
        except ValueError:
            assert va == vb, (ka, va, vb)


def _sgd_pair(lr=0.1):
    ours, theirs = [Parameter(cl.zeros(2))], [torch.nn.Parameter(torch.zeros(2))]
    return optim.SGD(ours, lr=lr, momentum=0.9), torch.optim.SGD(theirs, lr=lr, momentum=0.9)


SCHEDULER_DEFAULTS = [  # only the required arguments: every other option at its default
    ("StepLR", {"step_size": 3}),
    ("MultiStepLR", {"milestones": [2, 5]}),
    ("CosineAnnealingLR", {"T_max": 7}),
    ("LinearLR", {}),
    ("OneCycleLR", {"max_lr": 1.0, "total_steps": 40}),
    ("OneCycleLR", {"max_lr": 1.0, "epochs": 4, "steps_per_epoch": 10}),
    ("ConstantLR", {}),
    ("PolynomialLR", {}),
    ("CosineAnnealingWarmRestarts", {"T_0": 3}),
    ("CyclicLR", {"base_lr": 0.01, "max_lr": 0.1}),
]


@pytest.mark.parametrize("name,kw", SCHEDULER_DEFAULTS, ids=str)
def test_scheduler_defaults_follow_torch(name, kw):
    """Learning rate and momentum for 40 steps with every option at its default, within 1e-12."""
    opt, ref = _sgd_pair()
    ours, theirs = getattr(S, name)(opt, **kw), getattr(torch.optim.lr_scheduler, name)(ref, **kw)
    for step in range(39):
        assert ours.get_last_lr() == pytest.approx(theirs.get_last_lr(), rel=1e-12, abs=1e-15), step
        assert opt.param_groups[0]["momentum"] == pytest.approx(ref.param_groups[0]["momentum"], rel=1e-12), step
        opt.step()
        ref.step()
        ours.step()
        theirs.step()


@pytest.mark.parametrize("start", [3, 10, 21])
@pytest.mark.parametrize("name,kw", [("CosineAnnealingLR", {"T_max": 10, "eta_min": 0.01}),
                                     ("LinearLR", {"start_factor": 0.25, "total_iters": 15}),
                                     ("StepLR", {"step_size": 4}), ("MultiStepLR", {"milestones": [4, 12, 22]})], ids=str)
def test_resumed_scheduler_follows_torch(name, kw, start):
    """A scheduler built with ``last_epoch=start`` (resuming: the groups hold ``initial_lr``) leaves
    the rate as it is on construction, as torch (2.2+) does, then steps like torch's: through the
    cosine's trough at T_max and back up, past the linear ramp's end, across the milestones."""
    opt, ref = _sgd_pair()
    for o in (opt, ref):
        o.param_groups[0]["initial_lr"] = 0.4
    ours = getattr(S, name)(opt, last_epoch=start, **kw)
    theirs = getattr(torch.optim.lr_scheduler, name)(ref, last_epoch=start, **kw)
    for step in range(25):
        assert ours.get_last_lr() == pytest.approx(theirs.get_last_lr(), rel=1e-12), step
        ours.step()
        theirs.step()


PLATEAU = [
    {},  # every default: min, rel 1e-4, patience 10, factor 0.1
    {"mode": "max", "patience": 1},
    {"mode": "min", "threshold_mode": "abs", "threshold": 0.05, "patience": 0},
    {"mode": "max", "threshold_mode": "abs", "threshold": 0.05, "patience": 0},
    {"mode": "max", "threshold": 0.1, "patience": 0, "cooldown": 2},
    {"patience": 0, "factor": 0.5, "min_lr": 0.02},
    {"patience": 0, "factor": 0.999, "eps": 0.01},  # reductions smaller than eps are skipped
]


@pytest.mark.parametrize("kw", PLATEAU, ids=str)
def test_reduce_on_plateau_thresholds_follow_torch(kw):
    """Metrics that sit just inside and just outside each threshold (relative 1e-4 and 0.1,
    absolute 0.05), rising and falling: the same reductions as torch, step by step."""
    opt, ref = _sgd_pair(lr=1.0)
    ours = S.ReduceLROnPlateau(opt, **kw)
    theirs = torch.optim.lr_scheduler.ReduceLROnPlateau(ref, **kw)
    metrics = [1.0, 0.99995, 0.9999, 0.96, 0.95, 0.9, 0.91, 1.04, 1.06, 1.1, 1.2, 1.33, 1.32, 1.3, 1.5, 0.5]
    for step, m in enumerate(metrics * 2):
        ours.step(m)
        theirs.step(m)
        assert ours.get_last_lr() == pytest.approx(theirs.get_last_lr(), rel=1e-12), (step, m)
        assert (ours.best, ours.num_bad_epochs, ours.cooldown_counter) == (
            theirs.best, theirs.num_bad_epochs, theirs.cooldown_counter), (step, m)


@pytest.mark.parametrize("name, kw", [("SGD", {"lr": 0.1, "momentum": 0.9}), ("Adam", {"amsgrad": True}), ("AdamW", {}),
                                      ("RMSprop", {"momentum": 0.5, "centered": True}), ("Adagrad", {}),
                                      ("Adadelta", {}), ("Adamax", {}), ("NAdam", {"maximize": True}),
                                      ("RAdam", {"decoupled_weight_decay": True, "weight_decay": 0.1}),
                                      ("ASGD", {"maximize": True, "t0": 1})], ids=str)
def test_optimizer_state_is_torchs(name, kw):
    """After 3 steps each parameter's state holds torch's entries with torch's values (``step`` as
    an int, the buffers as arrays within 1e-12), and the state dict's groups hold the options."""
    ours, theirs, opt, ref = _pair(name, **kw)
    for step in range(3):
        g = np.random.default_rng(step).standard_normal((2, 3))
        ours[0].grad, theirs[0].grad = cl.tensor(g), torch.tensor(g)
        opt.step()
        ref.step()
    state, tstate = opt.state_dict()["state"][0], ref.state_dict()["state"][0]
    assert set(state) == set(tstate)
    for key, value in tstate.items():
        if key == "step":
            assert state[key] == int(value) == 3 and type(state[key]) is int
        elif value.ndim == 0 and not isinstance(state[key], np.ndarray):
            # NAdam's mu_product, ASGD's eta and mu: Python floats in convlab, 0-d tensors in torch
            # (mu_product in float32 there, hence 1e-6)
            assert float(state[key]) == pytest.approx(float(value), rel=1e-6), key
        else:
            assert isinstance(state[key], np.ndarray), key
            np.testing.assert_allclose(state[key], value.numpy(), rtol=1e-12, atol=1e-15, err_msg=key)
    group, tgroup = opt.state_dict()["param_groups"][0], ref.state_dict()["param_groups"][0]
    assert group["params"] == tgroup["params"] == [0]
    assert {k: v for k, v in group.items() if k != "params"} == {k: v for k, v in tgroup.items() if k in group and k != "params"}


@pytest.mark.parametrize("name,kw", SCHEDULER_DEFAULTS[:5], ids=str)
def test_scheduler_state_dict_holds_torchs_counters(name, kw):
    """``last_epoch``, ``_step_count``, ``base_lrs`` and ``_last_lr`` in the state dict, as torch's."""
    opt, ref = _sgd_pair()
    ours, theirs = getattr(S, name)(opt, **kw), getattr(torch.optim.lr_scheduler, name)(ref, **kw)
    for _ in range(4):
        opt.step()
        ref.step()
        ours.step()
        theirs.step()
    state, tstate = ours.state_dict(), theirs.state_dict()
    for key in ("last_epoch", "_step_count", "base_lrs", "_last_lr"):
        assert state[key] == pytest.approx(tstate[key], rel=1e-12), key
    assert "optimizer" not in state and all(not isinstance(v, tuple) for v in state.values())


@pytest.mark.parametrize("name, kw", [
    ("OneCycleLR", {"max_lr": 1.0}), ("OneCycleLR", {"max_lr": 1.0, "epochs": 3}),
    ("OneCycleLR", {"max_lr": 1.0, "total_steps": 0}), ("OneCycleLR", {"max_lr": 1.0, "total_steps": -2}),
    ("OneCycleLR", {"max_lr": 1.0, "total_steps": 10, "pct_start": 1.5}),
    ("OneCycleLR", {"max_lr": 1.0, "total_steps": 10, "pct_start": -0.1}),
    ("OneCycleLR", {"max_lr": 1.0, "total_steps": 10, "anneal_strategy": "square"}),
    ("ReduceLROnPlateau", {"factor": 1.0}), ("ReduceLROnPlateau", {"mode": "up"}),
    ("ReduceLROnPlateau", {"threshold_mode": "ratio"}), ("ReduceLROnPlateau", {"min_lr": [0.1, 0.2]}),
], ids=str)
def test_scheduler_refusals_are_torchs(name, kw):
    """Each refused scheduler option raises torch's exception type with torch's message."""
    opt, ref = _sgd_pair()
    theirs = _refusal(lambda: getattr(torch.optim.lr_scheduler, name)(ref, **kw))
    assert theirs is not None
    assert _refusal(lambda: getattr(S, name)(opt, **kw)) == theirs


@pytest.mark.parametrize("kw", [{"start_factor": 0.0}, {"start_factor": 1.5}, {"end_factor": -0.1}, {"end_factor": 1.1}],
                         ids=str)
def test_linear_lr_refuses_factors_outside_their_ranges(kw):
    opt, ref = _sgd_pair()
    assert _refusal(lambda: torch.optim.lr_scheduler.LinearLR(ref, **kw)).startswith("ValueError")
    arg = next(iter(kw))
    with pytest.raises(ValueError, match=rf"^LinearLR: {arg} must be in [(\[]0, 1\]"):
        S.LinearLR(opt, **kw)


@pytest.mark.parametrize("start", [1, 4, 13])
def test_cosine_get_lr_right_after_resuming_is_the_closed_form(start):
    """``get_lr()`` called by hand on a scheduler just built with ``last_epoch=start``: the closed
    form at start + 1, as torch's (which warns that get_lr is meant for step)."""
    import warnings

    opt, ref = _sgd_pair()
    for o in (opt, ref):
        o.param_groups[0]["initial_lr"] = 0.4
    ours = S.CosineAnnealingLR(opt, T_max=10, eta_min=0.01, last_epoch=start)
    theirs = torch.optim.lr_scheduler.CosineAnnealingLR(ref, T_max=10, eta_min=0.01, last_epoch=start)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = theirs.get_lr()
    t = start + 1
    assert ours.get_lr() == pytest.approx(expected, rel=1e-12)
    assert ours.get_lr()[0] == pytest.approx(0.01 + 0.39 * (1 + math.cos(math.pi * t / 10)) / 2, rel=1e-12)


@pytest.mark.parametrize("t_mult", [1, 2, 3])
def test_warm_restarts_at_an_explicit_epoch_follow_torch(t_mult):
    """step(epoch) places a fractional epoch in its cycle (T_mult > 1: cycles of T_0 * T_mult**n)."""
    opt, ref = _sgd_pair()
    ours = S.CosineAnnealingWarmRestarts(opt, T_0=3, T_mult=t_mult, eta_min=0.01)
    theirs = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(ref, T_0=3, T_mult=t_mult, eta_min=0.01)
    for epoch in (0.5, 2.9, 3.0, 4.25, 10.3, 25.0, 40.5):
        ours.step(epoch)
        theirs.step(epoch)
        assert ours.get_last_lr() == pytest.approx(theirs.get_last_lr(), rel=1e-12), epoch
        assert (ours.T_i, ours.T_cur) == pytest.approx((theirs.T_i, theirs.T_cur), rel=1e-12), epoch


@pytest.mark.parametrize("build", [
    lambda s, o: s.CosineAnnealingWarmRestarts(o, T_0=0),
    lambda s, o: s.CosineAnnealingWarmRestarts(o, T_0=2).step(-1),
], ids=["T_0=0", "negative epoch"])
def test_more_scheduler_refusals_start_with_torchs_message(build):
    opt, ref = _sgd_pair()
    theirs = _refusal(lambda: build(torch.optim.lr_scheduler, ref))
    ours = _refusal(lambda: build(S, opt))
    assert theirs is not None and ours is not None and ours.split(":")[0] == theirs.split(":")[0], (ours, theirs)
    assert ours.startswith(theirs.rstrip(".")) or theirs.split(": ", 1)[1][:25] in ours, (ours, theirs)


def test_a_scheduler_from_another_optimizer_is_refused():
    opt, _ = _sgd_pair()
    other, _ = _sgd_pair()
    with pytest.raises(ValueError, match=r"SequentialLR expects all schedulers to belong to the same optimizer \(index 1\)"):
        S.SequentialLR(opt, [S.ConstantLR(opt), S.ConstantLR(other)], milestones=[2])
    with pytest.raises(ValueError, match=r"SequentialLR expects 1 milestones for 2 schedulers, got 2"):
        S.SequentialLR(opt, [S.ConstantLR(opt), S.ConstantLR(opt)], milestones=[2, 3])
    with pytest.raises(ValueError, match=r"MultiStepLR: milestones must be an integer >= 0, got '3' \(str\)"):
        S.MultiStepLR(opt, milestones="3")  # torch counts the characters of the string


def test_plateau_and_cyclic_state_are_torchs():
    opt, ref = _sgd_pair()
    ours, theirs = S.ReduceLROnPlateau(opt), torch.optim.lr_scheduler.ReduceLROnPlateau(ref)
    assert ours.last_epoch == theirs.last_epoch == 0
    assert "_is_initial" not in S.StepLR(opt, 2).state_dict()  # True only inside __init__: checkpoints keep their layout
    opt, ref = _sgd_pair()
    S.CyclicLR(opt, 0.01, 0.1, base_momentum=0.7, max_momentum=0.95)
    torch.optim.lr_scheduler.CyclicLR(ref, 0.01, 0.1, base_momentum=0.7, max_momentum=0.95)
    for key in ("base_momentum", "max_momentum", "momentum"):
        assert opt.param_groups[0][key] == pytest.approx(ref.param_groups[0][key], rel=1e-12), key


@pytest.mark.parametrize("build", [
    lambda s, o: s.ConstantLR(o, factor=2),
    lambda s, o: s.CyclicLR(o, 0.1, 1.0, cycle_momentum=True) if isinstance(o, (optim.Adagrad, torch.optim.Adagrad))
    else None,
], ids=["ConstantLR factor", "CyclicLR momentum"])
def test_scheduler_refusals_in_torchs_exact_words(build):
    opt = optim.Adagrad([Parameter(cl.zeros(2))])
    ref = torch.optim.Adagrad([torch.nn.Parameter(torch.zeros(2))])
    assert _refusal(lambda: build(S, opt)) == _refusal(lambda: build(torch.optim.lr_scheduler, ref)) is not None


def test_convlab_scheduler_refusals_name_the_argument():
    opt, _ = _sgd_pair()
    with pytest.raises(ValueError, match=r"^ReduceLROnPlateau: cooldown must be non-negative, got -1$"):
        S.ReduceLROnPlateau(opt, cooldown=-1)  # torch takes it (and never cools down)
    with pytest.raises(ValueError, match=r"^StepLR: last_epoch must be >= -1, got -2$"):
        S.StepLR(opt, 2, last_epoch=-2)
    with pytest.raises(ValueError, match=r"^expected 1 values for base_lr, got 2$"):
        S.CyclicLR(opt, [0.1, 0.2], 1.0)


def test_more_schedules_follow_torch():
    """T_0=1 restarts, three chained schedulers, resumed exponential, polynomial and multiplicative
    decays (the rate restored with the optimizer stays on construction, as torch 2.2+) and a cosine
    resumed at epoch 1: 12 steps each within 1e-12."""
    cases = [
        ("CosineAnnealingWarmRestarts", lambda s, o: s.CosineAnnealingWarmRestarts(o, T_0=1, T_mult=2)),
        ("SequentialLR", lambda s, o: s.SequentialLR(o, [s.ConstantLR(o, factor=0.5, total_iters=2),
                                                         s.ExponentialLR(o, 0.9), s.StepLR(o, 2)], milestones=[3, 6])),
        ("ExponentialLR", lambda s, o: s.ExponentialLR(o, 0.9, last_epoch=3)),
        ("PolynomialLR", lambda s, o: s.PolynomialLR(o, total_iters=8, power=2.0, last_epoch=2)),
        ("MultiplicativeLR", lambda s, o: s.MultiplicativeLR(o, lambda e: 0.9, last_epoch=3)),
        ("CosineAnnealingLR", lambda s, o: s.CosineAnnealingLR(o, T_max=6, last_epoch=1)),
    ]
    for name, build in cases:
        opt, ref = _sgd_pair()
        for group, tgroup in zip(opt.param_groups, ref.param_groups):
            group["initial_lr"] = tgroup["initial_lr"] = 0.1  # what a resumed run's optimizer state holds
        ours, theirs = build(S, opt), build(torch.optim.lr_scheduler, ref)
        if name not in ("CosineAnnealingWarmRestarts", "SequentialLR"):  # torch 2.13: 0 there; none here
            assert ours._step_count == theirs._step_count, name
        for step in range(12):
            assert ours.get_last_lr() == pytest.approx(theirs.get_last_lr(), rel=1e-12), (name, step)
            opt.step()
            ref.step()
            ours.step()
            theirs.step()


def test_scalar_state_read_back_from_arrays_is_a_number():
    """A checkpoint stores ``step`` as a 0-d array; loading gives the int back."""
    ours, _, opt, _ = _pair("Adam")
    ours[0].grad = cl.ones(2, 3, dtype=cl.float64)
    opt.step()
    sd = opt.state_dict()
    sd["state"][0]["step"] = np.array(1)
    _, _, again, _ = _pair("Adam")
    again.load_state_dict(sd)
    assert again.state_dict()["state"][0]["step"] == 1 and type(again.state_dict()["state"][0]["step"]) is int


def test_group_refusals_are_exact():
    leaf = Parameter(cl.zeros(2))
    with pytest.raises(ValueError, match=r"^can't optimize a non-leaf Tensor$"):
        optim.SGD([leaf * 2], lr=0.1)
    with pytest.raises(ValueError, match=r"^Invalid beta parameter at index 1: 1.0"):
        optim.Adam([leaf], betas=(0.9, 1.0))

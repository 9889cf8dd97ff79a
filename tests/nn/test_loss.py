"""Losses against torch: every option and reduction, gradients, stability and error messages."""

import numpy as np
import pytest

import convlab as cl
import convlab.functional as F
import convlab.nn as nn
from helpers import compare_with_torch, gradcheck_op, rand, require_torch

REDUCTIONS = ["mean", "sum", "none"]


def labels(shape, classes, seed=0, ignore=None):
    t = np.random.default_rng(seed).integers(0, classes, shape)
    if ignore is not None:
        t.flat[::3] = ignore
    return t


CE_CASES = [  # (logits shape, kwargs)
    ((6, 5), {}),
    ((6, 5), {"weight": True}),
    ((6, 5), {"ignore_index": 2}),
    ((6, 5), {"ignore_index": -100, "ignore": True, "weight": True}),
    ((6, 5), {"label_smoothing": 0.1}),
    ((6, 5), {"label_smoothing": 0.2, "weight": True, "ignore_index": 1, "ignore": True}),
    ((2, 4, 3, 3), {"weight": True, "label_smoothing": 0.05}),  # per-pixel (segmentation) layout
    ((5,), {}),  # unbatched
]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape,kw", CE_CASES, ids=str)
def test_cross_entropy_class_indices(shape, kw, reduction):
    torch = require_torch()
    kw = dict(kw)
    c = shape[1] if len(shape) > 1 else shape[0]
    ignore_index = kw.get("ignore_index", -100)
    tshape = (shape[0],) + shape[2:] if len(shape) > 1 else ()
    target = labels(tshape, c, ignore=ignore_index if kw.pop("ignore", False) else None)
    weight = rand((c,), 7, low=0.2) if kw.pop("weight", False) else None
    args = dict(kw, reduction=reduction)
    ours = nn.CrossEntropyLoss(weight=None if weight is None else cl.tensor(weight), **args)
    theirs = torch.nn.CrossEntropyLoss(weight=None if weight is None else torch.tensor(weight), **args)
    compare_with_torch(lambda x: ours(x, cl.tensor(target)), lambda x: theirs(x, torch.tensor(target)), [rand(shape, 1)])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("kw", [{}, {"weight": True}, {"label_smoothing": 0.3}, {"weight": True, "label_smoothing": 0.1}],
                         ids=str)
def test_cross_entropy_class_probabilities(kw, reduction):
    torch = require_torch()
    kw = dict(kw)
    weight = rand((4,), 7, low=0.2) if kw.pop("weight", False) else None
    probs = np.random.default_rng(3).dirichlet(np.ones(4), size=(3, 2)).transpose(0, 2, 1)  # (N, C, d)
    ours = nn.CrossEntropyLoss(weight=None if weight is None else cl.tensor(weight), reduction=reduction, **kw)
    theirs = torch.nn.CrossEntropyLoss(weight=None if weight is None else torch.tensor(weight), reduction=reduction, **kw)
    # gradients with respect to both the logits and the soft target
    compare_with_torch(ours, theirs, [rand((3, 4, 2), 1), np.ascontiguousarray(probs)])


def test_cross_entropy_float32_and_gradcheck():
    torch = require_torch()
    target = labels((8,), 10)
    compare_with_torch(lambda x: F.cross_entropy(x, cl.tensor(target)),
                       lambda x: torch.nn.functional.cross_entropy(x, torch.tensor(target)), [rand((8, 10), 0, np.float32)])
    gradcheck_op(lambda x: F.cross_entropy(x, cl.tensor(labels((4,), 3)), label_smoothing=0.1,
                                           weight=cl.tensor([1.0, 2.0, 0.5], dtype=cl.float64)), (4, 3))


def test_cross_entropy_is_stable_for_huge_logits():
    torch = require_torch()
    x = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, 1e4], [1e4, 1e4, -1e4]])
    t = np.array([1, 2, 0])
    for dtype in (np.float32, np.float64):
        compare_with_torch(lambda a: F.cross_entropy(a, cl.tensor(t), label_smoothing=0.1),
                           lambda a: torch.nn.functional.cross_entropy(a, torch.tensor(t), label_smoothing=0.1),
                           [x.astype(dtype)])
    loss = F.cross_entropy(cl.tensor(x), cl.tensor(t))
    assert np.isfinite(loss.item()) and abs(loss.item() - (2e4 + 0 + np.log(2)) / 3) < 1e-2


def test_cross_entropy_errors_name_labels_and_shapes():
    x = cl.randn(4, 3)
    with pytest.raises(ValueError, match="target label 3 is out of range for 3 classes"):
        F.cross_entropy(x, cl.tensor([0, 1, 3, 2]))
    with pytest.raises(ValueError, match="target label -1 is out of range"):
        nn.CrossEntropyLoss()(x, cl.tensor([0, -1, 1, 2]))
    with pytest.raises(ValueError, match=r"input of shape \(4, 3\) needs a target of shape \(4,\), got target of shape \(5,\)"):
        F.cross_entropy(x, cl.tensor([0, 1, 2, 0, 1]))
    with pytest.raises(ValueError, match="probability target of shape"):
        F.cross_entropy(x, cl.rand(4, 2))
    with pytest.raises(ValueError, match="reduction"):
        F.cross_entropy(x, cl.tensor([0, 1, 2, 0]), reduction="avg")
    F.cross_entropy(x, cl.tensor([0, -100, 2, 0]))  # ignore_index is not out of range


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_nll_loss(reduction):
    torch = require_torch()
    target = labels((3, 4), 5, ignore=1)
    weight = rand((5,), 4, low=0.1)
    compare_with_torch(
        lambda x: nn.NLLLoss(weight=cl.tensor(weight), ignore_index=1, reduction=reduction)(x, cl.tensor(target)),
        lambda x: torch.nn.NLLLoss(weight=torch.tensor(weight), ignore_index=1, reduction=reduction)(x, torch.tensor(target)),
        [rand((3, 5, 4), 0)])
    compare_with_torch(lambda x: F.nll_loss(F.log_softmax(x, 1), cl.tensor(target[:, 0]), reduction=reduction),
                       lambda x: torch.nn.functional.nll_loss(x.log_softmax(1), torch.tensor(target[:, 0]), reduction=reduction),
                       [rand((3, 5), 0)])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weights", ["none", "weight", "pos_weight", "both"])
def test_bce_with_logits(weights, reduction):
    torch = require_torch()
    w = rand((4, 3), 5, low=0.1) if weights in ("weight", "both") else None
    pw = rand((3,), 6, low=0.5) if weights in ("pos_weight", "both") else None
    x = rand((4, 3), 0) * 5
    y = np.random.default_rng(1).random((4, 3))  # soft targets, with gradients

    def ours(a, b):
        return nn.BCEWithLogitsLoss(weight=None if w is None else cl.tensor(w), reduction=reduction,
                                    pos_weight=None if pw is None else cl.tensor(pw))(a, b)

    def theirs(a, b):
        return torch.nn.BCEWithLogitsLoss(weight=None if w is None else torch.tensor(w), reduction=reduction,
                                          pos_weight=None if pw is None else torch.tensor(pw))(a, b)

    compare_with_torch(ours, theirs, [x, y])


def test_bce_with_logits_is_stable_for_huge_logits():
    torch = require_torch()
    x = np.array([1e4, -1e4, 50.0, -50.0, 0.0])
    y = np.array([0.0, 1.0, 1.0, 0.0, 1.0])
    for dtype in (np.float32, np.float64):
        out = compare_with_torch(lambda a, b: F.binary_cross_entropy_with_logits(a, b, reduction="none"),
                                 lambda a, b: torch.nn.functional.binary_cross_entropy_with_logits(a, b, reduction="none"),
                                 [x.astype(dtype), y.astype(dtype)])
        assert np.all(np.isfinite(out.detach().numpy()))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_on_probabilities(reduction):
    torch = require_torch()
    p = np.random.default_rng(0).uniform(0.05, 0.95, (4, 3))
    y = (np.random.default_rng(1).random((4, 3)) > 0.5).astype(np.float64)
    w = rand((4, 3), 2, low=0.1)
    compare_with_torch(lambda a: nn.BCELoss(weight=cl.tensor(w), reduction=reduction)(a, cl.tensor(y)),
                       lambda a: torch.nn.BCELoss(weight=torch.tensor(w), reduction=reduction)(a, torch.tensor(y)), [p])
    # saturated probabilities: logs clamp at -100, like torch
    sat = np.array([0.0, 1.0, 0.0, 1.0])
    t = np.array([1.0, 0.0, 0.0, 1.0])
    compare_with_torch(lambda a: F.binary_cross_entropy(a, cl.tensor(t), reduction=reduction),
                       lambda a: torch.nn.functional.binary_cross_entropy(a, torch.tensor(t), reduction=reduction),
                       [sat], grad=False)
    with pytest.raises(ValueError, match="between 0 and 1"):
        F.binary_cross_entropy(cl.tensor([1.5]), cl.tensor([1.0]))
    with pytest.raises(ValueError, match="same shape"):
        F.binary_cross_entropy(cl.tensor([0.5, 0.5]), cl.tensor([1.0]))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", ["MSELoss", "L1Loss"])
def test_regression_losses(name, reduction):
    torch = require_torch()
    a, b = rand((3, 4), 0), rand((3, 4), 1)
    b.flat[0] = a.flat[0]  # |x - y| = 0: the subgradient is 0, as torch
    compare_with_torch(getattr(nn, name)(reduction=reduction), getattr(torch.nn, name)(reduction=reduction), [a, b])
    with pytest.warns(UserWarning, match="broadcast"):
        getattr(nn, name)()(cl.ones(3, 4), cl.ones(4))


def test_loss_gradchecks():
    gradcheck_op(lambda x: F.binary_cross_entropy_with_logits(x, cl.tensor(np.array([[0.0, 1.0, 0.3]])),
                                                              pos_weight=cl.tensor(np.array([2.0, 0.5, 1.0]))), (1, 3))
    gradcheck_op(lambda x: F.nll_loss(x, cl.tensor([0, 2])), (2, 3))


def test_one_hot():
    torch = require_torch()
    t = np.array([[0, 2], [1, 3]])
    np.testing.assert_array_equal(F.one_hot(cl.tensor(t)).numpy(), torch.nn.functional.one_hot(torch.tensor(t)).numpy())
    assert F.one_hot(cl.tensor([1]), 4).shape == (1, 4)
    with pytest.raises(ValueError, match="class values"):
        F.one_hot(cl.tensor([5]), 3)


@pytest.mark.parametrize("kw", [{"label_smoothing": 0.1}, {"weight": [1.0, 2.0, 3.0, 4.0, 5.0]},
                                {"label_smoothing": 0.2, "ignore_index": 1},
                                {"label_smoothing": 0.1, "weight": [1.0, 2.0, 3.0, 4.0, 5.0]}])
def test_cross_entropy_gradient_keeps_the_logits_dtype(kw):
    """A float64 gradient out of the loss would send a float32 network's whole backward through
    float64 NumPy products (label smoothing trained 3.5x slower before this was fixed)."""
    seen = []
    x = cl.tensor(np.random.default_rng(0).standard_normal((4, 5)).astype(np.float32), requires_grad=True)
    y = x * 1.0
    y.register_hook(lambda g: seen.append(g.dtype))
    if "weight" in kw:
        kw = {**kw, "weight": cl.tensor(kw["weight"], dtype=cl.float32)}
    F.cross_entropy(y, cl.tensor([0, 1, 2, 4]), **kw).backward()
    assert seen == [np.float32]

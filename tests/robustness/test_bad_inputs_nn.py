# ruff: noqa: E501  (one case per line: the table reads better unwrapped)
"""Hostile inputs for layers, losses, normalisation, optimisers and load_state_dict."""

import numpy as np
from hostile import Case, check, params

import convlab as cl
import convlab.functional as F
import convlab.nn as nn

LG = cl.randn(4, 3)
Y = cl.tensor([0, 1, 2, 1])

LOSSES = []
for _fn in ("cross_entropy", "nll_loss"):
    f = getattr(F, _fn)
    for label in (3, 5, -1, -7):
        LOSSES.append(Case(f"{_fn}-label={label}", lambda f=f, v=label: f(LG, cl.tensor([0, 1, v, 1])), ValueError,
                           rf"{_fn}: target label {label} is out of range for 3 classes"))
    for n in (3, 5, 0):
        LOSSES.append(Case(f"{_fn}-batch-{n}", lambda f=f, n=n: f(LG, cl.tensor(np.zeros(n, np.int64))), ValueError,
                           rf"{_fn}: input of shape \(4, 3\) needs a target of shape \(4,\), got target of shape \({n},\)"))
    LOSSES += [
        Case(f"{_fn}-reduction", lambda f=f: f(LG, Y, reduction="avg"), ValueError, rf"{_fn}: reduction must be .*got 'avg'"),
        Case(f"{_fn}-weight", lambda f=f: f(LG, Y, weight=cl.ones(4)), ValueError,
             rf"{_fn}: weight has shape \(4,\) but the input has 3 channels"),
        Case(f"{_fn}-bool-target", lambda f=f: f(LG, cl.tensor([True, False, True, False])), TypeError,
             rf"{_fn}: class-index targets must be integers, got dtype bool"),
        Case(f"{_fn}-spatial-target", lambda f=f: f(cl.randn(2, 3, 4, 4), cl.tensor(np.zeros((2, 4, 5), np.int64))),
             ValueError, rf"{_fn}: input of shape \(2, 3, 4, 4\) needs a target of shape \(2, 4, 4\)"),
    ]
LOSSES += [
    Case("cross_entropy-prob-shape", lambda: F.cross_entropy(LG, cl.randn(4, 2)), ValueError,
         r"probability target of shape \(4, 2\) must match input of shape \(4, 3\)"),
    Case("cross_entropy-label_smoothing", lambda: F.cross_entropy(LG, Y, label_smoothing=1.5), ValueError,
         r"label_smoothing must be in \[0, 1\], got 1.5"),
    Case("cross_entropy-0d", lambda: F.cross_entropy(cl.tensor(1.0), Y), ValueError, r"at least 1 dimension"),
    Case("bce-range", lambda: F.binary_cross_entropy(cl.tensor([1.5]), cl.tensor([1.0])), ValueError,
         r"binary_cross_entropy: all elements of input should be between 0 and 1"),
    Case("bce-shape", lambda: F.binary_cross_entropy(cl.tensor([0.5, 0.5]), cl.tensor([1.0])), ValueError,
         r"target of shape \(1,\) must be the same shape as input of shape \(2,\)"),
    Case("bce-logits-shape", lambda: F.binary_cross_entropy_with_logits(cl.tensor([0.5, 0.5]), cl.tensor([1.0])),
         ValueError, r"binary_cross_entropy_with_logits: target of shape \(1,\)"),
    Case("one_hot-range", lambda: F.one_hot(cl.tensor([0, 5]), 3), ValueError, r"class values must be in \[0, 2\], got range \[0, 5\]"),
    Case("one_hot-float", lambda: F.one_hot(cl.tensor([0.0]), 3), TypeError, r"one_hot: expected an integer tensor, got dtype float32"),
    Case("CrossEntropyLoss-label", lambda: nn.CrossEntropyLoss()(LG, cl.tensor([0, 1, 3, 1])), ValueError,
         r"target label 3 is out of range for 3 classes"),
    Case("CrossEntropyLoss-reduction", lambda: nn.CrossEntropyLoss(reduction="x"), ValueError, r"reduction must be .*got 'x'"),
]

FUNCTIONAL = [
    Case("linear-features", lambda: F.linear(cl.randn(2, 5), cl.randn(3, 4)), ValueError,
         r"linear: input of shape \(2, 5\) has 5 features but weight of shape \(3, 4\) expects 4"),
    Case("batch_norm-one-value", lambda: F.batch_norm(cl.randn(1, 3), cl.zeros(3), cl.ones(3), training=True), ValueError,
         r"more than 1 value per channel .*\(1, 3\)"),
    Case("batch_norm-running", lambda: F.batch_norm(cl.randn(4, 3, 2, 2), cl.zeros(2), cl.ones(2)), ValueError,
         r"running_mean has shape \(2,\) but the input has 3 channels"),
    Case("group_norm-groups", lambda: F.group_norm(cl.randn(2, 6, 4, 4), 4), ValueError, r"num_groups=4, got \(2, 6, 4, 4\)"),
    Case("layer_norm-shape", lambda: F.layer_norm(cl.randn(2, 3, 4), (5,)), ValueError, r"does not end with normalized_shape \(5,\)"),
]
for p in (1.5, -0.1):
    FUNCTIONAL.append(Case(f"dropout-p={p}", lambda p=p: F.dropout(LG, p), ValueError, rf"between 0 and 1, but got {p}"))
    FUNCTIONAL.append(Case(f"Dropout-p={p}", lambda p=p: nn.Dropout(p), ValueError, rf"between 0 and 1, but got {p}"))

LAYERS = []
for _cls in ("Conv1d", "Conv2d", "Conv3d"):
    C = getattr(nn, _cls)
    for arg, v in (("in_channels", 0), ("in_channels", -1), ("in_channels", 3.5), ("in_channels", "3"),
                   ("out_channels", 0), ("out_channels", -2)):
        kw = {"in_channels": 3, "out_channels": 4, "kernel_size": 3, arg: v}
        LAYERS.append(Case(f"{_cls}-{arg}={v!r}", lambda C=C, kw=kw: C(**kw), ValueError,
                           rf"{_cls}: {arg} must be a positive integer, got {v!r}"))
    for arg, v in (("kernel_size", 0), ("kernel_size", -1), ("stride", 0), ("dilation", 0)):
        LAYERS.append(Case(f"{_cls}-{arg}={v}", lambda C=C, a=arg, v=v: C(3, 4, **({"kernel_size": 3} | {a: v})), ValueError,
                           rf"{_cls}: {arg} must be positive, got {v}"))
    LAYERS += [
        Case(f"{_cls}-groups", lambda C=C: C(3, 4, 3, groups=2), ValueError, rf"{_cls}: in_channels \(3\) must be divisible by groups \(2\)"),
        Case(f"{_cls}-groups=0", lambda C=C: C(3, 4, 3, groups=0), ValueError, rf"{_cls}: groups must be a positive integer, got 0"),
        Case(f"{_cls}-padding_mode", lambda C=C: C(3, 4, 3, padding_mode="foo"), ValueError, rf"{_cls}: padding_mode must be .*got 'foo'"),
        Case(f"{_cls}-padding-str", lambda C=C: C(3, 4, 3, padding="full"), ValueError, rf"{_cls}: padding must be .*got 'full'"),
    ]
_nhwc = cl.randn(2, 8, 8, 3)
LAYERS += [
    Case("Conv2d-forward-NHWC", lambda: nn.Conv2d(3, 4, 3)(_nhwc), ValueError, r"input has 8 channels .*looks like NHWC"),
    Case("Conv2d-forward-channels", lambda: nn.Conv2d(3, 4, 3)(cl.randn(2, 5, 8, 8)), ValueError,
         r"conv2d: input has 5 channels but weight expects 3"),
    Case("Conv2d-forward-float64", lambda: nn.Conv2d(3, 4, 3)(cl.randn(2, 3, 8, 8).double()), TypeError,
         r"input dtype float64 and weight dtype float32"),
    Case("Linear-forward", lambda: nn.Linear(4, 3)(cl.randn(2, 5)), ValueError, r"has 5 features but weight of shape \(3, 4\) expects 4"),
    Case("BatchNorm2d-ndim", lambda: nn.BatchNorm2d(3)(cl.randn(2, 3)), ValueError, r"BatchNorm2d: expected 4D input \(got 2D input"),
    Case("BatchNorm2d-channels", lambda: nn.BatchNorm2d(3)(cl.randn(2, 4, 5, 5)), ValueError,
         r"has 4 channels, expected num_features=3"),
    Case("GroupNorm-divisible", lambda: nn.GroupNorm(4, 6), ValueError, r"num_channels \(6\) must be divisible by num_groups \(4\)"),
    Case("MaxPool2d-forward-k0", lambda: nn.MaxPool2d(0)(cl.randn(1, 1, 4, 4)), ValueError, r"kernel_size must be positive, got 0"),
]

_lin = nn.Linear(2, 2)
OPTIM = [
    Case("SGD-lr", lambda: cl.optim.SGD(_lin.parameters(), lr=-1), ValueError, r"Invalid learning rate: -1"),
    Case("SGD-empty", lambda: cl.optim.SGD([], lr=0.1), ValueError, r"empty parameter list"),
    Case("SGD-momentum", lambda: cl.optim.SGD(_lin.parameters(), lr=0.1, momentum=-1), ValueError, r"Invalid momentum value: -1"),
    Case("Adam-betas", lambda: cl.optim.Adam(_lin.parameters(), betas=(1.5, 0.9)), ValueError, r"Invalid beta parameter at index 0: 1.5"),
    Case("Adam-eps", lambda: cl.optim.Adam(_lin.parameters(), eps=-1), ValueError, r"Invalid epsilon value: -1"),
]

STATE = [
    Case("load_state_dict-other-model", lambda: nn.Linear(2, 3).load_state_dict(nn.Linear(3, 3).state_dict()), RuntimeError,
         r"size mismatch for weight: copying a param with shape \(3, 3\) from checkpoint, the shape in current model is \(3, 2\)"),
    Case("load_state_dict-keys", lambda: nn.Linear(2, 3).load_state_dict({"foo": cl.zeros(1)}), RuntimeError,
         r'Unexpected key\(s\) in state_dict: "foo".*\n.*Missing key\(s\) in state_dict: "weight", "bias"'),
    Case("load_state_dict-shape-nonstrict", lambda: nn.Linear(2, 3).load_state_dict(nn.Linear(3, 3).state_dict(), strict=False),
         RuntimeError, r"size mismatch for weight"),
    Case("load_state_dict-conv-into-linear",
         lambda: nn.Sequential(nn.Conv2d(1, 2, 3)).load_state_dict(nn.Sequential(nn.Linear(9, 2)).state_dict()),
         RuntimeError, r"size mismatch for 0.weight: .*\(2, 9\) .*\(2, 1, 3, 3\)"),
]

NN_FAMILIES = {"losses": LOSSES, "functional": FUNCTIONAL, "layers": LAYERS, "optim": OPTIM, "state": STATE}


@params(LOSSES)
def test_losses(case):
    check(case)


@params(FUNCTIONAL)
def test_functional(case):
    check(case)


@params(LAYERS)
def test_layers(case):
    check(case)


@params(OPTIM)
def test_optimizers(case):
    check(case)


@params(STATE)
def test_load_state_dict(case):
    check(case)


def test_ignore_index_labels_are_allowed_outside_the_class_range():
    loss = F.cross_entropy(LG, cl.tensor([0, -100, 2, 1]))
    assert np.isfinite(loss.item())

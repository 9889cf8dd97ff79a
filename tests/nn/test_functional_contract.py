"""convlab.nn.functional's contract against torch: every default, every refusal's message (the
function and the argument named, as the developers' guide asks), and the branches the op tests
did not reach. Written from the survivors of ``benchmarks/mutation.py functional``."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from tests.helpers import compare_with_torch, rand, require_torch

import convlab as cl
import convlab.nn.functional as F
from convlab.validate import ConvlabError

# torch's builtins have no Python signature: their documented defaults, written out
BUILTIN_DEFAULTS = {
    **{f"conv{d}d": dict(bias=None, stride=1, padding=0, dilation=1, groups=1) for d in (1, 2, 3)},
    **{f"conv_transpose{d}d": dict(bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1)
       for d in (1, 2, 3)},
    "avg_pool1d": dict(stride=None, padding=0, ceil_mode=False, count_include_pad=True),
    **{f"avg_pool{d}d": dict(stride=None, padding=0, ceil_mode=False, count_include_pad=True, divisor_override=None)
       for d in (2, 3)},
    "gelu": dict(approximate="none"), "softplus": dict(beta=1.0, threshold=20.0), "one_hot": dict(num_classes=-1),
}
# convlab's own options (not in torch): off by default, so torch programs behave as in torch
CONVLAB_DEFAULTS = {
    **{f"conv{d}d": dict(strict=False) for d in (1, 2, 3)},
    **{f"{k}_pool{d}d": dict(strict=False) for k in ("avg", "max") for d in (1, 2, 3)},
    "conv_pad": dict(padding_mode="zeros", kernel_size=None, stride=1, dilation=1),
}


def _defaults(fn) -> dict:
    return {p.name: p.default for p in inspect.signature(fn).parameters.values() if p.default is not p.empty}


def test_every_default_is_torchs():
    torch = require_torch()
    checked = 0
    for name in sorted(n for n in dir(F) if not n.startswith("_") and callable(getattr(F, n))):
        ours, theirs = _defaults(getattr(F, name)), None
        tf = getattr(torch.nn.functional, name, None)
        if name in BUILTIN_DEFAULTS:
            theirs = BUILTIN_DEFAULTS[name]
        elif tf is not None:
            try:
                theirs = _defaults(tf)
            except (TypeError, ValueError):
                continue
        if theirs is None:
            continue
        for arg, value in theirs.items():
            if arg in ours:
                mine = ours[arg]
                assert mine == value or {mine, value} == {0.0, None} and name == "pad", (name, arg, mine, value)
                checked += 1
        for arg, value in CONVLAB_DEFAULTS.get(name, {}).items():
            assert ours[arg] == value, (name, arg)
    assert checked >= 128  # the comparison ran over the whole namespace (128 defaults at the time of writing)


X3, X4, X5 = (1, 2, 4), (1, 2, 4, 4), (1, 2, 4, 4, 4)
I64 = cl.int64
REFUSALS = [
    (lambda: F.conv_pad(cl.ones(*X4), 1, "mirror"), ConvlabError,
     r"padding_mode must be 'zeros', 'reflect', 'replicate' or 'circular', got 'mirror'"),
    (lambda: F.conv_pad(cl.ones(*X4), "same", "reflect", kernel_size=3, stride="a"), ConvlabError,
     r"conv_pad: stride must be an int or a tuple of 2 ints, got 'a'"),
    (lambda: F.conv_pad(cl.ones(*X4), "same", "reflect", kernel_size=3, dilation="a"), ConvlabError,
     r"conv_pad: dilation must be an int or a tuple of 2 ints, got 'a'"),
    (lambda: F.conv_pad(cl.ones(*X4), -1, "reflect"), ConvlabError, r"conv_pad: padding must be non-negative, got -1"),
    (lambda: F.conv2d(cl.ones(*X4), cl.ones(2, 2, 3, 3), cl.ones(3)), ConvlabError, r"conv2d: bias"),
    (lambda: F.conv2d(cl.ones(*X4), cl.ones(2, 3, 3, 3)), ConvlabError, r"conv2d: .*weight"),
    (lambda: F.conv2d(cl.ones(*X4), cl.ones(2, 2, 3, 3, dtype=cl.float64)), TypeError,
     r"^conv2d: input dtype float32 and weight dtype float64 should be the same$"),
    (lambda: F.celu(cl.ones(*X3), alpha=float("inf")), ConvlabError, r"^celu: alpha must be a finite number, got inf$"),
    (lambda: F.adaptive_max_pool2d(cl.tensor(np.ones((1, 1, 2, 2), bool)), 1), TypeError,
     r"^adaptive_max_pool2d: expected a numeric input, got dtype bool$"),
    (lambda: F.one_hot(cl.zeros(0, dtype=I64)), ConvlabError, r"^one_hot: can not infer the number of classes"),
    (lambda: F.conv_transpose2d(cl.ones(*X4), cl.ones(2, 3, 3, 3), bias=cl.ones(5)), ConvlabError,
     r"^conv_transpose2d: bias must have shape \(3,\) to match the 3 output channels, got \(5,\)$"),
    (lambda: F.conv2d(cl.ones(*X4), cl.ones(3, 5, 3, 3)), ConvlabError,
     r"^conv2d: input has 2 channels but weight expects 5 \(weight shape \(3, 5, 3, 3\)\)$"),
    (lambda: F.conv2d(cl.ones(*X4), cl.ones(3, 2, 3, 3), bias=cl.ones(3, dtype=cl.float64)), TypeError,
     r"^conv2d: input dtype float32 and bias dtype float64 should be the same$"),
    (lambda: F.conv2d(cl.ones(*X4, dtype=I64), cl.ones(3, 2, 3, 3, dtype=I64)), TypeError,
     r"^conv2d: expected a floating-point input, got dtype int64$"),
    (lambda: F.conv_pad(cl.ones(*X4), "same", "reflect", kernel_size="a"), ConvlabError,
     r"^conv_pad: kernel_size must be an int or a tuple of 2 ints, got 'a'$"),
    (lambda: F.smooth_l1_loss(cl.ones(3), cl.ones(4)), ConvlabError, r"^smooth_l1_loss: target of shape \(4,\) cannot"),
    (lambda: F.mse_loss(cl.ones(3), cl.ones(3), reduction="x"), ConvlabError, r"^mse_loss: reduction must be"),
    (lambda: F.celu(cl.ones(2), alpha=0.0), ConvlabError, r"^ZeroDivisionError: celu: alpha must not be 0$"),
    (lambda: F.glu(cl.tensor(1.0)), ConvlabError, r"^glu does not support scalars because halving size must be even$"),
    (lambda: F.binary_cross_entropy(cl.full((2,), 2.0), cl.ones(2)), ConvlabError,
     r"^binary_cross_entropy: all elements of input should be between 0 and 1$"),
    (lambda: F.layer_norm(cl.ones(*X4), (4,), bias=cl.ones(3)), ConvlabError, r"^layer_norm: bias has shape \(3,\)"),
    (lambda: F.max_unpool2d(cl.ones(*X4), cl.full(X4, 99, dtype=I64), 2), ConvlabError,
     r"^max_unpool2d: indices must lie in \[0, 64\) for output size \(8, 8\), got \[99, 99\]$"),
    (lambda: F.adaptive_avg_pool1d(cl.ones(*X3), 0), ConvlabError, r"^adaptive_avg_pool1d: output_size must be positive"),
    (lambda: F.avg_pool2d(cl.ones(*X4), 0), ConvlabError, r"^avg_pool2d: kernel_size must be positive, got 0$"),
    (lambda: F.conv_transpose1d(cl.ones(*X3), cl.ones(3, 2, 3)), ConvlabError, r"conv_transpose1d: input has 2 channels"),
    (lambda: F.conv_transpose2d(cl.ones(*X4), cl.ones(3, 2, 3, 3)), ConvlabError, r"conv_transpose2d: input has 2 channels"),
    (lambda: F.conv_transpose3d(cl.ones(*X5), cl.ones(3, 2, 3, 3, 3)), ConvlabError, r"conv_transpose3d: input has 2 channels"),
    (lambda: F.conv1d(cl.ones(1, 2, 5), cl.ones(2, 2, 2), stride=2, strict=True), ConvlabError,
     r"conv1d: strict=True and 1 axis-0 positions"),
    (lambda: F.kl_div(cl.ones(*X3), cl.ones(*X3), reduction="avg"), ConvlabError,
     r"kl_div: reduction must be one of 'none', 'mean', 'sum', 'batchmean', got 'avg'"),
    (lambda: F.celu(cl.ones(*X3), alpha="a"), TypeError, r"celu: argument 'alpha' must be a real number, got 'a'"),
    (lambda: F.huber_loss(cl.ones(*X3), cl.ones(*X3), delta=0), ConvlabError, r"huber_loss: delta must be positive, got 0"),
    (lambda: F.huber_loss(cl.ones(*X3), cl.ones(*X3), reduction="avg"), ConvlabError,
     r"huber_loss: reduction must be one of 'none', 'mean', 'sum', got 'avg'"),
    (lambda: F.smooth_l1_loss(cl.ones(*X3), cl.ones(*X3), reduction="x"), ConvlabError,
     r"smooth_l1_loss: reduction must be one of 'none', 'mean', 'sum', got 'x'"),
    (lambda: F.pixel_unshuffle(cl.ones(*X4), 0), ConvlabError, r"pixel_unshuffle: downscale_factor must be positive, got 0"),
    (lambda: F.prelu(cl.ones(*X4), cl.ones(2, 2)), ConvlabError, r"prelu: weight must be 1-D or a scalar, got shape \(2, 2\)"),
    *[(lambda n=n, s=s: F.batch_norm(cl.ones(*X4), **{**dict(running_mean=cl.ones(2), running_var=cl.ones(2)), n: cl.ones(s)}),
       ConvlabError, rf"batch_norm: {n} has shape \({s},\) but the input has 2 channels \(expected \(2,\)\)")
      for n, s in (("running_mean", 3), ("running_var", 3), ("weight", 3), ("bias", 3))],
    (lambda: F.batch_norm(cl.ones(*X4), cl.ones(2), cl.ones(2), eps=-1), ConvlabError,
     r"batch_norm: eps must be non-negative, got -1"),
    (lambda: F.batch_norm(cl.ones(*X4), cl.ones(2), cl.ones(2), momentum=2), ConvlabError,
     r"batch_norm: momentum must be in \[0, 1\], got 2"),
    (lambda: F.batch_norm(cl.ones(3), None, None, training=True), ConvlabError,
     r"batch_norm: expected input of shape \(N, C\) or \(N, C, \*\), got \(3,\)"),
    (lambda: F.batch_norm(cl.ones(*X4), None, None, training=False), ConvlabError,
     r"^batch_norm: running_mean and running_var are required when training=False$"),
    *[(lambda n=n: F.group_norm(cl.ones(*X4), 1, **{n: cl.ones(3)}), ConvlabError,
       rf"group_norm: {n} has shape \(3,\) but the input has 2 channels") for n in ("weight", "bias")],
    (lambda: F.group_norm(cl.ones(*X4), 0), ConvlabError, r"group_norm: num_groups must be positive, got 0"),
    (lambda: F.layer_norm(cl.ones(*X4), (4,), eps=-1), ConvlabError, r"layer_norm: eps must be non-negative, got -1"),
    (lambda: F.layer_norm(cl.ones(*X4), "a"), ConvlabError,
     r"layer_norm: normalized_shape must be a sequence of non-negative integers, got 'a'"),
    *[(lambda f=f: getattr(F, f)(cl.full((3,), 0.5), cl.ones(3), reduction="x"), ConvlabError,
       rf"^{f}: reduction must be 'none', 'mean' or 'sum', got 'x'$")
      for f in ("binary_cross_entropy", "binary_cross_entropy_with_logits", "l1_loss")],
    (lambda: F.cross_entropy(cl.ones(2, 3), cl.tensor([0, 1]), reduction="x"), ConvlabError,
     r"^cross_entropy: reduction must be 'none', 'mean' or 'sum', got 'x'$"),
    (lambda: F.binary_cross_entropy_with_logits(cl.ones(3), cl.ones(4)), ConvlabError,
     r"^binary_cross_entropy_with_logits: target of shape \(4,\) must be the same shape as input of shape \(3,\)"),
    (lambda: F.cross_entropy(cl.ones(2, 3), cl.tensor(1)), ConvlabError, r"\(batch sizes 2 and -\)"),
    (lambda: F.cross_entropy(cl.ones(2, 3), cl.tensor([0, 1, 2])), ConvlabError, r"\(batch sizes 2 and 3\)"),
    (lambda: F.nll_loss(cl.ones(2, 3), cl.tensor([0, 5])), ConvlabError,
     r"^nll_loss: target label 5 is out of range for 3 classes \(labels must be in \[0, 2\] or equal ignore_index=-100\)"),
    (lambda: F.mse_loss(cl.ones(3), cl.ones(4)), ConvlabError, r"^mse_loss: target of shape \(4,\) cannot be broadcast"),
    (lambda: F.dropout(cl.ones(3), p=1.5), ConvlabError, r"dropout probability has to be between 0 and 1, but got 1.5"),
    (lambda: F.dropout2d(cl.ones(3)), ConvlabError, r"dropout2d: expected a 3-D or 4-D input, got shape \(3,\)"),
    (lambda: F.one_hot(cl.ones(3)), TypeError, r"one_hot: expected an integer tensor, got dtype float32"),
    (lambda: F.adaptive_avg_pool2d(cl.tensor(np.ones((1, 1, 2, 2), bool)), 1), TypeError,
     r"adaptive_avg_pool2d: expected a floating-point input, got dtype bool"),
    (lambda: F.max_pool2d(cl.tensor(np.ones((1, 1, 2, 2), bool)), 1), TypeError,
     r"max_pool2d: expected a numeric input, got dtype bool"),
    *[(lambda f=f, s=s: getattr(F, f)(cl.ones(*s), 0), ConvlabError, rf"^{f}: kernel_size must be positive, got 0")
      for f, s in (("avg_pool1d", X3), ("avg_pool3d", X5), ("max_pool1d", X3))],
    *[(lambda f=f, s=s: getattr(F, f)(cl.ones(*s), 0), ConvlabError, rf"^{f}: output_size must be positive, got 0")
      for f, s in (("adaptive_avg_pool2d", X4), ("adaptive_avg_pool3d", X5))],
    (lambda: F.avg_pool3d(cl.ones(*X5), 2, divisor_override=0), ConvlabError, r"avg_pool3d: divisor_override must be non-zero"),
    (lambda: F.max_pool1d(cl.ones(1, 1, 5), 2, strict=True), ConvlabError, r"max_pool1d: strict=True"),
    (lambda: F.max_pool3d(cl.ones(1, 1, 5, 5, 5), 2, strict=True), ConvlabError, r"max_pool3d: strict=True"),
    (lambda: F.max_unpool2d(cl.ones(*X4), cl.zeros(*X4, dtype=I64), 2, stride="a"), ConvlabError,
     r"max_unpool2d: stride must be an int or a tuple of 2 ints, got 'a'"),
    (lambda: F.max_unpool2d(cl.ones(*X4), cl.zeros(*X4, dtype=I64), 2, padding=-1), ConvlabError,
     r"max_unpool2d: padding must be non-negative, got -1"),
    (lambda: F.max_unpool2d(cl.ones(*X4), cl.zeros(*X4, dtype=I64), 2, output_size=(10, 8)), ConvlabError,
     r"max_unpool2d: output_size \(10, 8\) must be within one stride \(2, 2\) of the default \(8, 8\)"),
]


@pytest.mark.parametrize("call, kind, message", REFUSALS, ids=[f"refusal{i}" for i in range(len(REFUSALS))])
def test_refusals_name_the_function_the_argument_and_the_value(call, kind, message):
    with pytest.raises(kind, match=message):
        call()


def test_defaults_the_output_depends_on():
    """Loose options left out must behave as their torch defaults (strict off, dilation 1, ...)."""
    x = cl.ones(1, 1, 5, 5, 5)
    assert F.max_pool3d(x, 2).shape == (1, 1, 2, 2, 2)  # strict=False: border left out silently, as torch
    p, rest = F.conv_pad(cl.ones(1, 1, 4, 4), "same", "reflect", kernel_size=3)
    assert p.shape == (1, 1, 6, 6) and rest == 0  # dilation 1: one row and column each side


def test_options_reach_the_op():
    torch = require_torch()
    tF = torch.nn.functional
    compare_with_torch(lambda a: F.avg_pool3d(a, 2, divisor_override=3), lambda a: tF.avg_pool3d(a, 2, divisor_override=3),
                       [rand((1, 2, 4, 4, 4))])
    compare_with_torch(lambda a: F.celu(a, alpha=2.0), lambda a: tF.celu(a, alpha=2.0), [rand((3, 4))])
    compare_with_torch(lambda a, t, w: F.huber_loss(a, t, weight=w, delta=0.5),
                       lambda a, t, w: tF.huber_loss(a, t, weight=w, delta=0.5),
                       [rand((3, 4)), rand((3, 4), seed=1), np.abs(rand((3, 4), seed=2))], grad_mask=[True, False, False])
    compare_with_torch(lambda a, w: F.prelu(a, w), lambda a, w: tF.prelu(a, w), [rand((5,)), np.array([0.25])])
    compare_with_torch(lambda a, t: F.kl_div(a, t, reduction="batchmean"), lambda a, t: tF.kl_div(a, t, reduction="batchmean"),
                       [np.array(-1.2), np.array(0.5)], grad_mask=[True, False])
    with pytest.warns(UserWarning):  # torch warns that size_average/reduce are deprecated; so does convlab
        ours = F.kl_div(cl.tensor(rand((2, 3))), cl.tensor(np.abs(rand((2, 3), seed=1))), size_average=False)
    with pytest.warns(UserWarning):
        ref = tF.kl_div(torch.tensor(rand((2, 3))), torch.tensor(np.abs(rand((2, 3), seed=1))), size_average=False)
    np.testing.assert_allclose(ours.item(), ref.item(), rtol=1e-12)
    with pytest.warns(UserWarning):
        ours = F.kl_div(cl.tensor(rand((2, 3))), cl.tensor(np.abs(rand((2, 3), seed=1))), reduce=False)
    assert ours.shape == (2, 3)


def test_unbatched_inputs_lose_only_the_batch_axis():
    torch = require_torch()
    tF = torch.nn.functional
    compare_with_torch(lambda a: F.max_pool2d(a, 4), lambda a: tF.max_pool2d(a, 4), [rand((1, 4, 4))])  # (1, 1, 1)
    compare_with_torch(lambda a, w: F.conv_transpose2d(a, w), lambda a, w: tF.conv_transpose2d(a, w),
                       [rand((2, 3, 3)), rand((2, 3, 2, 2), seed=1)])  # (3, 4, 4)


def test_dropout_of_everything_keeps_the_dtype():
    out = F.dropout(cl.ones(3, 4), p=1.0)
    assert out.dtype == np.float32 and not out.numpy().any()


def test_calls_that_leave_options_out_match_torchs():
    """The defaults in action (a signature check alone cannot see a default the body overrides)."""
    torch = require_torch()
    tF = torch.nn.functional
    a, t = rand((2, 3)), np.abs(rand((2, 3), seed=1))
    compare_with_torch(lambda x, y: F.kl_div(x, y), lambda x, y: tF.kl_div(x, y), [a, t], grad_mask=[True, False])
    compare_with_torch(lambda x, w: F.conv_transpose3d(x, w), lambda x, w: tF.conv_transpose3d(x, w),
                       [rand((1, 2, 3, 3, 3)), rand((2, 2, 2, 2, 2), seed=1)])
    assert F.one_hot(cl.zeros(0, dtype=I64), 3).shape == (0, 3)


def test_gelu_gradient_keeps_float32():
    x = cl.tensor(rand((3, 4), dtype=np.float32), requires_grad=True)
    for approximate in ("none", "tanh"):
        x.grad = None
        F.gelu(x, approximate=approximate).sum().backward()
        assert x.grad.dtype == np.float32, approximate


def test_norm_options_reach_the_op():
    torch = require_torch()
    tF = torch.nn.functional
    x = rand((2, 3, 4))
    compare_with_torch(lambda a: F.layer_norm(a, (4,)), lambda a: tF.layer_norm(a, (4,)), [x])  # eps 1e-5
    compare_with_torch(lambda a: F.layer_norm(a, (4,), eps=0.5), lambda a: tF.layer_norm(a, (4,), eps=0.5), [x])
    compare_with_torch(lambda a, w: F.prelu(a, w), lambda a, w: tF.prelu(a, w), [np.array(-2.0), np.array([0.25])])
    with pytest.raises(TypeError, match=r"momentum"):  # torch's functional takes no momentum=None (the layer does)
        F.batch_norm(cl.ones(4, 3), cl.zeros(3), cl.ones(3), training=True, momentum=None)

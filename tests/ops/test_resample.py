"""``F.interpolate`` / ``nn.Upsample`` against torch: every mode, size or (non-integer)
scale_factor, align_corners and recompute_scale_factor, forward and input gradient in float64."""

import numpy as np
import pytest
import torch

import convlab
import convlab.functional as F
from convlab import nn

RNG = np.random.default_rng(19)
TOL = 1e-12  # float64: the same weights summed in a different order

RESIZES = [dict(scale_factor=2), dict(scale_factor=1.7), dict(scale_factor=0.6), dict(size=(5, 9)),
           dict(size=(2, 3)), dict(scale_factor=(1.3, 2.5), recompute_scale_factor=True),
           dict(scale_factor=(1.3, 0.5))]


def _check(x, go_shape=None, **kw):
    xt = torch.tensor(x, requires_grad=True)
    xc = convlab.tensor(x, requires_grad=True)
    yt = torch.nn.functional.interpolate(xt, **kw)
    yc = F.interpolate(xc, **kw)
    assert tuple(yc.shape) == tuple(yt.shape)
    np.testing.assert_allclose(yc.detach().numpy(), yt.detach().numpy(), rtol=0, atol=TOL)
    go = RNG.standard_normal(tuple(yt.shape))
    yt.backward(torch.tensor(go))
    yc.backward(convlab.tensor(go))
    np.testing.assert_allclose(xc.grad.numpy(), xt.grad.numpy(), rtol=0, atol=TOL)


@pytest.mark.parametrize("resize", RESIZES)
@pytest.mark.parametrize("mode,align", [("nearest", None), ("nearest-exact", None), ("bilinear", False),
                                        ("bilinear", True), ("bicubic", False), ("bicubic", True)])
def test_2d_modes_match_torch(mode, align, resize):
    _check(RNG.standard_normal((2, 3, 4, 6)), mode=mode, align_corners=align, **resize)


@pytest.mark.parametrize("mode,align", [("linear", False), ("linear", True), ("nearest", None)])
def test_1d_modes_match_torch(mode, align):
    _check(RNG.standard_normal((2, 3, 7)), scale_factor=2.3, mode=mode, align_corners=align)


def test_trilinear_matches_torch():
    _check(RNG.standard_normal((1, 2, 3, 4, 5)), size=(4, 6, 3), mode="trilinear")


def test_upsample_modules_match_torch():
    x = RNG.standard_normal((1, 2, 3, 5))
    for ours, theirs in [(nn.UpsamplingBilinear2d(scale_factor=2), torch.nn.UpsamplingBilinear2d(scale_factor=2)),
                         (nn.Upsample(size=(4, 7), mode="bilinear"), torch.nn.Upsample(size=(4, 7), mode="bilinear")),
                         (nn.Upsample(scale_factor=1.5), torch.nn.Upsample(scale_factor=1.5))]:
        np.testing.assert_allclose(ours(convlab.tensor(x)).numpy(), theirs(torch.tensor(x)).numpy(), rtol=0, atol=TOL)


def test_bad_arguments_are_refused_as_torch_does():
    x = convlab.ones(1, 1, 2, 2)
    with pytest.raises(ValueError, match="only one of size or scale_factor"):
        F.interpolate(x, size=3, scale_factor=2)
    with pytest.raises(ValueError, match="align_corners"):
        F.interpolate(x, scale_factor=2, align_corners=True)
    with pytest.raises(ValueError, match="scale_factor"):
        F.interpolate(x, scale_factor=-1.0, mode="bilinear")
    with pytest.raises(NotImplementedError, match="mode 'bogus'"):
        nn.Upsample(scale_factor=2, mode="bogus")


def test_same_size_resize_is_a_copy_not_the_input():
    x = convlab.tensor(RNG.standard_normal((1, 1, 3, 3)))
    y = F.interpolate(x, size=(3, 3), mode="bilinear")
    y.add_(1.0)
    assert np.allclose(y.numpy() - 1.0, x.numpy(), rtol=0, atol=1e-12) and y is not x

"""Edge cases of the primitive ops that the op tests did not reach, each found by a surviving mutant
(benchmarks/mutation.py ops): compared with torch 2.x or a hand-computed value, tolerance written."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from tests.helpers import compare_with_torch, rand, require_torch

import convlab
import convlab.nn.functional as F
from convlab.validate import ConvlabError


def test_einsum_implicit_output_is_the_letters_used_once_in_order():
    torch = require_torch()
    a, b = rand((2, 3)), rand((3, 4), seed=1)
    compare_with_torch(lambda x, y: convlab.einsum("ij,jk", x, y), lambda x, y: torch.einsum("ij,jk", x, y), [a, b])
    compare_with_torch(lambda x: convlab.einsum("ba", x), lambda x: torch.einsum("ba", x), [a])  # (3, 2)


def test_max_along_a_dim_squeezes_that_dim_only():
    require_torch()
    compare_with_torch(lambda x: x.max(dim=1)[0], lambda x: x.max(dim=1)[0], [rand((1, 3, 1))])
    compare_with_torch(lambda x: x.min(dim=-1)[0], lambda x: x.min(dim=-1)[0], [rand((1, 1, 4))])


def test_max_over_an_empty_dim_is_refused_with_the_dim_named():
    with pytest.raises(ConvlabError, match=r"max: cannot reduce over empty dim 1 of shape \(2, 0\)"):
        convlab.zeros(2, 0).max(dim=1)
    with pytest.raises(ConvlabError, match=r"max: cannot reduce an empty tensor"):
        convlab.zeros(0, 3).amax()


def test_amax_of_a_single_element_is_that_element_with_gradient_one():
    require_torch()
    compare_with_torch(lambda x: x.amax(), lambda x: x.amax(), [rand((1, 1))])
    compare_with_torch(lambda x: x.amin(dim=(0, 1)), lambda x: x.amin(dim=(0, 1)), [rand((1, 1, 2))])


def test_var_of_one_element_with_bessels_correction_is_nan_as_torch():
    torch = require_torch()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # NumPy and torch both warn about zero degrees of freedom
        ours, ref = convlab.tensor([2.0]).var(), torch.tensor([2.0]).var()
        assert np.isnan(ours.item()) and np.isnan(ref.item())
        assert convlab.tensor([[2.0, 4.0]]).var(dim=1, correction=0).item() == 1.0  # hand: mean 3, ((1 + 1) / 2)


def test_cumprod_backward_over_an_empty_dim_is_an_empty_gradient():
    require_torch()
    compare_with_torch(lambda x: x.cumprod(1), lambda x: x.cumprod(1), [rand((2, 0))])


def test_max_unpool_gradient_with_several_planes_is_torchs():
    torch = require_torch()
    x = rand((2, 3, 4, 4))
    _, idx = torch.nn.functional.max_pool2d(torch.tensor(x), 2, return_indices=True)
    v = rand((2, 3, 2, 2), seed=2)
    compare_with_torch(lambda t, i: F.max_unpool2d(t, i, 2), lambda t, i: torch.nn.functional.max_unpool2d(t, i, 2),
                       [v, idx.numpy()])


def test_cross_entropy_rows_of_very_different_scales_stay_finite():
    """Each row is shifted by its own maximum: a shift by the batch's maximum underflows a row far
    below it (exp(-2000) = 0, log 0 = -inf)."""
    torch = require_torch()
    logits = np.array([[1000.0, 999.0, 998.0], [-1000.0, -1001.0, -1002.0]])
    target = np.array([0, 2])
    out = compare_with_torch(lambda x, t: F.cross_entropy(x, t), lambda x, t: torch.nn.functional.cross_entropy(x, t),
                             [logits, target])
    assert np.isfinite(out.item())


def test_binary_cross_entropy_at_exact_zero_and_one_warns_nothing():
    """log(0) is clamped at -100 as torch does, without NumPy's divide-by-zero warning."""
    torch = require_torch()
    p, y = np.array([0.0, 1.0, 0.5]), np.array([1.0, 0.0, 1.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        compare_with_torch(lambda a, b: F.binary_cross_entropy(a, b), lambda a, b: torch.nn.functional.binary_cross_entropy(a, b),
                           [p, y], grad_mask=[False, False])


def test_negative_pads_crop_up_to_the_whole_axis_and_no_further():
    torch = require_torch()
    x = rand((1, 1, 2, 6))
    compare_with_torch(lambda a: F.pad(a, (-3, -3)), lambda a: torch.nn.functional.pad(a, (-3, -3)), [x])  # width 0
    compare_with_torch(lambda a: F.pad(a, (-5, 2)), lambda a: torch.nn.functional.pad(a, (-5, 2)), [x])  # 6-5+2 = 3
    with pytest.raises(ConvlabError, match=r"crops more than the size 6"):
        F.pad(convlab.tensor(x), (-4, -3))


def test_pad_refusals_name_the_argument_and_the_value():
    x = convlab.ones(2, 3)
    with pytest.raises(TypeError, match=r"pad: pad must be a tuple of ints, got 3"):
        F.pad(x, 3)
    with pytest.raises(ConvlabError, match=r"pad: the padded tensor of shape \(2, 1000000000003\) needs"):
        F.pad(x, (0, 10**12))


def test_shape_refusals_name_the_op_and_the_values():
    with pytest.raises(ConvlabError, match=r"pow: shapes \(2, 3\) and \(4,\) cannot be broadcast"):
        convlab.ones(2, 3) ** convlab.ones(4)
    with pytest.raises(ConvlabError, match=r"matmul: batch dimensions of \(2, 2, 3\) and \(3, 3, 2\) cannot be broadcast"):
        convlab.matmul(convlab.ones(2, 2, 3), convlab.ones(3, 3, 2))
    with pytest.raises(ConvlabError, match=r"permute: dims \(0, 0\) are not a permutation of 2 axes"):
        convlab.ones(2, 3).permute(0, 0)
    with pytest.raises(IndexError, match=r"sum: Dimension out of range \(expected to be in range of \[-2, 1\], but got 4\)"):
        convlab.ones(2, 3).sum(dim=4)
    with pytest.raises(TypeError, match=r"sum: argument 'dim' must be an int or a tuple of ints, got 'a' \(str\)"):
        convlab.ones(2, 3).sum(dim="a")
    with pytest.raises(ConvlabError, match=r"mean: dim \(0, 0\) repeats an axis"):
        convlab.ones(2, 3).mean(dim=(0, 0))


def test_eval_batch_norm_on_the_numpy_path_keeps_float32(kernels_path):
    torch = require_torch()
    x, mean = rand((2, 3, 4, 4), dtype=np.float32), rand((3,), seed=1, dtype=np.float32)
    var = rand((3,), seed=2, dtype=np.float32, low=0.5)
    w, b = rand((3,), seed=3, dtype=np.float32), rand((3,), seed=4, dtype=np.float32)
    compare_with_torch(lambda a, m, v, w_, b_: F.batch_norm(a, m, v, w_, b_, training=False),
                       lambda a, m, v, w_, b_: torch.nn.functional.batch_norm(a, m, v, w_, b_, training=False),
                       [x, mean, var, w, b], grad_mask=[True, False, False, True, True])


@pytest.mark.parametrize("shape, kernel", [((2, 3, 7), (3,)), ((1, 2, 4, 5, 5), (2, 3, 2))])
def test_im2col_columns_keep_the_input_dtype(shape, kernel):
    """The column matrix is the largest buffer of a convolution: a float32 input must not get a
    float64 one (twice the memory, and the product then runs in float64)."""
    from convlab.ops.conv_columns import im2col
    from convlab.shapes import conv_geometry

    x = rand(shape, dtype=np.float32)
    geom = conv_geometry("conv", x.shape, (3, shape[1]) + kernel, 1, 1, 1, 1)
    col = im2col(x, geom)
    assert col.dtype == np.float32 and col.shape == (shape[1],) + kernel + (shape[0],) + geom.out_size


def test_pads_over_every_dim_and_the_reflect_limit():
    torch = require_torch()
    compare_with_torch(lambda a: F.pad(a, (1, 2)), lambda a: torch.nn.functional.pad(a, (1, 2)), [rand((3,))])
    compare_with_torch(lambda a: F.pad(a, (0, 2), mode="reflect"),
                       lambda a: torch.nn.functional.pad(a, (0, 2), mode="reflect"), [rand((1, 1, 3))])
    with pytest.raises(ConvlabError, match=r"pad: reflect padding \(0, 3\) must be smaller than the dimension size 3"):
        F.pad(convlab.ones(1, 1, 3), (0, 3), mode="reflect")


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
def test_pad_and_interpolate_gradients_keep_float32(mode):
    x = convlab.tensor(rand((1, 2, 5), dtype=np.float32), requires_grad=True)
    F.pad(x, (2, 1), mode=mode).sum().backward()
    assert x.grad.dtype == np.float32
    y = convlab.tensor(rand((1, 2, 5), dtype=np.float32), requires_grad=True)
    F.interpolate(y, size=8, mode="linear").sum().backward()
    assert y.grad.dtype == np.float32


def test_permute_of_one_axis_takes_negative_dims():
    require_torch()
    compare_with_torch(lambda a: a.permute(-1), lambda a: a.permute(-1), [rand((3,))])

"""Movement ops: reshape, permute, expand, cat/stack/split, indexing and padding."""

import numpy as np
import pytest

import convlab as cl
from helpers import compare_with_torch, gradcheck_op, rand, require_torch


def test_reshape_view_flatten():
    torch = require_torch()
    x = rand((2, 3, 4), 0)
    compare_with_torch(lambda t: t.reshape(4, 6), lambda t: t.reshape(4, 6), [x])
    compare_with_torch(lambda t: t.view(-1, 2), lambda t: t.view(-1, 2), [x])
    compare_with_torch(lambda t: t.flatten(1), lambda t: t.flatten(1), [x])
    compare_with_torch(lambda t: cl.flatten(t), lambda t: torch.flatten(t), [x])


def test_permute_transpose_T():
    x = rand((2, 3, 4), 0)
    compare_with_torch(lambda t: t.permute(2, 0, 1), lambda t: t.permute(2, 0, 1), [x])
    compare_with_torch(lambda t: t.transpose(0, 2), lambda t: t.transpose(0, 2), [x])
    compare_with_torch(lambda t: t.T, lambda t: t.permute(2, 1, 0), [x])


def test_squeeze_unsqueeze_expand():
    x = rand((3, 1, 4), 0)
    compare_with_torch(lambda t: t.squeeze(1), lambda t: t.squeeze(1), [x])
    compare_with_torch(lambda t: t.squeeze(), lambda t: t.squeeze(), [x])
    compare_with_torch(lambda t: t.unsqueeze(0), lambda t: t.unsqueeze(0), [x])
    compare_with_torch(lambda t: t.unsqueeze(-1), lambda t: t.unsqueeze(-1), [x])
    compare_with_torch(lambda t: t.expand(2, 3, 5, 4), lambda t: t.expand(2, 3, 5, 4), [x])


def test_cat_stack_split():
    torch = require_torch()
    a, b = rand((2, 3), 0), rand((2, 5), 1)
    compare_with_torch(lambda p, q: cl.cat([p, q], 1), lambda p, q: torch.cat([p, q], 1), [a, b])
    c = rand((2, 3), 2)
    compare_with_torch(lambda p, q: cl.stack([p, q], 1), lambda p, q: torch.stack([p, q], 1), [a, c])
    compare_with_torch(lambda t: cl.cat(t.split(2, 1)[::-1], 1), lambda t: torch.cat(t.split(2, 1)[::-1], 1),
                       [rand((3, 5), 3)])
    compare_with_torch(lambda t: t.split([1, 4], 1)[1], lambda t: t.split([1, 4], 1)[1], [rand((3, 5), 3)])


INDEXES = [
    (1,), (slice(1, 3),), (slice(None), 2), (Ellipsis, slice(None, None, 2)), (None, 1),
    ([0, 2, 0],), (slice(None), [3, 1, 3]), ([0, 1], [2, 2]), (-1, slice(None, None, -1)),
]


@pytest.mark.parametrize("index", INDEXES, ids=str)
def test_getitem_matches_torch(index):
    torch = require_torch()
    x = rand((3, 4, 2), 0)
    th_index = tuple(torch.tensor(i) if isinstance(i, list) else i for i in index)
    if any(isinstance(i, slice) and i.step and i.step < 0 for i in index):
        # torch refuses negative steps; compare against flip
        compare_with_torch(lambda t: t[index], lambda t: t[-1].flip(0), [x])
    else:
        compare_with_torch(lambda t: t[index], lambda t: t[th_index], [x])


def test_getitem_repeated_indices_accumulate_and_masks():
    x = cl.tensor(np.arange(4.0), requires_grad=True)
    x[[1, 1, 3]].sum().backward()
    assert x.grad.tolist() == [0.0, 2.0, 0.0, 1.0]
    y = cl.tensor([1.0, -2.0, 3.0], requires_grad=True)
    y[y > 0].sum().backward()
    assert y.grad.tolist() == [1.0, 0.0, 1.0]


@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("pad", [(1, 2), (2, 1, 0, 2), (1, 1, 1, 1, 1, 0)], ids=str)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_pad_matches_torch(mode, pad, dtype):
    import torch.nn.functional as F

    require_torch()
    # torch's non-constant modes pad the last ndim-2 dims of a (N, C, ...) input
    shape = {2: (2, 3, 5), 4: (2, 3, 4, 5), 6: (2, 3, 4, 5, 3)}[len(pad)]
    x = rand((2, 3, 4, 5) if mode == "constant" else shape, 0, dtype)
    compare_with_torch(lambda t: cl.pad(t, pad, mode=mode), lambda t: F.pad(t, pad, mode=mode), [x])


def test_pad_constant_value_and_negative_crop():
    import torch.nn.functional as F

    require_torch()
    x = rand((2, 4, 5), 0)
    compare_with_torch(lambda t: cl.pad(t, (1, 1), value=2.5), lambda t: F.pad(t, (1, 1), value=2.5), [x])
    compare_with_torch(lambda t: cl.pad(t, (-1, 2, 1, -2)), lambda t: F.pad(t, (-1, 2, 1, -2)), [x])


@pytest.mark.parametrize(
    "fn",
    [lambda t: t.reshape(6, 2), lambda t: t.permute(1, 0, 2), lambda t: t[:, [0, 0, 2]], lambda t: t[1:, ::2],
     lambda t: cl.pad(t, (1, 1, 1, 0), mode="reflect"), lambda t: cl.pad(t, (2, 2), mode="circular"),
     lambda t: cl.pad(t, (1, 3), mode="replicate"), lambda t: cl.cat([t, t * 2], 2),
     lambda t: cl.stack(t.split(1, 0), 1), lambda t: t.unsqueeze(1).expand(2, 3, 3, 2)],
)
def test_movement_gradcheck(fn):
    gradcheck_op(fn, (2, 3, 2))


def test_reflect_pad_too_wide_is_rejected():
    with pytest.raises(ValueError, match="reflect padding .* must be smaller than the dimension size 3"):
        cl.pad(cl.ones(1, 1, 3), (3, 0), mode="reflect")


def test_reshape_error_names_shapes():
    with pytest.raises(ValueError, match=r"cannot reshape a tensor of shape \(2, 3\) \(6 elements\) into shape \(4,\)"):
        cl.ones(2, 3).reshape(4)

"""The three tiers agree: the seeds' teaching loops (convlab.reference), the fast ops, and torch."""

import numpy as np

import convlab as cl
import convlab.functional as F
from convlab import reference as R
from convlab import signal
from convlab.ops.conv_columns import im2col as fast_im2col
from convlab.shapes import conv_geometry
from helpers import require_torch


def _torch_conv(x, w, b=None, **kw):
    torch = require_torch()
    return torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(w), None if b is None else torch.tensor(b), **kw).numpy()


def test_list_convolution_and_its_gradients_agree_with_fast_and_torch():
    torch = require_torch()
    rng = np.random.default_rng(0)
    for _ in range(25):
        h, w = rng.integers(2, 9, 2)
        kh, kw = rng.integers(1, min(h, w) + 1, 2)
        image, kernel = rng.standard_normal((h, w)), rng.standard_normal((kh, kw))
        slow = np.array(R.convolve_2d(image.tolist(), kernel.tolist()))
        x = cl.tensor(image[None, None], requires_grad=True)
        k = cl.tensor(kernel[None, None], requires_grad=True)
        y = F.conv2d(x, k)
        np.testing.assert_allclose(slow, y.detach().numpy()[0, 0], rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(slow, _torch_conv(image[None, None], kernel[None, None])[0, 0], rtol=1e-12, atol=1e-12)
        up = rng.standard_normal(slow.shape)
        y.backward(up[None, None])
        tx = torch.tensor(image[None, None], requires_grad=True)
        tk = torch.tensor(kernel[None, None], requires_grad=True)
        torch.nn.functional.conv2d(tx, tk).backward(torch.tensor(up[None, None]))
        grad_k = np.array(R.convolve_2d_gradient(up.tolist(), image.tolist(), kernel.tolist()))
        grad_x = np.array(R.convolve_2d_input_gradient(up.tolist(), kernel.tolist()))
        for ours, fast, ref in ((grad_k, k.grad.numpy()[0, 0], tk.grad.numpy()[0, 0]),
                                (grad_x, x.grad.numpy()[0, 0], tx.grad.numpy()[0, 0])):
            np.testing.assert_allclose(ours, fast, rtol=1e-12, atol=1e-12)
            np.testing.assert_allclose(ours, ref, rtol=1e-12, atol=1e-12)


def test_numpy_loop_conv_agrees_with_fast_and_torch():
    rng = np.random.default_rng(1)
    for _ in range(20):
        c, f = rng.integers(1, 4), rng.integers(1, 5)
        k = int(rng.integers(1, 4))
        stride, padding = int(rng.integers(1, 3)), int(rng.integers(0, 2))
        h, w = rng.integers(k, 10, 2)
        X, W, b = rng.standard_normal((c, h, w)), rng.standard_normal((f, c, k, k)), rng.standard_normal(f)
        slow = R.conv2d_naive(X, W, b, stride=stride, padding=padding)
        fast = F.conv2d(cl.tensor(X[None]), cl.tensor(W), cl.tensor(b), stride=stride, padding=padding).numpy()[0]
        np.testing.assert_allclose(slow, fast, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(slow, _torch_conv(X[None], W, b, stride=stride, padding=padding)[0], rtol=1e-12, atol=1e-12)


def test_seed_im2col_batch_conv_agrees_with_fast_tier():
    rng = np.random.default_rng(2)
    for stride, padding in ((1, 0), (1, 1), (2, 1), (3, 2)):
        X, W, b = rng.standard_normal((3, 2, 9, 8)), rng.standard_normal((4, 2, 3, 3)), rng.standard_normal(4)
        batch = R.conv2d_batch(X, W, b, stride, padding)
        fast = F.conv2d(cl.tensor(X), cl.tensor(W), cl.tensor(b), stride=stride, padding=padding).numpy()
        np.testing.assert_allclose(batch, fast, rtol=1e-12, atol=1e-12)
        # the same columns, laid out differently: seed (B*Ho*Wo, C*k*k) vs fast (C, k, k, B, Ho, Wo)
        cols, ho, wo = R.im2col(X, 3, 3, stride, padding)
        geom = conv_geometry("conv2d", X.shape, W.shape, stride, padding)
        fast_cols = fast_im2col(X, geom)
        assert fast_cols.shape == (2, 3, 3, 3, ho, wo)
        np.testing.assert_array_equal(cols, fast_cols.transpose(3, 4, 5, 0, 1, 2).reshape(cols.shape))


def test_naive_pooling_agrees_with_fast_and_torch():
    torch = require_torch()
    rng = np.random.default_rng(3)
    for k, s in ((2, 2), (3, 1), (3, 2), (2, 3)):
        X = rng.standard_normal((2, 3, 9, 10))
        for slow_fn, fast_fn, ref_fn in ((R.max_pool2d_naive, F.max_pool2d, torch.nn.functional.max_pool2d),
                                         (R.avg_pool2d_naive, F.avg_pool2d, torch.nn.functional.avg_pool2d)):
            slow = slow_fn(X, k, s)
            np.testing.assert_allclose(slow, fast_fn(cl.tensor(X), k, s).numpy(), rtol=1e-12)
            np.testing.assert_allclose(slow, ref_fn(torch.tensor(X), k, s).numpy(), rtol=1e-12)


def test_global_max_pool_routes_the_gradient_to_one_cell():
    rng = np.random.default_rng(4)
    fmap = rng.standard_normal((6, 6))
    value, row, col = R.global_max_pool(fmap.tolist())
    x = cl.tensor(fmap[None, None], requires_grad=True)
    y = F.max_pool2d(x, 6)
    assert y.item() == value
    y.backward(np.array([[[[2.5]]]]))
    expected = np.zeros((6, 6))
    expected[row, col] = 2.5
    np.testing.assert_array_equal(x.grad.numpy()[0, 0], expected)
    assert R.global_max_pool([[1.0, 3.0], [3.0, 0.0]]) == (3.0, 0, 1)  # first maximum on ties


def test_1d_convolution_with_flip_agrees_with_signal_and_numpy():
    rng = np.random.default_rng(5)
    for _ in range(30):
        f, g = rng.standard_normal(rng.integers(1, 15)), rng.standard_normal(rng.integers(1, 6))
        slow = R.convolve_1d(f.tolist(), g.tolist())
        np.testing.assert_allclose(slow, np.convolve(f, g), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(slow, signal.convolve(f, g), rtol=1e-12, atol=1e-12)

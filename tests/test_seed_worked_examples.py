"""Every worked example in the seeds, pinned by name (seeds in ../shared/seeds/).

Each is checked in the fast tier (convlab.functional, with autograd), in the teaching tier
(convlab.reference) where the seed wrote a loop, and where useful against torch.
"""

import numpy as np

import convlab as cl
import convlab.functional as F
from convlab import reference as R
from convlab import shapes, signal
from helpers import require_torch

# --------------------------------------------------------------------------- seed 002 (d2l)


def test_seed002_arange_3x3_with_kernel_0123_gives_19_25_37_43():
    X = np.arange(9.0).reshape(3, 3)
    K = np.array([[0.0, 1.0], [2.0, 3.0]])
    expected = [[19.0, 25.0], [37.0, 43.0]]
    assert R.convolve_2d(X.tolist(), K.tolist()) == expected
    assert F.conv2d(cl.tensor(X[None, None]), cl.tensor(K[None, None])).numpy()[0, 0].tolist() == expected
    assert signal.correlate(X, K, mode="valid").tolist() == expected
    # the shaded element: 0*0 + 1*1 + 3*2 + 4*3
    assert 0 * 0 + 1 * 1 + 3 * 2 + 4 * 3 == expected[0][0]


def _edge_image():
    X = np.ones((6, 8))
    X[:, 2:6] = 0.0
    return X


def test_seed002_edge_image_with_kernel_1_minus1_gives_plus_and_minus_columns():
    X, K = _edge_image(), np.array([[1.0, -1.0]])
    Y = F.conv2d(cl.tensor(X[None, None]), cl.tensor(K[None, None])).numpy()[0, 0]
    row = [0.0, 1.0, 0.0, 0.0, 0.0, -1.0, 0.0]
    assert Y.shape == (6, 7)
    assert Y.tolist() == [row] * 6
    assert R.convolve_2d(X.tolist(), K.tolist()) == [row] * 6


def test_seed002_transposed_edge_image_gives_zeros():
    X, K = _edge_image().T, np.array([[1.0, -1.0]])
    Y = F.conv2d(cl.tensor(X[None, None]), cl.tensor(K[None, None])).numpy()[0, 0]
    assert Y.shape == (8, 5)
    assert not Y.any()


def test_seed002_the_edge_kernel_is_learned_by_gradient_descent():
    X = _edge_image()[None, None]
    Y = F.conv2d(cl.tensor(X), cl.tensor([[[[1.0, -1.0]]]], dtype=np.float64)).numpy()
    K = cl.tensor(np.random.default_rng(0).standard_normal((1, 1, 1, 2)), requires_grad=True)
    losses = []
    for _ in range(30):
        K.grad = None
        loss = ((F.conv2d(cl.tensor(X), K) - cl.tensor(Y)) ** 2).sum()
        loss.backward()
        K.data -= 3e-2 * K.grad.data
        losses.append(loss.item())
    assert losses[-1] < 1e-2 * losses[0]
    np.testing.assert_allclose(K.detach().numpy().ravel(), [1.0, -1.0], atol=0.05)


# --------------------------------------------------------------------------- seed 003 (the worked backprop)
X3 = [[1.0, 2.0, 0.0], [0.0, 1.0, 3.0], [2.0, 1.0, 1.0]]
K3 = [[1.0, 0.0], [0.0, -1.0]]
G3 = [[1.0, 2.0], [0.0, -1.0]]  # the upstream gradient dL/dS


def _seed003_autograd():
    x = cl.tensor(np.array(X3)[None, None], dtype=np.float64, requires_grad=True)
    k = cl.tensor(np.array(K3)[None, None], dtype=np.float64, requires_grad=True)
    b = cl.tensor([0.0], dtype=np.float64, requires_grad=True)
    s = F.conv2d(x, k, b)
    s.backward(np.array(G3)[None, None])
    return s, x, k, b


def test_seed003_forward_is_0_minus1_minus1_0():
    s, *_ = _seed003_autograd()
    assert s.detach().numpy()[0, 0].tolist() == [[0.0, -1.0], [-1.0, 0.0]]
    assert R.convolve_2d(X3, K3) == [[0.0, -1.0], [-1.0, 0.0]]


def test_seed003_kernel_gradient_is_4_minus1_1_6():
    _, _, k, _ = _seed003_autograd()
    assert k.grad.numpy()[0, 0].tolist() == [[4.0, -1.0], [1.0, 6.0]]
    assert R.convolve_2d_gradient(G3, X3, K3) == [[4.0, -1.0], [1.0, 6.0]]


def test_seed003_bias_gradient_is_2():
    _, _, _, b = _seed003_autograd()
    assert b.grad.numpy().tolist() == [2.0]


def test_seed003_input_gradient_is_the_full_convolution_with_the_flipped_kernel():
    expected = [[1.0, 2.0, 0.0], [0.0, -2.0, -2.0], [0.0, 0.0, 1.0]]
    _, x, _, _ = _seed003_autograd()
    assert x.grad.numpy()[0, 0].tolist() == expected
    assert R.convolve_2d_input_gradient(G3, K3) == expected
    # "full convolution of the output gradient with the flipped kernel", three ways
    assert signal.convolve(np.array(G3), np.array(K3), mode="full").tolist() == expected
    assert F.conv2d(cl.tensor(np.array(G3)[None, None]), cl.tensor(np.array(K3)[::-1, ::-1].copy()[None, None]),
                    padding=1).numpy()[0, 0].tolist() == expected
    assert F.conv_transpose2d(cl.tensor(np.array(G3)[None, None]), cl.tensor(np.array(K3)[None, None])
                              ).numpy()[0, 0].tolist() == expected


def test_seed003_worked_example_matches_torch():
    torch = require_torch()
    x = torch.tensor([[X3]], dtype=torch.float64, requires_grad=True)
    k = torch.tensor([[K3]], dtype=torch.float64, requires_grad=True)
    b = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    torch.nn.functional.conv2d(x, k, b).backward(torch.tensor([[G3]], dtype=torch.float64))
    _, ox, ok, ob = _seed003_autograd()
    assert ox.grad.numpy().tolist() == x.grad.numpy().tolist()
    assert ok.grad.numpy().tolist() == k.grad.numpy().tolist()
    assert ob.grad.numpy().tolist() == b.grad.numpy().tolist()


def test_seed003_2x2_max_pool_gives_6_4_2_4():
    X = np.array([[1.0, 3, 2, 4], [5, 6, 1, 2], [1, 2, 3, 0], [0, 1, 1, 4]])
    assert F.max_pool2d(cl.tensor(X[None, None]), 2, 2).numpy()[0, 0].tolist() == [[6.0, 4.0], [2.0, 4.0]]
    assert R.max_pool2d_naive(X, 2, 2).tolist() == [[6.0, 4.0], [2.0, 4.0]]
    # backprop routes each window's gradient only to its maximum
    x = cl.tensor(X[None, None], requires_grad=True)
    F.max_pool2d(x, 2).sum().backward()
    assert x.grad.numpy()[0, 0].tolist() == [[0, 0, 0, 1], [0, 1, 0, 0], [0, 1, 0, 0], [0, 0, 0, 1]]
    # and average pooling spreads it evenly
    x = cl.tensor(X[None, None], requires_grad=True)
    F.avg_pool2d(x, 2).sum().backward()
    assert (x.grad.numpy() == 0.25).all()


def test_seed003_output_size_32_for_w32_k3_p1_s1():
    assert shapes.conv_output_size(32, 3, stride=1, padding=1) == 32
    assert F.conv2d(cl.zeros(1, 3, 32, 32), cl.zeros(64, 3, 3, 3), padding=1).shape == (1, 64, 32, 32)
    assert shapes.conv_output_size(3, 2) == 2  # the worked 3x3 * 2x2 example


def test_seed003_3x3_conv_from_3_to_64_channels_has_1792_parameters():
    assert shapes.conv_params(3, 64, 3) == 1792 == (3 * 3 * 3 + 1) * 64


def test_seed003_receptive_fields_of_three_3x3_layers_are_3_5_7():
    assert [r.size for r in shapes.receptive_field([(3, 1), (3, 1), (3, 1)])] == [3, 5, 7]
    assert 3 * 3 ** 2 == 27 and 7 ** 2 == 49  # same field, fewer parameters


# --------------------------------------------------------------------------- seed 001 (naive vs im2col)


def test_seed001_naive_and_batched_agree_to_1e_12_on_4x3x16x16_with_8x3x3x3():
    rng = np.random.default_rng(1)
    X_b = rng.normal(0, 1, (4, 3, 16, 16))
    W_b = rng.normal(0, 0.1, (8, 3, 3, 3))
    b_b = np.zeros(8)
    out_batch = R.conv2d_batch(X_b, W_b, b_b, stride=1, padding=1)
    assert out_batch.shape == (4, 8, 16, 16)
    for n in range(4):
        assert np.abs(out_batch[n] - R.conv2d_naive(X_b[n], W_b, b_b, padding=1)).max() < 1e-12
    fast = F.conv2d(cl.tensor(X_b), cl.tensor(W_b), cl.tensor(b_b), padding=1).numpy()
    assert np.abs(fast - out_batch).max() < 1e-12


def _square(noise=True):
    img = np.zeros((1, 16, 16))
    img[0, 4:12, 4:12] = 1.0  # white square on black background
    if noise:
        img += np.random.default_rng(0).normal(0, 0.05, img.shape)
    return img


W_EDGE_H = np.array([[[[1, 1, 1], [0, 0, 0], [-1, -1, -1]]]], dtype=float)
W_EDGE_V = np.array([[[[1, 0, -1], [1, 0, -1], [1, 0, -1]]]], dtype=float)
W_BLUR = np.ones((1, 1, 3, 3)) / 9


def test_seed001_white_square_edges_and_blur():
    clean = _square(noise=False)
    out_h = R.conv2d_naive(clean, W_EDGE_H, np.zeros(1), padding=1)[0]
    out_v = R.conv2d_naive(clean, W_EDGE_V, np.zeros(1), padding=1)[0]
    out_b = R.conv2d_naive(clean, W_BLUR, np.zeros(1), padding=1)[0]
    assert out_h.shape == out_v.shape == out_b.shape == (16, 16)
    # top edge: row above (0) minus row below (1) = -3; bottom edge: +3; flat regions 0
    np.testing.assert_allclose(out_h[3:5, 5:11], -3.0)
    np.testing.assert_allclose(out_h[11:13, 5:11], 3.0)
    np.testing.assert_allclose(out_v[5:11, 3:5], -3.0)
    np.testing.assert_allclose(out_v[5:11, 11:13], 3.0)
    assert not out_h[6:10].any() and not out_v[:, 6:10].any()
    np.testing.assert_allclose(out_b[5:11, 5:11], 1.0)  # inside the square the blur is still 1
    assert not out_b[:2].any()  # far from it, still 0
    np.testing.assert_allclose(out_b[3, 3], 1 / 9)  # a corner sees one white pixel
    # with the seed's noise, the naive loops, the fast path and torch agree
    torch = require_torch()
    noisy = _square()
    for W in (W_EDGE_H, W_EDGE_V, W_BLUR):
        slow = R.conv2d_naive(noisy, W, np.zeros(1), padding=1)
        fast = F.conv2d(cl.tensor(noisy[None]), cl.tensor(W), padding=1).numpy()[0]
        ref = torch.nn.functional.conv2d(torch.tensor(noisy[None]), torch.tensor(W), padding=1).numpy()[0]
        np.testing.assert_allclose(fast, slow, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(ref, slow, rtol=1e-12, atol=1e-12)
        assert np.abs(slow - R.conv2d_naive(clean, W, np.zeros(1), padding=1)).max() < 0.6


# --------------------------------------------------------------------------- seed 004 (1-D, flipped)
F4 = [10, 9, 10, 9, 10, 1, 10, 9, 10, 8]
G4 = [1.0 / 3, 1.0 / 3, 1.0 / 3]
Y4 = [10 / 3, 19 / 3, 29 / 3, 28 / 3, 29 / 3, 20 / 3, 21 / 3, 20 / 3, 29 / 3, 27 / 3]


def test_seed004_moving_average_of_the_spiky_signal():
    y = R.convolve_1d(F4, G4)[: len(F4)]  # the seed keeps the first N values
    np.testing.assert_allclose(y, Y4, rtol=1e-12)
    np.testing.assert_allclose(signal.convolve(F4, G4)[: len(F4)], Y4, rtol=1e-12)
    np.testing.assert_allclose(np.convolve(F4, G4)[: len(F4)], Y4, rtol=1e-12)
    # the dip at f[5] = 1 lasts three steps, the length of g's domain
    assert [i for i in range(2, 10) if y[i] < 9] == [5, 6, 7]


def test_seed004_convolution_flips_g():
    f, g = [1.0, 2.0, 3.0], [1.0, 0.0, 0.0]  # g is a delayed impulse after the flip
    assert signal.convolve(f, g).tolist() == [1.0, 2.0, 3.0, 0.0, 0.0]
    assert signal.correlate(f, g).tolist() == [0.0, 0.0, 1.0, 2.0, 3.0]

"""Seeds 001 and 004: smoothing, the noisy square through hand-made kernels, Laplace on Grace Hopper."""

import numpy as np
import pytest

from convlab import demos
from convlab.demos import filters_demo, laplace, smoothing
from convlab.reference import conv2d_naive


def quiet(name, **kw):
    return demos.run(name, None, log=lambda *a: None, figures=False, **kw)


def test_smoothing_matches_hand_computation():
    r = quiet("smoothing")
    # y[x] = (f[x-2] + f[x-1] + f[x]) / 3 with f = 0 before the start
    hand = [10 / 3, 19 / 3, 29 / 3, 28 / 3, 29 / 3, 20 / 3, 21 / 3, 20 / 3, 29 / 3, 27 / 3]
    np.testing.assert_allclose(r["y"], hand, atol=1e-12)
    assert [round(v, 3) for v in r["y"]][:3] == [3.333, 6.333, 9.667]
    rmse = r["rmse"]
    assert rmse["avg9"] < rmse["avg3"] < rmse["noisy"]  # wider average, less noise


def test_filters_demo_matches_seed_001_naive_convolution():
    r = quiet("filters")
    img = filters_demo.noisy_square()
    for name, kernel in filters_demo.seed_kernels().items():
        out = r["outputs"][name]
        assert out.shape == (1, 16, 16)
        ref = conv2d_naive(img, kernel[None, None], np.zeros(1), padding=1)
        np.testing.assert_allclose(out, ref, atol=1e-12)
    # the top edge of the square: bright below dark -> strongly negative horizontal-edge response
    assert r["outputs"]["Horizontal edges"][0, 3, 8] < -2.5 < 2.5 < r["outputs"]["Horizontal edges"][0, 11, 8]
    assert r["outputs"]["Blurred"][0, 8, 8] == pytest.approx(1.0, abs=0.05)
    # true convolution negates the antisymmetric edge kernels and leaves the blur alone
    assert max(r["convolution_vs_correlation"].values()) < 1e-12


def test_laplace_on_grace_hopper_matches_the_seed_loop():
    image = laplace.grace_hopper()
    assert image.shape == (600, 512) and image.dtype == np.uint8
    crop = image[200:260, 150:230]
    K = -np.ones((3, 3))
    K[1, 1] = K.size - 1
    seed = np.zeros(crop.shape)  # seed 004's loop, verbatim
    for i in range(1, crop.shape[0] - 1):
        for j in range(1, crop.shape[1] - 1):
            X = crop[i - 1:i + 2, j - 1:j + 2]
            seed[i, j] = min(255, max(0, (X * K).sum()))
    np.testing.assert_array_equal(laplace.seed_laplace(crop), seed)
    r = quiet("laplace")
    assert 0 < r["frac_255"] < 0.05 and 0.3 < r["frac_0"] < 0.7  # sparse white edges on black
    assert r["blur_std"] < r["image_std"]


def test_smoothing_signal_is_the_seeds():
    assert smoothing.SIGNAL == [10, 9, 10, 9, 10, 1, 10, 9, 10, 8]

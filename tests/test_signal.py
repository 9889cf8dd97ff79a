"""convlab.signal against numpy.convolve/correlate (1-D) and scipy.signal.convolve2d/correlate2d (2-D)."""

import numpy as np
import pytest

import convlab as cl
from convlab import signal

MODES = ("full", "same", "valid")


def test_1d_matches_numpy_on_random_lengths():
    rng = np.random.default_rng(0)
    for _ in range(150):
        a, v = rng.standard_normal(rng.integers(1, 12)), rng.standard_normal(rng.integers(1, 12))
        for mode in MODES:
            np.testing.assert_allclose(signal.convolve(a, v, mode), np.convolve(a, v, mode), rtol=1e-12, atol=1e-12)
            np.testing.assert_allclose(signal.correlate(a, v, mode), np.correlate(a, v, mode), rtol=1e-12, atol=1e-12)


def test_2d_matches_scipy_on_random_shapes():
    import scipy.signal as scipy_signal  # a dev dependency: a missing SciPy fails here
    rng = np.random.default_rng(1)
    checked = 0
    for _ in range(150):
        a = rng.standard_normal(tuple(rng.integers(1, 8, 2)))
        k = rng.standard_normal(tuple(rng.integers(1, 8, 2)))
        for mode in MODES:
            for ours, ref in ((signal.convolve, scipy_signal.convolve2d), (signal.correlate, scipy_signal.correlate2d)):
                try:
                    expected = ref(a, k, mode)
                except ValueError:  # 'valid' with neither input larger in every dimension
                    with pytest.raises(ValueError, match="at least as large as the other in every dimension"):
                        ours(a, k, mode)
                    continue
                np.testing.assert_allclose(ours(a, k, mode), expected, rtol=1e-12, atol=1e-12)
                checked += 1
    assert checked > 600


def test_convolution_flips_the_kernel_and_correlation_does_not():
    f, g = [1.0, 2.0, 3.0, 4.0], [1.0, 0.0, -1.0]
    np.testing.assert_allclose(signal.convolve(f, g, "valid"), [2.0, 2.0])  # f[i+2] - f[i]
    np.testing.assert_allclose(signal.correlate(f, g, "valid"), [-2.0, -2.0])  # f[i] - f[i+2]
    np.testing.assert_allclose(signal.convolve(f, g), signal.correlate(f, g[::-1]))
    img, k = np.arange(16.0).reshape(4, 4), np.array([[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_allclose(signal.convolve(img, k), signal.correlate(img, k[::-1, ::-1]))


def test_integer_inputs_give_integers_like_numpy():
    out = signal.convolve(np.array([1, 2, 3]), np.array([1, 1]))
    assert out.dtype.kind == "i" and out.tolist() == np.convolve([1, 2, 3], [1, 1]).tolist()


def test_tensor_inputs_are_differentiable():
    rng = np.random.default_rng(2)
    for mode in MODES:
        cl.gradcheck(lambda a, k, mode=mode: signal.convolve(a, k, mode), [
            cl.tensor(rng.standard_normal((5, 4)), requires_grad=True),
            cl.tensor(rng.standard_normal((2, 3)), requires_grad=True)])
        cl.gradcheck(lambda a, k, mode=mode: signal.correlate(a, k, mode), [
            cl.tensor(rng.standard_normal(3), requires_grad=True), cl.tensor(rng.standard_normal(5), requires_grad=True)])
    assert isinstance(signal.convolve(cl.tensor([1.0, 2.0]), [1.0]), cl.Tensor)


def test_errors():
    with pytest.raises(ValueError, match="mode must be 'full', 'same' or 'valid'"):
        signal.convolve([1.0], [1.0], mode="circular")
    with pytest.raises(ValueError, match="must both be 1-D or both 2-D"):
        signal.correlate(np.ones((2, 2)), np.ones(2))
    with pytest.raises(ValueError, match="cannot be empty"):
        signal.convolve([], [1.0])
    with pytest.raises(TypeError, match="complex"):
        signal.convolve([1j], [1.0])

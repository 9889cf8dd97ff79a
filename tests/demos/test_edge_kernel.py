"""Seed 002: the 1x2 edge kernel learned by gradient descent; the seed's printed losses reproduced."""

import numpy as np
import pytest

from convlab.demos import edge_kernel as ek


def quiet(**kw):
    return ek.run(None, log=lambda *a: None, figures=False, **kw)


def test_seed_worked_examples():
    r = quiet()
    assert r["toy"] == [[19.0, 25.0], [37.0, 43.0]]
    assert r["edge_row"] == [0.0, 1.0, 0.0, 0.0, 0.0, -1.0, 0.0]


def test_recovered_init_reproduces_the_seeds_printed_losses():
    init = ek.seed_init()
    np.testing.assert_allclose(init, [[0.29002, 0.18979]], atol=1e-5)
    assert np.all(np.abs(init) <= 1 / np.sqrt(2))  # inside torch's default init range
    r = quiet(init="seed")
    for epoch, printed in ek.SEED_LOSSES.items():
        assert round(r["losses"][epoch], 3) == printed, epoch
    np.testing.assert_allclose(r["kernel"], [[1.0, -1.0]], atol=0.04)


def test_random_init_converges_to_the_edge_kernel():
    r = quiet(init="random", epochs=30, seed=3)
    losses = [r["losses"][e] for e in sorted(r["losses"])]
    assert all(b < a for a, b in zip(losses, losses[1:]))  # strictly decreasing
    np.testing.assert_allclose(r["kernel"], [[1.0, -1.0]], atol=1e-3)
    assert r["init"] != quiet(init="random", epochs=1, seed=4)["init"]


def test_gradient_descent_contracts_like_the_analysis_says():
    # one step multiplies the error's [1, 1] and [1, -1] components by -0.8 and 0.64
    k1, _, w0 = ek.train(init=[[0.0, 0.0]], epochs=1)
    e0, e1 = w0 - [1.0, -1.0], k1[0] - [1.0, -1.0]
    assert (e1 @ [1, 1]) == pytest.approx(-0.8 * (e0 @ [1, 1]))
    assert (e1 @ [1, -1]) == pytest.approx(0.64 * (e0 @ [1, -1]))

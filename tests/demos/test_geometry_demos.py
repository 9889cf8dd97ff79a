"""Seeds 003/004: receptive fields, pooling robustness and translation equivariance, by the numbers."""

import numpy as np
import pytest

from convlab import demos
from convlab.demos import pooling_robustness as pr
from convlab.demos import receptive_field as rf
from convlab.demos import translation_equivariance as te


def quiet(name, **kw):
    return demos.run(name, None, log=lambda *a: None, figures=False, **kw)


def test_receptive_field_formula_matches_the_gradient():
    r = quiet("receptive-field")
    assert r["per_layer"] == [3, 5, 7]
    stacks = r["stacks"]
    three = stacks["three 3x3, stride 1"]
    assert three["formula"] == 7 and three["empirical"] == (7, 7) and three["weights"] == 27
    assert stacks["one 7x7"]["weights"] == 49 and stacks["one 7x7"]["empirical"] == (7, 7)
    strided = stacks["three 3x3, stride 2"]
    assert (strided["formula"], strided["jump"], strided["empirical"]) == (15, 8, (15, 15))
    assert stacks["three 3x3, dilation 1, 2, 4"]["empirical"] == (15, 15)
    for name, s in stacks.items():
        assert s["box"] == s["formula_box"], name  # the gradient's field sits where the formula says


def test_receptive_field_of_an_off_centre_output():
    stack = rf.STACKS["three 3x3, stride 2"]
    field = rf.gradient_field(rf.build(stack), 41, out_pos=(1, 3))
    top, left, h, w = rf.extent(field)
    assert (top, h, w) == (rf.formula_box(stack, 1)[0], 15, 15) and left == rf.formula_box(stack, 3)[1]


def test_pooling_fractions_are_exact():
    r = quiet("pooling-robustness")
    assert r["fired_pixels"] == 1
    assert r["example"] == {1: False, 2: True}
    u = r["unchanged"]
    for d in (1, 2, 3):  # horizontal shift by d pixels: (k - d) / k for d < k, else 0
        assert u[str((0, d))]["1"] == 0.0
        assert u[str((0, d))]["2"] == max(0.0, (2 - d) / 2)
        assert u[str((0, d))]["4"] == (4 - d) / 4
        assert u[str((0, d))]["global"] == 1.0
    assert u["(1, 1)"]["2"] == 0.25 and u["(1, 1)"]["4"] == pytest.approx(0.75 ** 2)


def test_translation_equivariance_is_exact_for_stride_1():
    r = quiet("translation-equivariance")
    assert r["n_shifts"] == 49 and r["max_error"] < 1e-12
    assert r["stride2_error"] > 1.0 and r["stride2_even_error"] < 1e-12 and r["pool_error"] > 1.0
    assert r["peaks"] == [(3, 4), (12, 13)] and r["peak_values"][0] == pytest.approx(r["peak_values"][1])


def test_shift_error_detects_a_non_equivariant_op():
    x = np.random.default_rng(1).normal(size=(20, 20))
    w = np.ones((3, 3))
    assert te.shift_error(x, w, 2, -1) < 1e-12

    def position_dependent(a, k):
        return te.conv(a, k) * np.arange(a.shape[1] - 2)

    assert te.shift_error(x, w, 0, 1, op=position_dependent) > 0.1
    assert pr.unchanged_fraction((0, 1), pools=(2,))[2] == 0.5

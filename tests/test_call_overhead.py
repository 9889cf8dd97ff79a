"""The short good paths of the per-call checks (argcheck's wrapper, shapes' geometry cache) accept
exactly what the full checks accept, and refuse the rest in the same words."""

from __future__ import annotations

import numpy as np
import pytest

import convlab
from convlab import argcheck, shapes
from convlab.validate import ArgumentTypeError, ConvlabError


def _f(x, dim: int = 0, keepdim: bool = False, groups: int = 1, eps: float = 1e-5, mode: str = "a", seed=None):
    return dim, keepdim, groups, eps, mode, seed


F = argcheck.checked(_f)


@pytest.mark.parametrize("kwargs", [
    {"dim": 3}, {"dim": np.int64(2)}, {"keepdim": True}, {"keepdim": 1}, {"keepdim": np.bool_(False)},
    {"groups": 2**63 - 1}, {"groups": -2**63}, {"groups": np.int32(4)}, {"eps": 1}, {"eps": True},
    {"eps": np.float32(0.5)}, {"mode": "b"}, {"seed": 0}, {"seed": 2**64 - 1}, {"seed": np.uint64(7)},
], ids=lambda k: f"{next(iter(k))}={next(iter(k.values()))!r}")
def test_what_the_full_check_accepts_passes(kwargs):
    out = F(convlab.tensor([1.0]), **kwargs)
    name = next(iter(kwargs))
    assert out[["dim", "keepdim", "groups", "eps", "mode", "seed"].index(name)] is kwargs[name]


@pytest.mark.parametrize("kwargs, message", [
    ({"dim": True}, "_f: argument 'dim' must be an int, got True (bool)"),
    ({"dim": 1.0}, "_f: argument 'dim' must be an int, got 1.0 (float)"),
    ({"keepdim": 2}, "_f: argument 'keepdim' must be a bool, got 2 (int)"),
    ({"keepdim": "yes"}, "_f: argument 'keepdim' must be a bool, got 'yes' (str)"),
    ({"groups": 2**63}, "_f: argument 'groups' must be an int, got 9223372036854775808 (int)"),
    ({"groups": -2**63 - 1}, "_f: argument 'groups' must be an int, got -9223372036854775809 (int)"),
    ({"groups": None}, "_f: argument 'groups' must be an int, got None"),
    ({"eps": "small"}, "_f: argument 'eps' must be a real number, got 'small' (str)"),
    ({"mode": 3}, "_f: argument 'mode' must be a string, got 3 (int)"),
    ({"seed": -1}, "_f: seed must be a non-negative integer, got -1"),
    ({"seed": 2**64}, "_f: seed must be a non-negative integer, got 18446744073709551616"),
], ids=lambda v: repr(v)[:30])
def test_what_the_full_check_refuses_is_refused_in_the_same_words(kwargs, message):
    with pytest.raises(ArgumentTypeError) as info:
        F(convlab.tensor([1.0]), **kwargs)
    assert str(info.value) == message


def test_a_tensor_subclass_passes_and_an_array_is_converted():
    p = convlab.nn.Parameter(convlab.ones(2))
    calls = []
    g = argcheck.checked(lambda input, weight=None: calls.append((input, weight)), "g")
    g(p, weight=p)
    g(np.ones(2, np.float32))
    assert calls[0] == (p, p)
    assert isinstance(calls[1][0], convlab.Tensor) and calls[1][0].tolist() == [1.0, 1.0]
    with pytest.raises(ArgumentTypeError, match=r"^g: argument 'input' must be a Tensor, got dict$"):
        g({})


def test_the_geometry_cache_hits_for_a_size_and_gives_the_same_geometry():
    x = convlab.zeros(2, 3, 9, 9)
    args = ("conv2d", x.shape, (4, 3, 3, 3), (1, 1), (1, 1), (1, 1), 1)
    first = shapes.conv_geometry(*args)
    hits = shapes.conv_geometry.cache_info().hits
    again = shapes.conv_geometry(*args)
    assert shapes.conv_geometry.cache_info().hits == hits + 1
    assert again == first and again.out_size == (9, 9) and again.pads == ((1, 1), (1, 1))
    assert again == shapes.conv_geometry("conv2d", (2, 3, 9, 9), (4, 3, 3, 3), 1, 1, 1, 1)


def test_an_argument_equal_to_a_cached_one_but_not_an_int_is_still_refused():
    shapes.conv_geometry("conv2d", (1, 1, 5, 5), (1, 1, 3, 3), stride=(1, 1))  # cached
    with pytest.raises(ConvlabError, match=r"stride must be an int or a tuple of 2 ints, got \(1.0, 1\)"):
        shapes.conv_geometry("conv2d", (1, 1, 5, 5), (1, 1, 3, 3), stride=(1.0, 1))
    with pytest.raises(ConvlabError, match=r"stride must be an int or a tuple of 2 ints, got \(True, 1\)"):
        shapes.conv_geometry("conv2d", (1, 1, 5, 5), (1, 1, 3, 3), stride=(True, 1))


def test_a_module_without_hooks_and_with_hooks_gives_the_same_output():
    convlab.manual_seed(0)
    conv = convlab.nn.Conv2d(2, 3, 3)
    x = convlab.randn(1, 2, 5, 5)
    plain = conv(x).tolist()
    seen = []
    h = conv.register_forward_hook(lambda m, i, o: seen.append(o.shape))
    assert conv(x).tolist() == plain and seen == [(1, 3, 3, 3)]
    h.remove()
    assert conv(x).tolist() == plain and len(seen) == 1


@pytest.mark.parametrize("m, n, k", [(512, 40, 300), (96, 63, 576), (33, 10, 70)])
def test_a_product_with_few_columns_split_by_rows_is_the_same_bits_on_any_thread_count(m, n, k, monkeypatch):
    # few columns (under four NR blocks per thread) and many rows: _sgemm_driver.c splits by rows;
    # every sum keeps its order, so 2 and 3 threads give the 1-thread bits; float32 against float64
    # within 1e-5 of the largest product
    from convlab.ops import gemm

    if not gemm.native_available():
        pytest.skip("convlab._sgemm not built here")
    monkeypatch.setattr(gemm, "_FLOPS_PER_THREAD", 0)  # every product threaded
    rng = np.random.default_rng(m)
    a, b = rng.standard_normal((m, k), dtype=np.float32), rng.standard_normal((k, n), dtype=np.float32)
    before = convlab.get_num_threads()
    try:
        runs = {}
        for t in (1, 2, 3):
            convlab.set_num_threads(t)
            runs[t] = gemm.matmul(a, b)
    finally:
        convlab.set_num_threads(before)
    np.testing.assert_array_equal(runs[1], runs[2])
    np.testing.assert_array_equal(runs[1], runs[3])
    ref = a.astype(np.float64) @ b.astype(np.float64)
    assert np.abs(runs[2] - ref).max() <= 1e-5 * np.abs(ref).max()

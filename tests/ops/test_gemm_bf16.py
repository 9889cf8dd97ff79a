"""bfloat16 products under ``set_float32_matmul_precision("medium")`` (``ops/gemm_bf16.py``,
``_sgemm_bf16*.c``) and the switch itself.

The reference rounds A and B to bfloat16 in NumPy (round to nearest even on the float32 bits,
subnormals to zero, as VCVTNE2PS2BF16 does), then multiplies in float64. A product of two
bfloat16 values is exact in float32, so what is left is a float32 sum of k terms (plus, on two
threads, the addition of two partial sums): elementwise

    |C - Ah @ Bh| <= (k + 2) * 2**-24 * (|Ah| @ |Bh|)          (Ah, Bh: A, B rounded)

The float32 product differs from Ah @ Bh by about 2**-9 * sqrt(k) * |A| |B| per entry, far above
that bound, so a kernel that skipped the rounding (or truncated instead of rounding) fails it;
two hand-computed products pin the rounding down exactly.

The kernel tests need a CPU with AVX512_BF16: elsewhere they skip, saying so; where the CPU has
it and the extension was not built, they fail in CI (CI=true) like the other compiled helpers.
"""

import os
import subprocess
import sys

import numpy as np
import pytest

import convlab as cl
import convlab.functional as F
from convlab.ops import gemm, gemm_bf16
from helpers import child_env, missing_compiled, record_calls, require_torch

U = 2.0**-24


def rne_bf16(x):
    """float32 -> the nearest bfloat16 (ties to even), as float32; subnormals become signed zero."""
    u = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    u = np.where((u & 0x7F800000) == 0, u & 0x80000000, u)
    rounded = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16) << 16
    return rounded.astype(np.uint32).view(np.float32)


def _cpu_has_bf16() -> bool:
    try:
        with open("/proc/cpuinfo") as f:
            return "avx512_bf16" in f.read()
    except OSError:
        return False


@pytest.fixture
def bf16():
    """The bfloat16 module, on a CPU that runs it; precision restored to "highest" afterwards."""
    if gemm_bf16._sgemm_bf16 is None:
        if _cpu_has_bf16() or not os.path.exists("/proc/cpuinfo"):
            missing_compiled("_sgemm_bf16")
        pytest.skip("this CPU lacks AVX512_BF16 (and convlab._sgemm_bf16 was not built)")
    if not gemm_bf16.bf16_available():
        pytest.skip("this CPU lacks AVX512_BF16 (with AVX-512F/BW): the bfloat16 GEMM cannot run here")
    previous = gemm_bf16.set_bf16_enabled(True)
    yield gemm_bf16._sgemm_bf16
    gemm_bf16.set_bf16_enabled(previous)
    cl.set_float32_matmul_precision("highest")


@pytest.fixture
def highest():
    yield
    cl.set_float32_matmul_precision("highest")


def _bound(a, b, k):
    ah, bh = rne_bf16(a).astype(np.float64), rne_bf16(b).astype(np.float64)
    return ah @ bh, (k + 2) * U * (np.abs(ah) @ np.abs(bh))


def test_reference_rounding_is_torchs_bfloat16():
    torch = require_torch()
    x = np.random.default_rng(0).standard_normal(10000).astype(np.float32) * 10.0 ** np.arange(-30, 30, 0.006)[:10000]
    x = x.astype(np.float32)
    theirs = torch.from_numpy(x).to(torch.bfloat16).float().numpy()
    np.testing.assert_array_equal(rne_bf16(x), theirs)
    # the ties: 1 + 2^-8 lies halfway between 1 and 1 + 2^-7 and goes to the even one, 1
    assert rne_bf16(np.float32([1 + 2**-8, 1 + 3 * 2**-8]))[0] == 1.0
    assert rne_bf16(np.float32([1 + 3 * 2**-8]))[0] == 1 + 2**-6


@pytest.mark.parametrize("m, n, k", [(1, 1, 1), (3, 23, 5), (8, 48, 2), (9, 49, 3), (13, 100, 257), (130, 3100, 300)],
                         ids=str)
@pytest.mark.parametrize("threads", [1, 2])
def test_kernel_within_bound_of_bf16_rounded_product(bf16, m, n, k, threads):
    """Edge tiles (8 rows, 48 columns), odd k (a zero-padded last pair), k past the 256-deep
    block, rows past 128 and columns past 3072 (the blocks of A and B); B row-major, transposed
    and strided; C += A @ B."""
    rng = np.random.default_rng(m * 1000 + n + k)
    a = rng.standard_normal((m, k)).astype(np.float32)
    b = rng.standard_normal((k, n)).astype(np.float32)
    exact, bound = _bound(a, b, k)
    for operand in (b, np.asfortranarray(b), np.repeat(b, 2, axis=1)[:, ::2]):
        c = np.empty((m, n), np.float32)
        bf16.sgemm(a, operand, c, False, threads)
        assert np.all(np.abs(c - exact) <= bound), f"{np.max(np.abs(c - exact) - bound):.2e} above the bound"
    # against NumPy's float32 product of the rounded inputs, which has its own k-term rounding
    assert np.all(np.abs(c - np.matmul(rne_bf16(a), rne_bf16(b))) <= 2 * bound)
    c0 = rng.standard_normal((m, n)).astype(np.float32)
    c = c0.copy()
    bf16.sgemm(a, b, c, True, threads)
    assert np.all(np.abs(c - exact - c0) <= bound + 2 * U * np.abs(c0 + exact))


@pytest.mark.parametrize("k", [1030, 1037, 2100])
@pytest.mark.parametrize("threads", [1, 2])
def test_dot_form_within_bound(bf16, k, threads):
    """A's rows and B's columns both along k (a weight gradient) take the dot form: 32 values
    rounded in registers, tails of 6 and 13 values, two threads splitting k."""
    rng = np.random.default_rng(k)
    a = rng.standard_normal((13, k)).astype(np.float32)
    b = np.asfortranarray(rng.standard_normal((k, 20)).astype(np.float32))
    c = np.empty((13, 20), np.float32)
    bf16.sgemm(a, b, c, False, threads)
    exact, bound = _bound(a, b, k)
    assert np.all(np.abs(c - exact) <= bound)


def test_hand_computed_rounding(bf16):
    """64 x (1 + 2^-10) rounds to 64 (float32: 64.0625); 1 + 3 * 2^-8 is a tie that goes to the
    even 1 + 2^-6 (truncation would give 1 + 2^-7): the dot of 32 of them with ones is 32.5."""
    c = np.empty((8, 48), np.float32)
    bf16.sgemm(np.full((8, 64), 1 + 2**-10, np.float32), np.ones((64, 48), np.float32), c, False, 1)
    np.testing.assert_array_equal(c, 64.0)
    bf16.sgemm(np.full((8, 32), 1 + 3 * 2**-8, np.float32), np.ones((32, 48), np.float32), c, False, 1)
    np.testing.assert_array_equal(c, 32 * (1 + 2**-6))


def test_kernel_matches_torch_on_rounded_inputs(bf16):
    torch = require_torch()
    rng = np.random.default_rng(5)
    a = rng.standard_normal((70, 333)).astype(np.float32)
    b = rng.standard_normal((333, 101)).astype(np.float32)
    c = np.empty((70, 101), np.float32)
    bf16.sgemm(a, b, c, False, 2)
    ta, tb = (torch.from_numpy(v).to(torch.bfloat16).to(torch.float32) for v in (a, b))
    theirs = torch.matmul(ta, tb).numpy()
    _, bound = _bound(a, b, 333)
    assert np.all(np.abs(c - theirs) <= 2 * bound)


def test_kernel_refuses_bad_buffers_by_name(bf16):
    a, b = np.ones((8, 4), np.float32), np.ones((4, 16), np.float32)
    with pytest.raises(ValueError, match="sgemm: b must be a 2-D float32 array"):
        bf16.sgemm(a, b.astype(np.float64), np.empty((8, 16), np.float32), False, 1)
    with pytest.raises(ValueError, match=r"c must be \(8, 16\)"):
        bf16.sgemm(a, b, np.empty((8, 15), np.float32), False, 1)
    with pytest.raises(ValueError, match="outside its 10 values"):
        bf16.sgemm_shifted(a, np.ones(10, np.float32), np.arange(4, dtype=np.int64), 16, 16, np.empty((8, 16), np.float32),
                           False, 1)


@pytest.mark.parametrize("shape, groups", [((5, 3, 13, 11), 1), ((4, 8, 9, 9), 2)], ids=str)
def test_conv_forward_and_backward_reach_bf16_and_match_torch(bf16, monkeypatch, shape, groups):
    """A convolution under "medium": its products (forward and input gradient on the flat grid,
    the weight gradient's dot form) run on the bfloat16 GEMM, and each result lies within the bound
    of torch's float64 convolution of the bfloat16-rounded operands (the upstream gradient
    rounded too, as the products see it)."""
    torch = require_torch()
    rng = np.random.default_rng(len(shape) + groups)
    o, c = 12, shape[1]
    x = rng.standard_normal(shape).astype(np.float32)
    w = rng.standard_normal((o, c // groups, 3, 3)).astype(np.float32)
    cl.set_float32_matmul_precision("medium")
    before = gemm_bf16.products_run()
    calls = record_calls(monkeypatch, gemm_bf16, "_sgemm_bf16", lambda name, args: name if name.startswith("sgemm") else None)
    xt, wt = cl.tensor(x, requires_grad=True), cl.tensor(w, requires_grad=True)
    y = F.conv2d(xt, wt, padding=1, groups=groups)
    g = rng.standard_normal(y.shape).astype(np.float32)
    y.backward(cl.tensor(g))
    assert {"sgemm_shifted", "sgemm_dot_shifted"} <= set(calls), f"products on the bfloat16 GEMM: {calls}"
    assert gemm_bf16.products_run() - before == len(calls) >= 3

    def run(xv, wv, gv):
        tx, tw = (torch.tensor(v.astype(np.float64), requires_grad=True) for v in (xv, wv))
        ty = torch.nn.functional.conv2d(tx, tw, padding=1, groups=groups)
        ty.backward(torch.tensor(gv.astype(np.float64)))
        return ty.detach().numpy(), tx.grad.numpy(), tw.grad.numpy()

    exact = run(rne_bf16(x), rne_bf16(w), rne_bf16(g))
    sizes = run(np.abs(rne_bf16(x)), np.abs(rne_bf16(w)), np.abs(rne_bf16(g)))
    terms = (c // groups * 9, o // groups * 9, shape[0] * shape[2] * shape[3])
    for name, ours, ref, size, k in zip(("y", "grad_x", "grad_w"), (y.detach().numpy(), xt.grad.numpy(), wt.grad.numpy()), exact,
                                        sizes, terms):
        excess = np.abs(ours - ref) - (k + 2) * U * size
        assert excess.max() <= 0, f"{name}: {excess.max():.2e} above the bound"


def test_linear_reaches_bf16(bf16):
    torch = require_torch()
    rng = np.random.default_rng(9)
    x, w = rng.standard_normal((32, 70)).astype(np.float32), rng.standard_normal((40, 70)).astype(np.float32)
    cl.set_float32_matmul_precision("medium")
    before = gemm_bf16.products_run()
    y = F.linear(cl.tensor(x), cl.tensor(w)).numpy()
    assert gemm_bf16.products_run() == before + 1
    theirs = torch.nn.functional.linear(*(torch.from_numpy(v).bfloat16().double() for v in (x, w))).numpy()
    _, bound = _bound(x, w.T, 70)
    assert np.all(np.abs(y - theirs) <= bound)


def test_default_is_highest_and_high_stays_float32(highest):
    assert cl.get_float32_matmul_precision() == "highest"
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((40, 300)).astype(np.float32), rng.standard_normal((300, 60)).astype(np.float32)
    reference = gemm.matmul(a, b)
    before = gemm_bf16.products_run()
    for precision in ("high", "highest"):
        cl.set_float32_matmul_precision(precision)
        assert cl.get_float32_matmul_precision() == precision and not gemm_bf16.bf16_active()
        np.testing.assert_array_equal(gemm.matmul(a, b), reference)
    assert gemm_bf16.products_run() == before


def test_medium_with_kernel_off_keeps_float32_bits(highest):
    """What a CPU without AVX512_BF16 does under "medium" (forced here by the override)."""
    rng = np.random.default_rng(2)
    a, b = rng.standard_normal((40, 300)).astype(np.float32), rng.standard_normal((300, 60)).astype(np.float32)
    reference = gemm.matmul(a, b)
    was = gemm_bf16.bf16_enabled()
    gemm_bf16.set_bf16_enabled(False)
    try:
        cl.set_float32_matmul_precision("medium")
        before = gemm_bf16.products_run()
        np.testing.assert_array_equal(gemm.matmul(a, b), reference)
        assert gemm_bf16.products_run() == before and not gemm_bf16.bf16_active()
        assert cl.get_float32_matmul_precision() == "medium"
    finally:
        if was:
            gemm_bf16.set_bf16_enabled(True)


def test_env_override_switches_the_kernel_off():
    code = "from convlab.ops import gemm_bf16; print(gemm_bf16.bf16_enabled())"
    out = subprocess.run([sys.executable, "-c", code], env=child_env(CONVLAB_BF16="off"), capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("value, error, message", [
    ("low", ValueError, "Invalid precision 'low': expected 'highest', 'high' or 'medium'"),
    ("MEDIUM", RuntimeError, "Invalid precision 'MEDIUM'"),
    (1, TypeError, "must be a string, got 1"),
])
def test_switch_refuses_bad_values(highest, value, error, message):
    cl.set_float32_matmul_precision("high")
    with pytest.raises(error, match=message):
        cl.set_float32_matmul_precision(value)
    assert cl.get_float32_matmul_precision() == "high"


@pytest.mark.parametrize("form", ["packed", "dot"])
def test_non_finite_inputs_reach_c(bf16, form):
    """NaN stays NaN and inf stays inf through the rounding (VCVTNE2PS2BF16 keeps both), in the
    packed kernel and in the dot form, whose last partial load is masked."""
    k = 40 if form == "packed" else 2000
    a = np.ones((8, k), np.float32)
    a[0, k - 1], a[1, 0] = np.nan, np.inf
    b = np.ones((k, 48), np.float32) if form == "packed" else np.asfortranarray(np.ones((k, 6), np.float32))
    c = np.empty((8, b.shape[1]), np.float32)
    bf16.sgemm(a, b, c, False, 1)
    assert np.isnan(c[0]).all() and np.isposinf(c[1]).all()
    np.testing.assert_array_equal(c[2:], k)

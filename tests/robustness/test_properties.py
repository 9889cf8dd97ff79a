"""Property tests (hypothesis) over random valid convolution and pooling configurations.

Properties: linearity in input and in weight; translation equivariance of stride-1 convolution
away from the borders; conv_transpose2d is the adjoint of conv2d; gradients match central
differences; max pooling ignores the order inside each window; average pooling of a constant
is that constant; the fast path agrees with a loop reference and with itself when chunked
under a tiny memory budget and with the reference tier (convlab.reference); float32 agrees with float64 to float32 tolerance.
"""

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import convlab as cl
import convlab.functional as F
from convlab.ops import conv as conv_ops

SETTINGS = settings(max_examples=30, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
PROPERTIES = 10  # the number of test functions below, reported by the catalogue count


@st.composite
def conv_configs(draw, max_groups=2):
    g = draw(st.integers(1, max_groups))
    cin = g * draw(st.integers(1, 2))
    cout = g * draw(st.integers(1, 2))
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    s = draw(st.integers(1, 2))
    d = draw(st.integers(1, 2))
    p = draw(st.integers(0, 2))
    h = draw(st.integers(d * (kh - 1) + 1, 7))
    w = draw(st.integers(d * (kw - 1) + 1, 7))
    n = draw(st.integers(1, 2))
    seed = draw(st.integers(0, 2**16))
    return dict(n=n, cin=cin, cout=cout, k=(kh, kw), stride=s, dilation=d, padding=p, groups=g, hw=(h, w), seed=seed)


def _arrays(cfg, dtype=np.float64):
    rng = np.random.default_rng(cfg["seed"])
    x = rng.standard_normal((cfg["n"], cfg["cin"]) + cfg["hw"]).astype(dtype)
    w = rng.standard_normal((cfg["cout"], cfg["cin"] // cfg["groups"]) + cfg["k"]).astype(dtype)
    b = rng.standard_normal(cfg["cout"]).astype(dtype)
    return x, w, b


def _conv(x, w, cfg, b=None):
    return F.conv2d(cl.tensor(x), cl.tensor(w), None if b is None else cl.tensor(b), stride=cfg["stride"],
                    padding=cfg["padding"], dilation=cfg["dilation"], groups=cfg["groups"]).numpy()


def _loop_conv(x, w, cfg):
    """The textbook definition, one output pixel at a time (independent of im2col)."""
    s, d, p, g = cfg["stride"], cfg["dilation"], cfg["padding"], cfg["groups"]
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    n, _, hp, wp = xp.shape
    o, cg, kh, kw = w.shape
    ho, wo = (hp - d * (kh - 1) - 1) // s + 1, (wp - d * (kw - 1) - 1) // s + 1
    y = np.zeros((n, o, ho, wo))
    og = o // g
    for oc in range(o):
        grp = oc // og
        for i in range(ho):
            for j in range(wo):
                patch = xp[:, grp * cg:(grp + 1) * cg, i * s:i * s + d * (kh - 1) + 1:d, j * s:j * s + d * (kw - 1) + 1:d]
                y[:, oc, i, j] = (patch * w[oc]).sum(axis=(1, 2, 3))
    return y


@SETTINGS
@given(conv_configs(), st.floats(-3, 3), st.floats(-3, 3))
def test_conv_is_linear_in_input_and_in_weight(cfg, a, b):
    x1, w1, _ = _arrays(cfg)
    x2, w2, _ = _arrays({**cfg, "seed": cfg["seed"] + 1})
    np.testing.assert_allclose(_conv(a * x1 + b * x2, w1, cfg), a * _conv(x1, w1, cfg) + b * _conv(x2, w1, cfg),
                               rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(_conv(x1, a * w1 + b * w2, cfg), a * _conv(x1, w1, cfg) + b * _conv(x1, w2, cfg),
                               rtol=1e-9, atol=1e-9)


@SETTINGS
@given(conv_configs(), st.integers(1, 3), st.integers(1, 3))
def test_stride1_conv_is_translation_equivariant_away_from_borders(cfg, dy, dx):
    cfg = {**cfg, "stride": 1, "padding": 0, "hw": (cfg["hw"][0] + 6, cfg["hw"][1] + 6)}
    x, w, _ = _arrays(cfg)
    shifted = np.roll(x, (dy, dx), axis=(2, 3))
    y, ys = _conv(x, w, cfg), _conv(shifted, w, cfg)
    # output (i, j) of the shifted input reads the input at (i - dy, j - dx): valid once i >= dy, j >= dx
    np.testing.assert_allclose(ys[:, :, dy:, dx:], y[:, :, :y.shape[2] - dy, :y.shape[3] - dx], rtol=1e-10, atol=1e-10)


@SETTINGS
@given(conv_configs())
def test_conv_transpose2d_is_the_adjoint_of_conv2d(cfg):
    x, w, _ = _arrays(cfg)
    y = _conv(x, w, cfg)
    r = np.random.default_rng(cfg["seed"] + 7).standard_normal(y.shape)
    s, p, d = cfg["stride"], cfg["padding"], cfg["dilation"]
    ho, wo = y.shape[2:]
    op = tuple(h - ((o - 1) * s - 2 * p + d * (k - 1) + 1) for h, o, k in zip(cfg["hw"], (ho, wo), cfg["k"]))
    xt = F.conv_transpose2d(cl.tensor(r), cl.tensor(w), stride=s, padding=p, output_padding=op, groups=cfg["groups"],
                            dilation=d).numpy()
    assert xt.shape == x.shape
    np.testing.assert_allclose(np.vdot(y, r), np.vdot(x, xt), rtol=1e-9, atol=1e-9)


@settings(max_examples=12, deadline=None, derandomize=True)
@given(conv_configs(max_groups=2), st.booleans())
def test_conv_gradients_match_gradcheck(cfg, bias):
    cfg = {**cfg, "n": 1, "hw": tuple(min(v, 5) for v in cfg["hw"])}
    cfg["hw"] = tuple(max(v, cfg["dilation"] * (k - 1) + 1) for v, k in zip(cfg["hw"], cfg["k"]))
    x, w, b = _arrays(cfg)
    arrays = [x, w, b] if bias else [x, w]
    ts = [cl.tensor(a, requires_grad=True) for a in arrays]

    def f(x, w, b=None):
        return F.conv2d(x, w, b, stride=cfg["stride"], padding=cfg["padding"], dilation=cfg["dilation"], groups=cfg["groups"])

    assert cl.gradcheck(f, ts)


@settings(max_examples=12, deadline=None, derandomize=True)
@given(st.integers(1, 3), st.integers(1, 2), st.integers(0, 1), st.sampled_from(["max", "avg"]), st.integers(0, 2**16))
def test_pool_gradients_match_gradcheck(k, s, p, kind, seed):
    p = min(p, k // 2)
    x = np.random.default_rng(seed).standard_normal((1, 2, 5, 5))
    fn = F.max_pool2d if kind == "max" else F.avg_pool2d
    assert cl.gradcheck(lambda t: fn(t, k, stride=s, padding=p), [cl.tensor(x, requires_grad=True)])


@SETTINGS
@given(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3), st.integers(1, 3), st.integers(0, 2**16))
def test_max_pool_ignores_the_order_inside_each_window(k, hb, wb, c, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, c, hb * k, wb * k))
    blocks = x.reshape(2, c, hb, k, wb, k).transpose(0, 1, 2, 4, 3, 5).reshape(2, c, hb, wb, k * k)
    perm = rng.permuted(blocks, axis=-1)
    shuffled = perm.reshape(2, c, hb, wb, k, k).transpose(0, 1, 2, 4, 3, 5).reshape(x.shape)
    np.testing.assert_array_equal(F.max_pool2d(cl.tensor(x), k).numpy(), F.max_pool2d(cl.tensor(shuffled), k).numpy())


@SETTINGS
@given(st.integers(1, 3), st.integers(1, 3), st.integers(0, 1), st.booleans(), st.floats(-1e3, 1e3), st.integers(3, 8))
def test_avg_pool_of_a_constant_is_that_constant(k, s, p, ceil, value, size):
    p = min(p, k // 2)
    x = np.full((1, 2, size, size), value)
    y = F.avg_pool2d(cl.tensor(x), k, stride=s, padding=p, ceil_mode=ceil, count_include_pad=False).numpy()
    np.testing.assert_allclose(y, value, rtol=1e-12, atol=1e-9)
    if p == 0:
        y = F.avg_pool2d(cl.tensor(x), k, stride=s, ceil_mode=False).numpy()
        np.testing.assert_allclose(y, value, rtol=1e-12, atol=1e-9)
    ya = F.adaptive_avg_pool2d(cl.tensor(x), (max(size // 2, 1), 3)).numpy()
    np.testing.assert_allclose(ya, value, rtol=1e-12, atol=1e-9)


@SETTINGS
@given(conv_configs())
def test_fast_conv_agrees_with_loop_reference_and_with_chunking(cfg):
    x, w, _ = _arrays(cfg)
    fast = _conv(x, w, cfg)
    np.testing.assert_allclose(fast, _loop_conv(x, w, cfg), rtol=1e-10, atol=1e-10)
    old = conv_ops.set_memory_budget(64)  # forces one sample per chunk
    try:
        np.testing.assert_allclose(_conv(x, w, cfg), fast, rtol=1e-12, atol=1e-12)
    finally:
        conv_ops.set_memory_budget(old)


@SETTINGS
@given(conv_configs())
def test_float32_agrees_with_float64(cfg):
    x, w, b = _arrays(cfg)
    y64 = _conv(x, w, cfg, b)
    y32 = _conv(x.astype(np.float32), w.astype(np.float32), cfg, b.astype(np.float32))
    assert y32.dtype == np.float32
    np.testing.assert_allclose(y32, y64, rtol=1e-4, atol=1e-4)
    p32 = F.max_pool2d(cl.tensor(x.astype(np.float32)), 2, stride=1).numpy() if min(cfg["hw"]) >= 2 else None
    if p32 is not None:
        np.testing.assert_allclose(p32, F.max_pool2d(cl.tensor(x), 2, stride=1).numpy(), rtol=1e-6, atol=1e-6)


@SETTINGS
@given(conv_configs(max_groups=1), st.integers(1, 3), st.integers(0, 2**16))
def test_fast_tier_agrees_with_the_reference_tier(cfg, k, seed):
    """convlab.reference (the seeds' loops: conv2d_naive, conv2d_batch, max/avg_pool2d_naive) vs the fast ops."""
    from convlab import reference as R

    cfg = {**cfg, "dilation": 1}
    x, w, b = _arrays(cfg)
    s, p = cfg["stride"], cfg["padding"]
    fast = F.conv2d(cl.tensor(x), cl.tensor(w), cl.tensor(b), stride=s, padding=p).numpy()
    np.testing.assert_allclose(R.conv2d_batch(x, w, b, s, p), fast, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(R.conv2d_naive(x[0], w, b, s, p), fast[0], rtol=1e-10, atol=1e-10)
    k = min(k, *cfg["hw"])
    xp = np.random.default_rng(seed).standard_normal((2, 2) + cfg["hw"])
    np.testing.assert_array_equal(R.max_pool2d_naive(xp, k), F.max_pool2d(cl.tensor(xp), k).numpy())
    np.testing.assert_allclose(R.avg_pool2d_naive(xp, k), F.avg_pool2d(cl.tensor(xp), k).numpy(), rtol=1e-12, atol=1e-12)

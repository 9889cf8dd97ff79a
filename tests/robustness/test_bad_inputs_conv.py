"""Hostile inputs for convolution and pooling (convlab.functional conv / pool), op x bad input.

Each op is described once (dimensionality, how to call it); every bad input is then tried on
every op that takes that argument, so the table grows as ops x inputs.
"""

import numpy as np
import pytest
from hostile import Case, check, params

import convlab as cl
import convlab.functional as F

_LAYOUT = {1: "NCL", 2: "NCHW", 3: "NCDHW"}


def _arr(shape, dtype=np.float32, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def _weight(name, nd, k=3, dtype=np.float32):
    # conv: (out 4, in 3, k...); transposed: (in 3, out 4, k...): both take 3-channel input
    shape = (3, 4) if "transpose" in name else (4, 3)
    return cl.tensor(_arr(shape + (k,) * nd, dtype, seed=1))


def _caller(name, nd):
    fn = getattr(F, name)
    if name.startswith("conv"):
        return lambda x, k=3, **kw: fn(x, _weight(name, nd, k), **kw)
    if name.startswith("adaptive"):
        return lambda x, k=2, **kw: fn(x, k, **kw)
    return lambda x, k=2, **kw: fn(x, k, **kw)


OPS = {f"{kind}{nd}d": nd for kind in ("conv", "conv_transpose", "max_pool", "avg_pool") for nd in (1, 2, 3)}
ADAPTIVE = {f"adaptive_{kind}_pool{nd}d": nd for kind in ("avg", "max") for nd in (1, 2, 3)}
ALL = {**OPS, **ADAPTIVE}


def _good(nd, n=2, c=3, size=8, dtype=np.float32):
    return _arr((n, c) + (size,) * nd, dtype)


CASES = []


def _add(name, label, call, exc, match):
    CASES.append(Case(f"{name}-{label}", call, exc, match))


for _name, _nd in ALL.items():
    f = _caller(_name, _nd)
    lay = _LAYOUT[_nd]
    low, high = (8,) * _nd, (1, 1, 3) + (8,) * _nd
    for label, shape in (("ndim-low", low), ("ndim-high", high)):
        _add(_name, label, lambda f=f, s=shape: f(cl.tensor(_arr(s))), ValueError,
             rf"{_name}: expected a {_nd + 2}-D input in {lay} .*got shape \({', '.join(map(str, shape))},?\)")
    _add(_name, "scalar", lambda f=f: f(3.0), ValueError, rf"{_name}: expected a {_nd + 2}-D input .*got shape \(\)")
    _add(_name, "None", lambda f=f: f(None), TypeError,
         r"(expected a Tensor, array or number|argument .input. must be a Tensor), got NoneType")
    for kind, dt, rx in (("complex", np.complex64, "complex64"), ("object", object, "object"), ("string", "U1", "<U1")):
        _add(_name, f"ndarray-{kind}", lambda f=f, dt=dt, nd=_nd: f(np.ones((2, 3) + (8,) * nd, dtype=dt)),
             TypeError, rf"unsupported dtype {rx}")

for _name, _nd in OPS.items():
    f = _caller(_name, _nd)
    x = _good(_nd)
    for arg in ("stride", "padding") + (() if _name.startswith("avg") else ("dilation",)):
        bad = [-1] if arg == "padding" else [0, -1]
        for v in bad:
            kind = "non-negative" if arg == "padding" else "positive"
            _add(_name, f"{arg}={v}", lambda f=f, x=x, a=arg, v=v: f(cl.tensor(x), **{a: v}), ValueError,
                 rf"{_name}: {arg} must be {kind}, got {v}")
        _add(_name, f"{arg}=str", lambda f=f, x=x, a=arg: f(cl.tensor(x), **{a: "a" if a != "padding" else "full"}),
             ValueError, rf"{_name}: {arg} must be .*got '(a|full)'")
        long = (1,) * (_nd + 1)
        _add(_name, f"{arg}-tuple-{_nd + 1}", lambda f=f, x=x, a=arg, t=long: f(cl.tensor(x), **{a: t}), ValueError,
             rf"{_name}: {arg} must be an int or a tuple of {_nd} ints, got \({', '.join(['1'] * (_nd + 1))}\)")
    # a window larger than the (padded) input
    zero = (2, 3, 0) + (8,) * (_nd - 1)
    if "transpose" not in _name:
        _add(_name, "kernel-too-big", lambda f=f, x=x: f(cl.tensor(x), k=9), ValueError,
             rf"{_name}: padded input {'x'.join(['8'] * _nd)} is smaller than the dilated kernel {'x'.join(['9'] * _nd)}")
        _add(_name, "zero-spatial", lambda f=f, s=zero: f(cl.tensor(_arr(s))), ValueError,
             rf"{_name}: padded input 0(x8)* is smaller than the dilated kernel")
    if _name.startswith(("max", "avg")):
        for v in (0, -2):
            _add(_name, f"kernel_size={v}", lambda f=f, x=x, v=v: f(cl.tensor(x), k=v), ValueError,
                 rf"{_name}: kernel_size must be positive, got {v}")
        _add(_name, "padding-over-half", lambda f=f, x=x: f(cl.tensor(x), k=2, padding=2), ValueError,
             rf"{_name}: padding 2 should be at most half of .*kernel size 2")
    if _name.startswith(("conv", "avg")):
        for dt in ("int64", "bool", "int32", "uint8"):
            rx = (rf"{_name}: input dtype {dt} and weight dtype float32" if _name.startswith("conv")
                  else rf"{_name}: expected a floating-point input, got dtype {dt}")
            _add(_name, f"dtype-{dt}", lambda f=f, x=x, dt=dt: f(cl.tensor(x.astype(dt))), TypeError, rx)
    if _name.startswith("conv"):
        _add(_name, "float64-vs-float32", lambda f=f, x=x: f(cl.tensor(x.astype(np.float64))), TypeError,
             rf"{_name}: input dtype float64 and weight dtype float32 should be the same")
        _add(_name, "channels", lambda f=f, nd=_nd: f(cl.tensor(_good(nd, c=5))), ValueError,
             rf"{_name}: input has 5 channels but weight expects 3")
        for g in (0, -1):
            _add(_name, f"groups={g}", lambda f=f, x=x, g=g: f(cl.tensor(x), groups=g), ValueError,
                 rf"{_name}: groups must be positive, got {g}")
        _add(_name, "bias-shape", lambda f=f, x=x: f(cl.tensor(x), bias=cl.ones(7)), ValueError,
             rf"{_name}: bias must have shape \(4,\) .*got \(7,\)")
        _add(_name, "weight-ndim", lambda n=_name, x=x, nd=_nd: getattr(F, n)(cl.tensor(x), cl.ones(4, 3)), ValueError,
             rf"{_name}: weight must be {_nd + 2}-D .*got shape \(4, 3\)")
    if "transpose" in _name:
        _add(_name, "output_padding", lambda f=f, x=x: f(cl.tensor(x), output_padding=2), ValueError,
             rf"{_name}: output_padding \(2(, 2)*,?\) must be smaller than either stride")
        _add(_name, "padding-same", lambda f=f, x=x: f(cl.tensor(x), padding="same"), ValueError,
             rf"{_name}: padding must be an int or a tuple for a transposed convolution, got 'same'")
        _add(_name, "output-not-positive", lambda f=f, x=x: f(cl.tensor(x), padding=10), ValueError,
             rf"{_name}: output size -10(x-10)* is not positive")
    elif _name.startswith("conv"):
        _add(_name, "padding-str", lambda f=f, x=x: f(cl.tensor(x), padding="full"), ValueError,
             rf"{_name}: padding must be an int, a tuple, 'valid' or 'same', got 'full'")
        _add(_name, "strict-unvisited", lambda f=f, nd=_nd: f(cl.tensor(_good(nd, size=8)), k=3, stride=2, strict=True),
             ValueError, rf"{_name}: strict=True and 1 ")

_add("conv2d", "NHWC", lambda: F.conv2d(cl.tensor(_arr((2, 8, 8, 3))), _weight("conv2d", 2)), ValueError,
     r"conv2d: input has 8 channels but weight expects 3 .*looks like NHWC .*permute\(0, 3, 1, 2\)")
_add("conv2d", "groups-mismatch", lambda: F.conv2d(cl.tensor(_good(2)), _weight("conv2d", 2), groups=2), ValueError,
     r"conv2d: input has 3 channels but weight expects 6 x groups 2")

for _name, _nd in ADAPTIVE.items():
    f = _caller(_name, _nd)
    x = _good(_nd)
    for v in (0, -1):
        _add(_name, f"output_size={v}", lambda f=f, x=x, v=v: f(cl.tensor(x), k=v), ValueError,
             rf"{_name}: output_size must be positive, got {v}")
    t = (1,) * (_nd + 1)
    _add(_name, f"output_size-tuple-{_nd + 1}", lambda f=f, x=x, t=t: f(cl.tensor(x), k=t), ValueError,
         rf"{_name}: output_size must be an int or a tuple of {_nd}, got \({', '.join(['1'] * (_nd + 1))}\)")

_add("max_unpool2d", "indices-range", lambda: F.max_unpool2d(cl.ones(1, 1, 2, 2), cl.tensor(np.full((1, 1, 2, 2), 99)), 2),
     ValueError, r"max_unpool2d: indices must lie in \[0, 16\) .*got \[99, 99\]")
_add("max_unpool2d", "indices-shape", lambda: F.max_unpool2d(cl.ones(1, 1, 2, 2), cl.tensor(np.zeros((1, 1, 3, 3), int)), 2),
     ValueError, r"max_unpool2d: indices shape \(1, 1, 3, 3\) must match input shape \(1, 1, 2, 2\)")
_add("avg_pool2d", "divisor_override=0", lambda: F.avg_pool2d(cl.tensor(_good(2)), 2, divisor_override=0), ValueError,
     r"avg_pool2d: divisor_override must be non-zero")


@params(CASES)
def test_conv_and_pool_bad_inputs(case):
    check(case)


# ---------------------------------------------------------------- inputs that must simply work
WORKS = [n for n in ALL]


def _run(name, nd, x):
    return _caller(name, nd)(x)


@pytest.mark.parametrize("name", WORKS)
def test_strided_readonly_list_and_numpy_inputs_match_contiguous(name):
    """Non-contiguous, read-only, NumPy and nested-list inputs give the contiguous result."""
    nd = ALL[name]
    base = _good(nd, n=2, size=6)
    ref = _run(name, nd, cl.tensor(base)).numpy()
    big = np.zeros((4, 6) + (12,) * nd, np.float32)
    big[(slice(None, None, 2), slice(None, None, 2)) + (slice(None, None, 2),) * nd] = base
    strided = big[(slice(None, None, 2), slice(None, None, 2)) + (slice(None, None, 2),) * nd]
    assert not strided.flags.c_contiguous
    ro = base.copy()
    ro.flags.writeable = False
    for variant in (strided, ro, cl.tensor(strided), cl.tensor(ro), np.asfortranarray(base)):
        np.testing.assert_allclose(_run(name, nd, variant).numpy(), ref, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(_run(name, nd, cl.tensor(base.tolist())).numpy(), ref, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", [n for n in OPS])
def test_zero_batch_gives_empty_output_of_the_right_shape(name):
    nd = OPS[name]
    full = _run(name, nd, cl.tensor(_good(nd, n=1)))
    empty = _run(name, nd, cl.tensor(_good(nd, n=0)))
    assert empty.shape == (0,) + full.shape[1:]


@pytest.mark.parametrize("value", [np.nan, np.inf])
@pytest.mark.parametrize("name", ["conv2d", "conv_transpose2d", "max_pool2d", "avg_pool2d", "adaptive_avg_pool2d"])
def test_nonfinite_inputs_propagate_like_torch(name, value):
    """NaN/Inf are not refused: they spread to exactly the outputs whose window reads them, as in torch."""
    torch = pytest.importorskip("torch")
    x = _good(2, n=1, size=6).astype(np.float64)
    x[0, 1, 2, 3] = value
    tf = getattr(torch.nn.functional, name)
    if name.startswith("conv"):
        w = _weight(name, 2, dtype=np.float64)
        got = getattr(F, name)(cl.tensor(x), w).numpy()
        want = tf(torch.tensor(x), torch.tensor(w.numpy())).numpy()
    else:
        got = getattr(F, name)(cl.tensor(x), 2).numpy()
        want = tf(torch.tensor(x), 2).numpy()
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_array_equal(np.isinf(got), np.isinf(want))
    fin = np.isfinite(want)
    np.testing.assert_allclose(got[fin], want[fin], rtol=1e-10, atol=1e-12)

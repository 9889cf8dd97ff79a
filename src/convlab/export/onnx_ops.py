"""One converter per convlab ``Function``: the ONNX node(s) computing the same values (opset 17).

A converter is ``fn(g, call) -> name``: ``g`` is the :class:`~convlab.export.onnx_graph.GraphBuilder`,
``call`` the recorded :class:`~convlab.export.trace.Call`; it returns the name of the value that
stands for ``call.output``. Where ONNX has the operation itself (Conv with its groups, dilations
and asymmetric pads; BatchNormalization with the running statistics; MaxPool; Gemm; Concat...)
it is used; the rest is written exactly in a few nodes:

* average pooling with padding or ``ceil_mode`` divides each window's sum by the number torch
  divides by (which excludes the ceil-mode overhang even with ``count_include_pad``): the zero-
  padded input is averaged over whole windows, then multiplied by ``prod(kernel) / divisor``;
* adaptive average pooling is GlobalAveragePool (output 1), an AveragePool (sizes divisible) or,
  for uneven windows, a product with each axis's averaging matrix (one MatMul per axis);
* GroupNorm is InstanceNormalization over ``(N, groups, -1)``, reshaped back, then the affine map;
* ``var`` is the mean squared deviation times ``n / (n - correction)``.

Dropout in evaluation mode runs no operation and so leaves no node.
"""

from __future__ import annotations

import math

import numpy as np

from ..ops import conv as C
from ..ops import elementwise as E
from ..ops import matmul as M
from ..ops import movement as V
from ..ops import norm as N
from ..ops import pool as P
from ..ops import reduce as R
from .trace import Compare


def _shape(t) -> tuple:
    return tuple(int(s) for s in t.shape)


def _flat_pads(pads) -> list[int]:
    return [int(lo) for lo, _ in pads] + [int(hi) for _, hi in pads]


def _spatial_attrs(geom) -> dict:
    return {"kernel_shape": list(geom.kernel), "strides": list(geom.stride), "pads": _flat_pads(geom.pads)}


# --------------------------------------------------------------------------- convolution and linear
def conv(g, c):
    x, w, b = (list(c.args) + [None])[:3]
    geom = c.kwargs["geom"]
    return g.node("Conv", [g.value(x), g.value(w)] + ([g.value(b)] if b is not None else []),
                  dilations=list(geom.dilation), group=geom.groups, **_spatial_attrs(geom))


def conv_transpose(g, c):
    x, w, b = (list(c.args) + [None])[:3]
    geom = c.kwargs["geom"]  # the forward convolution this op is the adjoint of: its in_size is our output
    natural = [(o - 1) * s - lo - hi + d * (k - 1) + 1 for o, s, (lo, hi), d, k in
               zip(geom.out_size, geom.stride, geom.pads, geom.dilation, geom.kernel)]
    extra = [want - got for want, got in zip(geom.in_size, natural)]
    return g.node("ConvTranspose", [g.value(x), g.value(w)] + ([g.value(b)] if b is not None else []),
                  dilations=list(geom.dilation), group=geom.groups, output_padding=extra, **_spatial_attrs(geom))


def linear(g, c):
    x, w, b = (list(c.args) + [None])[:3]
    if x.ndim == 2:
        return g.node("Gemm", [g.value(x), g.value(w)] + ([g.value(b)] if b is not None else []), transB=1)
    y = g.node("MatMul", [g.value(x), g.node("Transpose", [g.value(w)], perm=[1, 0])])
    return y if b is None else g.node("Add", [y, g.value(b)])


def matmul(g, c):
    return g.node("MatMul", [g.value(a) for a in c.args])


# --------------------------------------------------------------------------- normalisation
def batch_norm(g, c):
    x, weight, bias = c.args
    kw = c.kwargs
    if kw.get("training", True) or kw.get("running_mean") is None or kw.get("running_var") is None:
        g.fail("batch norm that normalises with each batch's own statistics (training mode, or "
               "track_running_stats=False) has no fixed ONNX form; call model.eval() and keep running statistics")
    ch = x.shape[1]
    dt = np.dtype(x.dtype)
    scale = g.value(weight) if weight is not None else g.const(np.ones(ch, dt))
    shift = g.value(bias) if bias is not None else g.const(np.zeros(ch, dt))
    return g.node("BatchNormalization", [g.value(x), scale, shift, g.value(kw["running_mean"]), g.value(kw["running_var"])],
                  epsilon=float(kw.get("eps", 1e-5)))


def _channel_affine(g, y, weight, bias, ndim):
    shape = [-1] + [1] * (ndim - 2)
    if weight is not None:
        y = g.node("Mul", [y, g.node("Reshape", [g.value(weight), g.ints(shape)])])
    if bias is not None:
        y = g.node("Add", [y, g.node("Reshape", [g.value(bias), g.ints(shape)])])
    return y


def group_norm(g, c):
    x, weight, bias = c.args[:3]
    groups = int(c.kwargs.get("num_groups", c.args[3] if len(c.args) > 3 else 1))
    dt = np.dtype(x.dtype)
    grouped = g.node("Reshape", [g.value(x), g.ints([0, groups, -1])])
    normed = g.node("InstanceNormalization", [grouped, g.const(np.ones(groups, dt)), g.const(np.zeros(groups, dt))],
                    epsilon=float(c.kwargs.get("eps", 1e-5)))
    y = g.node("Reshape", [normed, g.ints(g.batch_shape(_shape(x)))])
    return _channel_affine(g, y, weight, bias, x.ndim)


def layer_norm(g, c):
    x, weight, bias = c.args[:3]
    k = int(c.kwargs.get("k", 1))
    dt = np.dtype(x.dtype)
    scale = g.value(weight) if weight is not None else g.const(np.ones(_shape(x)[-k:], dt))
    return g.node("LayerNormalization", [g.value(x), scale] + ([g.value(bias)] if bias is not None else []),
                  axis=-k, epsilon=float(c.kwargs.get("eps", 1e-5)))


# --------------------------------------------------------------------------- element-wise
def _binary(op):
    return lambda g, c: g.node(op, [g.value(a) for a in c.args])


def _unary(op):
    return lambda g, c: g.node(op, [g.value(c.args[0])])


def compare(g, c):
    op = {"lt": "Less", "le": "LessOrEqual", "gt": "Greater", "ge": "GreaterOrEqual", "eq": "Equal", "ne": "Equal"}
    y = g.node(op[c.kwargs["op"]], [g.value(a) for a in c.args])
    return g.node("Not", [y]) if c.kwargs["op"] == "ne" else y


def leaky_relu(g, c):
    return g.node("LeakyRelu", [g.value(c.args[0])], alpha=float(c.kwargs.get("negative_slope", 0.01)))


def clamp(g, c):
    x = c.args[0]
    dt = np.dtype(x.dtype)
    bounds = [g.const(np.asarray(c.kwargs[k], dt)) if c.kwargs.get(k) is not None else "" for k in ("min", "max")]
    return g.node("Clip", [g.value(x), *bounds])


def cast(g, c):
    return g.node("Cast", [g.value(c.args[0])], to=g.onnx.helper.np_dtype_to_tensor_dtype(np.dtype(c.output.dtype)))


def identity(g, c):
    return g.node("Identity", [g.value(c.args[0])])


# --------------------------------------------------------------------------- shapes
def reshape(g, c):
    x = c.args[0]
    return g.node("Reshape", [g.value(x), g.ints(g.batch_shape(_shape(c.output), _shape(x)))])


def permute(g, c):
    return g.node("Transpose", [g.value(c.args[0])], perm=[int(d) for d in c.kwargs["dims"]])


def expand(g, c):
    x = c.args[0]
    target = list(_shape(c.output))
    if target and x.ndim == len(target) and x.shape[0] == target[0] == g.batch:
        target[0] = 1  # ONNX's Expand broadcasts both ways: 1 keeps the input's batch size
    return g.node("Expand", [g.value(x), g.ints(target)])


def cat(g, c):
    ndim = c.output.ndim
    return g.node("Concat", [g.value(a) for a in c.args], axis=int(c.kwargs.get("dim", 0)) % ndim)


def index(g, c):
    x, idx = c.args[0], c.kwargs["index"]
    items = list(idx) if isinstance(idx, tuple) else [idx]
    if any(not (i is None or i is Ellipsis or isinstance(i, (slice, int, np.integer))) or isinstance(i, bool) for i in items):
        g.fail(f"indexing with {type(idx).__name__} {idx!r:.60} (only ints, slices, None and ... are exported)")
    if items.count(Ellipsis) == 1:
        at = items.index(Ellipsis)
        used = sum(1 for i in items if i is not None and i is not Ellipsis)
        items[at:at + 1] = [slice(None)] * (x.ndim - used)
    items += [slice(None)] * (x.ndim - sum(1 for i in items if i is not None))
    starts, ends, axes, steps, drop, new = [], [], [], [], [], []
    axis = out_axis = 0
    for item in items:
        if item is None:
            new.append(out_axis)
            out_axis += 1
            continue
        size = int(x.shape[axis])
        if isinstance(item, slice):
            start, stop, step = item.indices(size)
            if step < 0:
                g.fail(f"a negative slice step in {idx!r:.60}")
            if (start, stop, step) != (0, size, 1):
                starts.append(start), ends.append(stop), axes.append(axis), steps.append(step)
            out_axis += 1
        else:
            i = int(item) % size
            starts.append(i), ends.append(i + 1), axes.append(axis), steps.append(1)
            drop.append(axis)
        axis += 1
    y = g.value(x)
    if axes:
        y = g.node("Slice", [y, g.ints(starts), g.ints(ends), g.ints(axes), g.ints(steps)])
    if drop:
        y = g.node("Squeeze", [y, g.ints(drop)])
    if new:
        y = g.node("Unsqueeze", [y, g.ints(new)])
    return y if y != g.value(x) else identity(g, c)


def pad(g, c):
    x = c.args[0]
    torch_pad = [int(p) for p in c.kwargs["pad"]]
    mode = {"constant": "constant", "reflect": "reflect", "replicate": "edge"}.get(c.kwargs.get("mode", "constant"))
    if mode is None:
        g.fail(f"padding mode {c.kwargs.get('mode')!r} (ONNX opset {17} has constant, reflect and replicate)")
    lo, hi = [0] * x.ndim, [0] * x.ndim
    for i in range(len(torch_pad) // 2):
        lo[x.ndim - 1 - i], hi[x.ndim - 1 - i] = torch_pad[2 * i], torch_pad[2 * i + 1]
    inputs = [g.value(x), g.ints(lo + hi)]
    if mode == "constant":
        inputs.append(g.const(np.asarray(c.kwargs.get("value", 0.0), np.dtype(x.dtype))))
    return g.node("Pad", inputs, mode=mode)


# --------------------------------------------------------------------------- reductions
def _axes(c):
    return list(R.normalize_dims("export", c.kwargs.get("dim"), c.args[0].ndim))


def reduce_sum(g, c):
    return g.node("ReduceSum", [g.value(c.args[0]), g.ints(_axes(c))], keepdims=int(bool(c.kwargs.get("keepdim"))))


def reduce_mean(g, c):
    return g.node("ReduceMean", [g.value(c.args[0])], axes=_axes(c), keepdims=int(bool(c.kwargs.get("keepdim"))))


def reduce_extreme(g, c):
    op = "ReduceMax" if c.kwargs.get("largest", True) else "ReduceMin"
    return g.node(op, [g.value(c.args[0])], axes=_axes(c), keepdims=int(bool(c.kwargs.get("keepdim"))))


def variance(g, c):
    x = c.args[0]
    axes = _axes(c)
    n = math.prod(int(x.shape[a]) for a in axes)
    dt = np.dtype(x.dtype)
    mean = g.node("ReduceMean", [g.value(x)], axes=axes, keepdims=1)
    dev = g.node("Sub", [g.value(x), mean])
    msd = g.node("ReduceMean", [g.node("Mul", [dev, dev])], axes=axes, keepdims=int(bool(c.kwargs.get("keepdim"))))
    corr = c.kwargs.get("correction", 1)
    return g.node("Mul", [msd, g.const(np.asarray(n / max(n - corr, 0) if n > corr else np.nan, dt))])


def softmax(op):
    return lambda g, c: g.node(op, [g.value(c.args[0])], axis=int(c.kwargs["dim"]) % c.args[0].ndim)


# --------------------------------------------------------------------------- pooling
def max_pool(g, c):
    geom = c.kwargs["geom"]
    # geom.pads already hold the after-padding that ceil_mode windows reach into (-inf, as ONNX pads)
    return g.node("MaxPool", [g.value(c.args[0])], dilations=list(geom.dilation), **_spatial_attrs(geom))


def avg_pool(g, c):
    x = c.args[0]
    geom = c.kwargs["geom"]
    div = P.avg_divisor(geom, c.kwargs.get("count_include_pad", True), c.kwargs.get("divisor_override"), np,
                        np.dtype(x.dtype))
    area = math.prod(geom.kernel)
    y = g.value(x)
    if any(lo or hi for lo, hi in geom.pads):
        y = g.node("Pad", [y, g.ints([0, 0] + [lo for lo, _ in geom.pads] + [0, 0] + [hi for _, hi in geom.pads])],
                   mode="constant")
    y = g.node("AveragePool", [y], kernel_shape=list(geom.kernel), strides=list(geom.stride))
    factor = (area / np.broadcast_to(div, geom.out_size)).astype(x.dtype)
    if not np.all(factor == 1):
        y = g.node("Mul", [y, g.const(factor)])
    return y


def _even_windows(x, size):
    return all(w % o == 0 for w, o in zip(x.shape[2:], size))


def adaptive_avg(g, c):
    x, size = c.args[0], tuple(c.kwargs["output_size"])
    if all(o == 1 for o in size):
        return g.node("GlobalAveragePool", [g.value(x)])
    if _even_windows(x, size):
        k = [w // o for w, o in zip(x.shape[2:], size)]
        return g.node("AveragePool", [g.value(x)], kernel_shape=k, strides=k)
    if len(size) > 2:
        g.fail(f"adaptive average pooling of {_shape(x)[2:]} to {size} with uneven windows in 3-D")
    # y = A_h @ x @ A_w^T: each axis's averaging matrix (torch's windows) applied along it
    y = g.value(x)
    mats = [P._average_matrix(int(w), int(o), np.dtype(x.dtype)) for w, o in zip(x.shape[2:], size)]
    y = g.node("MatMul", [y, g.const(np.ascontiguousarray(mats[-1].T))])
    if len(mats) == 2:
        y = g.node("MatMul", [g.const(mats[0]), y])
    return y


def adaptive_max(g, c):
    x, size = c.args[0], tuple(c.kwargs["output_size"])
    if all(o == 1 for o in size):
        return g.node("GlobalMaxPool", [g.value(x)])
    if not _even_windows(x, size):
        g.fail(f"adaptive max pooling of {_shape(x)[2:]} to {size}: the windows are uneven, which ONNX cannot express")
    k = [w // o for w, o in zip(x.shape[2:], size)]
    return g.node("MaxPool", [g.value(x)], kernel_shape=k, strides=k)


CONVERTERS = {
    C.ConvNd: conv, C.ConvTransposeNd: conv_transpose, M.Linear: linear, M.MatMul: matmul,
    N.BatchNorm: batch_norm, N.GroupNorm: group_norm, N.LayerNorm: layer_norm,
    E.Add: _binary("Add"), E.Sub: _binary("Sub"), E.Mul: _binary("Mul"), E.Div: _binary("Div"), E.Pow: _binary("Pow"),
    E.Maximum: _binary("Max"), E.Minimum: _binary("Min"), E.Where: _binary("Where"),
    E.Neg: _unary("Neg"), E.Exp: _unary("Exp"), E.Log: _unary("Log"), E.Sqrt: _unary("Sqrt"), E.Abs: _unary("Abs"),
    E.Tanh: _unary("Tanh"), E.Sigmoid: _unary("Sigmoid"), E.ReLU: _unary("Relu"), E.LeakyReLU: leaky_relu,
    Compare: compare, E.Clamp: clamp, E.Clone: identity, E.ToDevice: identity, E.Cast: cast,
    V.Reshape: reshape, V.Permute: permute, V.Expand: expand, V.Cat: cat, V.Slice: index, V.Pad: pad,
    R.Sum: reduce_sum, R.Mean: reduce_mean, R.Amax: reduce_extreme, R.MaxDim: reduce_extreme, R.Var: variance,
    R.Softmax: softmax("Softmax"), R.LogSoftmax: softmax("LogSoftmax"),
    P.MaxPoolNd: max_pool, P.AvgPoolNd: avg_pool, P.AdaptiveAvgPoolNd: adaptive_avg, P.AdaptiveMaxPoolNd: adaptive_max,
}

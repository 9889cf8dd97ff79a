"""Turning a recorded forward pass (:mod:`convlab.export.trace`) into an ONNX graph.

Each recorded ``Function`` call becomes one ONNX node, or a few (see :mod:`convlab.export.onnx_ops`
for the table). Values are named as a reader of the model would look for them: the input is
``input``, every parameter and buffer keeps its ``state_dict`` name (``features.0.weight``,
``bn1.running_mean``) as an initializer, intermediate values are ``t<N>``, the result is
``logits``. Each node's name is ``<layer>/<Op>_<N>`` and its doc string names the layer, so
Netron and error messages point at the module that made it.

The batch axis is symbolic (``batch``); every other size is the traced one. Shape constants
that carried the traced batch size (``flatten``'s target shape) are written with ONNX's "copy
this axis" 0 in its place, and the graph is built from two traces with different batch sizes and
inputs, which must come out identical: a model whose forward pass depends on the values it sees
or on its batch size in a way the trace cannot express is refused, naming the first layer where
the two differ.
"""

from __future__ import annotations

import numpy as np

from ..tensor import Tensor
from .trace import Compare

OPSET = 17
IR_VERSION = 8  # the IR of opset 17's release, so runtimes of that age load the file


class ExportError(ValueError):
    """A model (or a layer of it) that cannot be written as ONNX; the message names the layer."""


def _onnx():
    try:
        import onnx
    except ImportError:
        raise ImportError("exporting to ONNX needs the onnx package: pip install 'convlab[export]'") from None
    return onnx


class GraphBuilder:
    """Collects nodes, initializers and value names while the calls of a trace are converted."""

    def __init__(self, rec, model, batch: int):
        self.onnx = _onnx()
        self.rec, self.batch = rec, batch
        self.nodes, self.initializers = [], []
        self.names: dict[int, str] = {id(rec.input): "input"}
        self.known: dict[int, str] = {}  # parameters and buffers (the tensor and its array) -> state_dict name
        for name, t in [*model.named_parameters(), *model.named_buffers()]:
            self.known.setdefault(id(t), name)
            self.known.setdefault(id(t._data), name)
        self.placed: set[str] = set()
        self.counter = 0
        self.call = None  # the call being converted (for node names and errors)

    # ------------------------------------------------------------------ names
    def fresh(self, stem: str = "t") -> str:
        self.counter += 1
        return f"{stem}{self.counter}"

    def const(self, array, stem: str = "c") -> str:
        """An initializer holding ``array`` (a NumPy array or scalar); returns its name."""
        name = self.fresh(stem)
        self.initializers.append((name, np.asarray(array)))
        return name

    def ints(self, values) -> str:
        return self.const(np.asarray(list(values), dtype=np.int64), "shape")

    def value(self, arg) -> str:
        """The name of a positional argument: a traced value, a parameter, a buffer or a constant."""
        if arg is None:
            return ""
        key = id(arg)
        if key in self.names:
            return self.names[key]
        if key in self.known:
            name = self.known[key]
            if name not in self.placed:
                self.placed.add(name)
                data = arg._data if isinstance(arg, Tensor) else arg
                self.initializers.append((name, np.asarray(data)))
            self.names[key] = name
            return name
        data = arg._data if isinstance(arg, Tensor) else arg
        name = self.const(np.asarray(data))  # made inside forward from something other than traced values
        self.names[key] = name
        return name

    # ------------------------------------------------------------------ nodes
    def node(self, op: str, inputs, n_out: int = 1, **attrs):
        """Append one node; returns its output name (or names when ``n_out > 1``)."""
        outs = [self.fresh() for _ in range(n_out)]
        scope = self.call.scope if self.call is not None else ""
        label = self.call.layer if self.call is not None else ""
        node = self.onnx.helper.make_node(op, list(inputs), outs, name=f"{scope or 'model'}/{op}_{len(self.nodes)}",
                                          doc_string=label, **attrs)
        self.nodes.append(node)
        return outs[0] if n_out == 1 else outs

    def batch_shape(self, shape, source_shape=None) -> list[int]:
        """``shape`` as a Reshape target: its first axis 0 ("as in the input") when it is the batch."""
        shape = [int(s) for s in shape]
        if shape and shape[0] == self.batch and (source_shape is None or (len(source_shape) and source_shape[0] == self.batch)):
            shape[0] = 0
        return shape

    def fail(self, why: str):
        what = "the model" if self.call is None else self.call.layer if not self.call.scope else f"layer {self.call.layer}"
        raise ExportError(f"cannot export {what} to ONNX: {why}")


class Built:
    """A converted trace: ONNX nodes and value infos, initializers still as ``(name, array)`` pairs
    (two traces are compared before the one kept is turned into a ``GraphProto``)."""

    def __init__(self, nodes, inputs, outputs, initializers):
        self.nodes, self.inputs, self.outputs, self.initializers = nodes, inputs, outputs, initializers

    def graph(self):
        onnx = _onnx()
        tensors = [onnx.numpy_helper.from_array(np.ascontiguousarray(a), name) for name, a in self.initializers]
        return onnx.helper.make_graph(self.nodes, "convlab", self.inputs, self.outputs, initializer=tensors)


def build(rec, model, batch: int, converters: dict) -> Built:
    """Convert trace ``rec`` (model input traced with batch size ``batch``) into ONNX nodes."""
    g = GraphBuilder(rec, model, batch)
    onnx = g.onnx
    for call in rec.calls:
        g.call = call
        convert = converters.get(call.fn)
        if convert is None:
            g.fail(f"its operation {call.fn.__name__} has no ONNX equivalent in convlab's exporter")
        g.names[id(call.output)] = name = convert(g, call)
        if call.fn is Compare:  # where() is handed the mask's array, not the tensor
            g.names[id(call.output._data)] = name
    g.call = None
    outputs = rec.output if isinstance(rec.output, (tuple, list)) else [rec.output]
    graph_outputs = []
    for i, t in enumerate(outputs):
        if not isinstance(t, Tensor):
            raise ExportError(f"the model returned a {type(t).__name__}; ONNX export needs it to return tensors")
        name = "logits" if len(outputs) == 1 else f"output{i}"
        src = g.value(t)
        g.nodes.append(onnx.helper.make_node("Identity", [src], [name], name=f"output/{name}"))
        graph_outputs.append(_info(onnx, name, t, batch))
    return Built(g.nodes, [_info(onnx, "input", rec.input, batch)], graph_outputs, g.initializers)


def _info(onnx, name: str, t: Tensor, batch: int):
    dims = ["batch" if i == 0 and s == batch else int(s) for i, s in enumerate(t.shape)]
    return onnx.helper.make_tensor_value_info(name, onnx.helper.np_dtype_to_tensor_dtype(np.dtype(t.dtype)), dims)


def first_difference(a: Built, b: Built) -> str | None:
    """Where two conversions of two traces differ (None when they are the same)."""
    for i in range(max(len(a.nodes), len(b.nodes))):
        if i >= len(a.nodes) or i >= len(b.nodes):
            extra = a.nodes[i] if i < len(a.nodes) else b.nodes[i]
            return f"{extra.doc_string or extra.name}: one trace runs more operations than the other"
        na, nb = a.nodes[i], b.nodes[i]
        if na.SerializeToString(deterministic=True) != nb.SerializeToString(deterministic=True):
            ops = na.op_type if na.op_type == nb.op_type else f"{na.op_type} in one, {nb.op_type} in the other"
            return f"{na.doc_string or nb.doc_string or na.name} ({ops})"
    init_b = dict(b.initializers)
    for name, arr in a.initializers:
        other = init_b.get(name)
        same = other is not None and (other is arr or (other.shape == arr.shape and other.dtype == arr.dtype
                                                       and np.array_equal(other, arr, equal_nan=True)))
        if not same:
            user = next((n for n in a.nodes if name in n.input), None)
            if user is None:
                return f"the constant {name}"
            return f"{user.doc_string or user.name} (the {user.op_type}'s input {name})"
    return None

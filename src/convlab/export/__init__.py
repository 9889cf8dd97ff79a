"""Writing convlab models in interchange formats: ONNX (``convlab export CKPT -o model.onnx``).

The graph is read off the model by running it: :mod:`convlab.export.trace` records every primitive
operation one forward pass makes, and :mod:`convlab.export.onnx_ops` writes each as ONNX nodes
(opset 17). Any model built from convlab's layers and tensor operations exports, whatever its
``forward`` does in Python (residual additions, concatenations, squeeze-excitation products), as
long as the operations it runs do not depend on the values it is given. The batch axis is left
variable; the other sizes are fixed to ``input_shape``.

Needs the ``onnx`` package (``pip install 'convlab[export]'``); onnxruntime is not needed to export.

>>> import convlab, convlab.export as export
>>> model = convlab.models.get("lenet5")
>>> proto = export.to_onnx(model, (1, 28, 28), metadata={"classes": list("0123456789")})  # doctest: +SKIP
>>> [n.op_type for n in proto.graph.node][:4]  # doctest: +SKIP
['Conv', 'Tanh', 'AveragePool', 'Conv']
"""

from __future__ import annotations

import json
import os

import numpy as np

from ..validate import ConvlabError
from .onnx_graph import IR_VERSION, OPSET, ExportError, build, first_difference  # noqa: F401  (OPSET: convlab.onnx)

__all__ = ["ExportError", "export_onnx", "to_onnx"]

_TRACE_BATCHES = (2, 3)


def _check_shape(input_shape) -> tuple:
    try:
        shape = tuple(int(s) for s in input_shape)
    except (TypeError, ValueError):
        raise ConvlabError(f"input_shape must be a tuple of positive ints (C, H, W), got {input_shape!r}") from None
    if not shape or any(s < 1 for s in shape):
        raise ConvlabError(f"input_shape must be a tuple of positive ints (C, H, W), got {input_shape!r}")
    return shape


def to_onnx(model, input_shape, *, metadata: dict | None = None, doc: str = ""):
    """The ONNX ``ModelProto`` of ``model`` for inputs ``(batch, *input_shape)``.

    Args:
        model: a :class:`convlab.nn.Module` (exported in evaluation mode; its mode is restored).
        input_shape: one sample's shape without the batch axis, ``(C, H, W)`` for images.
        metadata: written into the model's ``metadata_props``: strings as they are, anything
            else as JSON (``convlab export`` puts the checkpoint's preprocessing, classes and model
            spec there).
        doc: the model's doc string.

    Raises:
        ExportError: an operation without an ONNX form, or a forward pass that differs between
            two inputs (batch sizes 2 and 3, different values); the message names the layer.
    """
    from ..tensor import from_numpy
    from . import onnx_ops
    from .onnx_graph import _onnx
    from .trace import trace

    onnx = _onnx()
    shape = _check_shape(input_shape)
    params = list(model.parameters())
    dtype = np.dtype(params[0].dtype) if params else np.dtype(np.float32)
    rng = np.random.default_rng(0)
    was_training = model.training
    model.eval()
    graphs = []
    try:
        for batch in _TRACE_BATCHES:
            x = from_numpy(rng.standard_normal((batch, *shape)).astype(dtype))
            try:
                rec = trace(model, x)
            except ExportError:
                raise
            except Exception as exc:
                raise ExportError(f"the model cannot run on inputs of shape {(batch, *shape)}: {exc}") from None
            graphs.append(build(rec, model, batch, onnx_ops.CONVERTERS))
    finally:
        model.train(was_training)
    where = first_difference(*graphs)
    if where is not None:
        raise ExportError(f"the forward pass changes with the input's values or batch size at {where}, "
                          "so one fixed ONNX graph cannot reproduce it")
    from .. import __version__

    proto = onnx.helper.make_model(graphs[0].graph(), opset_imports=[onnx.helper.make_opsetid("", OPSET)],
                                   producer_name="convlab", producer_version=__version__, doc_string=doc)
    proto.ir_version = IR_VERSION
    props = {str(k): v if isinstance(v, str) else json.dumps(v, ensure_ascii=False) for k, v in (metadata or {}).items()}
    if props:
        onnx.helper.set_model_props(proto, props)
    onnx.checker.check_model(proto, full_check=True)
    return proto


def export_onnx(model, path, input_shape, *, metadata: dict | None = None, doc: str = "") -> str:
    """Write ``model`` as an ONNX file at ``path`` (atomically; see :func:`to_onnx`); returns ``path``."""
    from ..files import write_atomic

    proto = to_onnx(model, input_shape, metadata=metadata, doc=doc)
    path = os.fspath(path)
    write_atomic(path, proto.SerializeToString())
    return path

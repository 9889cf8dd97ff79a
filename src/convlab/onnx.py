"""``torch.onnx.export`` over :mod:`convlab.export`: the model traced on ``args``' shape and written
as ONNX opset 17, its batch axis variable (what ``dynamic_axes={'input': {0: 'batch'}}`` asks of
torch). What convlab's exporter does not do is said, not skipped silently: a different opset, or
input/output names and other dynamic axes, come with a warning naming what was written instead.
"""

from __future__ import annotations

import warnings

from .export import OPSET, ExportError, to_onnx  # noqa: F401
from .tensor_class import Tensor

__all__ = ["export", "ExportError"]


def export(model, args, f, export_params: bool = True, verbose: bool = False, input_names=None, output_names=None,
           opset_version=None, dynamic_axes=None, **kwargs) -> None:
    """Write ``model`` run on ``args`` (a tensor or a 1-tuple of one) to ``f`` (a path or file)."""
    x = args[0] if isinstance(args, (tuple, list)) else args
    if not isinstance(x, Tensor) or (isinstance(args, (tuple, list)) and len(args) != 1):
        raise NotImplementedError("torch.onnx.export: convlab exports models with one tensor input; got "
                                  f"{type(args).__name__}")
    ignored = []
    if opset_version not in (None, OPSET):
        ignored.append(f"opset_version={opset_version} (opset {OPSET} is written)")
    if input_names or output_names:
        ignored.append("input_names/output_names (convlab's own names are written)")
    if dynamic_axes and any(set(axes) - {0} for axes in dynamic_axes.values()):
        ignored.append("dynamic axes other than the batch axis (the other sizes are fixed to args' shape)")
    if ignored:
        warnings.warn("torch.onnx.export on convlab: not applied: " + "; ".join(ignored), stacklevel=2)
    proto = to_onnx(model, tuple(x.shape[1:]))
    data = proto.SerializeToString()
    if hasattr(f, "write"):
        f.write(data)
    else:
        from .files import write_atomic

        write_atomic(str(f), data)

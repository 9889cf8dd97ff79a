"""``torch.utils.tensorboard``: ``SummaryWriter``, through tensorboardX (the ``tensorboard`` extra:
``pip install 'convlab[tensorboard]'``), with convlab tensors accepted wherever torch's are.

``add_graph`` traces torch's JIT graph; convlab has none and says so (``convlab export`` writes
ONNX, which TensorBoard-compatible viewers such as Netron open).
"""

from __future__ import annotations

from ..tensor_class import Tensor

try:
    from tensorboardX import SummaryWriter as _Writer
except ImportError as exc:  # pragma: no cover - the extra is installed in CI
    raise ImportError("torch.utils.tensorboard needs tensorboardX: pip install 'convlab[tensorboard]'") from exc

__all__ = ["SummaryWriter"]


def _plain(value):
    """Tensors (also inside lists/tuples/dicts) as NumPy arrays, which tensorboardX takes."""
    if isinstance(value, Tensor):
        return value.detach().numpy()
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(v) for v in value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


class SummaryWriter(_Writer):
    """tensorboardX's writer; every ``add_*`` method first turns convlab tensors into arrays."""

    def add_graph(self, model, input_to_model=None, verbose=False, **kwargs):
        raise NotImplementedError("SummaryWriter.add_graph traces a torch JIT graph, which convlab has no equivalent "
                                  "of; export the model with `convlab export` (ONNX) to look at its graph")


def _converting(name):
    method = getattr(_Writer, name)

    def add(self, *args, **kwargs):
        return method(self, *[_plain(a) for a in args], **{k: _plain(v) for k, v in kwargs.items()})

    add.__name__ = name
    add.__doc__ = method.__doc__
    return add


for _name in dir(_Writer):
    if _name.startswith("add_") and _name != "add_graph":
        setattr(SummaryWriter, _name, _converting(_name))

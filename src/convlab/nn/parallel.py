"""``torch.nn.parallel``: ``DataParallel`` splits a batch over several GPUs. convlab runs on one
device, so it is the wrapped module itself, behind torch's interface (``.module``, and state-dict
keys prefixed with ``module.`` as torch writes them). For several processes see
:mod:`convlab.distributed`.

>>> import convlab
>>> net = DataParallel(convlab.nn.Linear(2, 1))
>>> list(net.state_dict())
['module.weight', 'module.bias']
"""

from __future__ import annotations

from .module import Module


class DataParallel(Module):
    """Run ``module`` on the one device there is (``device_ids``/``output_device``/``dim`` are
    accepted: with one device there is nothing to scatter or gather)."""

    def __init__(self, module: Module, device_ids=None, output_device=None, dim: int = 0):
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"DataParallel: module must be a Module, got {type(module).__name__}")
        self.module = module
        self.device_ids, self.output_device, self.dim = device_ids, output_device, dim

    def forward(self, *inputs, **kwargs):
        return self.module(*inputs, **kwargs)


def data_parallel(module, inputs, device_ids=None, output_device=None, dim: int = 0, module_kwargs=None):
    """The functional form: ``module(*inputs)``."""
    inputs = inputs if isinstance(inputs, tuple) else (inputs,)
    return module(*inputs, **(module_kwargs or {}))


class DistributedDataParallel(DataParallel):
    """torch's DDP in a group of one process: the wrapped module behind DDP's interface
    (``.module``, ``module.``-prefixed state-dict keys, ``no_sync()``); with one rank there are no
    gradients to average. Across MPI ranks convlab averages gradients explicitly
    (:class:`convlab.distributed.GradientReducer` after ``backward()``), not inside backward as
    DDP does, so wrapping a model there is refused with that route named."""

    def __init__(self, module: Module, device_ids=None, output_device=None, dim: int = 0, broadcast_buffers: bool = True,
                 process_group=None, bucket_cap_mb=None, find_unused_parameters: bool = False, **kwargs):
        from .. import distributed

        if distributed.world_size() > 1:
            raise NotImplementedError(
                f"DistributedDataParallel over {distributed.world_size()} ranks: convlab does not average gradients "
                "inside backward(); keep the bare model and call convlab.distributed.GradientReducer(model).reduce() "
                "between loss.backward() and optimizer.step()")
        super().__init__(module, device_ids, output_device, dim)
        self.broadcast_buffers, self.find_unused_parameters = broadcast_buffers, find_unused_parameters

    def no_sync(self):
        import contextlib

        return contextlib.nullcontext()

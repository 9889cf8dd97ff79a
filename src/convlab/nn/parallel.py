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

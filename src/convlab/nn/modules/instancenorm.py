"""``torch.nn.modules.instancenorm``."""

from ..layers_more import InstanceNorm1d, InstanceNorm2d, InstanceNorm3d, _InstanceNorm  # noqa: F401

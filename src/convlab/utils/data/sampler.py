"""``torch.utils.data.sampler``: the samplers under their torch module path."""

from ...data.samplers import (  # noqa: F401
    BatchSampler,
    RandomSampler,
    Sampler,
    SequentialSampler,
    SubsetRandomSampler,
    WeightedRandomSampler,
)

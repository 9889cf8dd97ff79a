"""``torch.utils.data.distributed.DistributedSampler``: each of ``num_replicas`` processes sees its
own slice of the (shuffled) dataset, ``rank, rank + W, rank + 2W, ...``; all slices are equally long
(the order is padded by repeating its start, or cut with ``drop_last``). The replica count and rank
default to :mod:`convlab.distributed`'s (1 and 0 when not launched under MPI).

>>> s = DistributedSampler(range(10), num_replicas=3, rank=1, shuffle=False)
>>> list(s), len(s)
([1, 4, 7, 0], 4)
"""

from __future__ import annotations

import math

import numpy as np

from ...data.samplers import Sampler
from ...validate import ConvlabError


class DistributedSampler(Sampler):
    """torch's arguments and rule; ``set_epoch(e)`` before each epoch changes the shuffle."""

    def __init__(self, dataset, num_replicas: int | None = None, rank: int | None = None, shuffle: bool = True,
                 seed: int = 0, drop_last: bool = False):
        from ... import distributed

        if num_replicas is None:
            num_replicas = distributed.world_size() if distributed.is_initialized() else 1
        if rank is None:
            rank = distributed.rank() if distributed.is_initialized() else 0
        if not 0 <= rank < num_replicas:
            raise ConvlabError(f"Invalid rank {rank}, rank should be in the interval [0, {num_replicas - 1}]")
        self.dataset, self.num_replicas, self.rank = dataset, int(num_replicas), int(rank)
        self.shuffle, self.seed, self.drop_last, self.epoch = bool(shuffle), int(seed), bool(drop_last), 0
        n = len(dataset)
        if drop_last and n % self.num_replicas:
            self.num_samples = math.ceil((n - self.num_replicas) / self.num_replicas)
        else:
            self.num_samples = math.ceil(n / self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas

    def __iter__(self):
        n = len(self.dataset)
        order = np.random.default_rng([self.seed, self.epoch]).permutation(n) if self.shuffle else np.arange(n)
        if self.drop_last:
            order = order[: self.total_size]
        elif self.total_size > n:
            order = np.concatenate([order] * math.ceil(self.total_size / max(n, 1)))[: self.total_size]
        return iter(order[self.rank:self.total_size:self.num_replicas].tolist())

    def __len__(self) -> int:
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

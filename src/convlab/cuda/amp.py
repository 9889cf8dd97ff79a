"""``torch.cuda.amp``: the deprecated CUDA spellings of :mod:`convlab.amp`'s ``autocast`` and
``GradScaler`` (device ``'cuda'``). Without a GPU both warn and disable themselves, as torch's do."""

from __future__ import annotations

from .. import amp as _amp


class autocast(_amp.autocast):  # noqa: N801 - torch's name
    def __init__(self, enabled: bool = True, dtype=None, cache_enabled: bool = True):
        super().__init__("cuda", dtype=dtype, enabled=enabled, cache_enabled=cache_enabled)


class GradScaler(_amp.GradScaler):
    def __init__(self, init_scale: float = 2.0**16, growth_factor: float = 2.0, backoff_factor: float = 0.5,
                 growth_interval: int = 2000, enabled: bool = True):
        super().__init__("cuda", init_scale, growth_factor, backoff_factor, growth_interval, enabled)

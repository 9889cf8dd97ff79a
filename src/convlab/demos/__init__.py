"""The seeds' experiments, one module each, runnable as ``convlab demo NAME``.

Every demo module defines ``NAME``, ``SEED_SOURCE`` (which seed it reproduces), ``SUMMARY``
(one line) and ``run(out_dir, log=print, figures=True, **options) -> dict``. ``run`` prints its
numbers through ``log``, writes its PNG figures into ``out_dir`` (when ``figures``) and returns
the numbers it printed, so a test can assert the numeric outcome.

>>> sorted(DEMOS)[:3]
['edge-kernel', 'filters', 'laplace']
"""

from __future__ import annotations

import importlib
import pathlib

from ..validate import ConvlabError

# name -> module under convlab.demos (imported on first use so `demo --list` stays light)
DEMOS = {
    "learned-kernel": "learned_kernel",
    "edge-kernel": "edge_kernel",
    "smoothing": "smoothing",
    "filters": "filters_demo",
    "laplace": "laplace",
    "receptive-field": "receptive_field",
    "pooling-robustness": "pooling_robustness",
    "translation-equivariance": "translation_equivariance",
}


def get(name: str):
    """The demo module called ``name`` (``-`` and ``_`` are interchangeable)."""
    key = name.strip().lower().replace("_", "-")
    if key not in DEMOS:
        raise KeyError(f"unknown demo {name!r}; available: {', '.join(DEMOS)}")
    return importlib.import_module(f"{__name__}.{DEMOS[key]}")


def run(name: str, out_dir, log=print, figures: bool = True, **options) -> dict:
    """Run the demo ``name``, writing figures into ``out_dir`` (created if missing)."""
    module = get(name)
    out = None if out_dir is None else pathlib.Path(out_dir)
    if figures:
        if out is None:
            raise ConvlabError("demos.run: figures=True needs an out_dir")
        out.mkdir(parents=True, exist_ok=True)
    return module.run(out, log=log, figures=figures, **options)

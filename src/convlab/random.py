"""The library-wide random state (``torch.random``'s role).

One NumPy ``Generator`` feeds randn/rand, parameter initialisation, dropout masks and data
shuffling, so a single :func:`manual_seed` makes a run repeatable. Its state is a plain dict, so
checkpoints can store it as JSON.
"""

from __future__ import annotations

import contextlib

import numpy as np

_generator = np.random.default_rng()


def manual_seed(seed: int) -> None:
    """Seed the library-wide generator used by randn/rand, init, dropout and shuffling."""
    global _generator
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"manual_seed: seed must be a non-negative integer, got {seed!r}")
    _generator = np.random.default_rng(int(seed))


def default_generator() -> np.random.Generator:
    """The library-wide NumPy generator (seeded by :func:`manual_seed`)."""
    return _generator


@contextlib.contextmanager
def using_generator(generator):
    """Within the block, the library's random draws (init, dropout, randn...) come from ``generator``
    (any object with NumPy ``Generator`` methods); the previous generator is restored afterwards.
    Data-parallel training uses it to draw a whole global batch's dropout masks on every rank."""
    global _generator
    previous, _generator = _generator, generator
    try:
        yield generator
    finally:
        _generator = previous


def get_rng_state() -> dict:
    """The generator's state, a JSON-serialisable dict (for checkpoints)."""
    return _generator.bit_generator.state


def set_rng_state(state: dict) -> None:
    _generator.bit_generator.state = state

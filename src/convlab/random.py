"""The library-wide random state (``torch.random``'s role).

One NumPy ``Generator`` feeds randn/rand, parameter initialisation, dropout masks and data
shuffling, so a single :func:`manual_seed` makes a run repeatable. Its state is a plain dict, so
checkpoints can store it as JSON.
"""

from __future__ import annotations

import contextlib
import threading

import numpy as np

from .validate import ConvlabError

_generator = np.random.default_rng()
_local = threading.local()  # a per-thread override set by using_generator()
_seed: int | None = None


def manual_seed(seed: int) -> None:
    """Seed the library-wide generator used by randn/rand, init, dropout and shuffling."""
    global _generator, _seed
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ConvlabError(f"manual_seed: seed must be a non-negative integer, got {seed!r}")
    _generator, _seed = np.random.default_rng(int(seed)), int(seed)


def default_generator() -> np.random.Generator:
    """The library-wide NumPy generator (seeded by :func:`manual_seed`), or this thread's
    override (see :func:`using_generator`)."""
    override = getattr(_local, "generator", None)
    return _generator if override is None else override


@contextlib.contextmanager
def using_generator(generator):
    """Within the block, this thread's library random draws (init, dropout, randn...) come from
    ``generator`` (any object with NumPy ``Generator`` methods); the previous one is restored
    afterwards. Data-parallel training uses it to draw a whole global batch's dropout masks on
    every rank; the DataLoader, to give each batch's augmentation its own stream. The override is
    per thread, so a prefetch thread's draws never leak into the training thread's."""
    previous = getattr(_local, "generator", None)
    _local.generator = generator
    try:
        yield generator
    finally:
        _local.generator = previous


def scoped_generator():
    """This thread's :func:`using_generator` override, or None outside such a block."""
    return getattr(_local, "generator", None)


class Generator:
    """torch's ``Generator``: an independent random stream, seeded with :meth:`manual_seed`.

    Pass it as ``generator=`` to ``randn``, ``randperm``, ``random_split``, ``DataLoader``...; it
    answers NumPy ``Generator`` methods, so convlab's code draws from it directly.

    >>> g = Generator().manual_seed(42)
    >>> g.initial_seed()
    42
    """

    def __init__(self, device="cpu"):
        self._seed = int(np.random.SeedSequence().entropy % 2**63)
        self._rng = np.random.default_rng(self._seed)

    def manual_seed(self, seed: int) -> Generator:
        if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
            raise ConvlabError(f"Generator.manual_seed: seed must be a non-negative integer, got {seed!r}")
        self._seed, self._rng = int(seed), np.random.default_rng(int(seed))
        return self

    def seed(self) -> int:
        """Reseed from fresh entropy; returns the new seed."""
        self.manual_seed(int(np.random.SeedSequence().entropy % 2**63))
        return self._seed

    def initial_seed(self) -> int:
        return self._seed

    def get_state(self) -> dict:
        return self._rng.bit_generator.state

    def set_state(self, state: dict) -> Generator:
        self._rng.bit_generator.state = state
        return self

    def __getattr__(self, name):  # standard_normal, random, integers, permutation...
        return getattr(self.__dict__["_rng"], name)


def seed() -> int:
    """Seed the library generator from fresh entropy; returns the seed."""
    value = int(np.random.SeedSequence().entropy % 2**63)
    manual_seed(value)
    return value


def initial_seed() -> int | None:
    """The seed last given to :func:`manual_seed` (None before any)."""
    return _seed


def get_rng_state() -> dict:
    """The generator's state, a JSON-serialisable dict (for checkpoints)."""
    return _generator.bit_generator.state


def set_rng_state(state: dict) -> None:
    _generator.bit_generator.state = state

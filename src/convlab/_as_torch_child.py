"""Run as ``__mp_main__`` in a process that :mod:`convlab.as_torch` spawned (``mp.Process`` with
the ``spawn`` start method): install the torch aliases, then run the parent's program file so
that its functions and classes exist here under ``__main__``, as in an ordinary spawned child."""

import os
import runpy

from convlab import as_torch

if __name__ == "__mp_main__":  # only when multiprocessing runs it in a child, not on a plain import
    as_torch.install()
    globals().update(runpy.run_path(os.environ[as_torch.MAIN_ENV], run_name="__mp_main__"))

"""Run a PyTorch program on convlab without editing it: ``python -m convlab.as_torch prog.py ARGS``.

It does at import time what changing the program's imports does by hand: every module name
``torch`` or ``torch.X`` is served by ``convlab`` / ``convlab.X``, and ``torchvision`` /
``torchvision.X`` by ``convlab.vision`` / ``convlab.vision.X``. So ``import torch.nn as nn``,
``from torch.utils.data import DataLoader`` and ``from torchvision import datasets, transforms``
all resolve to convlab's. A name convlab lacks fails as the edited program would
(``ModuleNotFoundError: No module named 'convlab.X'``), never by falling back to a real torch.

Processes the program starts with ``multiprocessing``'s ``spawn`` method (pytorch/examples'
mnist_hogwild) get the same aliases: they load the program through
:mod:`convlab._as_torch_child` instead of by its path. In code: ``convlab.as_torch.install()``.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import os
import runpy
import sys

ALIASES = (("torchvision", "convlab.vision"), ("torch", "convlab"))
MAIN_ENV = "CONVLAB_AS_TORCH_MAIN"  # the program's path, for spawned children


def target(fullname: str) -> str | None:
    """The convlab module that serves ``fullname`` (None for names outside torch/torchvision)."""
    for prefix, replacement in ALIASES:
        if fullname == prefix or fullname.startswith(prefix + "."):
            return replacement + fullname[len(prefix):]
    return None


class _Alias(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, fullname, path=None, target_module=None):
        name = target(fullname)
        if name is None:
            return None
        return importlib.util.spec_from_loader(fullname, self, is_package=True)

    def create_module(self, spec):
        return importlib.import_module(target(spec.name))

    def exec_module(self, module) -> None:
        """The convlab module is already initialised; nothing to run."""


_FINDER = _Alias()


def install() -> None:
    """Serve ``torch``/``torchvision`` imports from convlab in this process (idempotent)."""
    for name in [n for n in sys.modules if target(n) is not None]:
        if not sys.modules[name].__name__.startswith("convlab"):
            raise RuntimeError(f"as_torch.install(): the real {name!r} is already imported in this process; "
                               "install the aliases before anything imports torch")
    if _FINDER not in sys.meta_path:
        sys.meta_path.insert(0, _FINDER)
        _spawned_children_alias_too()


def _spawned_children_alias_too() -> None:
    """A spawned child re-runs the parent's main file by path before unpickling its target; send it
    through a module that installs the aliases first (the path travels in the environment)."""
    from multiprocessing import spawn

    if getattr(spawn.get_preparation_data, "_convlab_as_torch", False):
        return
    original = spawn.get_preparation_data

    def preparation_data(name):
        data = original(name)
        path = data.pop("init_main_from_path", None)
        if path is not None:
            os.environ[MAIN_ENV] = path
            data["init_main_from_name"] = "convlab._as_torch_child"
        return data

    preparation_data._convlab_as_torch = True
    spawn.get_preparation_data = preparation_data


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print("usage: python -m convlab.as_torch PROGRAM.py [ARGS...]\n\n" + __doc__.split("\n\n")[1])
        return 0 if argv else 2
    install()
    sys.argv = argv
    sys.path.insert(0, os.path.dirname(os.path.abspath(argv[0])))
    runpy.run_path(argv[0], run_name="__main__")
    return 0


if __name__ == "__main__":
    sys.exit(main())

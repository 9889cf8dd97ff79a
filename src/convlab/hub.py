"""``torch.hub``: ``load_state_dict_from_url`` downloads a checkpoint into the hub cache (as torch:
``$TORCH_HOME/hub/checkpoints``, default ``~/.cache/torch``) and reads it with :func:`convlab.load`,
which parses ``torch.save`` files without running their pickle. A file already in the cache is
read with no network access.

``torch.hub.load`` (and ``list``/``help``) run a repository's ``hubconf.py``, which is torch code:
convlab refuses them by name rather than running it.
"""

from __future__ import annotations

import os
import re
import urllib.parse

__all__ = ["get_dir", "load", "load_state_dict_from_url", "set_dir"]

_hub_dir: str | None = None


def get_dir() -> str:
    """The hub cache: :func:`set_dir`'s folder, else ``$TORCH_HOME/hub``, else ``~/.cache/torch/hub``."""
    if _hub_dir is not None:
        return _hub_dir
    home = os.environ.get("TORCH_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "torch")
    return os.path.join(home, "hub")


def set_dir(d) -> None:
    global _hub_dir
    _hub_dir = os.path.expanduser(os.fspath(d))


def load_state_dict_from_url(url: str, model_dir=None, map_location=None, progress: bool = True,
                             check_hash: bool = False, file_name=None, weights_only: bool = False) -> dict:
    """The object saved at ``url`` (a state dict), cached in ``model_dir``.

    ``check_hash``: the file name's ``-<hex>`` suffix must begin the file's SHA-256, as torch checks.
    """
    from . import serialization
    from .vision.download import download_url

    model_dir = os.fspath(model_dir) if model_dir is not None else os.path.join(get_dir(), "checkpoints")
    filename = file_name or os.path.basename(urllib.parse.urlparse(url).path)
    cached = os.path.join(model_dir, filename)
    if not os.path.exists(cached):
        download_url(url, cached, progress=progress)
        if check_hash:
            _check_hash(cached, filename)
    return serialization.load(cached, map_location=map_location)


def _check_hash(path: str, filename: str) -> None:
    import hashlib

    m = re.search(r"-([a-f0-9]*)\.", filename)
    if m is None:
        return
    with open(path, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    if not digest.startswith(m.group(1)):
        os.remove(path)
        raise RuntimeError(f'invalid hash value (expected "{m.group(1)}", got "{digest}")')


def load(repo_or_dir, model, *args, **kwargs):
    raise NotImplementedError(f"torch.hub.load({repo_or_dir!r}, {model!r}) runs the repository's hubconf.py, which is "
                              "torch code; convlab does not run it. Build the model with convlab.vision.models and "
                              "load its weights with load_state_dict_from_url (a torch.save file)")


def list(github, *args, **kwargs):  # noqa: A001 - torch's name
    load(github, "list")


def help(github, model, *args, **kwargs):  # noqa: A001 - torch's name
    load(github, model)

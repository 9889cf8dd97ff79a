"""Training checkpoints: everything needed to rebuild the model and to continue a run exactly.

A checkpoint is one ``convlab.save`` file (safetensors; no pickle) holding::

    format          "convlab-train/1"
    model_spec      {"name": zoo name, "kwargs": {...}}  -> convlab.models.get(name, **kwargs)
    model           the model's state dict
    optimizer       optimizer.state_dict()         (None when not saved)
    scheduler       scheduler.state_dict() or None
    epoch           completed epochs
    step            completed optimizer steps
    batch_in_epoch  batches done of the unfinished epoch (0 at an epoch boundary)
    rng             {"convlab": library generator, "numpy": numpy's global generator}
    loader          the training DataLoader's state (seed; the position follows from epoch/batch)
    history, best, early_stopping, meta (dataset, classes, preprocessing, command line)

Shuffling and augmentation are pure functions of (loader seed, epoch, batch), so with the
library generator (dropout, anything else random) they make the whole random state.

Crash safety: ``save_checkpoint`` writes through :func:`convlab.save`, which puts the bytes in a
temporary file, fsyncs it and renames it over ``path``. A process killed at any moment, SIGKILL
included, leaves either the previous complete checkpoint or the new one, never a mix; the next
save into the directory deletes the temporary file a killed writer left behind. Resuming from
``last.safetensors`` then redoes at most the epoch that was interrupted, and ends with the
weights of an uninterrupted run (``tests/robustness/test_crash_safety.py`` kills ``convlab train``
in the middle of an epoch and of a checkpoint write to check this).
"""

from __future__ import annotations

import os

import numpy as np

from .. import serialization
from ..tensor import get_rng_state, set_rng_state
from ..validate import ConvlabError

FORMAT = "convlab-train/1"


def rng_state() -> dict:
    """The library generator's and NumPy's global generator's states."""
    return {"convlab": get_rng_state(), "numpy": np.random.get_state()}


def restore_rng_state(state: dict) -> None:
    set_rng_state(state["convlab"])
    if state.get("numpy") is not None:
        np.random.set_state(tuple(state["numpy"]))


def save_checkpoint(path: str, state: dict) -> str:
    """Write ``state`` (see the module docstring) to ``path`` atomically; return ``path``."""
    serialization.save({"format": FORMAT, **state}, path)
    return path


def resolve(path, name: str = "last.safetensors") -> str:
    """``path`` itself, or for a run folder the checkpoint ``name`` inside it."""
    path = os.fspath(path)
    if os.path.isdir(path):
        inside = os.path.join(path, name)
        if not os.path.isfile(inside):
            found = sorted(f for f in os.listdir(path) if f.endswith(".safetensors"))
            raise FileNotFoundError(f"{path} is a folder without {name}"
                                    + (f" (it has {', '.join(found)})" if found else " (no checkpoints in it)"))
        return inside
    return path


def load_checkpoint(path) -> dict:
    """Read a training checkpoint (or the ``last.safetensors`` of a run folder); errors name the path and what is wrong."""
    path = resolve(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    ckpt = serialization.load(path)
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT or "model" not in ckpt:
        found = ckpt.get("format") if isinstance(ckpt, dict) else type(ckpt).__name__
        raise ConvlabError(f"{path} is not a convlab training checkpoint (format {found!r}, expected {FORMAT!r})")
    return ckpt


def model_from_checkpoint(ckpt, path: str = "checkpoint"):
    """Rebuild the model a checkpoint describes (its ``model_spec``) and load its weights, in eval mode."""
    from .. import models
    from . import recipes  # noqa: F401 - registers the recipe models in the zoo

    spec = ckpt.get("model_spec") if isinstance(ckpt, dict) else None
    if not spec or not spec.get("name"):
        raise ConvlabError(f"{path} does not record which model it holds (no model_spec), so it cannot be rebuilt")
    check_finite_weights(ckpt["model"], path)
    model = models.get(spec["name"], **dict(spec.get("kwargs") or {}))
    model.load_state_dict(ckpt["model"])
    return model.eval()


def check_finite_weights(state: dict, path: str = "checkpoint") -> None:
    """Refuse a state dict holding NaN or infinity: a model with such weights predicts nonsense
    (every output NaN, an "accuracy" of whatever class NaN compares as), so evaluate, predict,
    export and inspect stop here with the names of the tensors instead of printing numbers."""
    import numpy as np

    from .. import backend

    bad = []
    for name, value in (state or {}).items():
        arr = backend.to_numpy(value._data) if hasattr(value, "_data") else value
        arr = np.asarray(arr)
        if arr.dtype.kind == "f" and arr.size and not np.isfinite(arr).all():
            bad.append(f"{name} ({arr.size - int(np.isfinite(arr).sum())} of {arr.size})")
    if bad:
        shown = ", ".join(bad[:5]) + (f" and {len(bad) - 5} more" if len(bad) > 5 else "")
        raise ConvlabError(f"{path}: the weights hold NaN or infinite values: {shown}; the run that wrote them "
                           "diverged (try a smaller --lr), so this checkpoint cannot make predictions")

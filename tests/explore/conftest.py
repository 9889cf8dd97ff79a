"""A small run folder for the explorer's tests: compactcnn on the built-in 8x8 lines data (seed 000),
with one checkpoint and a short log, made in a few milliseconds without training."""

import json
import os

import numpy as np
import pytest

try:
    import starlette  # noqa: F401
    import uvicorn  # noqa: F401
except ImportError:  # CI installs the dev extra, which has them: there a missing one is a failure
    if os.environ.get("CI"):
        raise
    collect_ignore_glob = ["test_*.py"]  # the explorer needs the explore extra: pip install 'convlab[explore]'


def write_run(path, step: int = 10, scale: float = 1.0, records: int = 3):
    """Write ``last.safetensors`` and ``metrics.jsonl`` of a compactcnn on 'lines' into ``path``;
    the weights are the seeded initial ones times ``scale`` (so a later write changes them)."""
    import convlab
    from convlab.train.checkpoint import save_checkpoint
    from convlab.train.recipes import build_model
    from convlab.train.run_data import load_datasets

    os.makedirs(path, exist_ok=True)
    cfg = {"model": "compactcnn", "dataset": "lines", "data_root": None, "seed": 0, "epochs": 3}
    _, _, _, info, pre = load_datasets(cfg, lambda *a: None)  # the spec convlab train records
    convlab.manual_seed(0)
    model, spec = build_model("compactcnn", 1, len(info["classes"]), (8, 8))
    for p in model.parameters():
        p.data *= scale
    # non-trivial batch-norm statistics, so the explorer's eval-mode pass is not an identity
    rng = np.random.default_rng(1)
    for name, b in model.named_buffers():
        if name.endswith("running_mean"):
            b.data[...] = rng.normal(0, 0.1, b.shape)
        elif name.endswith("running_var"):
            b.data[...] = rng.uniform(0.5, 2.0, b.shape)
    meta = {"config": cfg, "dataset": "lines", "classes": info["classes"], "preprocessing": pre.to_dict(),
            "title": "compactcnn on lines"}
    save_checkpoint(os.path.join(path, "last.safetensors"),
                    {"model_spec": spec, "model": model.state_dict(), "epoch": 1, "step": step, "meta": meta})
    with open(os.path.join(path, "metrics.jsonl"), "w") as f:
        for k in range(records):
            f.write(json.dumps({"kind": "step", "step": 5 * (k + 1), "loss": 1.0 / (k + 1), "lr": 0.01}) + "\n")
        f.write(json.dumps({"kind": "epoch", "epoch": 1, "step": step, "train_loss": 0.5, "train_accuracy": 0.8,
                            "val_loss": 0.4, "val_accuracy": 0.85}) + "\n")
    return model


@pytest.fixture(name="write_run", scope="session")
def write_run_fixture():
    return write_run


@pytest.fixture
def run_dir(tmp_path):
    path = tmp_path / "run"
    write_run(path)
    return str(path)

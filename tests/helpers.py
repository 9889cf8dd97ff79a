"""The one comparison helper: run an op in convlab and in torch, compare values and grads."""

from __future__ import annotations

import os

import numpy as np
import pytest

import convlab

# tolerances used across the suite, per dtype: (rtol, atol)
TOL = {np.float64: (1e-8, 1e-10), np.float32: (1e-4, 1e-5)}


def require_torch():
    """Import torch; in CI (CI=true) a missing torch is a failure, elsewhere a skip."""
    try:
        import torch
    except ImportError:
        if os.environ.get("CI"):
            raise
        pytest.skip("torch is not installed (pip install -e '.[dev]')")
    torch.set_num_threads(1)
    return torch


def missing_compiled(name: str):
    """A compiled helper (``_sgemm``, ``_kernels``) that was not built: a failure in CI (CI=true),
    where a failed compile must not pass as a green run that tested none of the C; a skip elsewhere."""
    why = f"convlab.{name} was not built (no C compiler, or its compile failed: python setup.py build_ext --inplace shows why)"
    if os.environ.get("CI"):
        pytest.fail(f"{why}; in CI every compiled helper must be built and tested")
    pytest.skip(why)


def rand(shape, seed=0, dtype=np.float64, low=None):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(shape)
    if low is not None:
        a = np.abs(a) + low
    return a.astype(dtype)


def compare_with_torch(cl_fn, torch_fn, arrays, *, rtol=None, atol=None, grad=True, seed=1, grad_mask=None):
    """Run ``cl_fn(*tensors)`` and ``torch_fn(*torch_tensors)`` on the same arrays.

    Checks the output's shape, dtype and values, then backpropagates the same random
    upstream gradient through both and compares every input gradient.
    Float arrays require grad (unless ``grad_mask`` says otherwise); ints/bools never do.
    """
    torch = require_torch()
    dtype = next((a.dtype.type for a in arrays if a.dtype.kind == "f"), np.float64)
    r, a_ = TOL[dtype]
    rtol = r if rtol is None else rtol
    atol = a_ if atol is None else atol
    mask = grad_mask or [a.dtype.kind == "f" and grad for a in arrays]
    cl_in = [convlab.tensor(a, requires_grad=m) for a, m in zip(arrays, mask)]
    th_in = [torch.tensor(a, requires_grad=m) for a, m in zip(arrays, mask)]
    out = cl_fn(*cl_in)
    ref = torch_fn(*th_in)
    ref_np = ref.detach().numpy()
    assert out.shape == tuple(ref.shape), f"shape {out.shape} != torch {tuple(ref.shape)}"
    assert out.dtype == ref_np.dtype, f"dtype {out.dtype} != torch {ref_np.dtype}"
    np.testing.assert_allclose(out.detach().numpy(), ref_np, rtol=rtol, atol=atol)
    if not any(mask) or not out.requires_grad:
        return out
    g = np.random.default_rng(seed).standard_normal(ref.shape).astype(ref_np.dtype)
    out.backward(g)
    ref.backward(torch.tensor(g))
    for i, (c, t) in enumerate(zip(cl_in, th_in)):
        if not mask[i]:
            continue
        tg = np.zeros(t.shape, ref_np.dtype) if t.grad is None else t.grad.numpy()
        cg = np.zeros(c.shape, ref_np.dtype) if c.grad is None else c.grad.numpy()
        np.testing.assert_allclose(cg, tg, rtol=rtol, atol=atol, err_msg=f"gradient of input {i}")
    return out


def normwise_error(ours, ref) -> float:
    """max |ours - ref| / max |ref| over the whole array (the absolute error where ``ref`` is empty or all zero)."""
    ours, ref = np.asarray(ours), np.asarray(ref)
    scale = np.abs(ref).max() if ref.size else 0.0
    return float(np.abs(ours - ref).max() / scale) if ref.size and scale > 0 else float(np.abs(ours - ref).max(initial=0.0))


def gradcheck_op(fn, *shapes, seed=0, low=None, **kw):
    """float64 central-difference check of ``fn`` on random inputs of ``shapes``."""
    ts = [convlab.tensor(rand(s, seed + i, low=low), requires_grad=True) for i, s in enumerate(shapes)]
    assert convlab.gradcheck(fn, ts, **kw)


def mpirun_command(n: int = 2) -> list:
    """``mpirun`` with the options these tests need (``--oversubscribe`` on 2 cores, ``--allow-run-as-root``
    in containers) for ``n`` ranks; skips without MPI, but fails in CI, where tasks.sh installs it."""
    import shutil

    exe = shutil.which("mpirun")
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        exe = None
    if exe is None:
        if os.environ.get("CI"):
            pytest.fail("mpirun/mpi4py missing in CI: tasks.sh test installs openmpi-bin and convlab[distributed]")
        pytest.skip("MPI (mpirun and mpi4py) is not installed")
    return [exe, "--oversubscribe", "--allow-run-as-root", "-n", str(n)]


def flatten_tree(tree, prefix=()):
    """``(path, leaf)`` pairs of a loaded checkpoint (nested dicts/lists), tensors as NumPy arrays."""
    if isinstance(tree, dict):
        for k, v in tree.items():
            yield from flatten_tree(v, (*prefix, str(k)))
    elif isinstance(tree, (list, tuple)):
        for i, v in enumerate(tree):
            yield from flatten_tree(v, (*prefix, str(i)))
    else:
        yield prefix, tree.numpy() if isinstance(tree, convlab.Tensor) else tree


PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def is_png(path) -> bool:
    """Whether the file at ``path`` starts with the 8-byte PNG signature."""
    with open(path, "rb") as f:
        return f.read(8) == PNG_MAGIC


def timeless(records) -> list[dict]:
    """``records`` (dicts) without the fields that measure wall-clock time (``logs.WALL_CLOCK_FIELDS``)."""
    from convlab.train.logs import WALL_CLOCK_FIELDS

    return [{k: v for k, v in r.items() if k not in WALL_CLOCK_FIELDS} for r in records]


def no_plots(mp=None) -> None:
    """Replace ``convlab train``'s two matplotlib plots (a second per epoch) with no-ops: they read the
    logs and feed nothing back, so weights and logs are the same without them. Through ``mp`` (a
    ``pytest.MonkeyPatch``, undone after the test) or, without one, for the rest of the process."""
    import convlab.train
    from convlab.train import loop

    set_ = setattr if mp is None else mp.setattr
    set_(loop, "plot_curves", lambda records, path, title="": path)
    set_(convlab.train, "plot_confusion", lambda confusion, classes, path, title="": path)


def child_env(**extra) -> dict:
    """The environment for a child process (or an ``mpirun`` job) of the tests: one BLAS thread, ``extra``
    set, and none of the MPI rank variables or fault injection this process may have inherited."""
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", **extra)
    for k in ("OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_RANK", "PMI_SIZE", "PMI_RANK", "PMIX_RANK", "CONVLAB_TEST_FAULT"):
        if k not in extra:
            env.pop(k, None)
    return env


def record_calls(monkeypatch, owner, attr, entry):
    """Put a recorder in front of the compiled module ``owner.<attr>``: every call of one of its
    functions appends ``entry(name, args)`` to the returned list (unless that is None) and then
    runs the real function. Nothing is patched when the module was not built (``None``)."""
    calls = []
    real = getattr(owner, attr)
    if real is None:
        return calls

    class Recorder:
        def __getattr__(self, name):
            fn = getattr(real, name)
            if not callable(fn):
                return fn

            def recorded(*args):
                item = entry(name, args)
                if item is not None:
                    calls.append(item)
                return fn(*args)

            return recorded

    monkeypatch.setattr(owner, attr, Recorder())
    return calls


def require(module: str, extra: str = "dev"):
    """Import ``module``; in CI (CI=true) a missing one is a failure, elsewhere a skip."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"{module} is not installed (pip install 'convlab[{extra}]')")

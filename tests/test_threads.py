"""convlab.threads: the thread-count policy (default, OMP_NUM_THREADS, set/get, BLAS included)
and the persistent pools of the compiled helpers: the same bits on one thread and on two
wherever the cut sums nothing across it, torch's values either way, and a fork-safe pool."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import convlab as cl
import convlab.functional as F
from convlab import threads
from convlab.ops import fused, gemm
from helpers import normwise_error, require_torch

SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")


def _child(code, **env):
    """Run ``code`` in a fresh interpreter with ``env`` (None removes a variable); its stdout's last line as JSON."""
    full = dict(os.environ, PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""))
    for k, v in env.items():
        if v is None:
            full.pop(k, None)
        else:
            full[k] = v
    out = subprocess.run([sys.executable, "-c", code], env=full, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1]), out.stderr


def test_default_is_the_cores_this_process_may_use():
    got, _ = _child("import json, convlab; print(json.dumps(convlab.get_num_threads()))", OMP_NUM_THREADS=None)
    assert got == len(os.sched_getaffinity(0))


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two usable cores to restrict to one")
def test_default_follows_the_affinity_mask_not_the_machine():
    code = ("import os, json; os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]}); import convlab; "
            "print(json.dumps([convlab.get_num_threads(), os.cpu_count()]))")
    (n, cpus), _ = _child(code, OMP_NUM_THREADS=None)
    assert n == 1 and cpus >= 2


def test_omp_num_threads_sets_the_default():
    got, _ = _child("import json, convlab; print(json.dumps(convlab.get_num_threads()))", OMP_NUM_THREADS="3")
    assert got == 3
    got, _ = _child("import json, convlab; print(json.dumps(convlab.get_num_threads()))", OMP_NUM_THREADS="2,1")
    assert got == 2  # OpenMP's nested list: the first level


@pytest.mark.parametrize("value", ["abc", "0", "-2"])
def test_an_invalid_omp_num_threads_warns_and_falls_back(value):
    code = ("import json, warnings\nwith warnings.catch_warnings(record=True) as w:\n"
            "    warnings.simplefilter('always'); import convlab; n = convlab.get_num_threads()\n"
            "print(json.dumps([n, [str(x.message) for x in w]]))")
    (n, messages), _ = _child(code, OMP_NUM_THREADS=value)
    assert n == len(os.sched_getaffinity(0))
    assert any(f"ignoring OMP_NUM_THREADS={value!r}: expected a positive integer" in m for m in messages)


@pytest.mark.parametrize("bad", [0, -1, 2.0, True, "2", None])
def test_set_num_threads_rejects_what_is_not_a_positive_int(bad):
    before = cl.get_num_threads()
    with pytest.raises(ValueError, match=rf"set_num_threads expects a positive integer, got {bad!r}"):
        cl.set_num_threads(bad)
    assert cl.get_num_threads() == before


def test_the_compiled_gemm_holds_numpys_blas_to_one_thread():
    """A fresh process: BLAS has its own count until convlab's compiled GEMM runs a product, then
    one thread, also after set_num_threads(2); with CONVLAB_GEMM=numpy it keeps the count."""
    code = ("import json, numpy as np, convlab, convlab.functional as F\n"
            "from convlab import threads\nfrom convlab.ops import gemm\n"
            "convlab.set_num_threads(2); before = threads.blas_num_threads()\n"
            "F.conv2d(convlab.randn(2, 8, 16, 16), convlab.randn(8, 8, 3, 3), padding=1)\n"
            "after = threads.blas_num_threads(); convlab.set_num_threads(2)\n"
            "print(json.dumps([gemm.native_enabled(), before, after, threads.blas_num_threads()]))")
    (native, before, after, again), _ = _child(code)
    if before is None:
        pytest.skip("threadpoolctl finds no BLAS here")
    assert before == 2
    assert (after, again) == ((1, 1) if native else (2, 2))
    (native, before, after, again), _ = _child(code, CONVLAB_GEMM="numpy")
    assert not native and (before, after, again) == (2, 2, 2)


def test_set_num_threads_governs_convlab_and_numpys_blas():
    before = cl.get_num_threads()
    try:
        cl.set_num_threads(1)
        assert cl.get_num_threads() == 1 and gemm.get_num_threads() == 1
        blas = threads.blas_num_threads()
        assert blas in (None, 1)  # None only where threadpoolctl finds no BLAS
        if fused.available():
            assert fused._kernels.get_threads()[0] == 1
        cl.set_num_threads(3)
        assert cl.get_num_threads() == 3
        if blas is not None:  # one thread once convlab's pool runs the products (no oversubscription)
            assert threads.blas_num_threads() == (1 if threads.products_claimed() else 3)
        if fused.available():
            assert fused._kernels.get_threads()[0] == 3
    finally:
        cl.set_num_threads(before)


@pytest.fixture
def forced(monkeypatch):
    """``forced(n)``: n threads for everything, the size thresholds at 0 (tiny tensors split too)."""
    before = cl.get_num_threads()
    monkeypatch.setattr(gemm, "_FLOPS_PER_THREAD", 0)

    def use(n):
        cl.set_num_threads(n)
        if fused.available():
            fused._kernels.set_threads(n, 0)

    yield use
    cl.set_num_threads(before)  # also restores _kernels' threshold through the listener


native = pytest.mark.skipif(not gemm.native_available(), reason="convlab._sgemm not built or no AVX-512F on this CPU")


@native
@pytest.mark.parametrize("shape", [(37, 70, 500), (8, 300, 4000)], ids=["columns", "long-k"])
def test_compiled_gemm_on_one_and_two_threads(shape):
    """C = A @ B on 1 and 2 threads: the same bits when the threads split the columns (every entry
    summed in one order); within float32's rounding bound of float64 when they split k."""
    from convlab import _sgemm

    m, k, n = shape
    rng = np.random.default_rng(m)
    a, b = rng.standard_normal((m, k), dtype=np.float32), rng.standard_normal((k, n), dtype=np.float32)
    out = {t: np.empty((m, n), np.float32) for t in (1, 2)}
    for t in (1, 2):
        _sgemm.sgemm(a, b, out[t], False, t)
    exact = a.astype(np.float64) @ b.astype(np.float64)
    bound = 2 * k * np.finfo(np.float32).eps * (np.abs(a).astype(np.float64) @ np.abs(b).astype(np.float64))
    for t in (1, 2):
        assert np.all(np.abs(out[t] - exact) <= bound)
    if shape[2] >= 2 * 48 * 2:  # enough column tiles for a column split
        np.testing.assert_array_equal(out[1], out[2])


def _step(model_fn, x, y):
    cl.manual_seed(0)
    model = model_fn()
    loss = cl.nn.CrossEntropyLoss()(model(cl.tensor(x)), cl.tensor(y))
    loss.backward()
    return [loss.item()] + [p.grad.numpy().copy() for p in model.parameters()]


@pytest.mark.skipif(not fused.available(), reason="convlab._kernels not built")
def test_a_training_step_is_the_same_bits_on_one_and_two_threads(forced):
    """Convolutions (flat grid and columns), batch norm, ReLU, depthwise, pooling: the loss and
    every gradient of one step on 1 and 2 threads with every op split (thresholds at 0). The
    weight gradients' GEMMs with few columns split k on 2 threads, so those match within
    float32 rounding (relative 1e-5), the rest bit for bit."""
    nn = cl.nn

    def model():
        return nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
                             nn.Conv2d(16, 16, 3, padding=1, groups=16), nn.ReLU(),
                             nn.Conv2d(16, 24, 3, stride=2, padding=1), nn.BatchNorm2d(24), nn.ReLU(),
                             nn.MaxPool2d(2), nn.Flatten(), nn.Linear(24 * 4 * 4, 10))

    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((6, 3, 16, 16), dtype=np.float32), rng.integers(0, 10, 6)
    forced(1)
    one = _step(model, x, y)
    forced(2)
    two = _step(model, x, y)
    assert abs(one[0] - two[0]) <= 1e-6 * abs(one[0])
    for g1, g2 in zip(one[1:], two[1:]):
        assert normwise_error(g2, g1) <= 1e-5


@pytest.mark.skipif(not fused.available(), reason="convlab._kernels not built")
def test_every_compiled_pass_is_the_same_bits_on_two_threads(forced):
    """ReLU, batch norm (statistics, normalise, both backward sums), im2col/col2im (stride 2), the
    grid copies and depthwise (forward and both gradients): 2 threads, every pass split, give
    exactly the 1-thread values, and those match torch (float32, normwise 1e-5)."""
    torch = require_torch()
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4, 6, 11, 11), dtype=np.float32)
    w = rng.standard_normal((6, 1, 3, 3), dtype=np.float32)
    w2 = rng.standard_normal((8, 6, 3, 3), dtype=np.float32)
    g = rng.standard_normal((4, 8, 6, 6), dtype=np.float32)

    def run():
        xt, wt, w2t = (cl.tensor(v, requires_grad=True) for v in (x, w, w2))
        h = F.relu(F.batch_norm(xt, None, None, training=True))
        h = F.conv2d(h, wt, padding=1, groups=6)  # depthwise
        out = F.conv2d(h, w2t, stride=2, padding=1)  # columns (stride 2)
        out.backward(cl.tensor(g))
        return [out.detach().numpy(), xt.grad.numpy(), wt.grad.numpy(), w2t.grad.numpy()]

    forced(1)
    one = run()
    forced(2)
    two = run()
    xt, wt, w2t = (torch.tensor(v, requires_grad=True) for v in (x, w, w2))
    tf = torch.nn.functional
    out = tf.conv2d(tf.conv2d(tf.relu(tf.batch_norm(xt, None, None, training=True)), wt, padding=1, groups=6), w2t,
                    stride=2, padding=1)
    out.backward(torch.tensor(g))
    ref = [out.detach().numpy(), xt.grad.numpy(), wt.grad.numpy(), w2t.grad.numpy()]
    for a, b, r in zip(one, two, ref):
        assert normwise_error(a, r) <= 1e-5
        np.testing.assert_array_equal(a, b)


@native
def test_the_pool_works_in_a_forked_child():
    """A child forked after the parent's pool started (a DataLoader worker) starts its own
    workers instead of waiting for the parent's: the threaded product finishes and is right."""
    code = """
import json, os, numpy as np
from convlab import _sgemm
rng = np.random.default_rng(0)
a, b = rng.standard_normal((64, 256), dtype=np.float32), rng.standard_normal((256, 2048), dtype=np.float32)
c = np.empty((64, 2048), np.float32)
_sgemm.sgemm(a, b, c, False, 2)
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    d = np.empty_like(c)
    _sgemm.sgemm(a, b, d, False, 2)
    os.write(w, b"1" if np.array_equal(c, d) else b"0")
    os._exit(0)
os.waitpid(pid, 0)
print(json.dumps(os.read(r, 1).decode()))
"""
    got, _ = _child(code)
    assert got == "1"

"""The backend seam, covered on CPU: a stand-in array module registered as device 'fake'
must receive the ops' array math, give CPU's numbers, and refuse to mix with CPU tensors."""

import types

import numpy as np
import pytest

import convlab as cl
from convlab import backend


class FakeArray(np.ndarray):
    """An ndarray subclass standing in for a device array type (as cupy.ndarray would)."""

    def get(self):  # CuPy's device-to-host copy
        return np.asarray(self).view(np.ndarray).copy()


def _make_standin():
    calls = []

    def wrap(name, fn):
        def inner(*args, **kwargs):
            calls.append(name)
            out = fn(*args, **kwargs)
            return out.view(FakeArray) if isinstance(out, np.ndarray) else out

        return inner

    module = types.SimpleNamespace()
    for name in dir(np):
        attr = getattr(np, name)
        if callable(attr) and not isinstance(attr, type) and not name.startswith("_"):
            setattr(module, name, wrap(name, attr))
        else:
            setattr(module, name, attr)
    module.asarray = wrap("asarray", lambda a, dtype=None: np.array(a, dtype=dtype))
    return module, calls


@pytest.fixture
def fake_device():
    module, calls = _make_standin()
    backend.register(FakeArray, module, "fake")
    try:
        yield calls
    finally:
        backend.unregister(FakeArray)


def test_ops_dispatch_to_the_registered_module(fake_device):
    x_cpu = np.random.default_rng(0).standard_normal((3, 4))
    x = cl.tensor(x_cpu, device="fake", requires_grad=True)
    assert x.device == "fake" and type(x._data) is FakeArray
    y = (cl.exp(x) * cl.tanh(x)).sum()
    y.backward()
    assert {"exp", "tanh"} <= set(fake_device)  # the math went through the stand-in module
    ref = cl.tensor(x_cpu, requires_grad=True)
    ref_y = (cl.exp(ref) * cl.tanh(ref)).sum()
    ref_y.backward()
    np.testing.assert_allclose(backend.to_numpy(y._data), ref_y.item(), rtol=1e-12)
    np.testing.assert_allclose(x.grad.to("cpu").numpy(), ref.grad.numpy(), rtol=1e-12)
    assert x.grad.device == "fake"


def test_gradient_flows_back_to_the_cpu_leaf(fake_device):
    w = cl.tensor([1.0, 2.0, 3.0], requires_grad=True)
    (w.to("fake") * 2.0).sum().backward()
    assert w.grad.device == "cpu" and w.grad.tolist() == [2.0, 2.0, 2.0]


def test_mixing_devices_names_both(fake_device):
    a = cl.ones(3).to("fake")
    with pytest.raises(RuntimeError, match="expected all tensors on one device, got .*cpu.*fake"):
        a + cl.ones(3)
    from convlab.ops.matmul import MatMul

    with pytest.raises(RuntimeError, match="MatMul: expected all tensors on one device, got tensors on cpu and fake"):
        MatMul.apply(a, cl.ones(3))


def test_creation_on_a_device(fake_device):
    z = cl.zeros(2, 2, device="fake")
    assert z.device == "fake" and z.to("cpu").device == "cpu"


def test_cuda_without_cupy_says_how_to_install():
    if cl.cuda.is_available():
        pytest.skip("a real GPU is present")
    with pytest.raises(RuntimeError, match=r"pip install 'convlab\[gpu\]'|no CUDA device"):
        cl.zeros(2, device="cuda")

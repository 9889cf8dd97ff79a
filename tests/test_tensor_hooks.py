"""Tensor.register_hook against torch: what a hook sees, what its return value changes, removal and order.

Everything runs in float64, so convlab and torch agree to rounding: tolerances are 1e-12.
"""

import weakref

import numpy as np
import pytest

import convlab as cl
from helpers import require_torch

TOL = dict(rtol=1e-12, atol=1e-12)
RNG = np.random.default_rng(6)
X0 = RNG.normal(size=(3, 4))
W0 = RNG.normal(size=(4, 5))
C0 = RNG.normal(size=(3, 5))


def graphs():
    """The same small graph in both libraries: h = x @ w, loss = sum(tanh(h) * c + h * h)."""
    torch = require_torch()
    out = {}
    for lib, make in (("cl", lambda a: cl.tensor(a, dtype=np.float64, requires_grad=True)),
                      ("torch", lambda a: torch.tensor(a, dtype=torch.float64, requires_grad=True))):
        x, w = make(X0), make(W0)
        c = cl.tensor(C0, dtype=np.float64) if lib == "cl" else torch.tensor(C0)
        h = x @ w
        out[lib] = (x, w, c, h)
    return out


def finish(h, c):
    return ((h.tanh() * c) + h * h).sum()


def grad_np(t):
    return t.grad.numpy() if isinstance(t, cl.Tensor) else t.grad.detach().numpy()


def val(g):
    return g.numpy() if isinstance(g, cl.Tensor) else g.detach().numpy()


def test_hook_on_an_intermediate_sees_torchs_gradient_once():
    seen = {"cl": [], "torch": []}
    for lib, (_x, _w, c, h) in graphs().items():
        h.register_hook(lambda g, lib=lib: seen[lib].append(val(g).copy()))
        finish(h, c).backward()  # h is used twice: the hook sees the summed gradient, once
    assert len(seen["cl"]) == len(seen["torch"]) == 1
    np.testing.assert_allclose(seen["cl"][0], seen["torch"][0], **TOL)


def test_replacing_an_intermediate_gradient_changes_the_leaves_like_torch():
    grads = {}
    for lib, (x, w, c, h) in graphs().items():
        h.register_hook(lambda g: g * 2.0 + 1.0)
        finish(h, c).backward()
        grads[lib] = (grad_np(x), grad_np(w))
    for a, b in zip(grads["cl"], grads["torch"]):
        np.testing.assert_allclose(a, b, **TOL)
    plain = graphs()["cl"]
    finish(plain[3], plain[2]).backward()
    assert not np.allclose(plain[0].grad.numpy(), grads["cl"][0])  # the hook did change something


def test_leaf_hook_replaces_what_accumulates_and_sees_one_pass_at_a_time():
    seen, grads = {"cl": [], "torch": []}, {}
    for lib, (x, w, c, _h) in graphs().items():
        x.register_hook(lambda g, lib=lib: seen[lib].append(val(g).copy()) or g * 3.0)
        for _ in range(2):  # two passes accumulate; each pass's hook sees only its own gradient
            finish(x @ w, c).backward()
        grads[lib] = (grad_np(x), grad_np(w))
    assert len(seen["cl"]) == 2
    for a, b in zip(seen["cl"], seen["torch"]):
        np.testing.assert_allclose(a, b, **TOL)
    np.testing.assert_allclose(grads["cl"][0], grads["torch"][0], **TOL)
    np.testing.assert_allclose(grads["cl"][0], 2 * 3.0 * seen["cl"][0], **TOL)
    np.testing.assert_allclose(grads["cl"][1], grads["torch"][1], **TOL)  # w has no hook


def test_several_hooks_run_in_registration_order_each_on_the_previous_result():
    calls, grads = {"cl": [], "torch": []}, {}
    for lib, (_x, w, c, h) in graphs().items():
        h.register_hook(lambda g, lib=lib: calls[lib].append(("double", float(val(g).sum()))) or g * 2.0)
        h.register_hook(lambda g, lib=lib: calls[lib].append(("observe", float(val(g).sum()))))
        h.register_hook(lambda g, lib=lib: calls[lib].append(("shift", float(val(g).sum()))) or g - 0.5)
        finish(h, c).backward()
        grads[lib] = grad_np(w)
    assert [n for n, _ in calls["cl"]] == [n for n, _ in calls["torch"]] == ["double", "observe", "shift"]
    np.testing.assert_allclose([s for _, s in calls["cl"]], [s for _, s in calls["torch"]], **TOL)
    assert calls["cl"][1][1] == pytest.approx(2 * calls["cl"][0][1], rel=1e-12)
    np.testing.assert_allclose(grads["cl"], grads["torch"], **TOL)


def test_removed_hooks_no_longer_run():
    calls = []
    x = cl.tensor(X0, dtype=np.float64, requires_grad=True)
    w = cl.tensor(W0, dtype=np.float64, requires_grad=True)
    h = x @ w
    keep = h.register_hook(lambda g: calls.append("keep"))
    gone = h.register_hook(lambda g: calls.append("gone") or g * 0.0)
    gone.remove()
    gone.remove()  # removing twice is harmless, as in torch
    leaf = x.register_hook(lambda g: calls.append("leaf") or g * 0.0)
    with x.register_hook(lambda g: calls.append("scoped") or g * 0.0):
        pass  # the handle is a context manager: removed here
    leaf.remove()
    finish(h, cl.tensor(C0, dtype=np.float64)).backward()
    keep.remove()
    assert calls == ["keep"]
    t = graphs()["torch"]
    finish(t[3], t[2]).backward()
    np.testing.assert_allclose(x.grad.numpy(), t[0].grad.numpy(), **TOL)  # the zeroing hooks did nothing


def test_hooks_fire_after_the_intermediate_tensor_object_is_gone():
    seen, built = {"cl": [], "torch": []}, graphs()
    for lib in ("cl", "torch"):
        x, w, c, h = built.pop(lib)
        ref = weakref.ref(h)
        h.register_hook(lambda g, lib=lib: seen[lib].append(val(g).copy()) or g * 0.5)
        loss = ((h * 2.0).tanh() * c).sum()
        del h
        if lib == "cl":
            assert ref() is None  # only the graph node holds the hook now, as torch's grad_fn does
        loss.backward()
        seen[lib].append(grad_np(x))
    for a, b in zip(seen["cl"], seen["torch"]):
        np.testing.assert_allclose(a, b, **TOL)


def test_retained_grad_is_the_hooked_gradient_as_in_torch():
    torch = require_torch()
    out = {}
    for lib in ("cl", "torch"):
        mod = cl if lib == "cl" else torch
        x = mod.tensor([1.0, 2.0], requires_grad=True)
        y = x * 3.0
        y.retain_grad()
        y.register_hook(lambda g: g * 10.0)
        (y * y).sum().backward()
        out[lib] = (val(y.grad), val(x.grad))
    np.testing.assert_allclose(out["cl"][0], [60.0, 120.0], rtol=1e-6)  # 2 * y * 10
    np.testing.assert_allclose(out["cl"][1], [180.0, 360.0], rtol=1e-6)
    for a, b in zip(out["cl"], out["torch"]):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_a_hook_on_the_root_scales_every_gradient():
    grads = {}
    for lib, (x, _w, c, h) in graphs().items():
        loss = finish(h, c)
        loss.register_hook(lambda g: g * 4.0)
        loss.backward()
        grads[lib] = grad_np(x)
    np.testing.assert_allclose(grads["cl"], grads["torch"], **TOL)


def test_bad_hooks_and_tensors_raise_clear_errors():
    with pytest.raises(RuntimeError, match="cannot register a hook on a tensor that doesn't require gradient"):
        cl.tensor([1.0]).register_hook(lambda g: g)
    x = cl.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(TypeError, match="hook must be callable, got int"):
        x.register_hook(3)
    x.register_hook(lambda g: cl.ones(3))
    with pytest.raises(RuntimeError, match=r"changed the size of value: expected shape \(2,\), got \(3,\)"):
        (x * x).sum().backward()
    y = cl.tensor([1.0, 2.0], requires_grad=True)
    y.register_hook(lambda g: 5)
    with pytest.raises(TypeError, match="must return a Tensor or None, got int"):
        (y * y).sum().backward()
    z = cl.tensor([1.0, 2.0], requires_grad=True)
    z.register_hook(lambda g: g.double())
    with pytest.raises(RuntimeError, match="changed the type of value: expected dtype float32, got float64"):
        (z * z).sum().backward()


def test_nodes_without_hooks_keep_a_plain_weak_reference():
    x = cl.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2.0
    assert type(y._node.out) is weakref.ref and x._retain is False  # the no-hook backward path is unchanged
    y.retain_grad()
    x.retain_grad()  # a leaf keeps its grad anyway; retain_grad must not clobber its hooks
    h = x.register_hook(lambda g: g + 1.0)
    x.retain_grad()
    (y * y).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * 2 * 2 * np.array([1.0, 2.0]) + 1.0, rtol=1e-6)
    h.remove()

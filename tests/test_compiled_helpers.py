"""The compiled helpers are part of what CI tests: where one was not built, CI fails here (and in
every test that needs it) instead of skipping; elsewhere these tests skip with the reason."""

import importlib

import numpy as np
import pytest

from helpers import missing_compiled


@pytest.mark.parametrize("name", ["_sgemm", "_sgemm_bf16", "_kernels"])
def test_compiled_helper_is_built(name):
    try:
        module = importlib.import_module(f"convlab.{name}")
    except ImportError:
        missing_compiled(name)
    assert callable(getattr(module, "relu" if name == "_kernels" else "sgemm"))


def test_dispatchers_use_what_was_built():
    """ops/gemm.py and ops/fused.py report the helpers as available exactly when they imported (and,
    for the GEMM, when this CPU has AVX-512F), and switched on unless the environment says NumPy."""
    import os

    from convlab.ops import fused, gemm

    assert fused.available() == (fused._kernels is not None)
    assert gemm.native_available() == (gemm._sgemm is not None and bool(gemm._sgemm.available()))
    if os.environ.get("CONVLAB_GEMM", "auto").lower() != "numpy":
        assert gemm.native_enabled() == gemm.native_available()
    if os.environ.get("CONVLAB_KERNELS", "auto").lower() != "numpy":
        assert fused.enabled() == fused.available()
    a = np.ones((8, 8), np.float32)
    np.testing.assert_array_equal(gemm.matmul(a, np.ones((8, 16), np.float32)), np.full((8, 16), 8.0, np.float32))

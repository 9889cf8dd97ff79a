import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))


@pytest.fixture(autouse=True)
def _seeded():
    """Every test starts from the same library seed."""
    import convlab

    convlab.manual_seed(0)
    np.random.seed(0)
    yield


@pytest.fixture(params=["native", "numpy"])
def gemm_path(request):
    """Run a test with the ops' float32 products on convlab's compiled GEMM and again on
    numpy.matmul (the pure-NumPy path must stay tested); 'native' skips where it was not built."""
    from convlab.ops import gemm

    if request.param == "native" and not gemm.native_available():
        pytest.skip("convlab._sgemm not built or no AVX-512F on this CPU")
    previous = gemm.set_native(request.param == "native")
    yield request.param
    gemm.set_native(previous)


@pytest.fixture(params=["compiled", "numpy"])
def kernels_path(request):
    """Run a test with ReLU and batch norm on the compiled passes (convlab._kernels) and again on
    NumPy (the pure-NumPy path must stay tested); 'compiled' skips where they were not built."""
    from convlab.ops import fused

    if request.param == "compiled" and not fused.available():
        pytest.skip("convlab._kernels not built")
    previous = fused.set_enabled(request.param == "compiled")
    yield request.param
    fused.set_enabled(previous)

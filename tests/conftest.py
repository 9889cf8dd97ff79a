import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))

from helpers import missing_compiled  # noqa: E402


@pytest.fixture(autouse=True)
def _seeded():
    """Every test starts from the same library seed."""
    import convlab

    convlab.manual_seed(0)
    np.random.seed(0)
    yield


PATH_PROPERTY = "convlab_path"  # the user property each path-switching test records: which code ran


def pytest_configure(config):
    config.addinivalue_line("markers", "needs_sgemm: runs convlab._sgemm itself (fails in CI where it was not built)")
    config.addinivalue_line("markers", "needs_kernels: runs convlab._kernels itself (fails in CI where it was not built)")


def pytest_report_header(config):
    from convlab.ops import fused, gemm

    return [f"convlab compiled helpers: {compiled_state()}; GEMM path: "
            f"{native_label() + ' (convlab._sgemm)' if gemm.native_available() else gemm_fallback_reason()}, "
            f"passes: {'compiled (convlab._kernels)' if fused.available() else 'NumPy (convlab._kernels not built)'}"]


def compiled_state() -> str:
    from convlab.ops import fused, gemm

    return ", ".join(f"{name} {'built' if mod is not None else 'MISSING'}"
                     for name, mod in (("_sgemm", gemm._sgemm), ("_kernels", fused._kernels)))


def gemm_fallback_reason() -> str:
    from convlab.ops import gemm

    if gemm._sgemm is None:
        return "NumPy (convlab._sgemm not built)"
    return "NumPy (this CPU has neither AVX-512F nor AVX2 with FMA)"


def native_label() -> str:
    """The compiled GEMM's micro-kernels in words: 'native AVX-512' or 'native AVX2'."""
    from convlab.ops import gemm

    return {"avx512": "native AVX-512", "avx2": "native AVX2"}.get(gemm.isa(), "native")


def pytest_runtest_setup(item):
    """``needs_sgemm`` / ``needs_kernels`` tests: in CI a helper that was not built fails the test
    (a failed compile must not pass as a green run that tested none of the C); elsewhere it skips
    with the reason. A built _sgemm on a CPU without AVX-512F skips its kernel tests, saying so: the
    dispatcher tests (``gemm_path``) then run, and report, NumPy's path."""
    from convlab.ops import fused, gemm

    if item.get_closest_marker("needs_kernels") and fused._kernels is None:
        missing_compiled("_kernels")
    if item.get_closest_marker("needs_sgemm"):
        if gemm._sgemm is None:
            missing_compiled("_sgemm")
        if not gemm.native_available():
            pytest.skip("convlab._sgemm is built but this CPU has neither AVX-512F nor AVX2: its kernels cannot run here")


@pytest.fixture(params=["native", "numpy"])
def gemm_path(request, record_property):
    """Run a test with the ops' float32 products on convlab's compiled GEMM and again on
    numpy.matmul (the pure-NumPy path must stay tested). Where the compiled GEMM cannot run, the
    'native' case fails in CI if it was not built, and otherwise runs NumPy's path and says so
    (the value is then "numpy", and the test records which path ran)."""
    from convlab.ops import gemm

    path, label = request.param, {"native": f"gemm {native_label()}", "numpy": "gemm NumPy"}[request.param]
    if path == "native" and not gemm.native_available():
        if gemm._sgemm is None:
            missing_compiled("_sgemm")
        path, label = "numpy", f"gemm {gemm_fallback_reason()} in the native case"
    record_property(PATH_PROPERTY, label)
    previous = gemm.set_native(path == "native")
    yield path
    gemm.set_native(previous)


@pytest.fixture(params=["avx512", "avx2"])
def gemm_isa(request, record_property):
    """Run a test on each of the compiled GEMM's micro-kernel sets (ops/gemm.py's rule picks one;
    this forces each in turn). A set this CPU cannot run is skipped, saying so (an AVX2-only CI
    machine still runs the AVX2 case); an unbuilt _sgemm fails in CI. The test records which ran."""
    from convlab.ops import gemm

    if gemm._sgemm is None:
        missing_compiled("_sgemm")
    if not gemm.isa_supported(request.param):
        pytest.skip(f"this CPU cannot run the {request.param} kernels")
    previous = gemm.set_isa(request.param)
    record_property(PATH_PROPERTY, f"gemm {native_label()}")
    yield request.param
    gemm.set_isa(previous)


@pytest.fixture(params=["compiled", "numpy"])
def kernels_path(request, record_property):
    """Run a test with ReLU and batch norm on the compiled passes (convlab._kernels) and again on
    NumPy (the pure-NumPy path must stay tested); 'compiled' fails in CI where they were not built
    and skips elsewhere. The test records which path ran."""
    from convlab.ops import fused

    if request.param == "compiled" and not fused.available():
        missing_compiled("_kernels")
    record_property(PATH_PROPERTY, f"passes {'compiled' if request.param == 'compiled' else 'NumPy'}")
    previous = fused.set_enabled(request.param == "compiled")
    yield request.param
    fused.set_enabled(previous)


def pytest_terminal_summary(terminalreporter):
    """Say which compiled or NumPy path the path-switching tests ran (counted over passed tests)."""
    from collections import Counter

    paths = Counter(value for report in terminalreporter.stats.get("passed", [])
                    for name, value in getattr(report, "user_properties", []) if name == PATH_PROPERTY)
    if paths:
        terminalreporter.write_line("convlab paths run: " + ", ".join(f"{n} x {p}" for p, n in sorted(paths.items())))

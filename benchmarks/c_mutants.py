"""Hand-seeded mutants of the compiled helpers (src/convlab/_sgemm*.c, _kernels*.c): each must make
the tests fail. Not part of CI (one C build per mutant).

For every mutant: copy the checkout's tracked files into a scratch folder (``--scratch``, default
``/tmp/convlab-c-mutants``; the checkout is never touched), replace one snippet in one C file,
rebuild the extensions there (``setup.py build_ext --inplace``), run the tests that exercise it with
CI=true (a compile failure or a missing extension then fails rather than skips), and record
killed / survived. A snippet that is no longer in the source (the C changed) is reported "stale",
so the list is kept up to date by hand. Run it under ``nice`` on a shared machine::

    nice -n 19 python benchmarks/c_mutants.py            # all
    nice -n 19 python benchmarks/c_mutants.py relu-nan   # some, by name
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GEMM = ["tests/ops/test_gemm.py", "tests/ops/test_conv.py"]
PASSES = ["tests/ops/test_fused.py", "tests/nn/test_norm.py", "tests/nn/test_untested_branches.py"]
POOL = ["tests/ops/test_pool_compiled.py"]
ISA = ["tests/ops/test_gemm_isa.py"]
# name -> (file, the original snippet, its mutant, tests that must fail)
MUTANTS = {
    "relu-nan": ("_kernels_norm.c", "int keep = !(v <= 0.f);", "int keep = v > 0.f;", PASSES),
    "relu-backward-mask": ("_kernels_norm.c", "out[i] = g[i] * (float)mask[i];", "out[i] = g[i];", PASSES),
    "moments-chan-merge": ("_kernels_norm.c", "mu += delta * (double)len / total;", "mu += delta * (double)len / count;",
                           PASSES),
    "moments-m2": ("_kernels_norm.c", "m2 += rq + delta * delta * count * (double)len / total;",
                   "m2 += rq + delta * delta * count * (double)len / count;", PASSES),
    "variance-count": ("_kernels_norm.c", "var[j] = count > 0 ? m2 / count : 0.0;",
                       "var[j] = count > 1 ? m2 / (count - 1) : 0.0;", PASSES),
    "normalize-shift": ("_kernels_norm.c", "out[i] = (r[i] - mean[j]) * scale[j] + shift[j];",
                        "out[i] = (r[i] - mean[j]) * scale[j] - shift[j];", PASSES),
    "grad-sums-reset": ("_kernels_norm.c", "for (idx j = j0; j < j1; j++) sg[j] = sgx[j] = 0.0;",
                        "for (idx j = j0; j < j1; j++) sg[j] = 0.0;", PASSES),
    "col2im-overwrite": ("_kernels_grid.c", "for (idx ox = lo; ox < hi; ox++) row[ox * g->sw + off] += col[ox];",
                         "for (idx ox = lo; ox < hi; ox++) row[ox * g->sw + off] = col[ox];", PASSES),
    "grid-out-bias": ("_kernels_grid.c", "for (idx j = 0; j < w; j++) dst[j] = g[j] + bias[ch];",
                      "for (idx j = 0; j < w; j++) dst[j] = g[j];", PASSES),
    "depthwise-bias": ("_kernels_grid.c", "float b0 = bias ? bias[c] : 0.f;", "float b0 = 0.f;", PASSES),
    "depthwise-grad-w": ("_kernels_grid.c", "gw[ky * g->kw + kx] += dw_dot(run, flat, pad + ky * g->dh * wp + kx * g->dw);",
                         "gw[ky * g->kw + kx] += dw_dot(run, flat, pad + ky * g->dh * wp + kx);", PASSES),
    "gemm-fma-column": ("_sgemm_avx512.c", "c##i##2 = _mm512_fmadd_ps(t, b2, c##i##2);",
                        "c##i##2 = _mm512_fmadd_ps(t, b1, c##i##2);", GEMM),
    "gemm-accumulate": ("_sgemm_avx512.c", "if (accumulate) {", "if (!accumulate) {", GEMM),
    "maxpool-first-maximum": ("_kernels_pool.c", "_mm512_cmp_ps_mask(v, b, _CMP_GT_OQ)",
                              "_mm512_cmp_ps_mask(v, b, _CMP_GE_OQ)", POOL),
    "gemm-avx2-fma-column": ("_sgemm_avx2.c", "c##i##2 = _mm256_fmadd_ps(t, b2, c##i##2);",
                             "c##i##2 = _mm256_fmadd_ps(t, b1, c##i##2);", ISA),
    "gemm-pack-a-zero-rows": ("_sgemm_driver.c", "for (idx p = 0; p < kc; p++) out[p * MR + i] = src[p];",
                              "for (idx p = 1; p < kc; p++) out[p * MR + i] = src[p];", GEMM),
}


def copy_checkout(dest: Path) -> None:
    if dest.exists():
        shutil.rmtree(dest)
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, check=True, capture_output=True, text=True).stdout.split()
    for f in files:
        if (ROOT / f).is_file():
            (dest / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / f, dest / f)


def run_mutant(name: str, scratch: Path) -> str:
    fname, original, mutant, tests = MUTANTS[name]
    dest = scratch / name
    copy_checkout(dest)
    path = dest / "src" / "convlab" / fname
    text = path.read_text()
    if text.count(original) != 1:
        return f"stale ({original!r} found {text.count(original)} times in {fname})"
    path.write_text(text.replace(original, mutant))
    env = dict(os.environ, CI="true", PYTHONPATH=str(dest / "src"), OMP_NUM_THREADS="1", MPLBACKEND="Agg")
    build = subprocess.run([sys.executable, "setup.py", "-q", "build_ext", "--inplace"], cwd=dest, env=env,
                           capture_output=True, text=True)
    if build.returncode != 0:
        return "killed (does not compile)"
    t0 = time.time()
    test = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *tests], cwd=dest, env=env,
                          capture_output=True, text=True)
    shutil.rmtree(dest, ignore_errors=True)
    verdict = "killed" if test.returncode != 0 else "SURVIVED"
    last = (test.stdout.strip().splitlines() or [""])[-1]
    return f"{verdict} ({last}; {time.time() - t0:.0f} s)"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("names", nargs="*", choices=[*MUTANTS, []], help="mutants to run (default: all)")
    ap.add_argument("--scratch", type=Path, default=Path("/tmp/convlab-c-mutants"))
    args = ap.parse_args()
    survived = 0
    for name in args.names or MUTANTS:
        result = run_mutant(name, args.scratch)
        survived += not result.startswith("killed")
        print(f"{name:24s} {result}", flush=True)
    print(f"{len(args.names or MUTANTS) - survived} of {len(args.names or MUTANTS)} killed")
    return 1 if survived else 0


if __name__ == "__main__":
    sys.exit(main())

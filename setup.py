"""Builds convlab's optional compiled helpers: the float32 GEMM (src/convlab/_sgemm*.c: the
Python functions, the blocked driver, AVX-512 and AVX2 micro-kernels), its bfloat16 twin for
torch's "medium" float32 matmul precision on CPUs with AVX512_BF16 (src/convlab/_sgemm_bf16*.c),
the memory passes around them (src/convlab/_kernels*.c: ReLU, batch norm, im2col/col2im, the
flat grid's copies, depthwise convolution, max pooling), and a probe of the CPU's FMA peak
(src/convlab/_cpu.c, for the bench and the kernels' choice).

Everything else is in pyproject.toml. Both extensions are optional: where one cannot be compiled
(no C compiler; the GEMM also needs x86-64), pip installs convlab without it and convlab runs the
same operations in NumPy.
"""

import platform

from setuptools import Extension, setup

x86 = platform.machine().lower() in ("x86_64", "amd64")
unix = platform.system() != "Windows"  # the kernel uses GCC/Clang target attributes
pool = ["src/convlab/_pool.h"]  # the persistent worker pool both modules include
gemm = Extension("convlab._sgemm", [f"src/convlab/_sgemm{part}.c" for part in ("", "_driver", "_conv", "_avx512", "_avx2")],
                 extra_compile_args=["-O3", "-pthread"], extra_link_args=["-pthread"],
                 depends=pool + ["src/convlab/_sgemm.h"], optional=True)
kernels = Extension("convlab._kernels", [f"src/convlab/_kernels{part}.c" for part in ("", "_py_geometry", "_pass", "_norm", "_grid", "_pool")],
                    extra_compile_args=["-O3", "-fopenmp-simd", "-pthread"], extra_link_args=["-pthread"],
                    depends=pool + ["src/convlab/_kernels.h", "src/convlab/_kernels_py.h"], optional=True)
bf16 = Extension("convlab._sgemm_bf16", ["src/convlab/_sgemm_bf16.c", "src/convlab/_sgemm_bf16_kernel.c"],
                 extra_compile_args=["-O3", "-pthread"], extra_link_args=["-pthread"],
                 depends=pool + ["src/convlab/_sgemm_bf16.h"], optional=True)
cpu = Extension("convlab._cpu", ["src/convlab/_cpu.c"], extra_compile_args=["-O3", "-pthread"],
                extra_link_args=["-pthread"], optional=True)
setup(ext_modules=([gemm, bf16, cpu] if x86 and unix else []) + ([kernels] if unix else []))

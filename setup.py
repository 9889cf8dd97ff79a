"""Builds convlab's one optional compiled helper, the AVX-512 float32 GEMM (src/convlab/_sgemm.c).

Everything else is in pyproject.toml. The extension is optional: where it cannot be compiled (no
C compiler, not x86-64), pip installs convlab without it and convlab uses numpy.matmul.
"""

import platform

from setuptools import Extension, setup

x86 = platform.machine().lower() in ("x86_64", "amd64")
unix = platform.system() != "Windows"  # the kernel uses GCC/Clang target attributes
setup(ext_modules=[Extension("convlab._sgemm", ["src/convlab/_sgemm.c"], extra_compile_args=["-O3", "-pthread"],
                             extra_link_args=["-pthread"], optional=True)] if x86 and unix else [])

#!/usr/bin/env bash
# The project's two jobs, runnable on a fresh Debian/Ubuntu machine with Python 3.10+, pip and apt:
#   bash tasks.sh demo   install convlab (and Fashion-MNIST via apt) and train the default CNN
#   bash tasks.sh test   install the test dependencies and run the whole suite
#   bash tasks.sh mutation [MODULE...]   mutation testing (mutmut over the core modules, then the
#                        hand-seeded C mutants); hours of CPU, not part of CI (benchmarks/README.md)
set -euo pipefail
cd "$(dirname "$0")"
VENV=${CONVLAB_VENV:-.venv}

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else return 1; fi; }

ensure_venv() {
    if [ ! -x "$VENV/bin/python" ]; then
        # --system-site-packages reuses what the machine already has (numpy, torch, ...)
        if ! python3 -m venv --system-site-packages "$VENV" 2>/dev/null; then
            rm -rf "$VENV"
            command -v apt-get >/dev/null && as_root apt-get install -y python3-venv >/dev/null
            python3 -m venv --system-site-packages "$VENV"
        fi
    fi
    "$VENV/bin/python" -m pip install -q --upgrade pip >/dev/null 2>&1 || true
}

ensure_fashion_mnist() {
    local dir=/usr/share/datasets/fashion-mnist
    if [ -z "${CONVLAB_DATA:-}" ] && [ ! -e "$dir/train-images-idx3-ubyte.gz" ] && [ ! -e "$dir/train-images-idx3-ubyte" ] \
        && command -v apt-get >/dev/null; then
        echo "installing Fashion-MNIST (Debian package dataset-fashion-mnist)"
        as_root apt-get install -y dataset-fashion-mnist >/dev/null 2>&1 \
            || { as_root apt-get update >/dev/null 2>&1 && as_root apt-get install -y dataset-fashion-mnist >/dev/null; } \
            || echo "warning: could not install dataset-fashion-mnist; see 'convlab datasets'" >&2
    fi
}

ensure_mpi() {
    # the distributed tests launch 2 ranks with mpirun (Open MPI from the distribution)
    if ! command -v mpirun >/dev/null && command -v apt-get >/dev/null; then
        echo "installing Open MPI (Debian package openmpi-bin) for the distributed tests"
        as_root apt-get install -y openmpi-bin >/dev/null 2>&1 \
            || { as_root apt-get update >/dev/null 2>&1 && as_root apt-get install -y openmpi-bin >/dev/null; } \
            || echo "warning: could not install openmpi-bin" >&2
    fi
}

ensure_chromium() {
    # the explorer's browser tests drive Debian's headless Chromium (tests/explore/test_browser.py)
    if ! command -v chromium >/dev/null && command -v apt-get >/dev/null; then
        echo "installing Chromium (Debian package chromium) for the explorer's browser tests"
        as_root apt-get install -y chromium >/dev/null 2>&1 \
            || { as_root apt-get update >/dev/null 2>&1 && as_root apt-get install -y chromium >/dev/null; } \
            || echo "warning: could not install chromium" >&2
    fi
}

case "${1:-}" in
    demo)
        ensure_venv
        "$VENV/bin/python" -m pip install -q -e .
        ensure_fashion_mnist
        shift
        exec "$VENV/bin/convlab" train "$@"
        ;;
    test)
        ensure_venv
        ensure_fashion_mnist
        ensure_mpi
        ensure_chromium
        "$VENV/bin/python" -m pip install -q -e ".[dev,distributed]"
        shift
        "$VENV/bin/python" -m ruff check src tests benchmarks
        exec "$VENV/bin/python" -m pytest -n 2 -q "$@"
        ;;
    mutation)
        ensure_venv
        "$VENV/bin/python" -m pip install -q -e ".[dev,mutation]"
        shift
        if [ $# -eq 0 ]; then set -- --all; fi
        nice -n 19 "$VENV/bin/python" benchmarks/mutation.py "$@"
        exec nice -n 19 "$VENV/bin/python" benchmarks/c_mutants.py
        ;;
    *)
        echo "usage: bash tasks.sh demo|test|mutation [extra arguments]" >&2
        exit 2
        ;;
esac

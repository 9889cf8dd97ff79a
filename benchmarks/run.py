"""convlab vs torch: training steps, inference and peak memory, side by side in one run.

    python benchmarks/run.py --quick
    python benchmarks/run.py --json bench.json

A thin entry point: the benchmark lives in ``convlab.bench`` (also ``convlab bench``).
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))

from convlab.commands.bench import standalone  # noqa: E402

if __name__ == "__main__":
    sys.exit(standalone())

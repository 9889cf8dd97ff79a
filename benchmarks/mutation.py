"""Mutation testing of convlab's core modules with mutmut (not part of CI: it takes hours of CPU).

Each module runs in its own scratch copy of the checkout (``--scratch``, default
``/tmp/convlab-mutation/<module>``; the checkout itself is never touched), against the narrowest
test selection that covers it (``MODULES`` below), with mutmut's per-function test selection on
top. Run it under ``nice`` on a shared machine::

    nice -n 19 python benchmarks/mutation.py optim shapes          # some modules
    nice -n 19 python benchmarks/mutation.py --all --budget 1800   # every module, 30 min each at most
    python benchmarks/mutation.py --report                         # the score table of what has run
    python benchmarks/mutation.py --survivors optim                # the diffs of optim's survivors

The score is killed / (killed + survived + timeout + suspicious); mutants no test reaches count
as survivors ("no tests"). A run cut short by ``--budget`` leaves the rest "not checked" and the
table says how many; rerunning the same module resumes where it stopped. The compiled helpers'
hand-seeded mutants are ``benchmarks/c_mutants.py``. ``bash tasks.sh mutation`` runs both.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# module -> (files to mutate (globs under the checkout), the tests that cover them)
SWEEPS = ["--ignore=tests/ops/test_conv_sweep.py", "--ignore=tests/ops/test_pool_sweep.py"]  # minutes per mutant
MODULES = {
    "shapes": (["src/convlab/shapes.py"], ["tests/test_shapes.py"]),
    "optim": (["src/convlab/optim/*"], ["tests/optim"]),
    "functional": (["src/convlab/functional/*"], ["tests/ops/test_conv.py", "tests/ops/test_pool.py", "tests/nn",
                                                  "tests/ops/test_elementwise.py", "tests/ops/test_movement.py",
                                                  "tests/ops/test_reduce.py"]),
    "nn": (["src/convlab/nn/*"], ["tests/nn", "tests/models/test_blocks.py"]),
    "ops": (["src/convlab/ops/*"], ["tests/ops", *SWEEPS, "tests/nn/test_norm.py", "tests/nn/test_loss.py"]),
    "tensor": (["src/convlab/tensor*.py", "src/convlab/autograd.py", "src/convlab/tensor/*"],
               ["tests/test_tensor.py", "tests/test_tensor_hooks.py", "tests/ops/test_elementwise.py",
                "tests/ops/test_reduce.py", "tests/ops/test_movement.py"]),
    "data": (["src/convlab/data/*"], ["tests/data"]),
    "train": (["src/convlab/train/*"], ["tests/test_train.py", "tests/test_train_metrics.py"]),
}
SCORED = ("killed", "survived", "no tests", "timeout", "suspicious", "segfault")


def scratch_copy(module: str, scratch: Path) -> Path:
    """A fresh copy of the checkout's tracked files plus the built extensions, once per module."""
    dest = scratch / module
    if (dest / "pyproject.toml").exists():
        return dest  # resume
    dest.mkdir(parents=True, exist_ok=True)
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, check=True,
                           capture_output=True, text=True).stdout.split()
    files += [str(p.relative_to(ROOT)) for p in (ROOT / "src/convlab").glob("*.so")]
    for f in files:
        if (ROOT / f).is_file():
            (dest / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / f, dest / f)
    mutate, tests = MODULES[module]
    config = [
        "", "[tool.mutmut]",
        'source_paths = ["src"]',
        f"only_mutate = {json.dumps(mutate)}",
        f"pytest_add_cli_args_test_selection = {json.dumps(tests)}",
        'pytest_add_cli_args = ["-p", "no:cacheprovider", "-x", "-q", "-m", "not slow"]',
        "timeout_multiplier = 5.0",
        "",
    ]
    with open(dest / "pyproject.toml", "a") as f:
        f.write("\n".join(config))
    return dest


def run(module: str, scratch: Path, budget: float) -> None:
    dest = scratch_copy(module, scratch)
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MPLBACKEND="Agg")
    env.pop("PYTHONPATH", None)  # mutmut puts mutants/src first; the checkout's src must not win
    mutmut = str(Path(sys.executable).with_name("mutmut"))
    print(f"== {module}: mutmut run in {dest} (budget {budget:.0f} s)", flush=True)
    try:
        subprocess.run(["nice", "-n", "19", mutmut, "run", "--max-children", "1"], cwd=dest, env=env, timeout=budget)
    except subprocess.TimeoutExpired:
        print(f"== {module}: budget spent; the table counts what finished", flush=True)


def counts(module: str, scratch: Path) -> Counter:
    from mutmut.stats import status_by_exit_code

    c: Counter = Counter()
    for meta in (scratch / module / "mutants").rglob("*.py.meta"):
        for code in json.loads(meta.read_text())["exit_code_by_key"].values():
            c[status_by_exit_code[code]] += 1
    return c


def report(scratch: Path) -> None:
    print(f"{'module':<11}{'mutants':>8}{'killed':>8}{'survived':>9}{'no tests':>9}{'timeout':>8}{'unchecked':>10}{'score':>8}")
    total: Counter = Counter()
    for module in MODULES:
        c = counts(module, scratch)
        if not c:
            continue
        total += c
        print(_row(module, c))
    print(_row("overall", total))


def _row(name: str, c: Counter) -> str:
    checked = sum(c[k] for k in SCORED)
    killed = c["killed"] + c["timeout"] + c["segfault"]  # a mutant that hangs or crashes the tests is caught
    score = f"{100 * killed / checked:.1f}%" if checked else "-"
    return (f"{name:<11}{sum(c.values()):>8}{killed:>8}{c['survived']:>9}{c['no tests']:>9}{c['timeout']:>8}"
            f"{c['not checked']:>10}{score:>8}")


def survivors(module: str, scratch: Path) -> None:
    dest = scratch / module
    mutmut = str(Path(sys.executable).with_name("mutmut"))
    out = subprocess.run([mutmut, "results"], cwd=dest, capture_output=True, text=True).stdout
    for line in out.splitlines():
        name = line.strip().split(":")[0]
        if name:
            subprocess.run([mutmut, "show", name], cwd=dest)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("modules", nargs="*", choices=[*MODULES, []], help="modules to run (default: none)")
    ap.add_argument("--all", action="store_true", help="every module in MODULES")
    ap.add_argument("--budget", type=float, default=3600, help="seconds per module before the run is stopped")
    ap.add_argument("--scratch", type=Path, default=Path("/tmp/convlab-mutation"))
    ap.add_argument("--report", action="store_true", help="print the score table of the runs in --scratch")
    ap.add_argument("--survivors", metavar="MODULE", help="print the diff of every surviving mutant of MODULE")
    args = ap.parse_args()
    if args.survivors:
        return survivors(args.survivors, args.scratch)
    for module in MODULES if args.all else args.modules:
        run(module, args.scratch, args.budget)
    report(args.scratch)


if __name__ == "__main__":
    main()

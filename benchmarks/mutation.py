"""Mutation testing of convlab's core modules with mutmut (not part of CI: it takes hours of CPU).

Each module runs in its own scratch copy of the checkout (``--scratch``, default
``/tmp/convlab-mutation/<module>``; the checkout itself is never touched), against the narrowest
test selection that covers it (``MODULES`` below), with mutmut's per-function test selection on
top: each mutant runs only the tests that reach its function. Run it at low priority on a shared
machine::

    nice -n 19 python benchmarks/mutation.py ops --sample 400           # a seeded random sample
    nice -n 19 python benchmarks/mutation.py --all --budget 1800        # every mutant, 30 min a module at most
    nice -n 19 python benchmarks/mutation.py ops --recheck              # the survivors again, against today's tests
    python benchmarks/mutation.py --report                              # the score table of what has run
    python benchmarks/mutation.py --survivors ops                       # the diffs of ops' survivors

The score is killed / (killed + survived + timeout + suspicious); mutants no test reaches count
as survivors ("no tests"). ``--sample N`` runs N mutants drawn at random (``--seed``) from those
the selection reaches; the "no tests" ones are counted exactly, and the table gives the score with
Wilson's 95% interval. A run cut short by ``--budget`` leaves the rest "not checked"; rerunning
the same module resumes where it stopped. The compiled helpers' hand-seeded mutants are
``benchmarks/c_mutants.py``. ``bash tasks.sh mutation`` runs both.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# module -> (files to mutate (globs under the checkout), the tests that cover them)
SWEEPS = ["--ignore=tests/ops/test_conv_sweep.py", "--ignore=tests/ops/test_pool_sweep.py"]  # minutes per mutant
TENSOR = ["tensor.py", "tensor_class.py", "graph.py", "creation.py", "methods.py", "math.py", "math_movement.py",
          "_operands.py", "grad_mode.py",
          "autograd.py"]
MODULES = {
    "ops": (["src/convlab/ops/*"], ["tests/ops", *SWEEPS, "tests/nn/test_norm.py", "tests/nn/test_loss.py",
                                    "tests/compat/test_more_math.py"]),
    "functional": (["src/convlab/functional/*"], ["tests/ops/test_conv.py", "tests/ops/test_pool.py", "tests/nn",
                                                  "tests/ops/test_elementwise.py", "tests/ops/test_movement.py",
                                                  "tests/ops/test_reduce.py", "tests/ops/test_resample.py",
                                                  "tests/compat/test_nn_extras.py"]),
    "nn": (["src/convlab/nn/*"], ["tests/nn", "tests/models/test_blocks.py", "tests/compat/test_nn_extras.py",
                                  "tests/ops/test_more_ops.py", "tests/ops/test_resample.py",
                                  "tests/compat/test_more_math.py", "tests/test_validate_decorators.py"]),
    "optim": (["src/convlab/optim/*"], ["tests/optim"]),
    "tensor": ([f"src/convlab/{f}" for f in TENSOR],
               ["tests/test_tensor.py", "tests/test_tensor_hooks.py", "tests/test_tensor_structure.py",
                "tests/test_creation_contract.py", "tests/test_tensor_contract.py", "tests/test_tensor_methods_vs_torch.py",
                "tests/compat/test_tensor_repr.py",
                "tests/compat/test_protocol.py", "tests/ops/test_elementwise.py", "tests/ops/test_reduce.py",
                "tests/ops/test_movement.py",
                # counts the lines of the (mutated, so much longer) source files
                "--deselect=tests/test_tensor_structure.py::test_each_core_file_stays_small"]),
    "shapes": (["src/convlab/shapes.py"], ["tests/test_shapes.py", "tests/test_shapes_contract.py",
                                           "tests/test_seed_worked_examples.py", "tests/ops/test_conv.py",
                                           "tests/ops/test_pool.py", "tests/nn/test_layers.py",
                                           "tests/robustness/test_bad_inputs_conv.py", "tests/demos/test_geometry_demos.py"]),
    # (the Ctrl-C test reads the loader generator's frame locals, which mutmut's trampoline hides)
    "data": (["src/convlab/data/*"], ["tests/data", "tests/compat/test_utils_data.py",
                                      "--deselect=tests/compat/test_utils_data.py::test_ctrl_c_leaves_no_orphan_processes"]),
    "train": (["src/convlab/train/*"], ["tests/train", "tests/test_train.py", "tests/test_train_metrics.py",
                                        "tests/test_train_tensorboard.py", "tests/test_train_ema_tta.py",
                                        # 15 s of torch twin training per mutant; the other EMA tests check its values
                                        "--deselect=tests/test_train_ema_tta.py::test_the_torch_twins_weight_average_is_convlabs"]),
}
# Functions called once at import, building the functions bound onto Tensor (its operators, in-place
# forms, new_*/*_like). mutmut traces which test reaches each function and credits an import-time
# call to whichever test happened to trigger the import, so their mutants would run one arbitrary
# test; they are given every test of the selection instead (``_map_import_time``).
IMPORT_TIME = {
    "tensor": ["convlab.math.x__compare", "convlab.math.x__rev", "convlab.methods.x__augmented",
               "convlab.methods.x__binary_", "convlab.methods.x__new", "convlab.creation.x__like"],
    "shapes": ["convlab.shapes.x__memoized"],  # wraps conv_geometry/pool_geometry in their cache at import
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
    _configure(module, dest)
    return dest


def _configure(module: str, dest: Path) -> None:
    """The checkout's pyproject.toml with mutmut's settings for ``module`` (its files and tests)."""
    mutate, tests = MODULES[module]
    config = [
        "", "[tool.mutmut]",
        'source_paths = ["src"]',
        f"only_mutate = {json.dumps(mutate)}",
        f"pytest_add_cli_args_test_selection = {json.dumps(tests)}",
        'pytest_add_cli_args = ["-p", "no:cacheprovider", "-x", "-q", "-m", "not slow"]',
        "timeout_multiplier = 5.0",
        # mutmut's CPU limit is (tests' recorded call time + this) * multiplier * 2; a test whose work is
        # in a fixture's setup records ~0 s, so the floor of 10 CPU-s killed it as a "timeout" (train: 22 of 33)
        "timeout_constant = 10.0",
        # each mutant in a process that imports convlab afresh: forked from mutmut's own process (its
        # default), a mutant never reaches what convlab built at import (Tensor's operators) or cached
        # (lru_cache'd geometry and windows) during mutmut's clean run, and survives unseen
        'process_isolation = "forkserver"',
        'forkserver_warmup = "import"',
        'preload_modules_file = "mutmut-preload.txt"',  # what the tests import that is not mutated
        "",
    ]
    (dest / "pyproject.toml").write_text((ROOT / "pyproject.toml").read_text() + "\n".join(config))
    (dest / "mutmut-preload.txt").write_text("numpy\npytest\ntorch\n")


MAP_IMPORT_TIME = """
import sys
from mutmut.__main__ import (collect_or_load_stats, copy_also_copy_files, copy_src_dir, create_mutants,
                             get_mutant_runner, save_stats, set_mutant_under_test, setup_source_paths, state,
                             store_lines_covered_by_tests)
import os
set_mutant_under_test("mutant_generation")
os.makedirs("mutants", exist_ok=True)
copy_src_dir(); copy_also_copy_files(); setup_source_paths(); store_lines_covered_by_tests(); create_mutants(1)
collect_or_load_stats(get_mutant_runner(1), apply_config_invalidation=True)
every = sorted(state().duration_by_test)
for name in sys.argv[1:]:
    state().tests_by_mangled_function_name[name] = set(every)
save_stats()
"""


def _map_import_time(module: str, dest: Path) -> None:
    """Bring mutmut's test map up to date, then give the module's import-time functions every test."""
    if module in IMPORT_TIME:
        out = subprocess.run([sys.executable, "-c", MAP_IMPORT_TIME, *IMPORT_TIME[module]], cwd=dest, env=_env(),
                             capture_output=True, text=True)
        if out.returncode:
            sys.exit(f"{module}: mutmut's test map failed (a test fails unmutated?):\n{out.stdout[-4000:]}")


GENERATE = """
from mutmut.__main__ import (copy_also_copy_files, copy_src_dir, create_mutants, set_mutant_under_test,
                             setup_source_paths, store_lines_covered_by_tests)
import os
set_mutant_under_test("mutant_generation")
os.makedirs("mutants", exist_ok=True)
copy_src_dir(); copy_also_copy_files(); setup_source_paths(); store_lines_covered_by_tests(); create_mutants(1)
"""


def _env() -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MPLBACKEND="Agg")
    env.pop("PYTHONPATH", None)  # mutmut puts mutants/src first; the checkout's src must not win
    return env


def _mutmut() -> str:
    return str(Path(sys.executable).with_name("mutmut"))


def estimates(dest: Path) -> dict[str, float | None]:
    """Every mutant of the module -> the seconds its tests take, None where no selected test reaches it.

    Generates the mutants and runs mutmut's traced pass over the selection (once; both are kept)."""
    cache = dest / "estimates.json"
    if not cache.exists():
        subprocess.run([sys.executable, "-c", GENERATE], cwd=dest, env=_env(), check=True)
        # `mutmut run` puts mutants/src first on sys.path itself; print-time-estimates does not
        env = dict(_env(), PYTHONPATH=str(dest / "mutants" / "src"))
        out = subprocess.run([_mutmut(), "print-time-estimates"], cwd=dest, env=env, check=True,
                             capture_output=True, text=True).stdout
        est = {}
        for line in out.splitlines():
            if line.startswith("<no tests> "):
                est[line.split()[-1]] = None
            elif line.endswith(tuple("0123456789")) and "ms " in line:
                t, name = line.split()
                est[name] = int(t[:-2]) / 1000
        cache.write_text(json.dumps(est, indent=0))
    return json.loads(cache.read_text())


def run(module: str, scratch: Path, budget: float, sample: int | None, seed: int) -> None:
    dest = scratch_copy(module, scratch)
    names: list[str] = []
    if sample:
        est = estimates(dest)
        tested = sorted(k for k, v in est.items() if v is not None)
        chosen = sorted(random.Random(seed).sample(tested, min(sample, len(tested))))
        (dest / "sample.json").write_text(json.dumps(chosen))
        done = exit_codes(dest)
        names = [n for n in chosen if done.get(n) is None]
        print(f"== {module}: {len(est)} mutants, {len(tested)} reached by the selection; sample of {len(chosen)} "
              f"(seed {seed}), {len(names)} to run", flush=True)
        if not names:
            return
    print(f"== {module}: mutmut run in {dest} (budget {budget:.0f} s)", flush=True)
    _map_import_time(module, dest)
    try:
        subprocess.run([_mutmut(), "run", "--max-children", "1", *names], cwd=dest, env=_env(), timeout=budget,
                       stdout=subprocess.DEVNULL if names else None)
    except subprocess.TimeoutExpired:
        print(f"== {module}: budget spent; the table counts what finished", flush=True)


def exit_codes(dest: Path) -> dict[str, int | None]:
    codes: dict[str, int | None] = {}
    for meta in (dest / "mutants").rglob("*.py.meta"):
        codes.update(json.loads(meta.read_text())["exit_code_by_key"])
    return codes


def counts(module: str, scratch: Path) -> Counter:
    from mutmut.stats import status_by_exit_code

    return Counter(status_by_exit_code[code] for code in exit_codes(scratch / module).values())


def sampled(module: str, scratch: Path) -> str | None:
    """The sampled module's row: no-tests mutants counted exactly, the reached ones estimated from the sample."""
    from mutmut.stats import status_by_exit_code

    dest = scratch / module
    if not (dest / "sample.json").exists():
        return None
    est = json.loads((dest / "estimates.json").read_text())
    codes = exit_codes(dest)
    chosen = json.loads((dest / "sample.json").read_text())
    c = Counter(status_by_exit_code[codes.get(n)] for n in chosen)
    n_all, n_none = len(est), sum(v is None for v in est.values())
    killed = c["killed"] + c["timeout"] + c["segfault"]
    checked = killed + c["survived"] + c["suspicious"]
    if not checked:
        return f"{module:<11}{n_all:>8}{n_none:>9}{len(chosen):>8}{0:>8}"
    # killed among the reached: Wilson's 95% interval on the sample, then scaled by the reached share
    p, z = killed / checked, 1.96
    centre = (p + z * z / (2 * checked)) / (1 + z * z / checked)
    half = z * math.sqrt(p * (1 - p) / checked + z * z / (4 * checked * checked)) / (1 + z * z / checked)
    share = (n_all - n_none) / n_all
    return (f"{module:<11}{n_all:>8}{n_none:>9}{len(chosen):>8}{checked:>8}{killed:>8}{c['survived']:>9}"
            f"{100 * p * share:>8.1f}%  [{100 * (centre - half) * share:.1f}, {100 * (centre + half) * share:.1f}]")


def report(scratch: Path) -> None:
    rows = [r for r in (sampled(m, scratch) for m in MODULES) if r]
    if rows:
        print("sampled: no-tests mutants counted exactly (survivors); the score of the reached ones from a random sample")
        print(f"{'module':<11}{'mutants':>8}{'no tests':>9}{'sample':>8}{'checked':>8}{'killed':>8}{'survived':>9}"
              f"{'score':>9}  95% interval")
        print("\n".join(rows))
        print()
    print(f"{'module':<11}{'mutants':>8}{'killed':>8}{'survived':>9}{'no tests':>9}{'timeout':>8}{'unchecked':>10}{'score':>8}")
    total: Counter = Counter()
    for module in MODULES:
        if (scratch / module / "sample.json").exists():
            continue
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
    """The diff of every surviving mutant (of the sample, where the module was sampled)."""
    from mutmut.stats import status_by_exit_code

    dest = scratch / module
    codes = exit_codes(dest)
    if (dest / "sample.json").exists():
        codes = {n: codes.get(n) for n in json.loads((dest / "sample.json").read_text())}
    for name, code in sorted(codes.items()):
        if status_by_exit_code[code] == "survived":
            subprocess.run([_mutmut(), "show", name], cwd=dest)


def recheck(module: str, scratch: Path, budget: float) -> None:
    """Bring the checkout's changed tests and sources into the module's scratch copy and rerun the
    sample's survivors against them (mutmut regenerates only the changed files' mutants, so the
    others keep their names)."""
    from mutmut.stats import status_by_exit_code

    dest = scratch / module
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "tests", "src"], cwd=ROOT, check=True,
                           capture_output=True, text=True).stdout.split()
    files += [str(p.relative_to(ROOT)) for p in (ROOT / "src/convlab").glob("*.so")]  # rebuilt helpers too
    for f in files:
        if (ROOT / f).is_file() and (not (dest / f).exists() or (dest / f).read_bytes() != (ROOT / f).read_bytes()):
            (dest / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / f, dest / f)
    for so in (ROOT / "src/convlab").glob("*.so"):  # mutmut does not refresh its own copy of these
        if (dest / "mutants/src/convlab").is_dir():
            shutil.copy2(so, dest / "mutants/src/convlab" / so.name)
    _configure(module, dest)  # today's test selection (a changed selection makes mutmut recheck every mutant)
    _map_import_time(module, dest)
    codes = exit_codes(dest)
    chosen = json.loads((dest / "sample.json").read_text()) if (dest / "sample.json").exists() else list(codes)
    # survivors, those a changed source file or test selection left unchecked, and timeouts (a CPU
    # limit hit under load is not a kill; a real hang times out again)
    names = [n for n in chosen if status_by_exit_code[codes.get(n)] in ("survived", "not checked", "timeout")]
    print(f"== {module}: rechecking {len(names)} survivors and unchecked mutants", flush=True)
    if names:
        try:
            subprocess.run([_mutmut(), "run", "--max-children", "1", *names], cwd=dest, env=_env(), timeout=budget,
                           stdout=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            print(f"== {module}: budget spent", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("modules", nargs="*", choices=[*MODULES, []], help="modules to run (default: none)")
    ap.add_argument("--all", action="store_true", help="every module in MODULES")
    ap.add_argument("--budget", type=float, default=3600, help="seconds per module before the run is stopped")
    ap.add_argument("--sample", type=int, metavar="N", help="run a random sample of N of the mutants the tests reach")
    ap.add_argument("--seed", type=int, default=0, help="the sample's seed")
    ap.add_argument("--scratch", type=Path, default=Path("/tmp/convlab-mutation"))
    ap.add_argument("--report", action="store_true", help="print the score table of the runs in --scratch")
    ap.add_argument("--survivors", metavar="MODULE", help="print the diff of every surviving mutant of MODULE")
    ap.add_argument("--recheck", action="store_true",
                    help="rerun the survivors of the given modules against the checkout's current tests")
    args = ap.parse_args()
    if args.survivors:
        return survivors(args.survivors, args.scratch)
    for module in MODULES if args.all else args.modules:
        if args.recheck:
            recheck(module, args.scratch, args.budget)
            continue
        run(module, args.scratch, args.budget, args.sample, args.seed)
    report(args.scratch)


if __name__ == "__main__":
    main()

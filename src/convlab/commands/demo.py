"""``convlab demo NAME``: run one of the seeds' experiments, print its numbers, write its figures.

    convlab demo --list
    convlab demo learned-kernel --seed 7 --out figs/
    convlab demo all
"""

from __future__ import annotations

import inspect
import pathlib


def register(subparsers):
    from .. import validate
    from ..cli import add_common, add_output

    p = subparsers.add_parser("demo", help="run one of the seeds' experiments (figures + printed numbers)",
                              description="Run a seed experiment: prints its numbers and writes PNG figures "
                                          "into --out (default: a new folder runs/demo-NNN; with 'all', one "
                                          "sub-folder per demo).")
    add_common(p)
    add_output(p, "demo", "figures")
    p.add_argument("name", nargs="?", help="demo name (see --list), or 'all'")
    p.add_argument("--list", action="store_true", help="list the demos and exit")
    p.add_argument("--seed", type=int, help="random seed (learned-kernel: 7 reproduces seed 000)")
    p.add_argument("--steps", type=validate.cli_int(1, 1_000_000), help="learned-kernel: training steps (default 600)")
    p.add_argument("--epochs", type=validate.cli_int(1, 10_000), help="edge-kernel: epochs (default 10)")
    p.add_argument("--init", choices=["seed", "random"], help="edge-kernel: initial kernel (default seed)")
    p.add_argument("--no-figures", action="store_true", help="print the numbers only")
    p.set_defaults(func=main)
    return p


def main(args) -> int:
    from .. import demos
    from ..cli import UsageError, output_dir

    if args.list or not args.name:
        if not args.list:
            raise UsageError("name a demo (see 'convlab demo --list')")
        for name in demos.DEMOS:
            mod = demos.get(name)
            print(f"{name:26s} seed {mod.SEED_SOURCE}: {mod.SUMMARY}")
        return 0
    names = list(demos.DEMOS) if args.name == "all" else [args.name]
    for name in names:  # every name checked before anything is written
        try:
            demos.get(name)
        except KeyError as exc:
            raise UsageError(exc.args[0]) from None
    quiet = getattr(args, "quiet", False)
    say = (lambda *a, **k: None) if quiet else print
    root = None if args.no_figures else pathlib.Path(output_dir(args, "demo"))
    for name in names:
        try:
            module = demos.get(name)
        except KeyError as exc:
            raise UsageError(exc.args[0]) from None
        accepted = inspect.signature(module.run).parameters
        options = {k: getattr(args, k) for k in ("seed", "steps", "epochs", "init") if getattr(args, k) is not None}
        unknown = [k for k in options if k not in accepted]
        if unknown and args.name != "all":
            raise UsageError(f"demo {module.NAME} takes no --{', --'.join(unknown)}")
        options = {k: v for k, v in options.items() if k in accepted}
        out = None if root is None else root / module.NAME if args.name == "all" else root
        say(f"== {module.NAME}: seed {module.SEED_SOURCE}")
        result = demos.run(module.NAME, out, log=say, figures=not args.no_figures, **options)
        for path in result.get("figures", []):
            print(f"figure: {path}" if not quiet else str(path))
    return 0

"""``convlab bench``: training and inference throughput and peak memory, convlab vs torch.

    convlab bench --quick                    # lenet5, smallcnn, resnet20; < 2 minutes
    convlab bench --json bench.json          # all models, markdown table + JSON file
    convlab bench --models lenet5 --threads 1

Both libraries run in the same process, interleaved, on the same thread count; see
:mod:`convlab.bench` for what is measured and how.
"""

from __future__ import annotations

import argparse
import pathlib
import sys


def add_arguments(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    from .. import validate

    p.add_argument("--quick", action="store_true", help="fewer repeats, no resnet18 (finishes in under 2 minutes)")
    p.add_argument("--json", metavar="OUT", help="write the machine-readable result here")
    p.add_argument("--models", help="comma-separated model names (default: lenet5,smallcnn,resnet20,resnet18)")
    p.add_argument("--threads", type=validate.cli_int(1, 64), help="threads for convlab (its pools and NumPy's BLAS) and torch "
                   "(default: convlab.get_num_threads(), the cores this process may use)")
    p.add_argument("--repeats", type=validate.cli_int(1, 1000), help="timed repeats per measurement (median reported)")
    p.add_argument("--batch", type=validate.cli_int(1), help="training batch for every model (default: each model's own)")
    p.add_argument("--no-memory", action="store_true", help="skip the peak-memory subprocesses")
    p.add_argument("--no-conv", action="store_true", help="skip benchmarks/conv.py's per-layer suite")
    p.add_argument("--no-torch", action="store_true", help="time convlab alone")
    p.add_argument("--no-scaling", action="store_true", help="skip the 1..N-thread scaling table and its check")
    return p


def register(subparsers):
    from ..cli import add_common

    p = subparsers.add_parser("bench", help="training/inference throughput and memory vs torch",
                              description="Time convlab against torch (same process, interleaved, same threads, "
                                          "median of repeats) and print a markdown table.")
    add_common(p)
    add_arguments(p)
    p.add_argument("--force", action="store_true", help="write over an existing --json file")
    p.set_defaults(func=main)
    return p


def main(args) -> int:
    from .. import bench
    from ..cli import UsageError
    from ..files import write_json

    if args.json:  # checked before the minutes of timing, not after
        target = pathlib.Path(args.json)
        if target.exists() and not getattr(args, "force", False):
            raise UsageError(f"--json {target} already exists; pass --force to write over it")
        if not target.parent.is_dir():
            raise UsageError(f"--json {target}: the folder {target.parent} does not exist")
    names = None
    if args.models:
        names = [n.strip() for n in args.models.split(",") if n.strip()]
        unknown = [n for n in names if n not in bench.MODELS]
        if unknown or not names:
            raise UsageError(f"--models: unknown model(s) {', '.join(unknown) or '(none given)'}; "
                             f"choose from {', '.join(bench.MODELS)}")
    for opt in ("threads", "repeats", "batch"):
        value = getattr(args, opt)
        if value is not None and value < 1:
            raise UsageError(f"--{opt} must be a positive integer, got {value}")
    quiet = getattr(args, "quiet", False)
    log = None if quiet else (lambda s: print(s, file=sys.stderr, flush=True))
    result = bench.run(quick=args.quick, models=names, threads=args.threads, repeats=args.repeats, batch=args.batch,
                       memory=not args.no_memory, conv=not args.no_conv, scaling=not args.no_scaling,
                       use_torch=False if args.no_torch else None,
                       log=log)
    print(bench.format_markdown(result))
    if args.json:
        path = pathlib.Path(args.json)
        write_json(path, result)
        if not quiet:
            print(f"\nwrote {path}", file=sys.stderr)
    return 0


def standalone(argv=None) -> int:
    """``python benchmarks/run.py`` / ``python -m convlab.bench``: the same options, no subcommand."""
    from ..cli import UsageError

    parser = argparse.ArgumentParser(prog="benchmarks/run.py", description=__doc__.split("\n")[0])
    parser.add_argument("--quiet", "-q", action="store_true")
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return main(args)
    except UsageError as exc:
        print(f"{parser.prog}: {exc}", file=sys.stderr)
        return 2

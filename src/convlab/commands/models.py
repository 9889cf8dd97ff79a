"""``convlab models``: the model zoo with parameter counts and input sizes, and the training
recipes of ``convlab train --recipe NAME``.

    convlab models
    convlab models --build      (construct every model and count its parameters: slow, the VGGs are big)
"""

from __future__ import annotations


def register(subparsers):
    from ..cli import add_common

    p = subparsers.add_parser(
        "models", help="list the model zoo with parameter counts",
        description="List every model of convlab.models with its parameter count (default in_channels and "
                    "num_classes), the input size it is designed for, and a one-line description; then the named "
                    "training recipes of convlab train --recipe NAME.")
    add_common(p)
    p.add_argument("--build", action="store_true",
                   help="construct each model and count its parameters instead of printing the registered figure")
    p.set_defaults(func=main)
    return p


def main(args) -> int:
    from .. import models
    from ..cli import plain

    quiet = getattr(args, "quiet", False)
    rows = []
    for name in models.list():
        info = models.info(name)
        params = info.params
        if args.build:
            params = sum(p.numel() for p in models.get(name).parameters())
        if quiet:
            print(name)
            continue
        doc = plain((info.factory.__doc__ or "").strip().splitlines()[0].split("; see")[0].rstrip("."))
        rows.append((name, f"{params:,}", "x".join(str(v) for v in info.input_size), doc))
    if not quiet:
        header = ("model", "params", "input", "description")
        widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]
        for r in [header, *rows]:
            print(f"{r[0]:<{widths[0]}}  {r[1]:>{widths[1]}}  {r[2]:<{widths[2]}}  {r[3]}".rstrip())
        from ..train.recipes import RECIPES, describe

        print("\nrecipes (convlab train --recipe NAME; flags written after it override it):")
        width = max(len(name) for name in RECIPES)
        for name, (purpose, _) in RECIPES.items():
            print(f"{name:<{width}}  {purpose}\n{'':<{width}}  = {describe(name)}")
    return 0

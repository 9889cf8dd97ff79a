"""``convlab datasets``: which datasets are installed where, and how to get the missing ones."""

from __future__ import annotations


def register(subparsers):
    from ..cli import add_common

    p = subparsers.add_parser(
        "datasets", help="which datasets are installed where",
        description="List the datasets convlab train knows, where their files were found (or where they were "
                    "looked for), and how to install the missing ones. $CONVLAB_DATA is searched first.")
    add_common(p)
    p.set_defaults(func=main)
    return p


def main(args) -> int:
    import os

    from ..data import catalog

    rows = catalog.installed()
    quiet = getattr(args, "quiet", False)
    for row in rows:
        if quiet:
            if row["path"]:
                print(f"{row['name']}\t{row['path']}")
            continue
        if row["path"]:
            print(f"{row['name']:<14} installed: {row['path']}")
        else:
            where = ", ".join(row["searched"]) or "(no root given and $CONVLAB_DATA is not set)"
            print(f"{row['name']:<14} not found; looked in {where}\n{'':<15}{row['hint']}")
    if not quiet:
        print(f"{'lines':<14} built in: seed 000's horizontal vs vertical one-pixel lines (8x8)")
        print(f"{'edges-orientation':<14} built in: seed 002's vertical vs horizontal edge bands (8x8)")
        print(f"{'folder:PATH':<14} any directory of class folders of images (PATH/CLASS/IMAGE.png)")
        print(f"$CONVLAB_DATA is {os.environ.get('CONVLAB_DATA') or 'not set'}")
    return 0

"""The ``convlab`` command. Each subcommand lives in its own function and registers its
arguments in :func:`build_parser`; errors become one-line messages and exit codes
(0 success, 1 runtime error, 2 usage error), with a traceback only under ``--debug``."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from . import __version__


class UsageError(Exception):
    """A bad command line (exit code 2)."""


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors: ``convlab train: error: ...`` and exit code 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def add_common(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Options every subcommand accepts: ``--debug`` (tracebacks) and ``--quiet``."""
    parser.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show full tracebacks on errors")
    parser.add_argument("--quiet", "-q", action="store_true", default=argparse.SUPPRESS, help="print only the result")
    return parser


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="convlab",
        description="convlab: convolutional neural networks from scratch on NumPy.",
    )
    parser.add_argument("--version", action="version", version=f"convlab {__version__}")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    parser.add_argument("--quiet", "-q", action="store_true", help="print only the result")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    from . import commands

    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):  # shared helpers of the commands, not commands
            continue
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except UsageError as exc:
        print(f"convlab {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("convlab: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # one line for users; --debug for the traceback
        if args.debug:
            raise
        print(f"convlab {args.command}: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

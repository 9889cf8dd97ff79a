"""The ``convlab`` command. Each subcommand lives in its own function and registers its
arguments in :func:`build_parser`; errors become one-line messages and exit codes
(0 success, 1 runtime error, 2 usage error), with a traceback only under ``--debug``."""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import re
import sys

from . import __version__, validate


class UsageError(Exception):
    """A bad command line (exit code 2)."""


# every ``type=int`` flag is a count (refused below 0), every ``type=float`` finite (no NaN or
# inf): a flag gets these checks at parse time unless its command asks for tighter ones
_DEFAULT_TYPES = {int: validate.cli_int(min=0), float: validate.cli_float()}


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors: ``convlab train: error: ...`` and exit code 2; int and
    float flags validated at parse time by :mod:`convlab.validate`'s argparse types."""

    def _get_value(self, action, arg_string):
        if action.type in _DEFAULT_TYPES:
            action.type = _DEFAULT_TYPES[action.type]
        return super()._get_value(action, arg_string)

    def error(self, message):
        # "argument -k/--kernel: must be ..." (a validator's words) -> "--kernel must be ..."
        message = re.sub(r"^argument (?:\S+/)?(\S+): (?=must be|expected)", r"\1 ", message) or "invalid command line"
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def add_common(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Options every subcommand accepts: ``--debug`` (tracebacks), ``--quiet`` and ``--progress``/``--no-progress``."""
    parser.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show full tracebacks on errors")
    parser.add_argument("--quiet", "-q", action="store_true", default=argparse.SUPPRESS, help="print only the result")
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                        help="progress bars on the terminal (default: when stderr is a terminal and not --quiet)")
    return parser


def add_output(parser: argparse.ArgumentParser, command: str, what: str = "files") -> argparse.ArgumentParser:
    """``--out DIR`` (default: a new ``runs/<command>-NNN``) and ``--force``, the convention of every
    command that writes files: an existing folder with files in it is only written into with ``--force``."""
    parser.add_argument("--out", default=None, metavar="DIR", help=f"folder for the {what} (default: a new runs/{command}-NNN)")
    parser.add_argument("--force", action="store_true", help="write into --out even if it already holds files")
    return parser


def output_dir(args, command: str) -> str:
    """The folder a command writes into (see :func:`add_output`); a folder holding files without
    ``--force`` is a :class:`UsageError`."""
    from .train.run import prepare_out_dir

    try:
        return prepare_out_dir(getattr(args, "out", None), command, getattr(args, "force", False))
    except FileExistsError as exc:
        raise UsageError(str(exc)) from None


def top5_text(result: dict, n_classes: int, sep: str = ", ") -> str:
    """``", top-5 98.10%"`` for a result with ``top5``; empty with five classes or fewer, where
    the top five always hold the answer and 100% would say nothing."""
    if n_classes <= 5 or result.get("top5") is None:
        return ""
    return f"{sep}top-5 {100 * result['top5']:.2f}%"


def plain(text: str) -> str:
    """reStructuredText roles and literals as plain words: ``:class:`~a.B``` -> ``B``, ````x```` -> ``x``."""
    import re

    text = re.sub(r":[a-z]+:`~?(?:[\w.]+\.)?([^`]+?)`", lambda m: m.group(1).split(".")[-1] if "~" in m.group(0)
                  else m.group(1), text)
    return re.sub(r"``([^`]+)``", r"\1", text)


# the library's words for its Python callers -> the command line's
_CLI_WORDS = (("convlab.models.list()", "convlab models"), ("or pass root=DIR", "or give --data-root DIR"),
              ("pass root=DIR", "give --data-root DIR"))


def cli_words(message: str) -> str:
    """An error message in the command line's words (flags, commands) instead of Python's."""
    for python, cli in _CLI_WORDS:
        message = message.replace(python, cli)
    return message


class _QuietPipe:
    """stdout that, once the reader has gone (``convlab datasets | head -4``), drops what follows
    instead of raising, so the command still finishes its files and exits normally."""

    def __init__(self, stream):
        self._stream, self.closed_pipe = stream, False

    def write(self, text):
        if self.closed_pipe:
            return len(text)
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            self._close()
            return len(text)

    def flush(self):
        if not self.closed_pipe:
            try:
                self._stream.flush()
            except BrokenPipeError:
                self._close()

    def _close(self):
        import os

        self.closed_pipe = True
        try:  # the interpreter's final flush must not fail either
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self._stream.fileno())
        except (OSError, ValueError):
            pass

    def __getattr__(self, name):
        return getattr(self._stream, name)


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
    for sub in subparsers.choices.values():  # help in plain words, whatever the docstrings use
        sub.description = plain(sub.description) if sub.description else sub.description
        for action in sub._actions:
            if isinstance(action.help, str):
                action.help = plain(action.help)
    for action in subparsers._choices_actions:
        if isinstance(action.help, str):
            action.help = plain(action.help)
    return parser


def _printable_streams() -> None:
    """A file name that is not valid UTF-8 (``caf\\xe9.png``) reaches Python as a surrogate escape;
    printing it to a strict UTF-8 terminal would fail at the end of a run. Such characters are
    printed as ``\\udce9`` instead, whatever the locale."""
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure") and getattr(stream, "errors", "") == "strict":
            try:
                stream.reconfigure(errors="backslashreplace")
            except (ValueError, OSError):  # pragma: no cover - a stream that cannot change
                pass


def main(argv: list[str] | None = None) -> int:
    _printable_streams()
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # a usage error (2) or --help/--version (0): returned like any other outcome
        return exc.code if isinstance(exc.code, int) else 2
    args.argv = list(sys.argv[1:] if argv is None else argv)  # what was written (resume tells given flags apart)
    if args.command is None:
        parser.print_help()
        return 0
    stdout = sys.stdout
    if not isinstance(stdout, _QuietPipe):
        sys.stdout = _QuietPipe(stdout)
    try:
        return int(args.func(args) or 0)
    except UsageError as exc:
        _say(f"convlab {args.command}: {cli_words(describe(exc))}")
        return 2
    except KeyboardInterrupt:
        _say("convlab: interrupted")
        return 130
    except Exception as exc:  # one line for users; --debug for the traceback
        if args.debug:
            raise
        _say(f"convlab {args.command}: error: {cli_words(describe(exc))}")
        return 1
    finally:
        if sys.stdout is not stdout and isinstance(sys.stdout, _QuietPipe):
            sys.stdout.flush()
            sys.stdout = stdout


def describe(exc: BaseException) -> str:
    """One line that always says something: the message, or the error's kind when it has none
    (``KeyError: 'x'``, ``MemoryError``, ``RecursionError: nested too deeply``)."""
    text = " ".join(str(exc).split())
    if isinstance(exc, RecursionError):
        return "RecursionError: the input is nested too deeply"
    if isinstance(exc, OSError) and exc.filename is not None and exc.strerror:
        # "[Errno 2] No such file or directory: 'x.png'" -> "x.png: no such file or directory"
        name = os.fsdecode(exc.filename) if isinstance(exc.filename, (str, bytes, os.PathLike)) else str(exc.filename)
        return f"{name}: {exc.strerror[:1].lower()}{exc.strerror[1:]}"
    if isinstance(exc, MemoryError) and not isinstance(exc, validate.ConvlabError):
        return f"MemoryError: not enough memory{': ' + text if text else ''}"
    if isinstance(exc, (ValueError, RuntimeError, OSError, UsageError)) and text and not isinstance(exc, KeyError):
        return text
    return f"{type(exc).__name__}: {text}" if text else f"{type(exc).__name__} (no message; rerun with --debug)"


def _say(line: str) -> None:
    """Print to stderr even when the line holds undecodable file names (lone surrogates)."""
    stream = sys.stderr
    encoding = getattr(stream, "encoding", None) or "utf-8"
    print(line.encode(encoding, "backslashreplace").decode(encoding, "replace"), file=stream)


if __name__ == "__main__":  # pragma: no cover - `python -m convlab.cli`
    # run the installed module's main, not this __main__ copy: the commands raise
    # convlab.cli.UsageError, which a second copy of this module would not recognise (exit 1, not 2)
    from convlab.cli import main as _main

    sys.exit(_main())

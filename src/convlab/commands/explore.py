"""``convlab explore [CKPT | RUN_DIR]``: the interactive explorer in the browser.

    convlab explore runs/train-001                 a run folder (its last checkpoint and its log)
    convlab explore runs/train-001/best.safetensors --open
    convlab explore runs/train-002 --port 8765     a run still being written: kernels and curves update

Serves on 127.0.0.1 (a free port unless --port) until Ctrl-C; ``--host`` binds another address
only when asked. Needs the optional extra: ``pip install 'convlab[explore]'``.
"""

from __future__ import annotations

import os


def register(subparsers):
    from ..cli import add_common

    p = subparsers.add_parser(
        "explore", help="an interactive page in the browser: the model, feature maps, receptive fields, kernels, "
                        "the convolution sandbox and the training run",
        description="Start a local web server for a checkpoint or a run folder of convlab train and print its URL. "
                    "The page shows the model's layers, an image's feature maps (a test item or an upload), one "
                    "output cell's receptive field and formula, the kernels, a convolution sandbox and the run's "
                    "curves with the first layer's kernels as they change. Ctrl-C stops it.")
    add_common(p)
    p.add_argument("source", nargs="?", default=None, metavar="CKPT|RUN_DIR",
                   help="a checkpoint or a run folder (default: the newest runs/train-NNN)")
    p.add_argument("--port", type=int, default=0, help="port to listen on (default: a free one)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to bind (default: 127.0.0.1, this machine only; another address exposes the page "
                        "to the network)")
    p.add_argument("--open", action="store_true", help="open the page in the default browser")
    p.set_defaults(func=main)
    return p


def _newest_run(base: str = "runs") -> str | None:
    import re

    if not os.path.isdir(base):
        return None
    runs = sorted((int(m.group(1)), name) for name in os.listdir(base) if (m := re.match(r"^train-(\d+)$", name)))
    return os.path.join(base, runs[-1][1]) if runs else None


def main(args) -> int:
    import sys

    from ..cli import UsageError

    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port must be in 0..65535, got {args.port}")
    source = args.source or _newest_run()
    if source is None:
        raise UsageError("no CKPT or RUN_DIR given and no runs/train-NNN here; train one with: convlab train")
    if not os.path.exists(source):
        raise UsageError(f"no such checkpoint or run folder: {source}")
    from ..explore import make_server

    try:
        server = make_server(source, args.host, args.port)
    except ImportError as exc:
        raise RuntimeError(str(exc)) from None
    except OSError as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise RuntimeError(f"cannot listen on {args.host}:{args.port} ({exc.strerror or exc})") from None
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"convlab explore: warning: listening on {args.host}, reachable from other machines", file=sys.stderr)
    print(f"convlab explore: {source} at {server.url}  (Ctrl-C stops)", flush=True)
    if args.open:
        import webbrowser

        webbrowser.open(server.url)
    try:
        server.run()
    except KeyboardInterrupt:  # uvicorn has shut down and re-raises the Ctrl-C it caught: a normal stop
        pass
    print("convlab explore: stopped", file=sys.stderr)
    return 0

"""``convlab explore``: a page in the browser that shows how the user's own CNN sees an image.

Six views of a checkpoint or a run folder: the model (layers, shapes, parameters, MACs,
receptive field and jump), an image of the test split or an uploaded one (prediction, top-k,
every layer's feature maps), one output cell (its receptive field on the input and the formula
of seed 003, in numbers equal to the library's output), the kernels of every layer, the
convolution sandbox (output sizes, the library's errors, the seeds' kernels convolved and
cross-correlated), and the training run (curves, and the first layer's kernels as they change,
streamed with server-sent events while the run is being written or trained with ``--live``).

The server is Starlette on uvicorn (``pip install 'convlab[explore]'``), bound to 127.0.0.1;
the page is plain HTML, CSS and JavaScript from ``static/``, with nothing fetched from any
other host.

>>> from convlab.explore import serve  # doctest: +SKIP
>>> serve("runs/train-001")            # doctest: +SKIP
"""

from __future__ import annotations

INSTALL_HINT = "convlab explore needs the optional web server: pip install 'convlab[explore]' (Starlette and uvicorn)"


def require() -> None:
    """Raise ``ImportError`` with the install hint when Starlette or uvicorn is missing."""
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        raise ImportError(f"{INSTALL_HINT} ({exc})") from None


def make_server(source, host: str = "127.0.0.1", port: int = 0):
    """A :class:`~convlab.explore.server.Server` for ``source`` (a path or a Source), bound but not yet serving."""
    require()
    from .server import LOOPBACK, Server, bind
    from .source import Source
    from .state import Explorer

    src = Source(source) if not hasattr(source, "refresh") else source
    sock = bind(host, port)
    hosts = LOOPBACK if host in LOOPBACK else None  # a non-loopback address was asked for: any Host
    return Server(Explorer(src), sock, hosts)


def serve(source, host: str = "127.0.0.1", port: int = 0, open_browser: bool = False, say=print) -> None:
    """Serve the explorer until Ctrl-C."""
    server = make_server(source, host, port)
    say(f"convlab explore: serving {server.url}  (Ctrl-C stops)")
    if open_browser:
        import webbrowser

        webbrowser.open(server.url)
    server.run()


__all__ = ["INSTALL_HINT", "make_server", "require", "serve"]

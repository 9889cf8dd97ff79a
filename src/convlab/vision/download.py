"""Downloading dataset files: HTTPS from the official location, checked, resumable and atomic.

:func:`download_url` streams ``url`` into ``DEST.part`` with a tqdm progress bar. An interrupted
download (Ctrl-C, a dropped connection) leaves the ``.part`` file, and the next call asks the
server for the rest only (an HTTP ``Range`` request; a server that answers with the whole file
restarts it). The finished file's MD5 is compared with the published one before it is renamed
into place, so ``DEST`` is either absent or complete and correct.

``$CONVLAB_DOWNLOAD_MIRROR`` (or a dataset's ``mirrors`` argument) replaces the official base
URLs, e.g. with a local copy; convlab's tests point it at a server on 127.0.0.1.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import urllib.error
import urllib.request

CHUNK = 1 << 16
ENV_MIRROR = "CONVLAB_DOWNLOAD_MIRROR"


def md5_of(path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def mirrors(official: list[str], override=None) -> list[str]:
    """The base URLs to try in order: ``override`` (a list or one URL), ``$CONVLAB_DOWNLOAD_MIRROR``,
    else the official ones."""
    if override:
        return [override] if isinstance(override, str) else list(override)
    if os.environ.get(ENV_MIRROR):
        return [os.environ[ENV_MIRROR]]
    return list(official)


def download_url(url: str, dest, md5: str | None = None, progress: bool = True, timeout: float = 60) -> str:
    """Fetch ``url`` into ``dest`` (resuming ``dest.part``), check its MD5, rename it into place."""
    dest = os.fspath(dest)
    os.makedirs(os.path.dirname(dest) or ".", exist_ok=True)
    part = dest + ".part"
    have = os.path.getsize(part) if os.path.exists(part) else 0
    request = urllib.request.Request(url, headers={"User-Agent": "convlab"})
    if have:
        request.add_header("Range", f"bytes={have}-")
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:  # the part file is already whole
            response = None
        else:
            raise RuntimeError(f"download of {url} failed: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise RuntimeError(f"download of {url} failed: {getattr(exc, 'reason', exc)}") from None
    if response is not None:
        with response:
            resumed = have and response.status == 206
            if not resumed:
                have = 0
            length = response.headers.get("Content-Length")
            total = have + int(length) if length is not None else None
            from tqdm.auto import tqdm

            with open(part, "ab" if resumed else "wb") as f, tqdm(
                total=total, initial=have, unit="B", unit_scale=True, unit_divisor=1024,
                desc=os.path.basename(dest), disable=not progress, leave=False,
            ) as bar:
                try:
                    for block in iter(lambda: response.read(CHUNK), b""):
                        f.write(block)
                        bar.update(len(block))
                except (http.client.HTTPException, OSError) as exc:
                    f.flush()
                    raise RuntimeError(f"download of {url} was interrupted ({type(exc).__name__}); the "
                                       f"{f.tell()} bytes received are kept in {part}, call again to resume") from None
                f.flush()
                if total is not None and f.tell() < total:  # the server closed the connection early
                    raise RuntimeError(f"download of {url} was interrupted after {f.tell()} of {total} bytes; they are "
                                       f"kept in {part}, call again to resume")
                os.fsync(f.fileno())
    if md5 is not None:
        got = md5_of(part)
        if got != md5:
            os.remove(part)
            raise RuntimeError(f"download of {url}: MD5 {got} does not match the published {md5}; the file was "
                               "deleted, try again (or check the mirror)")
    os.replace(part, dest)
    return dest


def download_any(bases: list[str], filename: str, dest, md5: str | None, progress: bool = True) -> str:
    """Try each base URL in turn for ``filename``; the errors of all of them if none works."""
    errors = []
    for base in bases:
        try:
            return download_url(base.rstrip("/") + "/" + filename, dest, md5, progress)
        except RuntimeError as exc:
            errors.append(str(exc))
    raise RuntimeError("; ".join(errors))

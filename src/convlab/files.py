"""Atomic file writes: every file convlab writes goes through :func:`write_atomic`.

The bytes go to a temporary file in the destination's directory, which is flushed and
``fsync``-ed and then renamed over the destination with :func:`os.replace`, so a reader (or a
resumed run) sees the old file or the new one, never a part. An exception, ``KeyboardInterrupt``
or a full disk leaves the previous file as it was and no temporary file behind.

A process killed outright (SIGKILL, a power cut) can leave its temporary file behind; its name
``.NAME.pidPID.XXXX.tmp`` records the writer's process id, and the next successful write into the
same directory deletes the temporary files of writers that are no longer running
(:func:`remove_stale_temp_files`), so a crashed and resumed run does not accumulate them.

>>> import os, tempfile
>>> path = os.path.join(tempfile.mkdtemp(), "config.json")
>>> write_json(path, {"epochs": 4})
>>> open(path).read()
'{\\n  "epochs": 4\\n}\\n'
"""

from __future__ import annotations

import io
import json
import os
import re
import tempfile
import threading

from . import validate

__all__ = ["write_atomic", "write_text", "write_json", "save_figure_bytes", "remove_stale_temp_files"]

_CHUNK = 1 << 20
_TEMP_NAME = re.compile(r"^\..+\.pid(\d+)\.[^.]+\.tmp$")  # what write_atomic names its temporary files
_in_flight: set[str] = set()  # this process's temporary files being written now (any thread)
_in_flight_lock = threading.Lock()


def _write_chunks(f, data: bytes) -> None:
    view = memoryview(data)
    for start in range(0, len(view), _CHUNK):
        f.write(view[start:start + _CHUNK])


def _default_mode(path: str) -> int:
    """The mode a plain ``open()`` would give ``path`` (mkstemp makes 0600): the old file's, or 0666 & ~umask."""
    try:
        return os.stat(path).st_mode & 0o777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def write_atomic(path, data: bytes) -> None:
    """Write ``data`` to ``path``: temporary file in the same directory, fsync, then ``os.replace``.

    The directory must exist. Atomic on POSIX and Windows; on POSIX the rename is made durable
    by an fsync of the directory, and stale temporary files of dead writers are removed after."""
    path = validate.path_arg(path, "write_atomic")
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise validate.ArgumentTypeError(f"write_atomic: data must be bytes, got {type(data).__name__}")
    directory = os.path.dirname(os.path.abspath(path))
    with _in_flight_lock:  # created and registered at once, so no other thread's cleanup takes it for stale
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{os.path.basename(path)}.pid{os.getpid()}.", suffix=".tmp")
        _in_flight.add(tmp)
    try:
        with os.fdopen(fd, "wb") as f:
            _write_chunks(f, data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, _default_mode(path))
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    finally:
        with _in_flight_lock:
            _in_flight.discard(tmp)
    if hasattr(os, "O_DIRECTORY"):  # make the rename itself durable
        try:
            dfd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)
        except OSError:
            pass
    remove_stale_temp_files(directory)


def write_text(path, text: str) -> None:
    """:func:`write_atomic` of ``text`` encoded as UTF-8."""
    if not isinstance(text, str):
        raise validate.ArgumentTypeError(f"write_text: text must be a str, got {type(text).__name__}")
    write_atomic(path, text.encode("utf-8"))


def write_json(path, obj, indent: int | None = 2) -> None:
    """:func:`write_atomic` of ``obj`` as JSON (indented, with a final newline)."""
    if indent is not None:
        validate.nonneg_int(indent, "write_json", "indent", 64)
    write_text(path, json.dumps(obj, indent=indent) + "\n")


def save_figure_bytes(save, path) -> None:
    """Call ``save(buffer)`` (``fig.savefig`` or ``Image.save`` bound to its options) into memory,
    then :func:`write_atomic` the bytes to ``path``: a figure is never seen half drawn."""
    buffer = io.BytesIO()
    save(buffer)
    write_atomic(path, buffer.getvalue())


def _running(pid: int) -> bool:
    if pid == os.getpid():
        return False  # our own files that are not in flight are left over from a dead process with our id
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: it exists, under another user
        return True
    return True


def remove_stale_temp_files(directory) -> list[str]:
    """Delete the temporary files that killed writers left in ``directory``; return their paths.

    Only files named as :func:`write_atomic` names its temporary files are considered, and only those whose
    writer (the process id in the name) is no longer running, or is this process but not writing it.
    Does nothing except on POSIX systems, where a process can be asked whether it exists.
    """
    if os.name != "posix":
        return []
    directory = validate.path_arg(directory, "remove_stale_temp_files", "directory")
    removed = []
    try:
        names = os.listdir(directory)
    except OSError:
        return removed
    for name in names:
        m = _TEMP_NAME.match(name)
        if not m:
            continue
        path = os.path.join(directory, name)
        with _in_flight_lock:
            busy = os.path.abspath(path) in _in_flight
        if busy or _running(int(m.group(1))):
            continue
        try:
            os.unlink(path)
            removed.append(path)
        except OSError:  # gone meanwhile, or not ours to delete
            pass
    return removed

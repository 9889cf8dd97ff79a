"""Run ``convlab train`` in this process with a fault injected: at a chosen point the process
SIGKILLs itself, as a power cut or the OOM killer would, so no ``finally``, no ``atexit`` and no
signal handler runs. Used by ``test_crash_safety.py`` as the child process::

    python crash_driver.py [--fast] [--kill WHEN] -- TRAIN ARGUMENTS...

WHEN is one of

* ``step:N``: the N-th ``optimizer.step()`` call of this process dies before it updates anything
  (the middle of an epoch: the gradients are computed, the weights half way to the next step);
* ``write:NAME:K[:FRACTION]``: the K-th checkpoint write to a file named NAME (``last.safetensors``)
  writes FRACTION (default 0.5) of the file's bytes to its temporary file, fsyncs them, and dies
  before the rename;
* ``after-write:NAME:K``: dies right after the K-th write to NAME was renamed into place, before the
  epoch's log records are written.

``--fast`` replaces the two matplotlib plots (a second per epoch) with no-ops; they read the logs
but feed nothing back into training, so weights and logs are the same with and without them.
Nothing here is imported by the library; the patches exist only in this child process.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys


def die() -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def kill_at_step(n: int) -> None:
    from convlab.train import recipes

    build = recipes.build_optimizer

    def build_with_fault(*args, **kwargs):
        optimizer = build(*args, **kwargs)
        real_step, calls = optimizer.step, [0]

        def step(*a, **k):
            calls[0] += 1
            if calls[0] == n:
                die()
            return real_step(*a, **k)

        optimizer.step = step
        return optimizer

    recipes.build_optimizer = build_with_fault  # commands/_train_run.py imports it inside _train()


def kill_in_write(name: str, k: int, fraction: float | None) -> None:
    """``fraction`` None: die after the rename; else die with that part of the temp file written."""
    from convlab import files

    write_atomic, write_chunks = files.write_atomic, files._write_chunks
    seen, armed = [0], [False]

    def atomic(path, data):
        if os.path.basename(path) == name:
            seen[0] += 1
            armed[0] = seen[0] == k
        write_atomic(path, data)
        if armed[0] and fraction is None:
            die()

    def chunks(f, data):
        if armed[0] and fraction is not None:
            cut = int(len(data) * fraction)
            f.write(memoryview(data)[:cut])
            f.flush()
            os.fsync(f.fileno())
            die()
        write_chunks(f, data)

    files.write_atomic, files._write_chunks = atomic, chunks


def install(kill: str | None, fast: bool) -> None:
    if fast:
        sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # tests/, for helpers
        from helpers import no_plots

        no_plots()
    if not kill:
        return
    kind, _, rest = kill.partition(":")
    if kind == "step":
        kill_at_step(int(rest))
    elif kind in ("write", "after-write"):
        parts = rest.split(":")
        fraction = None if kind == "after-write" else float(parts[2]) if len(parts) > 2 else 0.5
        kill_in_write(parts[0], int(parts[1]), fraction)
    else:
        raise SystemExit(f"crash_driver: unknown --kill {kill!r}")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--kill", default=None)
    p.add_argument("--fast", action="store_true")
    p.add_argument("train", nargs=argparse.REMAINDER)
    args = p.parse_args(argv)
    train = args.train[1:] if args.train[:1] == ["--"] else args.train
    install(args.kill, args.fast)
    from convlab.cli import main as cli

    return cli(["train", *train])


if __name__ == "__main__":
    sys.exit(main())

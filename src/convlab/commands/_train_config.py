"""``convlab train``'s settings: the flags checked (:func:`_check`), the run's configuration as
``config.json`` records it (:func:`_config`), and the start of a ``--distributed`` job (rank and
world size, and the one output directory the ranks agree on)."""

from __future__ import annotations

import json
import os
import sys


def _check(args, UsageError):
    from .. import models
    from ._preprocessing import check

    check(args, UsageError)
    from ..data.catalog import NAMES

    for name in ("epochs", "batch_size"):
        if getattr(args, name) < 1:
            raise UsageError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    if args.layer_stats is not None and args.layer_stats < 1:
        raise UsageError(f"--layer-stats must be >= 1, got {args.layer_stats}")
    if args.tensorboard:
        from ..train.tensorboard import _require

        _require()  # a missing tensorboardX fails now, not after the first epoch
    if args.lr <= 0:
        raise UsageError(f"--lr must be > 0, got {args.lr}")
    if not 0 <= args.erase <= 1:
        raise UsageError(f"--erase must be a probability in [0, 1], got {args.erase}")
    if not 0 <= args.ema < 1:
        raise UsageError(f"--ema must be a decay in [0, 1) (0: off), got {args.ema}")
    if args.bn_momentum is not None and not 0 < args.bn_momentum <= 1:
        raise UsageError(f"--bn-momentum must be in (0, 1], got {args.bn_momentum}")
    if args.width is not None and args.width < 1:
        raise UsageError(f"--width must be >= 1, got {args.width}")
    for flag in ("limit", "limit_train", "limit_val", "limit_test"):
        if getattr(args, flag) is not None and getattr(args, flag) < 1:
            raise UsageError(f"--{flag.replace('_', '-')} must be >= 1, got {getattr(args, flag)}")
    _parse_val_split(args, UsageError)
    for flag in ("val_data", "test_data"):
        if getattr(args, flag) and not os.path.isdir(getattr(args, flag)):
            raise UsageError(f"--{flag.replace('_', '-')} {getattr(args, flag)} is not a folder")
    if args.model not in models.list():
        import difflib

        close = difflib.get_close_matches(args.model, models.list(), n=3)
        raise UsageError(f"unknown model {args.model!r}" + (f"; did you mean {', '.join(close)}?" if close else "")
                         + " (convlab models lists them)")
    from ..train.run_data import folder_path

    known = [n for n in NAMES if not n.endswith("PATH")]
    if args.dataset not in known and folder_path(args.dataset) is None:
        raise UsageError(f"unknown dataset {args.dataset!r}: choose one of {', '.join(NAMES)}, or give a folder of "
                         "pictures (PATH/CLASS/IMAGE)")



def _parse_val_split(args, UsageError) -> None:
    """``--val-split`` as a count or a fraction (``train.run.parse_val_split``); a bad one is a UsageError."""
    if args.val_split is not None:
        from ..train.run import parse_val_split

        try:
            args.val_split = parse_val_split(args.val_split)
        except ValueError as exc:
            raise UsageError(str(exc)) from None

def _config(args) -> dict:
    from ._preprocessing import preprocessing_config

    val = args.val_split
    return {**preprocessing_config(args), "val_data": args.val_data, "test_data": args.test_data,
            "skip_bad_files": args.skip_bad_files, "limit": args.limit, "limit_val": args.limit_val,
            "model": args.model, "dataset": args.dataset, "data_root": args.data_root, "epochs": args.epochs,
            "batch_size": args.batch_size, "lr": args.lr, "optimizer": args.optimizer, "weight_decay": args.weight_decay,
            "label_smoothing": args.label_smoothing, "schedule": args.schedule, "augment": args.augment, "erase": args.erase,
            "val_split": val, "recipe": args.recipe, "flip": args.flip, "ema": args.ema, "tta": args.tta,
            "bn_momentum": args.bn_momentum, "width": args.width,
            "limit_train": args.limit_train, "limit_test": args.limit_test, "early_stopping": args.early_stopping,
            "seed": args.seed, "sync_bn": bool(getattr(args, "sync_bn", False)), "matmul_precision": args.matmul_precision}


class _Collective(RuntimeError):
    """An error every rank of a --distributed run meets at the same point (rank 0 reports it)."""


def _start_distributed(args, UsageError):
    """``(rank, world size)``: initialise convlab.distributed from mpirun's environment (``(0, 1)`` without --distributed)."""
    from .. import distributed as dist

    if not getattr(args, "distributed", False):
        if dist.launched_world_size() > 1:
            raise UsageError(f"started by mpirun as {dist.launched_world_size()} processes without --distributed: each would "
                             "train its own model; add --distributed (or run one process)")
        return 0, 1
    if not args.timeout > 0:
        raise UsageError(f"--timeout must be > 0 seconds, got {args.timeout}")
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        raise RuntimeError(f"--distributed: {dist.INSTALL_HINT} (mpi4py is not installed)") from None
    if not dist.launched_by_mpi():
        print("convlab train: --distributed outside mpirun: training as one process "
              "(launch N ranks with: mpirun -n N convlab train --distributed ...)", file=sys.stderr)
        return 0, 1
    dist.init(timeout=args.timeout)
    return dist.rank(), dist.world_size()


def _shared_out_dir(args, rank, world, prepare_out_dir, UsageError) -> str:
    """The new run's directory, made by rank 0 only and told to the others (so ranks agree on one);
    a single process simply makes it. An existing directory without --force is a UsageError."""
    from .. import distributed as dist

    answer = {}
    if rank == 0:
        try:
            answer["out"] = prepare_out_dir(args.out, "train", args.force)
        except FileExistsError as exc:
            answer["error"] = str(exc)
    if world > 1:
        answer = json.loads(dist.broadcast_bytes(json.dumps(answer).encode() if rank == 0 else None))
    if "error" in answer:
        raise UsageError(answer["error"])
    return answer["out"]

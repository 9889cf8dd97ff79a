"""``convlab train``: train a CNN and report its test accuracy.

    convlab train                                   the default: a compact CNN on Fashion-MNIST
    convlab train --recipe fast                     a named recipe (flags written after it override it)
    convlab train --model lenet5 --epochs 5
    convlab train --dataset lines --epochs 2        the seed lesson's lines, no files needed
    convlab train --resume runs/train-001/last.safetensors
    mpirun -n 2 convlab train --distributed         data-parallel over 2 MPI ranks (same result as 1 process)

Data-parallel training (``--distributed``, under ``mpirun``): every rank builds the same model
(rank 0's weights are broadcast), takes its rows of each global batch of ``--batch-size`` items
(``--batch-size`` / ranks each), and the gradients are averaged after ``backward()``, so the run
follows the same steps as one process with the same arguments. Validation and test sets are split
over the ranks and their counts summed. Only rank 0 writes files and prints. Outside ``mpirun``
``--distributed`` trains as a single process (after a note); under ``mpirun`` without it, the
command refuses to start (every process would train its own copy).
"""

from __future__ import annotations

import json
import os
import sys
import time

DEFAULT_TIMEOUT = 300.0  # seconds a rank waits for the others before aborting a --distributed job


def register(subparsers):
    import argparse

    from .. import validate
    from ..cli import add_common
    from ..train.recipes import DEFAULT, RECIPES, describe
    from ._preprocessing import add_preprocessing_flags

    d = DEFAULT
    p = subparsers.add_parser(
        "train", help="train a CNN (default: a compact CNN on Fashion-MNIST) and report its test accuracy",
        description="Train a model of the zoo on a dataset, validating every epoch, and print the test accuracy, "
                    "the time taken and where the checkpoints, logs and plots are. With no options: "
                    f"{d['model']} on {d['dataset']}, {d['epochs']} epochs, batch {d['batch_size']}, "
                    f"{d['optimizer']} lr {d['lr']} with a {d['schedule']} schedule"
                    + (f", label smoothing {d['label_smoothing']:g}" if d["label_smoothing"] else "") + ".")
    add_common(p)
    p.add_argument("--recipe", choices=list(RECIPES), default=None, metavar="NAME",
                   help="start from a named recipe; flags written on the command line override its values. "
                        + "; ".join(f"{name}: {RECIPES[name][0]} ({describe(name)})" for name in RECIPES).replace("%", "%%")
                        + " (default: default)")
    p.add_argument("--model", default=d["model"], help=f"a model of the zoo; convlab models lists them (default: {d['model']})")
    p.add_argument("--dataset", default=d["dataset"],
                   help="fashion-mnist, mnist, kmnist, cifar10, lines, edges-orientation or folder:PATH "
                        f"(default: {d['dataset']})")
    p.add_argument("--data-root", default=None, help="directory holding the dataset's files (default: searched)")
    p.add_argument("--epochs", type=validate.cli_int(1), default=None, help=f"epochs in all (default: {d['epochs']})")
    p.add_argument("--batch-size", type=validate.cli_int(1), default=d["batch_size"], help=f"(default: {d['batch_size']})")
    p.add_argument("--lr", type=validate.cli_float(0, min_open=True), default=d["lr"],
                   help=f"learning rate, the peak for onecycle (default: {d['lr']})")
    p.add_argument("--optimizer", choices=["sgd", "adam", "adamw"], default=d["optimizer"],
                   help=f"(default: {d['optimizer']})")
    p.add_argument("--weight-decay", type=validate.cli_float(0), default=d["weight_decay"],
                   help=f"(default: {d['weight_decay']})")
    p.add_argument("--schedule", choices=["cosine", "onecycle", "linear", "step", "none"], default=d["schedule"],
                   help="learning-rate schedule; onecycle rises for 30%% of the steps and falls, as cosines, linear "
                        f"the same with straight lines (default: {d['schedule']})")
    p.add_argument("--label-smoothing", type=validate.cli_float(0, 1), default=d["label_smoothing"], metavar="E",
                   help="cross-entropy against (1 - E) * one-hot + E / classes, as torch's label_smoothing "
                        f"(default: {d['label_smoothing']:g})")
    p.add_argument("--augment", action=argparse.BooleanOptionalAction, default=False,
                   help="random crops (padding 2 px for 28x28, 4 for 32x32) and, where mirroring keeps the label, flips "
                        "(--no-augment: neither, also in a recipe that has them)")
    p.add_argument("--flip", action=argparse.BooleanOptionalAction, default=None,
                   help="random horizontal flips of the training pictures (default: with --augment, where mirroring keeps "
                        "the label: Fashion-MNIST and CIFAR-10)")
    p.add_argument("--erase", type=validate.cli_float(0, 1), default=0.0, metavar="P",
                   help="random erasing with probability P (default: 0, off)")
    p.add_argument("--ema", type=validate.cli_float(0, 1), default=0.0, metavar="DECAY",
                   help="validate, test and save an exponential moving average of the weights, updated every step "
                        "with this decay (0.999: about the last 1,000 steps) (default: 0, off)")
    p.add_argument("--tta", action=argparse.BooleanOptionalAction, default=False,
                   help="test-time augmentation: the test accuracy averages the logits of each picture and its mirror "
                        "image (default: off)")
    p.add_argument("--bn-momentum", type=validate.cli_float(0, 1, min_open=True), default=None, metavar="M",
                   help="momentum of every batch-norm layer's running statistics (default: the model's, 0.1)")
    p.add_argument("--width", type=validate.cli_int(1), default=None, metavar="N",
                   help="channels of the first stage, for models that have a width (compactcnn: 32)")
    add_preprocessing_flags(p, training=True)
    p.add_argument("--val-split", default=None, metavar="FRACTION|COUNT",
                   help="training images held out for validation: a fraction between 0 and 1 (0.1) or a whole count "
                        "(500) (default: 10%%, at most 5,000)")
    p.add_argument("--val-data", default=None, metavar="DIR",
                   help="a folder of class folders to validate on (default: a val/ folder beside train/, else --val-split)")
    p.add_argument("--test-data", default=None, metavar="DIR",
                   help="a folder of class folders to test on (default: a test/ folder beside train/, else 20%% held out)")
    p.add_argument("--skip-bad-files", action="store_true",
                   help="leave out pictures that cannot be read (with a warning and a count) instead of stopping")
    p.add_argument("--limit", type=validate.cli_int(1), default=None, metavar="N",
                   help="use at most N images of each split (quick runs)")
    p.add_argument("--limit-train", type=validate.cli_int(1), default=None, metavar="N",
                   help="train on N images only (quick runs)")
    p.add_argument("--limit-val", type=validate.cli_int(1), default=None, metavar="N",
                   help="validate on N images only (default with --limit-train: a tenth of it)")
    p.add_argument("--limit-test", type=validate.cli_int(1), default=None, metavar="N", help="test on N images only (quick runs)")
    p.add_argument("--early-stopping", type=validate.cli_int(1), default=None, metavar="EPOCHS",
                   help="stop after this many epochs without a better validation accuracy")
    p.add_argument("--matmul-precision", choices=["highest", "high", "medium"], default="highest",
                   help="float32 matrix products (convolutions, linear layers): highest and high keep float32; medium "
                        "rounds their inputs to bfloat16 and sums in float32 where the CPU has AVX512_BF16, as "
                        "torch.set_float32_matmul_precision (elsewhere float32); may change on --resume (default: highest)")
    p.add_argument("--seed", type=int, default=0, help="seeds weights, data order, augmentation and dropout (default: 0)")
    p.add_argument("--out", default=None, help="output directory (default: a new runs/train-NNN)")
    p.add_argument("--force", action="store_true", help="write into --out even if it already holds files")
    p.add_argument("--resume", default=None, metavar="CKPT",
                   help="continue the run of this checkpoint, in its directory (--epochs may extend a step/none schedule)")
    p.add_argument("--layer-stats", type=validate.cli_int(1), default=None, metavar="N",
                   help="every N steps record each layer's activation and gradient mean/std and dead-ReLU fraction "
                        "(layer_stats.jsonl and layer_stats.png in the output directory)")
    p.add_argument("--tensorboard", action="store_true",
                   help="also write TensorBoard event files (losses, accuracy, learning rate, first-layer kernels, "
                        "weight histograms) into OUT/tensorboard; needs tensorboardX (pip install 'convlab[tensorboard]')")
    p.add_argument("--live", action="store_true",
                   help="serve the explorer (convlab explore) on 127.0.0.1 while training: curves and the first layer's "
                        "kernels as they change (needs pip install 'convlab[explore]')")
    g = p.add_argument_group("data-parallel training (launch with: mpirun -n N convlab train --distributed ...)")
    g.add_argument("--distributed", action="store_true",
                   help="train over the MPI ranks of mpirun (needs mpi4py); --batch-size is the global batch, split evenly "
                        "over the ranks; only rank 0 writes and prints")
    g.add_argument("--sync-bn", action="store_true",
                   help="batch-norm statistics over the global batch (all ranks) instead of each rank's rows; "
                        "with it a run matches one process")
    g.add_argument("--timeout", type=validate.cli_float(0, min_open=True), default=DEFAULT_TIMEOUT, metavar="SECONDS",
                   help="a rank that waits this long for the others aborts the whole job with an error "
                        f"(a rank died or hung; resume from the last checkpoint) (default: {DEFAULT_TIMEOUT:g})")
    p.set_defaults(func=main, _parser=p)
    return p


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
    if args.val_split is not None:
        from ..train.run import parse_val_split

        try:
            args.val_split = parse_val_split(args.val_split)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
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


def main(args) -> int:
    from ..cli import UsageError

    rank, world = _start_distributed(args, UsageError)
    if world == 1:
        return _main(args, 0, 1)
    from .. import distributed as dist

    try:
        return _main(args, rank, world)
    except UsageError:
        if rank == 0:
            raise
        return 2  # every rank hit it; rank 0 says it
    except _Collective:
        if rank == 0:
            raise
        return 1
    except Exception as exc:  # this rank only: say so, and stop the others now rather than at their timeout
        if getattr(args, "debug", False):
            import traceback

            traceback.print_exc()
        print(f"convlab train: error: rank {rank} of {world}: {exc}; aborting the job", file=sys.stderr, flush=True)
        dist.abort(1)
        raise


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


def _main(args, rank: int, world: int) -> int:
    from ..cli import UsageError
    from ..ops.gemm_bf16 import get_float32_matmul_precision, set_float32_matmul_precision
    from ..train import load_checkpoint
    from ..train.recipes import DEFAULT
    from ..train.run import prepare_out_dir

    main_rank = rank == 0
    quiet = getattr(args, "quiet", False) or not main_rank
    say = (lambda *a: None) if quiet else print
    started = time.time()
    sync_bn = bool(getattr(args, "sync_bn", False))
    if sync_bn and not getattr(args, "distributed", False):
        raise UsageError("--sync-bn needs --distributed (one process has only one batch)")

    if args.resume:
        from ..train.checkpoint import resolve
        from ._resume import conflicts, given_flags

        args.resume = resolve(args.resume)
        state = load_checkpoint(args.resume)
        cfg = dict((state.get("meta") or {}).get("config") or {})
        if not cfg:
            raise UsageError(f"{args.resume} was not written by convlab train (no run configuration inside)")
        if args.val_split is not None:
            from ..train.run import parse_val_split

            try:
                args.val_split = parse_val_split(args.val_split)
            except ValueError as exc:
                raise UsageError(str(exc)) from None
        clash = conflicts(args, cfg, _config(args))
        if clash:
            raise UsageError(f"--resume continues the run as it was configured; these flags differ from it: "
                             f"{'; '.join(clash)}. Leave them out (only --epochs may extend a run), or start a new run")
        if "matmul_precision" in given_flags(args):  # how the products round, not what is trained
            cfg["matmul_precision"] = args.matmul_precision
        if args.epochs is not None and args.epochs != cfg["epochs"]:
            if args.epochs < 1:
                raise UsageError(f"--epochs must be >= 1, got {args.epochs}")
            if cfg["schedule"] in ("onecycle", "cosine"):
                raise UsageError(f"the run's {cfg['schedule']} schedule was planned for {cfg['epochs']} epochs and cannot "
                                 "be extended; resume without --epochs, or start a new run")
            cfg["epochs"] = args.epochs
        done = int(state.get("epoch", 0))
        stopped_early = bool(cfg.get("early_stopping")) and \
            int((state.get("early_stopping") or {}).get("bad_epochs", 0)) >= int(cfg["early_stopping"])
        if (done >= cfg["epochs"] and int(state.get("batch_in_epoch", 0)) == 0) or stopped_early:
            run = os.path.dirname(os.path.abspath(args.resume))
            why = (f"it stopped early after epoch {done} ({cfg['early_stopping']} epochs without a better validation "
                   "accuracy)" if stopped_early else f"all {cfg['epochs']:,} epoch{'' if cfg['epochs'] == 1 else 's'} "
                   "are done")
            test = os.path.join(run, "test.json")
            if not quiet:
                print(f"the run in {run} is finished: {why}; nothing to resume." + (f" Its test metrics: {test}."
                      if os.path.exists(test) else "") + (" To train longer, resume with a larger --epochs "
                      "(step and none schedules only), or start a new run." if not stopped_early else ""))
            return 0
        if sync_bn and not cfg.get("sync_bn"):
            raise UsageError(f"--sync-bn: the run of {args.resume} was trained with per-rank batch-norm statistics; "
                             "resume it without --sync-bn")
        if cfg["batch_size"] % world:
            raise UsageError(f"the run's global batch {cfg['batch_size']} does not split evenly over {world} ranks; "
                             "resume with a number of ranks that divides it")
        out, made_here = os.path.dirname(os.path.abspath(args.resume)), False
    else:
        if args.recipe is not None:  # the recipe's values, except for the flags written on the command line
            from ..train.recipes import recipe
            from ._resume import given_flags

            given = given_flags(args)
            for key, value in recipe(args.recipe).items():
                if key not in given:
                    setattr(args, key, value)
        if args.epochs is None:
            args.epochs = DEFAULT["epochs"]
        _check(args, UsageError)
        if args.batch_size % world:
            raise UsageError(f"--batch-size {args.batch_size} (the global batch) must be divisible by the {world} ranks")
        cfg = _config(args)
        made_here = args.out is None or not os.path.isdir(args.out)  # a directory this run creates
        out = _shared_out_dir(args, rank, world, prepare_out_dir, UsageError)

    before = set(os.listdir(out)) if main_rank and os.path.isdir(out) else set()
    precision = get_float32_matmul_precision()
    set_float32_matmul_precision(cfg.get("matmul_precision") or "highest")
    try:
        return _train(args, cfg, out, rank, world, say, quiet, started)
    except BaseException:
        if main_rank and not args.resume:
            _remove_unresumable(out, before)  # no config.json left behind to demand --force next time
            if made_here:
                _remove_if_empty(out, parent=args.out is None)  # leaves no empty runs/train-NNN (nor runs/) behind
        raise
    finally:
        set_float32_matmul_precision(precision)


def _remove_unresumable(out: str, before: set) -> None:
    """A run that failed before its first checkpoint cannot be resumed: remove what it wrote
    (and only that: entries that were in ``out`` before the run stay)."""
    import shutil

    try:
        made = set(os.listdir(out)) - before
    except OSError:
        return
    if "last.safetensors" in made:  # resumable with --resume: keep everything
        return
    for name in made:
        p = os.path.join(out, name)
        if os.path.isdir(p) and not os.path.islink(p):
            shutil.rmtree(p, ignore_errors=True)
        else:
            try:
                os.remove(p)
            except OSError:
                pass


def _remove_if_empty(path: str, parent: bool = False) -> None:
    for p in (path, os.path.dirname(os.path.abspath(path))) if parent else (path,):
        try:
            os.rmdir(p)  # only succeeds on an empty directory
        except OSError:
            return


def _train(args, cfg: dict, out: str, rank: int, world: int, say, quiet: bool, started: float) -> int:
    """Everything after the configuration is settled and the output directory chosen: data, model, training, test."""
    import numpy as np

    import convlab

    from .. import models, nn
    from ..cli import UsageError, top5_text
    from ..files import write_json
    from ..tensor import no_grad
    from ..train import Trainer, evaluate, plot_confusion
    from ..train.ema import EMA
    from ..train.loop import NonFiniteError, _fmt_seconds
    from ..train.recipes import apply_bn_momentum, build_model, build_optimizer, build_scheduler
    from ..train.run import load_run_data, loaders
    from ..train.tta import FlipTTA
    from ..validate import ConvlabError

    main_rank, sync_bn = rank == 0, bool(cfg.get("sync_bn"))
    convlab.manual_seed(cfg["seed"])
    np.random.seed(cfg["seed"])
    notes: list[str] = []  # what the data loading found and inferred, said after the first line
    train_ds, val_ds, test_ds, info, spec = load_run_data(cfg, notes.append)
    notes.append(f"  preprocessing: {spec.describe()}")
    if cfg.get("matmul_precision", "highest") != "highest":
        from ..ops import gemm_bf16

        notes.append(f"  matmul precision: {gemm_bf16.describe()}")
    pre = spec.to_dict()
    train_loader, val_loader, test_loader = loaders(train_ds, val_ds, test_ds, cfg["batch_size"], cfg["seed"], rank, world,
                                                    random_transform=bool(cfg.get("augment") or cfg.get("erase")
                                                                          or cfg.get("flip")))

    c, h, w = pre["input_shape"]
    try:
        model, model_spec = build_model(cfg["model"], c, len(info["classes"]), (h, w), width=cfg.get("width"))
    except ConvlabError as exc:
        raise UsageError(str(exc)) from None
    if cfg.get("bn_momentum") is not None:
        apply_bn_momentum(model, cfg["bn_momentum"])
    _dry_run(model, cfg, info, spec, no_grad, models)
    reducer = None
    if world > 1:
        from .. import distributed as dist

        if sync_bn:
            dist.convert_sync_batchnorm(model)
        dist.broadcast_parameters(model)  # the same start on every rank, whatever each one drew
        reducer = dist.GradientReducer(model)
    optimizer = build_optimizer(cfg["optimizer"], model.parameters(), cfg["lr"], cfg["weight_decay"])
    scheduler = build_scheduler(cfg["schedule"], optimizer, cfg["lr"], cfg["epochs"], len(train_loader))
    meta = {"config": cfg, "dataset": info["name"], "classes": info["classes"], "preprocessing": pre,
            "source": str(info.get("source")), "title": f"{cfg['model']} on {info['name']}"}
    loss_fn = nn.CrossEntropyLoss(label_smoothing=float(cfg.get("label_smoothing") or 0.0))
    ema = EMA(model, decay=cfg["ema"]) if cfg.get("ema") else None  # after the broadcast: the same start on every rank
    trainer = Trainer(model, optimizer, loss_fn, scheduler=scheduler, out_dir=out, model_spec=model_spec, meta=meta,
                      early_stopping=cfg.get("early_stopping"), progress=getattr(args, 'progress', None) if not quiet else False,
                      print_fn=None if quiet else print, reducer=reducer, is_main=main_rank,
                      tensorboard=os.path.join(out, "tensorboard") if args.tensorboard else None, ema=ema)
    if not args.resume and main_rank:
        write_json(os.path.join(out, "config.json"),
                   {**cfg, "model_spec": model_spec, "preprocessing": pre, "classes": info["classes"]})

    n_params = sum(p.numel() for p in model.parameters())
    say(f"convlab train: {cfg['model']} ({n_params:,} parameters) on {info['name']} "
        f"({len(train_ds):,} train / {len(val_ds) if val_ds else 0:,} validation / {len(test_ds):,} test images "
        f"of {c}x{h}x{w}; data: {info.get('source')})")
    for note in notes:
        say(note)
    say(f"  {cfg['epochs']} epoch{'' if cfg['epochs'] == 1 else 's'}, batch {cfg['batch_size']:,}, "
        f"{cfg['optimizer']} lr {cfg['lr']:g} "
        f"(weight decay {cfg['weight_decay']:g}), schedule {cfg['schedule']}, augment {'on' if cfg['augment'] else 'off'}"
        + (f", erasing p={cfg['erase']:g}" if cfg.get("erase") else "")
        + (f", flips {'on' if cfg['flip'] else 'off'}" if cfg.get("flip") is not None else "")
        + (f", label smoothing {cfg['label_smoothing']:g}" if cfg.get("label_smoothing") else "")
        + (f", weight average (EMA) {cfg['ema']:g}" if cfg.get("ema") else "")
        + (", flip TTA at test" if cfg.get("tta") else "")
        + (f", batch-norm momentum {cfg['bn_momentum']:g}" if cfg.get("bn_momentum") is not None else "")
        + (f", recipe {cfg['recipe']}" if cfg.get("recipe") else "") + ", "
        f"seed {cfg['seed']}; output in {out}/" + (f" (resuming {args.resume})" if args.resume else ""))
    if world > 1:
        say(f"  data-parallel over {world} MPI ranks: {cfg['batch_size'] // world} images per rank per step, batch-norm "
            f"statistics {'synchronised over the ranks' if sync_bn else 'per rank'}; rank 0 writes the files")

    stats = None
    if args.layer_stats and main_rank:
        from ..layerstats import LayerStats, save_to_run

        stats = LayerStats(model, every=args.layer_stats, steps=lambda: trainer.step)
        title = f"{cfg['model']} on {info['name']}: per-layer statistics"
        written = {"records": None, "paths": None}  # what save_stats last wrote, and where

        def save_stats(*_):
            """Write the records and their plot, unless the files already hold exactly these records."""
            records = stats.records()
            if records != written["records"]:
                written["paths"], written["records"] = save_to_run(records, out, title=title), records
            return written["paths"]

        # written beside each epoch's checkpoint, so a killed run keeps the records up to its checkpoint; at the
        # end (below) only if steps were recorded after the last epoch's write (an interrupted epoch)
        trainer.on_epoch_end = save_stats
    live = _start_live(model, out, model_spec, meta, trainer) if getattr(args, "live", False) and main_rank else None
    try:
        result = trainer.fit(train_loader, val_loader, epochs=cfg["epochs"], resume=args.resume)
    except NonFiniteError as exc:
        last = os.path.join(out, "last.safetensors")
        keep = f"; the last good checkpoint is {last}" if os.path.exists(last) else "; no checkpoint was written"
        raise _Collective(f"training stopped: {exc}{keep}. Try a lower --lr.") from None
    finally:
        if live is not None:
            live.stop()
        if stats is not None:
            stats.close()
            saved = save_stats()
            if saved:
                say(f"layer statistics every {args.layer_stats} steps: {saved[0]}, {saved[1]}")
    if result.stopped == "interrupted":
        if not main_rank:
            return 130
        where = (f"after epoch {result.epoch}" if result.batch_in_epoch == 0 else
                 f"in epoch {result.epoch + 1} after batch {result.batch_in_epoch}")
        print(f"interrupted {where} (step {result.step}); checkpoint saved: {result.last_checkpoint}\n"
              f"continue with: convlab train --resume {result.last_checkpoint}", file=sys.stderr)
        return 130

    if ema is not None:
        ema.copy_to(model)  # the averaged weights are the run's result (and what the checkpoints hold as "model")
    test = evaluate(FlipTTA(model) if cfg.get("tta") else model, test_loader, num_classes=len(info["classes"]),
                    distributed=world > 1)
    if not main_rank:
        return 0
    write_json(os.path.join(out, "test.json"), {"checkpoint": "last.safetensors", **test, "classes": info["classes"]})
    confusion_png = plot_confusion(test["confusion"], info["classes"], os.path.join(out, "confusion.png"),
                                   title=f"{cfg['model']} on {info['name']} (test, accuracy {100 * test['accuracy']:.2f}%)")
    elapsed = time.time() - started
    if quiet:
        print(f"test accuracy {100 * test['accuracy']:.2f}%")
        return 0
    correct = round(test["accuracy"] * test["n"])
    print(f"\ntest accuracy: {100 * test['accuracy']:.2f}% ({correct:,}/{test['n']:,} {info['name']} test images)"
          f"{top5_text(test, len(info['classes']))}, loss {test['loss']:.4f}")
    if result.stopped == "early_stopping":
        print(f"stopped early after epoch {result.epoch}")
    print(f"time: {_fmt_seconds(elapsed)} in all, {_fmt_seconds(sum(r['epoch_seconds'] for r in result.history))} training")
    best = ""
    if result.best_checkpoint and result.best:
        best = (f"; best by {result.best['metric'].replace('_', ' ')} ({100 * result.best['value']:.2f}%" if
                result.best["metric"].endswith("accuracy") else f"; best by {result.best['metric']} ({result.best['value']:.4f}")
        best += f", epoch {result.best['epoch']}): {result.best_checkpoint}"
    print(f"checkpoint: {result.last_checkpoint}{best}")
    print(f"log: {os.path.join(out, 'metrics.jsonl')} and {os.path.join(out, 'metrics.csv')}; test metrics: "
          f"{os.path.join(out, 'test.json')}")
    print(f"plots: {os.path.join(out, 'curves.png')}, {confusion_png}")
    if args.tensorboard:
        print(f"TensorBoard: tensorboard --logdir {os.path.join(out, 'tensorboard')}")
    print(f"next: convlab evaluate {result.last_checkpoint}  |  convlab predict {result.last_checkpoint} IMAGE...")
    return 0


def _start_live(model, out, model_spec, meta, trainer):
    """``--live``: the explorer served from a thread of this process, reading the model between steps."""
    from ..explore import make_server
    from ..explore.source import LiveSource

    try:
        server = make_server(LiveSource(model, out, model_spec, meta, lambda: trainer.step)).start()
    except ImportError as exc:
        raise RuntimeError(f"--live: {exc}") from None
    print(f"live explorer: {server.url}#training (it stops when training ends; afterwards: convlab explore {out})",
          flush=True)
    return server


def _dry_run(model, cfg, info, spec, no_grad, models):
    """One forward pass on zeros, so a model that cannot take the data's images fails now, clearly."""
    import numpy as np

    import convlab

    c, h, w = spec.input_shape
    model.eval()
    try:
        with no_grad():
            model(convlab.tensor(np.zeros((2, c, h, w), np.float32)))
    except Exception as exc:
        designed = models.info(cfg["model"]).input_size
        hint = ""
        if tuple(designed[1:]) != (h, w):
            hint = f"; try --image-size {designed[1]},{designed[2]} (the size it is designed for)"
            if designed[1] >= h and designed[1] - h == designed[2] - w and (designed[1] - h) % 2 == 0 and not spec.pad:
                hint += f", or --pad {(designed[1] - h) // 2} to make {h}x{w} images {designed[1]}x{designed[2]}"
        raise RuntimeError(f"model {cfg['model']} (designed for {'x'.join(map(str, designed))} inputs) cannot take "
                           f"{c}x{h}x{w} images from {info['name']}: {exc}{hint}") from None
    finally:
        model.train()

"""``convlab train``'s run: settle the configuration (a new run, a recipe, or ``--resume``), then
load the data, build the model, train, test and report. ``commands/train.py`` holds the flags."""

from __future__ import annotations

import os
import sys
import time

from ._train_config import _check, _Collective, _config, _parse_val_split, _shared_out_dir


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
        _parse_val_split(args, UsageError)
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

"""``convlab evaluate CKPT``: accuracy, per-class precision/recall/F1, the confusion matrix and the
most confidently wrong pictures of a checkpoint, on its dataset or any other.

    convlab evaluate runs/train-001                        the run's last checkpoint on its test split
    convlab evaluate runs/train-001/best.safetensors --split train --limit 5000
    convlab evaluate model.safetensors --dataset my_pictures/   a folder (its test/ folder if it has one)

A run trained with ``--tta`` is evaluated with flip test-time augmentation, as ``convlab train``
tested it (``--no-tta`` for the plain model; ``--tta`` for any checkpoint).
"""

from __future__ import annotations

import os


def register(subparsers):
    import argparse

    from .. import validate
    from ..cli import add_common
    from ._preprocessing import add_preprocessing_flags

    p = subparsers.add_parser(
        "evaluate", help="accuracy, per-class precision/recall/F1 and confusion matrix of a checkpoint",
        description="Rebuild the model a checkpoint records, run it on a dataset with the checkpoint's preprocessing "
                    "(the one it was trained with), and print accuracy, top-5 accuracy and each class's precision, "
                    "recall and F1. The confusion matrix, the most confidently wrong pictures and the metrics go to "
                    "the output folder.")
    add_common(p)
    p.add_argument("checkpoint", metavar="CKPT", help="a checkpoint, or a run folder (its last.safetensors)")
    p.add_argument("--dataset", default=None,
                   help="a dataset name or a folder of pictures (default: the one the model was trained on)")
    p.add_argument("--data-root", default=None, help="directory holding a named dataset's files")
    p.add_argument("--split", choices=["test", "train"], default="test",
                   help="which split of the dataset (a folder without train/ and test/ is used whole) (default: test)")
    p.add_argument("--limit", type=validate.cli_int(1), default=None, metavar="N", help="evaluate on the first N images only")
    p.add_argument("--batch-size", type=validate.cli_int(1), default=256, help="(default: 256)")
    p.add_argument("--mistakes", type=int, default=16, metavar="N",
                   help="how many of the most confidently wrong pictures to show (default: 16)")
    p.add_argument("--skip-bad-files", action="store_true",
                   help="leave out pictures that cannot be read (with a warning and a count) instead of stopping")
    p.add_argument("--tta", action=argparse.BooleanOptionalAction, default=None,
                   help="average the logits of each picture and its mirror image (default: as the run was tested, "
                        "its convlab train --tta)")
    p.add_argument("--out", default=None, help="output folder (default: a new runs/evaluate-NNN)")
    p.add_argument("--force", action="store_true", help="write into --out even if it already holds files")
    add_preprocessing_flags(p)
    p.set_defaults(func=main)
    return p


def main(args) -> int:
    import numpy as np

    from ..cli import UsageError, top5_text
    from ..data import DataLoader, Subset
    from ..data.preprocess import from_checkpoint
    from ..files import write_json
    from ..train import evaluate, load_checkpoint, model_from_checkpoint, plot_confusion
    from ..train.checkpoint import resolve
    from ..train.logs import plot_mistakes
    from ..train.metrics import precision_recall_f1
    from ..train.run import _with_transform, check_out_dir, eval_transform, writing_into
    from ..train.run_data import load_eval_dataset
    from ._preprocessing import check, spec_from_flags

    if args.batch_size < 1 or (args.limit is not None and args.limit < 1) or args.mistakes < 0:
        raise UsageError("--batch-size and --limit must be >= 1, --mistakes >= 0")
    check(args, UsageError)
    quiet = getattr(args, "quiet", False)
    path = resolve(args.checkpoint)
    ckpt = load_checkpoint(path)
    meta = ckpt.get("meta") or {}
    cfg = meta.get("config") or {}
    name = args.dataset or meta.get("dataset")
    if args.dataset is None and cfg.get("dataset"):
        name = cfg["dataset"]  # the run's own spelling (folder:PATH)
    if not name:
        raise UsageError(f"{path} does not say which dataset it was trained on; give one with --dataset")
    try:
        spec = from_checkpoint(ckpt, path, fallback=spec_from_flags(args))
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    model = model_from_checkpoint(ckpt, path)
    root = args.data_root if args.data_root is not None else (cfg.get("data_root") if args.dataset is None else None)
    notes: list[str] = []
    ds, info = load_eval_dataset(name, root, args.split, spec, meta.get("classes"), seed=cfg.get("seed", 0),
                                 skip_bad=args.skip_bad_files, say=notes.append)
    classes = meta.get("classes") or info["classes"]
    if len(classes) != len(info["classes"]):
        raise UsageError(f"the model predicts {len(classes)} classes but {name} has {len(info['classes'])}")
    if args.limit:
        ds = Subset(ds, np.arange(min(args.limit, len(ds))))
    try:
        check_out_dir(args.out, args.force)  # the folder itself is made once there are results to write
    except FileExistsError as exc:
        raise UsageError(str(exc)) from None
    kept = {"probs": [], "labels": []}

    def keep(logits, labels):
        z = logits - logits.max(axis=1, keepdims=True)
        p = np.exp(z)
        kept["probs"].append(p / p.sum(axis=1, keepdims=True))
        kept["labels"].append(labels)

    loader = DataLoader(_with_transform(ds, eval_transform(spec)), args.batch_size)
    import sys

    progress = sys.stderr.isatty() if getattr(args, "progress", None) is None else args.progress
    tta = bool(cfg.get("tta")) if args.tta is None else args.tta
    if tta:
        from ..train.tta import FlipTTA

        model = FlipTTA(model)
        notes.append("  flip test-time augmentation: the logits of each picture and its mirror image averaged"
                     + (" (as the run was tested; --no-tta for the plain model)" if args.tta is None else ""))
    result = evaluate(model, loader, num_classes=len(classes), on_batch=keep, progress=bool(progress) and not quiet)
    scores = precision_recall_f1(result["confusion"])
    probs, labels = np.concatenate(kept["probs"]), np.concatenate(kept["labels"])
    predicted = probs.argmax(axis=1)
    wrong = np.flatnonzero(predicted != labels)
    wrong = wrong[np.argsort(-probs[wrong, predicted[wrong]], kind="stable")][: args.mistakes]
    shown = f"{name} {args.split}" if not os.path.isdir(os.path.expanduser(name.removeprefix("folder:"))) else info["source"]
    pixels = ds.get_batch(wrong)[0] if len(wrong) else np.zeros((0, *spec.input_shape), np.float32)
    paths = getattr(ds.dataset if isinstance(ds, Subset) else ds, "paths", None)
    with writing_into(args.out, "evaluate", args.force) as out:  # a failure below removes what it wrote
        png = plot_confusion(result["confusion"], classes, os.path.join(out, "confusion.png"),
                             title=f"{os.path.basename(path)} on {os.path.basename(shown)} "
                                   f"(accuracy {100 * result['accuracy']:.2f}%)")
        mistakes_png = plot_mistakes(pixels, labels[wrong], predicted[wrong], probs[wrong, predicted[wrong]], classes,
                                     os.path.join(out, "mistakes.png"),
                                     title=f"the {len(wrong)} most confidently wrong of {result['n']:,} pictures")
        write_json(os.path.join(out, "metrics.json"), {
            "checkpoint": os.path.abspath(path), "dataset": name, "split": args.split, **result, **scores,
            "classes": classes, "preprocessing": spec.to_dict(),
            "mistakes": [{"index": int(i), **({"path": paths[int(i)]} if paths else {}), "true": classes[labels[i]],
                          "predicted": classes[predicted[i]], "probability": float(probs[i, predicted[i]])}
                         for i in wrong]})
    if quiet:
        print(f"accuracy {100 * result['accuracy']:.2f}%")
        return 0
    spec_name = (ckpt.get("model_spec") or {}).get("name") or "the model"
    print(f"{path}: {spec_name} on {shown}, {result['n']:,} pictures, preprocessed as {spec.describe()}")
    for note in notes:
        print(note)
    print(f"accuracy {100 * result['accuracy']:.2f}%{top5_text(result, len(classes), '   ')}   loss {result['loss']:.4f}")
    width = max(5, *(len(c) for c in classes))

    def pct(v):
        return "     n/a" if v is None else f"{100 * v:7.2f}%"

    print(f"  {'class':<{width}}  {'precision':>9} {'recall':>8} {'F1':>8}  {'pictures':>8}")
    for k, c in enumerate(classes):
        print(f"  {c:<{width}}  {pct(scores['precision'][k]):>9} {pct(scores['recall'][k])} {pct(scores['f1'][k])}"
              f"  {scores['support'][k]:>8,}")
    print(f"confusion matrix: {png}; most confidently wrong: {mistakes_png}; metrics: {os.path.join(out, 'metrics.json')}")
    return 0

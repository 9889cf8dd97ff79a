"""``convlab evaluate CKPT``: accuracy, per-class accuracy and a confusion-matrix PNG for a checkpoint.

    convlab evaluate runs/train-001/last.safetensors
    convlab evaluate runs/train-001/best.safetensors --split train --limit 5000
"""

from __future__ import annotations

import os


def register(subparsers):
    from ..cli import add_common

    p = subparsers.add_parser(
        "evaluate", help="accuracy, per-class accuracy and confusion matrix of a checkpoint",
        description="Rebuild the model a `convlab train` checkpoint records, run it on its dataset's test split "
                    "(or another split/dataset) with the same preprocessing, and print accuracy, top-5 accuracy and "
                    "per-class accuracy; the confusion matrix goes to a PNG in the output directory.")
    add_common(p)
    p.add_argument("checkpoint", metavar="CKPT", help="a checkpoint written by convlab train")
    p.add_argument("--dataset", default=None, help="dataset name (default: the one the model was trained on)")
    p.add_argument("--data-root", default=None, help="directory holding the dataset's files")
    p.add_argument("--split", choices=["test", "train"], default="test")
    p.add_argument("--limit", type=int, default=None, help="evaluate on the first N items only")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--out", default=None, help="output directory (default: a new runs/evaluate-NNN)")
    p.add_argument("--force", action="store_true", help="write into --out even if it already holds files")
    p.set_defaults(func=main)
    return p


def main(args) -> int:
    from ..cli import UsageError
    from ..data import DataLoader, Subset, catalog
    from ..files import write_json
    from ..train import evaluate, load_checkpoint, model_from_checkpoint, plot_confusion
    from ..train.run import _with_transform, eval_transform, prepare_out_dir

    if args.batch_size < 1 or (args.limit is not None and args.limit < 1):
        raise UsageError("--batch-size and --limit must be >= 1")
    ckpt = load_checkpoint(args.checkpoint)
    meta = ckpt.get("meta") or {}
    cfg = meta.get("config") or {}
    name = args.dataset or meta.get("dataset")
    if not name:
        raise UsageError(f"{args.checkpoint} does not say which dataset it was trained on; pass --dataset")
    pre = meta.get("preprocessing") or {}
    model = model_from_checkpoint(ckpt, args.checkpoint)
    root = args.data_root if args.data_root is not None else (cfg.get("data_root") if name == meta.get("dataset") else None)
    train, test, info = catalog.load(name, root, seed=cfg.get("seed", 0))
    ds = _with_transform(train if args.split == "train" else test, eval_transform(pre))
    if args.limit:
        ds = Subset(ds, range(min(args.limit, len(ds))))
    classes = meta.get("classes") or info["classes"]
    if len(classes) != len(info["classes"]):
        raise UsageError(f"the model predicts {len(classes)} classes but {name} has {len(info['classes'])}")
    try:
        out = prepare_out_dir(args.out, "evaluate", args.force)
    except FileExistsError as exc:
        raise UsageError(str(exc)) from None
    result = evaluate(model, DataLoader(ds, args.batch_size), num_classes=len(classes))
    png = plot_confusion(result["confusion"], classes, os.path.join(out, "confusion.png"),
                         title=f"{os.path.basename(args.checkpoint)} on {name} {args.split} "
                               f"(accuracy {100 * result['accuracy']:.2f}%)")
    write_json(os.path.join(out, "metrics.json"), {"checkpoint": os.path.abspath(args.checkpoint), "dataset": name,
                                                   "split": args.split, **result, "classes": classes})
    if getattr(args, "quiet", False):
        print(f"accuracy {100 * result['accuracy']:.2f}%")
        return 0
    spec = ckpt.get("model_spec") or {}
    print(f"{args.checkpoint}: {spec.get('name')} on {name} {args.split} split, {result['n']:,} images")
    print(f"accuracy {100 * result['accuracy']:.2f}%   top-5 {100 * result['top5']:.2f}%   loss {result['loss']:.4f}")
    width = max(len(c) for c in classes)
    print("per-class accuracy:")
    totals = [sum(row) for row in result["confusion"]]
    for c, acc, total in zip(classes, result["per_class"], totals):
        shown = "   n/a" if acc is None else f"{100 * acc:6.2f}%"
        print(f"  {c:<{width}}  {shown}  ({total} images)")
    print(f"confusion matrix: {png}; metrics: {os.path.join(out, 'metrics.json')}")
    return 0

"""``convlab predict CKPT PICTURE...``: the class and top-k probabilities of each picture.

Pictures, folders (every picture inside, recursively) and glob patterns are accepted. Each
picture goes through the checkpoint's preprocessing (the one it was trained with); what that
changed (mode, size, inversion) is said beside the answer. A picture that cannot be read is
reported and the others go on; the exit code is then 1.

    convlab predict runs/train-001 photo.jpg more_photos/ 'shots/*.png' --output preds.csv
"""

from __future__ import annotations

import glob
import os
import sys

BATCH = 32  # pictures per forward pass


def register(subparsers):
    from .. import validate
    from ..cli import add_common
    from ._preprocessing import add_preprocessing_flags

    p = subparsers.add_parser(
        "predict", help="classify pictures with a checkpoint",
        description="Classify pictures (PNG, JPEG, BMP, GIF, TIFF, WebP, ...) with a trained model. Each picture is "
                    "converted like the model's training pictures (channels, size, normalisation; said in the "
                    "output) and answered with its top-k classes and probabilities.")
    add_common(p)
    p.add_argument("checkpoint", metavar="CKPT", help="a checkpoint, or a run folder (its last.safetensors)")
    p.add_argument("images", metavar="PICTURE", nargs="+", help="picture files, folders of pictures or glob patterns")
    p.add_argument("--topk", type=validate.cli_int(1), default=3, help="how many classes to show per picture (default: 3)")
    p.add_argument("--invert", action="store_true",
                   help="invert brightness first (for dark-on-light pictures given to a model trained on light-on-dark "
                        "ones, like Fashion-MNIST's)")
    p.add_argument("--output", "-o", default=None, metavar="FILE",
                   help="also write the answers to FILE: .csv or .json (path, class, probability, top-k)")
    p.add_argument("--force", action="store_true", help="write over an existing --output file")
    add_preprocessing_flags(p)
    p.set_defaults(func=main)
    return p


def expand(items) -> tuple[list[str], list[str]]:
    """``(picture paths, items that matched nothing)``: folders walked (pictures by extension,
    sorted), glob patterns expanded, files kept as given."""
    from ..data.folder import IMAGE_EXTENSIONS

    paths, unmatched = [], []
    for item in items:
        if os.path.isdir(item):
            found = [os.path.join(d, f) for d, dirs, files in sorted(os.walk(item)) for f in sorted(files)
                     if f.lower().endswith(IMAGE_EXTENSIONS) and not f.startswith(".")]
            paths += found
            if not found:
                unmatched.append(item)
        elif os.path.exists(item) or not glob.has_magic(item):
            paths.append(item)
        else:
            found = sorted(p for p in glob.glob(item, recursive=True) if os.path.isfile(p))
            paths += found
            if not found:
                unmatched.append(item)
    return paths, unmatched


def _light_border(pixels) -> float:
    """Mean brightness of the outer ring (an eighth of each side) of ``(C, H, W)`` pixels in [0, 1]."""
    import numpy as np

    g = pixels.mean(axis=0)
    h, w = g.shape
    bh, bw = max(1, h // 8), max(1, w // 8)
    ring = np.concatenate([g[:bh].ravel(), g[-bh:].ravel(), g[:, :bw].ravel(), g[:, -bw:].ravel()])
    return float(ring.mean())


def main(args) -> int:
    import numpy as np

    import convlab

    from ..cli import UsageError, describe
    from ..data.folder import open_image
    from ..data.preprocess import from_checkpoint
    from ..train import load_checkpoint, model_from_checkpoint
    from ..train.checkpoint import resolve
    from ._preprocessing import check, spec_from_flags

    if args.topk < 1:
        raise UsageError(f"--topk must be >= 1, got {args.topk}")
    check(args, UsageError)
    if args.output:
        if not args.output.lower().endswith((".csv", ".json")):
            raise UsageError(f"--output {args.output}: the name must end in .csv or .json")
        if os.path.exists(args.output) and not args.force:
            raise UsageError(f"--output {args.output} already exists; pass --force to write over it")
        if not os.path.isdir(os.path.dirname(os.path.abspath(args.output))):
            raise UsageError(f"--output {args.output}: the folder {os.path.dirname(args.output)} does not exist")
    paths, unmatched = expand(args.images)
    if not paths:
        raise UsageError(f"no pictures found in {', '.join(unmatched)}")
    path = resolve(args.checkpoint)
    ckpt = load_checkpoint(path)
    meta = ckpt.get("meta") or {}
    try:
        spec = from_checkpoint(ckpt, path, fallback=spec_from_flags(args))
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if args.invert:
        spec = spec.replace(invert=not spec.invert)
    model = model_from_checkpoint(ckpt, path)
    classes = meta.get("classes") or []
    trained_dark = spec.mean is not None and float(np.mean(spec.mean)) < 0.4
    quiet = getattr(args, "quiet", False)
    rows, failed = [], 0
    for item in unmatched:
        print(f"convlab predict: error: {item}: no pictures match", file=sys.stderr)
        failed += 1

    def answer(batch):
        """Classify up to BATCH converted pictures in one forward pass and print their answers in order."""
        if not batch:
            return
        with convlab.no_grad():
            logits = model(convlab.tensor(spec.finish(np.stack([pixels for _, pixels, _ in batch])))).numpy()
        z = np.exp(logits - logits.max(axis=1, keepdims=True))
        for (p, pixels, notes), probs in zip(batch, z / z.sum(axis=1, keepdims=True)):
            order = np.argsort(-probs, kind="stable")[: min(args.topk, len(probs))]
            names = [classes[i] if i < len(classes) else str(i) for i in order]
            top = [{"class": n, "probability": float(probs[i])} for n, i in zip(names, order)]
            rows.append({"path": p, "class": names[0], "probability": float(probs[order[0]]), "topk": top,
                         "notes": notes})
            border = _light_border(pixels)
            if quiet:
                print(f"{p}\t{names[0]}")
                continue
            print(f"{p}: " + ", ".join(f"{t['class']} {100 * t['probability']:.1f}%" for t in top))
            print(f"  converted: {', '.join(notes)}" if notes else "  no conversion needed")
            if trained_dark and border > 0.6:
                print(f"  note: the background is light (border brightness {border:.2f}, after the conversion) but the "
                      "model was trained on dark backgrounds; try " + ("without --invert" if args.invert else "--invert"))
        batch.clear()

    pending: list = []
    for p in paths:
        notes: list[str] = []
        try:
            pending.append((p, spec.convert(open_image(p), notes), notes))
        except (OSError, ValueError) as exc:  # a missing file, or FileFormatError (a ValueError) naming it
            answer(pending)  # the answers before it first, so the output keeps the pictures' order
            sys.stdout.flush()
            print(f"convlab predict: error: {describe(exc)}", file=sys.stderr)
            rows.append({"path": p, "error": describe(exc)})
            failed += 1
            continue
        if len(pending) == BATCH:
            answer(pending)
    answer(pending)
    if args.output:
        _write(args.output, rows, args.topk)
        if not quiet:
            print(f"answers: {args.output}")
    if failed and not quiet and len(paths) + len(unmatched) > 1:  # one picture: its own error line says it all
        print(f"{failed:,} of {len(paths) + len(unmatched):,} {'picture' if len(paths) == 1 else 'pictures'} "
              f"failed", file=sys.stderr)
    return 1 if failed else 0


def _write(path: str, rows: list[dict], k: int) -> None:
    import csv
    import io

    from ..files import write_json, write_text

    if path.lower().endswith(".json"):
        write_json(path, rows)
        return
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["path", "class", "probability"] + [f"top{j}_{f}" for j in range(2, k + 1) for f in ("class", "probability")]
               + ["conversion", "error"])
    for r in rows:
        top = r.get("topk") or []
        extra = [v for t in top[1:] for v in (t["class"], f"{t['probability']:.6f}")]
        extra += [""] * (2 * (k - 1) - len(extra))
        w.writerow([r["path"], r.get("class", ""), f"{r['probability']:.6f}" if "probability" in r else ""] + extra
                   + ["; ".join(r.get("notes") or []), r.get("error", "")])
    write_text(path, buf.getvalue())

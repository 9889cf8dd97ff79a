"""``convlab predict CKPT IMAGE...``: the class and top-k probabilities of each image.

Images of any size and mode are converted to what the model was trained on (grayscale or
RGB, its height and width); the conversion is stated beside each answer.
"""

from __future__ import annotations

import os


def register(subparsers):
    from ..cli import add_common

    p = subparsers.add_parser(
        "predict", help="classify image files with a checkpoint",
        description="Classify image files (PNG, JPEG, ...) with a model trained by convlab train. Each image is "
                    "converted to the model's input mode and size (stated in the output), preprocessed like the "
                    "training data, and answered with its top-k classes and probabilities.")
    add_common(p)
    p.add_argument("checkpoint", metavar="CKPT", help="a checkpoint written by convlab train")
    p.add_argument("images", metavar="IMAGE", nargs="+", help="image files")
    p.add_argument("--topk", type=int, default=3, help="how many classes to show per image")
    p.add_argument("--invert", action="store_true",
                   help="invert brightness first (Fashion-MNIST/MNIST items are light on black; photos are often dark on white)")
    p.set_defaults(func=main)
    return p


def main(args) -> int:
    import numpy as np

    import convlab

    from ..cli import UsageError
    from ..data import load_image
    from ..train import load_checkpoint, model_from_checkpoint
    from ..train.run import eval_transform

    if args.topk < 1:
        raise UsageError(f"--topk must be >= 1, got {args.topk}")
    missing = [p for p in args.images if not os.path.isfile(p)]
    if missing:
        raise UsageError(f"no such image file: {', '.join(missing)}")
    ckpt = load_checkpoint(args.checkpoint)
    meta = ckpt.get("meta") or {}
    pre = meta.get("preprocessing")
    if not pre:
        raise UsageError(f"{args.checkpoint} does not record its preprocessing (not written by convlab train)")
    model = model_from_checkpoint(ckpt, args.checkpoint)
    classes = meta.get("classes") or []
    transform = eval_transform(pre)
    quiet = getattr(args, "quiet", False)
    for path in args.images:
        try:
            x, note = load_image(path, mode=pre["mode"], size=tuple(pre["image_size"]))
        except OSError as exc:
            raise RuntimeError(f"{path}: cannot read the image ({exc})") from None
        if args.invert:
            x = 1.0 - x
            note = ", ".join(filter(None, [note, "inverted"]))
        batch = x[None] if transform is None else transform(x[None])
        with convlab.no_grad():
            logits = model(convlab.tensor(np.asarray(batch, dtype=np.float32))).numpy()[0]
        probs = np.exp(logits - logits.max())
        probs /= probs.sum()
        order = np.argsort(-probs)[: min(args.topk, len(probs))]
        names = [classes[i] if i < len(classes) else str(i) for i in order]
        if quiet:
            print(f"{path}\t{names[0]}")
            continue
        answer = ", ".join(f"{n} {100 * probs[i]:.1f}%" for n, i in zip(names, order))
        print(f"{path}: {answer}")
        print(f"  converted: {note}" if note else "  no conversion needed")
    return 0

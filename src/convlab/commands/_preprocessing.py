"""The preprocessing flags (``--image-size``, ``--channels``/``--grayscale``, ``--resize``,
``--invert``, ``--mean``/``--std``/``--no-normalize``, ``--pad``), shared by the commands.

``convlab train`` uses them to choose the preprocessing (anything not given is inferred from the
data); ``evaluate``, ``predict`` and ``inspect`` use them only for a checkpoint that does not
record its preprocessing (a model saved without it)."""

from __future__ import annotations

import argparse
import math

from .. import validate

MAX_PAD = 128  # pixels per side; more would make each picture mostly padding (and --pad 100000 asks for TiBs)
MAX_SIZE = 4096  # pixels a side of --image-size


def _size(text: str):
    parts = text.replace("x", ",").split(",")
    try:
        values = [int(p) for p in parts]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected N or H,W in pixels (like 64 or 48,64), got {text!r}") from None
    if len(values) not in (1, 2) or min(values) < 1 or max(values) > MAX_SIZE:
        raise argparse.ArgumentTypeError(f"expected N or H,W of whole numbers in [1, {MAX_SIZE}] (like 64 or 48,64), "
                                         f"got {text!r}")
    return (values[0], values[0]) if len(values) == 1 else tuple(values)


def _floats(text: str):
    try:
        values = tuple(float(p) for p in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected one number or one per channel, comma-separated, got {text!r}") from None
    if len(values) not in (1, 3):
        raise argparse.ArgumentTypeError(f"expected 1 or 3 comma-separated numbers, got {text!r}")
    if not all(math.isfinite(v) for v in values):
        raise argparse.ArgumentTypeError(f"expected finite numbers (no nan or inf), got {text!r}")
    return values


def add_preprocessing_flags(p, training: bool = False) -> None:
    """Add the flags; with ``training`` their help says what is inferred, otherwise that they
    supply a checkpoint's missing preprocessing."""
    title = ("preprocessing (anything not given is inferred from the data and printed at the start)" if training else
             "preprocessing, for a checkpoint that does not record it")
    g = p.add_argument_group(title)
    g.add_argument("--image-size", type=_size, default=None, metavar="N|H,W",
                   help="the size pictures are resized to" + (" (default: the common size, at most 64 px a side)"
                                                              if training else ""))
    ch = g.add_mutually_exclusive_group()
    ch.add_argument("--channels", type=int, choices=[1, 3], default=None,
                    help="1 (grayscale) or 3 (RGB)" + (" (default: what most pictures are)" if training else ""))
    ch.add_argument("--grayscale", dest="channels", action="store_const", const=1, help="the same as --channels 1")
    g.add_argument("--resize", choices=["stretch", "pad", "crop"], default=None,
                   help="how a picture of another shape is resized: stretch to the size, pad (fit inside, the rest "
                        "black) or crop (fill, then cut the centre)" + (" (default: stretch when all pictures have the "
                                                                        "same aspect ratio, else pad)" if training else ""))
    if training:
        g.add_argument("--invert", action="store_true",
                       help="invert brightness (for dark pictures on a light background, to train on light-on-dark)")
    norm = g.add_mutually_exclusive_group()
    norm.add_argument("--mean", type=_floats, default=None, metavar="M[,M,M]",
                      help="per-channel mean subtracted (with --std)" + (" (default: the dataset's, measured on the "
                                                                        "training pictures for a folder)" if training else ""))
    norm.add_argument("--no-normalize", dest="normalize", action="store_false", default=None,
                      help="no mean/std normalisation")
    g.add_argument("--std", type=_floats, default=None, metavar="S[,S,S]", help="per-channel standard deviation divided by")
    g.add_argument("--pad", type=validate.cli_int(0, MAX_PAD), default=0,
                   help="zero-pad pictures by this many pixels per side, e.g. 2 for 28x28 -> 32x32 (default: 0)")


def check(args, UsageError) -> None:
    if (args.mean is None) != (args.std is None):
        raise UsageError("--mean and --std go together: give both, or neither")
    if args.mean is not None and min(args.std) <= 0:
        raise UsageError(f"--std must be > 0, got {','.join(f'{s:g}' for s in args.std)}")
    if args.pad < 0:
        raise UsageError(f"--pad must be >= 0, got {args.pad}")


def preprocessing_config(args) -> dict:
    """The flags as a run configuration's entries (None where not given)."""
    return {"image_size": list(args.image_size) if args.image_size else None, "channels": args.channels,
            "resize": args.resize, "invert": bool(getattr(args, "invert", False)),
            "mean": list(args.mean) if args.mean else None, "std": list(args.std) if args.std else None,
            "normalize": args.normalize, "pad": args.pad}


def spec_from_flags(args):
    """A :class:`~convlab.data.preprocess.Preprocessing` from the flags, or None when
    ``--image-size`` and ``--channels`` are not both given."""
    from ..data.preprocess import Preprocessing

    if args.image_size is None or args.channels is None:
        return None
    return Preprocessing(channels=args.channels, size=args.image_size, resize=args.resize or "stretch",
                         mean=args.mean, std=args.std, pad=args.pad)

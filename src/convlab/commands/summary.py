"""``convlab summary``: the per-layer table of a zoo model (shapes, parameters, MACs, receptive fields).

    convlab summary resnet18 --input 3,224,224
    convlab summary lenet5                      (the model's own input size, 1x28x28)
    convlab summary resnet20 --input 3,32,32 --num-classes 100
"""

from __future__ import annotations


def register(subparsers):
    from .. import validate
    from ..cli import add_common

    p = subparsers.add_parser(
        "summary", help="per-layer table of a zoo model: output shapes, params, MACs, receptive field",
        description="Run a zoo model once on a dummy input and print, per layer, the output shape, parameters "
                    "(trainable and not), multiply-accumulates and receptive field with its jump, then totals and "
                    "the activation memory of one forward/backward pass. A shape that fails prints the trace up to "
                    "the failing layer, the arithmetic that failed and the smallest input that works.")
    add_common(p)
    p.add_argument("model", help="a name from 'convlab models'")
    p.add_argument("--input", metavar="C,H,W", help="input shape without the batch axis (default: the model's own)")
    p.add_argument("--num-classes", type=validate.cli_int(1), metavar="N", help="output classes (default: the model's own)")
    p.add_argument("--batch-size", type=validate.cli_int(1), default=1, metavar="B",
                   help="batch size for MACs and memory (default 1)")
    p.set_defaults(func=main)
    return p


def parse_shape(text: str) -> tuple:
    """'3,224,224' or '3x224x224' -> (3, 224, 224): exactly channels, height and width."""
    from ..cli import UsageError

    parts = text.replace("x", ",").replace(" ", "").split(",")
    try:
        shape = tuple(int(p) for p in parts if p)
    except ValueError:
        raise UsageError(f"--input takes C,H,W (channels, height, width) as whole numbers like 3,224,224, "
                         f"got {text!r}") from None
    if len(shape) != 3:
        example = f"1,{shape[0]},{shape[1]}" if len(shape) == 2 else "1,28,28"
        raise UsageError(f"--input takes three numbers C,H,W (channels, height, width), got {len(shape)} in {text!r}"
                         + (f"; for a {shape[0]}x{shape[1]} grayscale picture: --input {example}"
                            if len(shape) == 2 else "") + " (without the batch size; see --batch-size)")
    if any(v < 1 for v in shape):
        raise UsageError(f"--input sizes must be >= 1, got {text!r}")
    if shape[2] in (1, 3) and shape[0] > 4:
        raise UsageError(f"--input {text}: channels come first (C,H,W); did you mean --input "
                         f"{shape[2]},{shape[0]},{shape[1]}?")
    return shape


def main(args) -> int:
    from .. import models
    from ..cli import UsageError
    from ..inspect import summary

    try:
        info = models.info(args.model)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    shape = parse_shape(args.input) if args.input else info.input_size
    if args.batch_size < 1:
        raise UsageError(f"--batch-size must be positive, got {args.batch_size}")
    kwargs = {"in_channels": shape[0]}
    if args.num_classes is not None:
        if args.num_classes < 1:
            raise UsageError(f"--num-classes must be positive, got {args.num_classes}")
        kwargs["num_classes"] = args.num_classes
    model = models.get(args.model, **kwargs)
    result = summary(model, shape, batch_size=args.batch_size)
    if getattr(args, "quiet", False):
        print(f"{result.total_params:,} params, {result.total_macs:,} MACs, output {result.output_shape}")
    else:
        print(f"{args.model}: {result}")
    return 0

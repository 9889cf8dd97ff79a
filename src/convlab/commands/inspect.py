"""``convlab inspect CKPT``: pictures of what a trained model computes.

    convlab inspect runs/fashion/checkpoint.safetensors --image shoe.png --out figs/
    convlab inspect weights.safetensors --model lenet5 --out figs/      (a bare state dict)

Writes into ``--out``: the first conv layer's kernels (``kernels_<layer>.png``; ``--all-kernels``
for every conv layer), feature maps of the chosen layers for the image (``feature_maps.png``,
forward hooks), per-layer activation and gradient statistics with the fraction of dead ReLUs
(``layer_stats.png``), the im2col matrix of a patch of the image under the first kernel
(``im2col.png``) and the receptive field of a unit of the last conv layer over the image
(``receptive_field.png``). Prints the prediction and the statistics table.
"""

from __future__ import annotations

import pathlib

import numpy as np

from ..validate import ConvlabError


def register(subparsers):
    from ..cli import add_common, add_output

    p = subparsers.add_parser("inspect", help="figures of a trained model: kernels, feature maps, statistics",
                              description=__doc__.split("\n\n")[0])
    add_common(p)
    add_output(p, "inspect", "figures")
    p.add_argument("checkpoint", help="checkpoint from convlab train, a run folder, or a state dict with --model")
    p.add_argument("--image", help="input image (default: the Grace Hopper portrait from matplotlib)")
    p.add_argument("--model", help="model name (convlab models) when the checkpoint does not record one")
    p.add_argument("--layers", nargs="+", metavar="NAME", help="layers whose feature maps to draw (default: all)")
    p.add_argument("--all-kernels", action="store_true", help="draw the kernels of every conv layer")
    p.add_argument("--invert", action="store_true", help="invert the image (dark objects on light -> light on dark)")
    p.set_defaults(func=main)
    return p


# ------------------------------------------------------------------ loading
def load_model(path, model_name: str | None = None):
    """``(model in eval mode, model name, checkpoint meta)`` from a ``convlab train`` checkpoint
    (which records its model spec, classes and preprocessing) or from a bare state dict plus
    ``model_name`` (``in_channels``/``num_classes`` read off the first conv and last weight)."""
    import convlab
    from convlab import models

    from ..train import model_from_checkpoint
    from ..train.checkpoint import FORMAT, resolve

    path = resolve(path)
    if not pathlib.Path(path).is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    ckpt, meta = convlab.load(str(path)), {}
    if isinstance(ckpt, dict) and ckpt.get("format") == FORMAT:
        meta = dict(ckpt.get("meta") or {})
        if model_name is None and (ckpt.get("model_spec") or {}).get("name"):
            return model_from_checkpoint(ckpt, str(path)), ckpt["model_spec"]["name"], meta
        ckpt = ckpt["model"]
    if not (isinstance(ckpt, dict) and ckpt and all(isinstance(v, convlab.Tensor) for v in ckpt.values())):
        raise ConvlabError(f"{path} is neither a convlab train checkpoint nor a state dict")
    if model_name is None:
        raise ConvlabError(f"{path} does not record its model; pass --model NAME (convlab models lists them)")
    weights = [tuple(v.shape) for k, v in ckpt.items() if k.endswith("weight")]
    kwargs = {}
    if any(len(s) == 4 for s in weights):
        kwargs["in_channels"] = next(s for s in weights if len(s) == 4)[1]
    if weights and len(weights[-1]) == 2:
        kwargs["num_classes"] = weights[-1][0]
    from ..train.checkpoint import check_finite_weights

    check_finite_weights(ckpt, str(path))
    model = models.get(model_name, **kwargs)
    model.load_state_dict(ckpt)
    return model.eval(), model_name, meta


def load_input(path, in_channels: int, size, meta: dict, invert: bool = False):
    """``(batch (1, C, H, W) float32, image shown (H, W[, 3]) in [0, 1], note)``: the picture through
    the checkpoint's preprocessing (:class:`convlab.data.preprocess.Preprocessing`, the one training
    used), or, for a checkpoint without one, converted to ``in_channels`` and ``size`` only."""
    from ..data.folder import open_image
    from ..data.preprocess import Preprocessing

    if path is None:
        from matplotlib import cbook

        path = cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
    if not pathlib.Path(path).is_file():
        raise FileNotFoundError(f"no such image file: {path}")
    pre = meta.get("preprocessing")
    spec = Preprocessing.from_dict(pre) if pre else Preprocessing(channels=in_channels, size=tuple(size))
    if invert:
        spec = spec.replace(invert=not spec.invert)
    notes: list[str] = []
    x = spec.convert(open_image(path), notes)
    shown = x[0] if x.shape[0] == 1 else x.transpose(1, 2, 0)
    return spec.finish(x[None]), shown, ", ".join(notes)


# ------------------------------------------------------------------ the command
def _conv_layers(model):
    return [(n, m) for n, m in model.named_modules() if type(m).__name__ == "Conv2d"]


def main(args) -> int:
    import convlab
    from convlab import models, viz

    model, name, meta = load_model(args.checkpoint, args.model)
    convs = _conv_layers(model)
    if not convs:
        raise ConvlabError(f"model {name} has no Conv2d layer to inspect")
    in_channels = convs[0][1].weight.shape[1]
    try:
        size = models.info(name).input_size[-2:]
    except ValueError:
        size = (32, 32)
    x, shown, note = load_input(args.image, in_channels, size, meta, args.invert)
    from ..cli import output_dir

    out = pathlib.Path(output_dir(args, "inspect"))
    quiet = getattr(args, "quiet", False)
    say = (lambda *a: None) if quiet else print
    written = []

    with convlab.no_grad():
        logits = model(convlab.tensor(x)).numpy()[0]
    probs = np.exp(logits - logits.max())
    probs /= probs.sum()
    classes = meta.get("classes") or []
    top = np.argsort(probs)[::-1][:3]

    def label(i):
        return f"{classes[i]} ({i})" if i < len(classes) else str(i)

    say(f"model {name}: {sum(p.numel() for p in model.parameters()):,} parameters, input {x.shape}"
        + (f" ({note})" if note else ""))
    say("prediction: " + ", ".join(f"{label(i)} {probs[i]:.3f}" for i in top))

    for lname, layer in (convs if args.all_kernels else convs[:1]):
        fig = viz.kernel_grid(layer, title=f"{name}: kernels of {lname} {tuple(layer.weight.shape)}")
        written.append(viz.save_figure(fig, out / f"kernels_{lname.replace('.', '_')}.png"))

    maps = viz.capture_feature_maps(model, x, layers=args.layers)
    spatial = {k: v for k, v in maps.items() if v.ndim == 4}
    fig = viz.feature_map_grid(spatial, max_layers=None if args.layers else 12,
                               title=f"{name}: feature maps for the input image (each map on its own scale)")
    written.append(viz.save_figure(fig, out / "feature_maps.png"))

    stats = viz.layer_statistics(model, x)
    say(f"{'layer':22s} {'type':12s} {'mean':>9s} {'std':>9s} {'grad std':>10s} {'dead':>6s}")
    for s in stats:
        dead = "" if np.isnan(s["dead_fraction"]) else f"{s['dead_fraction']:.2f}"
        say(f"{s['layer']:22s} {s['type']:12s} {s['mean']:9.4f} {s['std']:9.4f} {s['grad_std']:10.2e} {dead:>6s}")
    fig = viz.statistics_figure(stats, title=f"{name}: per-layer statistics on the input (loss vs its prediction)")
    written.append(viz.save_figure(fig, out / "layer_stats.png"))

    first = convs[0][1]
    kh, kw = first.weight.shape[-2:]
    r0, c0 = (x.shape[2] - kh - 2) // 2, (x.shape[3] - kw - 2) // 2  # a patch from the middle of the image
    patch = x[:1, :1, r0:r0 + kh + 2, c0:c0 + kw + 2].astype(np.float64)
    fig, err = viz.im2col_figure(patch, first.weight._data[:1, :1].astype(np.float64))
    written.append(viz.save_figure(fig, out / "im2col.png"))

    last_name = convs[-1][0]
    field = viz.receptive_field(model, x, layer=last_name)
    rows, cols = np.nonzero(field)
    box = (int(rows.min()), int(cols.min()), int(np.ptp(rows)) + 1, int(np.ptp(cols)) + 1) if rows.size else None
    base = shown if shown.shape[:2] == field.shape else x[0].mean(axis=0)  # the padded input when training padded
    fig = viz.receptive_field_panels(base, [field], [box],
                                     [f"central unit of {last_name}: {box[2]}x{box[3]} input pixels" if box else last_name],
                                     suptitle=f"{name}: receptive field over the input image")
    written.append(viz.save_figure(fig, out / "receptive_field.png"))
    for path in written:
        print(f"figure: {path}" if not quiet else str(path))
    return 0

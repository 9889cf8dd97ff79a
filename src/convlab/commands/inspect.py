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

NAME_KEYS = ("model_name", "arch", "architecture", "model")
STATE_KEYS = ("model_state", "model_state_dict", "state_dict", "model", "weights")


def register(subparsers):
    from ..cli import add_common

    p = subparsers.add_parser("inspect", help="figures of a trained model: kernels, feature maps, statistics",
                              description=__doc__.split("\n\n")[0])
    add_common(p)
    p.add_argument("checkpoint", help="checkpoint from 'convlab train' (or a state dict with --model)")
    p.add_argument("--image", help="input image (default: the Grace Hopper portrait from matplotlib)")
    p.add_argument("--out", default="inspect", metavar="DIR", help="directory for the figures (default ./inspect)")
    p.add_argument("--model", help="model name (convlab models) when the checkpoint does not record one")
    p.add_argument("--layers", nargs="+", metavar="NAME", help="layers whose feature maps to draw (default: all)")
    p.add_argument("--all-kernels", action="store_true", help="draw the kernels of every conv layer")
    p.add_argument("--invert", action="store_true", help="invert the image (dark objects on light -> light on dark)")
    p.set_defaults(func=main)
    return p


# ------------------------------------------------------------------ loading
def _is_state_dict(obj) -> bool:
    import convlab

    return isinstance(obj, dict) and bool(obj) and all(isinstance(v, (convlab.Tensor, np.ndarray)) for v in obj.values())


def _find(obj, keys, want):
    """The first value under ``keys`` (searched in ``obj`` and its nested config dicts) that ``want`` accepts."""
    if not isinstance(obj, dict):
        return None
    for k in keys:
        if k in obj and want(obj[k]):
            return obj[k]
    for nested in ("config", "args", "hparams", "meta", "metadata", "model_config"):
        if isinstance(obj.get(nested), dict):
            found = _find(obj[nested], keys, want)
            if found is not None:
                return found
    return None


def _factory_kwargs(ckpt, state) -> dict:
    """in_channels / num_classes recorded in the checkpoint, else read off the weights."""
    kw = {}
    for key in ("in_channels", "num_classes"):
        v = _find(ckpt, (key,), lambda v: isinstance(v, int))
        if v is not None:
            kw[key] = v
    shapes = [(k, tuple(np.shape(v))) for k, v in state.items() if k.endswith("weight")]
    convs = [s for _, s in shapes if len(s) == 4]
    if "in_channels" not in kw and convs:
        kw["in_channels"] = convs[0][1]
    if "num_classes" not in kw and shapes and len(shapes[-1][1]) == 2:
        kw["num_classes"] = shapes[-1][1][0]
    return kw


def load_model(path, model_name: str | None = None):
    """A model from a ``convlab train`` checkpoint (its name and state are recorded there) or from
    a bare state dict plus ``model_name``. Returns ``(model, name, checkpoint dict)``."""
    import convlab
    from convlab import models

    ckpt = convlab.load(str(path))
    if _is_state_dict(ckpt):
        state, recorded = ckpt, None
        ckpt = {}
    else:
        state = _find(ckpt, STATE_KEYS, _is_state_dict)
        recorded = _find(ckpt, NAME_KEYS, lambda v: isinstance(v, str))
        if state is None:
            raise ValueError(f"{path}: no model state dict found (looked for {', '.join(STATE_KEYS)})")
    name = model_name or recorded
    if name is None:
        raise ValueError(f"{path} does not record its model; pass --model NAME (one of: {', '.join(models.list())})")
    kwargs = _factory_kwargs(ckpt, state)
    try:
        model = models.get(name, **kwargs)
    except TypeError:
        model = models.get(name)
    model.load_state_dict({k: v for k, v in state.items()})
    model.eval()
    return model, name, ckpt


def load_input(path, in_channels: int, size: tuple, invert: bool = False, ckpt=None) -> tuple[np.ndarray, np.ndarray]:
    """``(batch (1, C, H, W) float32, display image)``: the image converted to the model's channels
    and size, scaled to [0, 1] and normalised with the checkpoint's mean/std when it records them."""
    from PIL import Image

    if path is None:
        from matplotlib import cbook

        path = cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
    if not pathlib.Path(path).is_file():
        raise FileNotFoundError(f"no such image file: {path}")
    with Image.open(path) as im:
        im = im.convert("L" if in_channels == 1 else "RGB").resize((size[1], size[0]), Image.BILINEAR)
        shown = np.asarray(im, dtype=np.float32) / 255.0
    if invert:
        shown = 1.0 - shown
    x = shown[None] if shown.ndim == 2 else np.moveaxis(shown, -1, 0)
    if x.shape[0] != in_channels:
        x = np.repeat(x.mean(axis=0, keepdims=True), in_channels, axis=0)
    mean = _find(ckpt or {}, ("mean",), lambda v: isinstance(v, (list, tuple, float)))
    std = _find(ckpt or {}, ("std",), lambda v: isinstance(v, (list, tuple, float)))
    if mean is not None and std is not None:
        x = (x - np.reshape(mean, (-1, 1, 1))) / np.reshape(std, (-1, 1, 1))
    return x[None].astype(np.float32), shown


# ------------------------------------------------------------------ the command
def _conv_layers(model):
    return [(n, m) for n, m in model.named_modules() if type(m).__name__ == "Conv2d"]


def main(args) -> int:
    import convlab
    from convlab import models, viz

    model, name, ckpt = load_model(args.checkpoint, args.model)
    convs = _conv_layers(model)
    if not convs:
        raise ValueError(f"model {name} has no Conv2d layer to inspect")
    in_channels = convs[0][1].weight.shape[1]
    try:
        size = models.info(name).input_size[-2:]
    except ValueError:
        size = (32, 32)
    size = tuple(_find(ckpt, ("input_size", "image_size"), lambda v: isinstance(v, (list, tuple))) or size)[-2:]
    x, shown = load_input(args.image, in_channels, size, args.invert, ckpt)
    out = pathlib.Path(args.out)
    written = []

    with convlab.no_grad():
        logits = model(convlab.tensor(x)).numpy()[0]
    probs = np.exp(logits - logits.max())
    probs /= probs.sum()
    classes = _find(ckpt, ("classes", "class_names"), lambda v: isinstance(v, (list, tuple)))
    top = np.argsort(probs)[::-1][:3]
    label = lambda i: f"{classes[i]} ({i})" if classes and i < len(classes) else str(i)  # noqa: E731
    print(f"model {name}: {sum(p.numel() for p in model.parameters())} parameters, input {x.shape}")
    print("prediction: " + ", ".join(f"{label(i)} {probs[i]:.3f}" for i in top))

    for lname, layer in (convs if args.all_kernels else convs[:1]):
        fig = viz.kernel_grid(layer, title=f"{name}: kernels of {lname} {tuple(layer.weight.shape)}")
        written.append(viz.save_figure(fig, out / f"kernels_{lname.replace('.', '_')}.png"))

    maps = viz.capture_feature_maps(model, x, layers=args.layers)
    spatial = {k: v for k, v in maps.items() if v.ndim == 4}
    if args.layers is None:
        spatial = dict(list(spatial.items())[:8])
    fig = viz.feature_map_grid(spatial, title=f"{name}: feature maps for the input image (each map on its own scale)")
    written.append(viz.save_figure(fig, out / "feature_maps.png"))

    stats = viz.layer_statistics(model, x)
    print(f"{'layer':22s} {'type':12s} {'mean':>9s} {'std':>9s} {'grad std':>10s} {'dead':>6s}")
    for s in stats:
        dead = "" if np.isnan(s["dead_fraction"]) else f"{s['dead_fraction']:.2f}"
        print(f"{s['layer']:22s} {s['type']:12s} {s['mean']:9.4f} {s['std']:9.4f} {s['grad_std']:10.2e} {dead:>6s}")
    fig = viz.statistics_figure(stats, title=f"{name}: per-layer statistics on the input (loss vs its prediction)")
    written.append(viz.save_figure(fig, out / "layer_stats.png"))

    first = convs[0][1]
    kh, kw = first.weight.shape[-2:]
    patch = x[:1, :1, : kh + 2, : kw + 2].astype(np.float64)
    fig, err = viz.im2col_figure(patch, first.weight.data[:1, :1].astype(np.float64))
    written.append(viz.save_figure(fig, out / "im2col.png"))

    last_name = convs[-1][0]
    field = viz.receptive_field(model, x, layer=last_name)
    rows, cols = np.nonzero(field)
    box = (int(rows.min()), int(cols.min()), int(np.ptp(rows)) + 1, int(np.ptp(cols)) + 1) if rows.size else None
    fig = viz.receptive_field_panels(shown, [field], [box],
                                     [f"central unit of {last_name}: {box[2]}x{box[3]} input pixels" if box else last_name],
                                     suptitle=f"{name}: receptive field over the input image")
    written.append(viz.save_figure(fig, out / "receptive_field.png"))
    for path in written:
        print(f"figure: {path}")
    return 0

"""``convlab filter``: classic image filtering from the command line.

    convlab filter photo.jpg -k sobel-y -o edges.png
    convlab filter photo.jpg -k "1,0,-1;2,0,-2;1,0,-1" --abs -o edges.png
    convlab filter photo.jpg -k box:5 -k laplace -k sobel-x -o panel.png     (side-by-side figure)
    convlab filter --demo                                     (the Grace Hopper portrait)
"""

from __future__ import annotations

import os
import pathlib

import numpy as np

DEMO_KERNELS = ["gaussian:2", "sharpen", "sobel-x", "sobel-y", "laplace", "emboss"]


def register(subparsers):
    from ..cli import add_common
    from ..filters import kernel_names

    p = subparsers.add_parser(
        "filter", help="filter an image with classic kernels (sobel, gaussian, laplace, custom, ...)",
        description="Convolve an image with one or more kernels (true convolution, per colour channel). "
                    f"Named kernels: {', '.join(kernel_names())} (hyphens allowed, arguments after a colon: "
                    "box:5, gaussian:2 or gaussian:sigma=1.5,size=7, laplace:4); custom kernels as rows "
                    "separated by ';', e.g. \"1,0,-1;2,0,-2;1,0,-1\" or \"1/9 1/9 1/9; ...\". One kernel writes the "
                    "filtered image; several write a side-by-side figure.")
    add_common(p)
    p.add_argument("image", nargs="?", help="input image (PNG, JPEG, ...)")
    p.add_argument("-k", "--kernel", action="append", metavar="KERNEL", help="kernel name or numbers (repeatable)")
    p.add_argument("-o", "--output", metavar="OUT.png",
                   help="output file, in a folder that exists (default: runs/filter-NNN/<input>_filtered.png)")
    p.add_argument("--force", action="store_true", help="write over an existing --output file")
    p.add_argument("--mode", choices=["same", "valid"], default="same")
    p.add_argument("--boundary", choices=["zero", "reflect", "replicate"], default="reflect",
                   help="what 'same' mode sees beyond the border (default reflect)")
    p.add_argument("--gray", action="store_true", help="convert the image to grayscale first")
    scale = p.add_mutually_exclusive_group()
    scale.add_argument("--abs", action="store_true", help="write |response| (keeps negative edges visible)")
    scale.add_argument("--rescale", action="store_true", help="stretch the response's min..max to 0..255")
    p.add_argument("--figure", action="store_true", help="write a side-by-side figure even for one kernel")
    p.add_argument("--demo", action="store_true", help="filter the Grace Hopper portrait from matplotlib's sample data")
    p.set_defaults(func=main)
    return p


def _read_image(path: str, gray: bool) -> np.ndarray:
    """The image as (H, W) or (H, W, 3) float64 on the 0..255 scale (16-bit files keep their
    precision; every Pillow mode and EXIF orientation handled by ``convlab.data.read_image``)."""
    from ..data.images import read_image

    if not os.path.isfile(path):
        raise FileNotFoundError(f"no such image file: {path}")
    a = read_image(path, "L" if gray else None).astype(np.float64) * 255
    return a[0] if a.shape[0] == 1 else a.transpose(1, 2, 0)


def _to_uint8(response: np.ndarray, args) -> np.ndarray:
    if args.abs:
        response = np.abs(response)
    elif args.rescale:
        lo, hi = float(response.min()), float(response.max())
        response = (response - lo) * (255.0 / (hi - lo)) if hi > lo else np.zeros_like(response)
    return np.clip(np.rint(response), 0, 255).astype(np.uint8)


def write_image_atomic(array: np.ndarray, path: pathlib.Path) -> None:
    """Save a uint8 image through a temporary file renamed into place."""
    from PIL import Image

    from ..files import save_figure_bytes

    image_format = Image.registered_extensions().get(path.suffix.lower() or ".png", "PNG")
    save_figure_bytes(lambda f: Image.fromarray(array).save(f, format=image_format), path)


def _figure(image, results, title):
    """Input and responses side by side: kernels that sum to 0 (edges) on a signed, robust
    colour scale; smoothing-like kernels as the image they would write, clipped to [0, 255]."""
    from .. import viz

    panels, titles, cmaps, sym, lo, hi = [image], ["input"], ["gray"], [False], [0], [255]
    for spec, kernel, response in results:
        signed = abs(kernel.sum()) < 1e-9
        shown = response if signed else np.clip(response, 0, 255)
        panels.append(shown if image.ndim == 2 or signed else shown.astype(np.uint8))
        if signed and image.ndim == 3:
            panels[-1] = response.mean(axis=-1)
        titles.append(f"{spec}  ({kernel.shape[0]}x{kernel.shape[1]})" + ("  signed" if signed else ""))
        cmaps.append("RdBu_r" if signed else "gray")
        sym.append(99.5 if signed else False)
        lo.append(None if signed else 0)
        hi.append(None if signed else 255)
    return viz.image_panels(panels, titles, suptitle=title, cmap=cmaps, symmetric=sym, vmin=lo, vmax=hi,
                            ncols=min(len(panels), 4))


def main(args) -> int:
    from .. import filters
    from ..cli import UsageError

    if args.demo:
        from ..demos.laplace import grace_hopper

        image, name = grace_hopper(gray=True), "grace_hopper"
        specs = args.kernel or DEMO_KERNELS
        out = args.output
    else:
        if not args.image:
            raise UsageError("give an input image (or --demo)")
        if not args.kernel:
            raise UsageError("give at least one kernel with -k (e.g. -k sobel-y)")
        specs = args.kernel
    kernels = []
    for spec in specs:
        try:
            kernels.append((spec, filters.get_kernel(spec)))
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    if not args.demo:
        image, name = _read_image(args.image, args.gray), pathlib.Path(args.image).stem
        out = args.output
    if out is None:  # the convention: a new runs/filter-NNN
        from ..cli import output_dir

        args.out = None
        out = pathlib.Path(output_dir(args, "filter")) / f"{name}_filtered.png"
    else:
        out = pathlib.Path(out)
        if not out.parent.is_dir():
            raise UsageError(f"--output {out}: the folder {out.parent} does not exist")
        if out.exists() and not args.force:
            raise UsageError(f"--output {out} already exists; pass --force to write over it")
    results = [(spec, k, filters.filter_image(image, k, mode=args.mode, boundary=args.boundary, clip=False))
               for spec, k in kernels]
    quiet = getattr(args, "quiet", False)
    if len(results) == 1 and not args.figure and not args.demo:
        write_image_atomic(_to_uint8(results[0][2], args), out)
    else:
        from .. import viz

        title = f"{name}: {args.mode} convolution, {args.boundary} boundary"
        viz.save_figure(_figure(image, results, title), out)
    if not quiet:
        for spec, k, r in results:
            print(f"{spec:>14s}: {k.shape[0]}x{k.shape[1]} kernel, response min {r.min():.1f} max {r.max():.1f} "
                  f"mean {r.mean():.2f}")
    print(out)
    return 0

"""``convlab export CKPT -o model.onnx``: write a trained model as an ONNX file.

    convlab export runs/train-001/best.safetensors -o fashion.onnx
    convlab export runs/train-001 -o fashion.onnx --force

The file holds the model's graph (opset 17, a variable batch axis) and, in its metadata, what a
program needs to use it: ``convlab.preprocessing`` (the checkpoint's preprocessing spec, as JSON),
``convlab.classes``, ``convlab.input_shape``, ``convlab.model`` and ``convlab.dataset``.
"""

from __future__ import annotations

import os


def register(subparsers):
    from ..cli import add_common

    p = subparsers.add_parser(
        "export", help="write a checkpoint's model as an ONNX file",
        description="Write the model a convlab checkpoint holds as an ONNX file (opset 17, any batch size), with the "
                    "checkpoint's preprocessing, class names and input shape in the file's metadata, for onnxruntime "
                    "or any other ONNX runtime. Needs the onnx package: pip install 'convlab[export]'.")
    add_common(p)
    p.add_argument("checkpoint", metavar="CKPT",
                   help="a checkpoint written by convlab train, or its run folder (its best.safetensors, else last.safetensors)")
    p.add_argument("-o", "--output", metavar="FILE", default=None,
                   help="the ONNX file to write (default: model.onnx in a new runs/export-NNN)")
    p.add_argument("--force", action="store_true", help="replace FILE if it exists")
    p.add_argument("--input", metavar="C,H,W", default=None,
                   help="one input's shape, for a checkpoint that does not record it (default: the checkpoint's)")
    p.set_defaults(func=main)
    return p


def _checkpoint_path(path: str, UsageError) -> str:
    if os.path.isdir(path):
        for name in ("best.safetensors", "last.safetensors"):
            if os.path.isfile(os.path.join(path, name)):
                return os.path.join(path, name)
        raise UsageError(f"{path} is a folder without best.safetensors or last.safetensors")
    return path


def _parse_shape(text: str, UsageError) -> tuple:
    parts = text.replace("x", ",").split(",")
    try:
        shape = tuple(int(p) for p in parts)
    except ValueError:
        shape = ()
    if len(shape) != 3 or min(shape) < 1:
        raise UsageError(f"--input takes channels,height,width as three positive whole numbers (e.g. 3,32,32), got {text!r}")
    return shape


def main(args) -> int:
    from ..cli import UsageError
    from ..export import to_onnx
    from ..files import write_atomic
    from ..train import load_checkpoint, model_from_checkpoint
    from ..train.run import new_run_dir

    ckpt_path = _checkpoint_path(args.checkpoint, UsageError)
    out = args.output
    if out is not None:
        if os.path.isdir(out):
            raise UsageError(f"-o {out} is a folder; give the file to write, such as {os.path.join(out, 'model.onnx')}")
        if os.path.exists(out) and not args.force:
            raise UsageError(f"-o {out} already exists; pass --force to replace it")
        parent = os.path.dirname(out) or "."
        if not os.path.isdir(parent):
            raise UsageError(f"-o {out}: the folder {parent} does not exist")
    ckpt = load_checkpoint(ckpt_path)
    meta = ckpt.get("meta") or {}
    pre = meta.get("preprocessing")
    spec = ckpt.get("model_spec") or {}
    model = model_from_checkpoint(ckpt, ckpt_path)
    if args.input is not None:
        shape = _parse_shape(args.input, UsageError)
    elif pre and pre.get("input_shape"):
        shape = tuple(int(s) for s in pre["input_shape"])
    else:
        raise UsageError(f"{ckpt_path} does not record its input shape; pass --input C,H,W")
    metadata = {"convlab.input_shape": list(shape)}
    for key, value in (("convlab.preprocessing", pre), ("convlab.classes", meta.get("classes")),
                       ("convlab.model", spec or None), ("convlab.dataset", meta.get("dataset"))):
        if value is not None:
            metadata[key] = value
    proto = to_onnx(model, shape, metadata=metadata, doc=f"{spec.get('name', 'model')} exported by convlab from {ckpt_path}")
    if out is None:
        out = os.path.join(new_run_dir("export"), "model.onnx")
    data = proto.SerializeToString()
    write_atomic(out, data)
    if getattr(args, "quiet", False):
        print(out)
        return 0
    n_params = sum(p.numel() for p in model.parameters())
    print(f"wrote {out}: {spec.get('name', 'model')} ({n_params:,} parameters), input batch x {'x'.join(map(str, shape))}, "
          f"{len(proto.graph.node):,} ONNX nodes (opset {proto.opset_import[0].version}), {len(data) / 1e6:,.1f} MB")
    if pre:
        print("metadata: convlab.preprocessing, convlab.classes, convlab.input_shape (JSON)")
    else:
        print(f"note: {ckpt_path} records no preprocessing, so the file's metadata has none; apply the training "
              "preprocessing yourself before running it")
    return 0

"""``convlab export CKPT -o model.onnx``: write a trained model as an ONNX file.

    convlab export runs/train-001/best.safetensors -o clothes.onnx
    convlab export runs/train-001 -o clothes.onnx --force        (a run folder: its last.safetensors)

The file holds the model's graph (opset 17, a variable batch axis) and, in its metadata, what a
program needs to use it: ``convlab.preprocessing`` (the checkpoint's
:class:`~convlab.data.preprocess.Preprocessing`, as JSON: channels, size, resize policy, inversion,
padding, mean/std), ``convlab.preprocessing_text`` (the same in words), ``convlab.classes``,
``convlab.input_shape``, ``convlab.model`` and ``convlab.dataset``. A checkpoint that does not
record its preprocessing needs the flags that supply it (``--image-size``, ``--channels``...).
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
    from ._preprocessing import add_preprocessing_flags

    p.add_argument("checkpoint", metavar="CKPT", help="a checkpoint, or a run folder (its last.safetensors)")
    p.add_argument("-o", "--output", metavar="FILE", default=None,
                   help="the ONNX file to write (default: model.onnx in a new runs/export-NNN)")
    p.add_argument("--force", action="store_true", help="replace FILE if it exists")
    add_preprocessing_flags(p)
    p.set_defaults(func=main)
    return p


def main(args) -> int:
    from ..cli import UsageError
    from ..data.preprocess import from_checkpoint
    from ..export import to_onnx
    from ..files import write_atomic
    from ..train import load_checkpoint, model_from_checkpoint
    from ..train.checkpoint import resolve
    from ..train.run import new_run_dir
    from ._preprocessing import check, spec_from_flags

    check(args, UsageError)
    out = args.output
    if out is not None:
        if os.path.isdir(out):
            raise UsageError(f"-o {out} is a folder; give the file to write, such as {os.path.join(out, 'model.onnx')}")
        if os.path.exists(out) and not args.force:
            raise UsageError(f"-o {out} already exists; pass --force to replace it")
        parent = os.path.dirname(out) or "."
        if not os.path.isdir(parent):
            raise UsageError(f"-o {out}: the folder {parent} does not exist")
    ckpt_path = resolve(args.checkpoint)
    ckpt = load_checkpoint(ckpt_path)
    meta = ckpt.get("meta") or {}
    try:
        pre = from_checkpoint(ckpt, ckpt_path, fallback=spec_from_flags(args))
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    spec = ckpt.get("model_spec") or {}
    model = model_from_checkpoint(ckpt, ckpt_path)
    shape = pre.input_shape
    metadata = {"convlab.preprocessing": pre.to_dict(), "convlab.preprocessing_text": pre.describe(),
                "convlab.input_shape": list(shape)}
    for key, value in (("convlab.classes", meta.get("classes")), ("convlab.model", spec or None),
                       ("convlab.dataset", meta.get("dataset"))):
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
    print(f"preprocessing (in the metadata as convlab.preprocessing): {pre.describe()}")
    return 0

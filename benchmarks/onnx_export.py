"""Export every zoo model to ONNX at its default input size, run it in onnxruntime and compare.

    python benchmarks/onnx_export.py                       # the whole zoo (the ImageNet VGGs take minutes)
    python benchmarks/onnx_export.py resnet18 googlenet    # some models

Per model: the export time, the file size, the largest |onnxruntime - convlab| over the logits of a
batch of 2 random inputs (float32), the largest |logit|, and the inference time of one image in
convlab and in onnxruntime (the minimum of 3 runs; onnxruntime on its default threads, convlab on
its own). Models are calibrated as tests/export/test_onnx.py does, so that the logits have the size
a trained classifier's have: random batch-norm scales and shifts, running statistics measured on a
batch (variances raised by half their mean), the classifier scaled to logits of unit spread.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))

import convlab  # noqa: E402
from convlab import models, nn  # noqa: E402
from convlab.export import to_onnx  # noqa: E402


def calibrate(model, shape, seed=0):
    rng = np.random.default_rng(seed)
    for m in model.modules():
        if type(m).__name__.startswith("BatchNorm"):
            m.momentum = 1.0
            if m.weight is not None:
                m.weight.data[...] = rng.uniform(0.5, 1.5, m.weight.shape)
                m.bias.data[...] = rng.normal(0, 0.1, m.bias.shape)
    x = convlab.tensor(rng.standard_normal((4, *shape)).astype(np.float32))
    model.train()
    with convlab.no_grad():
        model(x)
        for m in model.modules():
            if type(m).__name__.startswith("BatchNorm"):
                m.running_var.data += 0.5 * m.running_var.data.mean()
        model.eval()
        std = float(model(x).numpy().std())
    last = [m for m in model.modules() if isinstance(m, nn.Linear)][-1]
    last.weight.data /= std
    if last.bias is not None:
        last.bias.data /= std
    return model


def best_of(fn, n=3):
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> int:
    import onnxruntime as ort

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="*", default=models.list())
    args = parser.parse_args()
    print(f"{platform.processor() or platform.machine()}, onnxruntime {ort.__version__}, float32")
    print(f"{'model':16s} {'input':>11s} {'export s':>8s} {'MB':>7s} {'max|diff|':>9s} {'max|logit|':>10s} "
          f"{'convlab ms':>10s} {'ort ms':>8s}")
    worst = 0.0
    for name in args.models:
        shape = models.info(name).input_size
        convlab.manual_seed(0)
        model = calibrate(models.get(name), shape)
        t = time.perf_counter()
        proto = to_onnx(model, shape)
        export_s = time.perf_counter() - t
        data = proto.SerializeToString()
        session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
        x = np.random.default_rng(1).standard_normal((2, *shape)).astype(np.float32)
        with convlab.no_grad():
            ref = model(convlab.tensor(x)).numpy()
            one = convlab.tensor(x[:1])
            ours = best_of(lambda m=model, one=one: m(one))
        got = session.run(None, {"input": x})[0]
        theirs = best_of(lambda s=session, one=x[:1]: s.run(None, {"input": one}))
        diff = float(np.abs(got - ref).max())
        worst = max(worst, diff)
        print(f"{name:16s} {'x'.join(map(str, shape)):>11s} {export_s:8.1f} {len(data) / 1e6:7.1f} {diff:9.1e} "
              f"{np.abs(ref).max():10.2f} {1e3 * ours:10.1f} {1e3 * theirs:8.1f}", flush=True)
    print(f"largest difference {worst:.1e} ({'within' if worst <= 1e-4 else 'ABOVE'} 1e-4)")
    return 0 if worst <= 1e-4 else 1


if __name__ == "__main__":
    sys.exit(main())

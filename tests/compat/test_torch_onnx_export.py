"""``torch.onnx.export(model, x, f)`` as programs call it (fast_neural_style's --export_onnx), on
convlab's exporter: onnxruntime's output matches the model's within 1e-5 (float32)."""

import io

import numpy as np
import pytest

import convlab
from helpers import require

ort = require("onnxruntime", "export")


def test_torch_onnx_export_writes_a_model_onnxruntime_runs(tmp_path):
    convlab.manual_seed(0)
    net = convlab.nn.Sequential(convlab.nn.Conv2d(3, 4, 3, padding=1), convlab.nn.InstanceNorm2d(4, affine=True),
                                convlab.nn.ReLU(), convlab.nn.ReflectionPad2d(1), convlab.nn.Conv2d(4, 2, 3))
    x = convlab.randn(2, 3, 8, 8)
    f = io.BytesIO()
    convlab.onnx.export(net, x, f, dynamic_axes={"input": {0: "batch"}})
    session = ort.InferenceSession(f.getvalue())
    got = session.run(None, {session.get_inputs()[0].name: x.numpy()})[0]
    net.eval()
    np.testing.assert_allclose(got, net(x).detach().numpy(), rtol=1e-5, atol=1e-5)
    with pytest.warns(UserWarning, match="opset_version=11"):
        convlab.onnx.export(net, (x,), tmp_path / "m.onnx", opset_version=11)
    assert (tmp_path / "m.onnx").stat().st_size > 0

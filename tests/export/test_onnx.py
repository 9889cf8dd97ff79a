"""ONNX export (convlab.export): the file runs in onnxruntime and gives convlab's logits.

Every zoo model is exported and run. Models are calibrated first, to look like trained ones, so
that an absolute tolerance means something: random batch-norm scales and shifts; running
statistics measured on a batch, each layer's variances raised by half their mean (a channel that
ReLUs left almost dead in 8 images has a variance near 0, and 1/sqrt(var) then amplifies float32
rounding until convlab's own float32 logits differ from its float64 ones by 1.7e-4, onnxruntime's
by about the same); and the classifier scaled to logits of unit standard deviation (a fresh deep
ResNet's reach 1e8 with the initial running variance of 1). Calibrated, convlab float32 and
onnxruntime both stay within 3e-6 of convlab float64 on ResNet-50/101. Models designed for 224x224 inputs run at
64x64 (the VGGs, whose feature maps then shrink to 1x1, at 32x32), which keeps the suite fast and
exercises the uneven adaptive-pooling windows; the graph is the same at any input size.
"""

import json

import numpy as np
import pytest

import convlab
import convlab.functional as F
import convlab.nn as nn
from convlab import models
from convlab.export import ExportError, to_onnx
from helpers import require

ATOL = 1e-4  # the bound on |onnxruntime - convlab| for float32 logits


def _input_shape(name):
    c, h, w = models.info(name).input_size
    if h <= 32:
        return c, h, w
    return (c, 32, 32) if name.startswith("vgg") else (c, 64, 64)


def calibrate(model, shape, seed=0):
    """Random batch-norm affine parameters, and running statistics measured on one batch."""
    rng = np.random.default_rng(seed)
    for m in model.modules():
        if type(m).__name__.startswith("BatchNorm"):
            m.momentum = 1.0  # running = this batch's statistics
            if m.weight is not None:
                m.weight.data[...] = rng.uniform(0.5, 1.5, m.weight.shape)
                m.bias.data[...] = rng.normal(0, 0.1, m.bias.shape)
    x = convlab.tensor(rng.standard_normal((8, *shape)).astype(np.float32))
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


def run_onnx(proto, x):
    ort = require("onnxruntime")
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    (name,) = [i.name for i in session.get_inputs()]
    return session.run(None, {name: x})[0]


def check_logits(model, shape, batch=5, seed=1):
    require("onnx")
    proto = to_onnx(model, shape)
    x = np.random.default_rng(seed).standard_normal((batch, *shape)).astype(np.float32)
    with convlab.no_grad():
        ref = model(convlab.tensor(x)).numpy()
    got = run_onnx(proto, x)
    assert got.shape == ref.shape
    assert np.abs(ref).max() > 1e-2, "degenerate logits would make the comparison vacuous"
    np.testing.assert_allclose(got, ref, rtol=0, atol=ATOL)
    return proto


# Every model of the zoo (benchmarks/onnx_export.py runs them at their default input sizes: all 28 within 5.1e-6,
# benchmarks/README.md). The ImageNet VGGs' 133-144M parameters make them the slow ones here (about 10 s each).
@pytest.mark.parametrize("name", models.list())
def test_zoo_model_matches_onnxruntime(name):
    shape = _input_shape(name)
    convlab.manual_seed(0)
    model = calibrate(models.get(name), shape)
    check_logits(model, shape)  # batch 5: neither of the traced batch sizes (2 and 3)


# --------------------------------------------------------------------------- a model built in Python
class Mixed(nn.Module):
    """Most of what the exporter converts, in one forward pass written in Python."""

    def __init__(self, eps=1e-5):
        super().__init__()
        self.conv_a = nn.Conv2d(3, 8, 3, padding="same", dilation=2)
        self.dw = nn.Conv2d(8, 8, 5, stride=2, padding=2, groups=8)
        self.grouped = nn.Conv2d(8, 12, (3, 2), padding=(1, 0), groups=4, bias=False)
        self.up = nn.ConvTranspose2d(12, 6, 3, stride=2, padding=1, output_padding=1)
        self.bn = nn.BatchNorm2d(6, eps=eps)
        self.gn = nn.GroupNorm(3, 24, eps=eps)
        self.ln = nn.LayerNorm(7, eps=eps)
        self.pool = nn.MaxPool2d(3, 2, padding=1, dilation=1, ceil_mode=True)
        self.avg = nn.AvgPool2d(3, 2, padding=1, ceil_mode=True)  # torch's divisor leaves out the ceil overhang
        self.adapt = nn.AdaptiveAvgPool2d((3, 5))  # uneven windows
        self.drop = nn.Dropout(0.5)
        self.fc = nn.Linear(24 * 3 * 5, 10)

    def forward(self, x):
        a = F.leaky_relu(self.conv_a(x), 0.125)
        b = F.hardswish(F.relu6(self.dw(a)) - 1) + F.silu(self.dw(a)) * 0.5
        c = self.grouped(b)
        u = self.bn(self.up(c))
        u = convlab.cat([u.sigmoid(), u[:, 1:4].tanh() / 2, u[:, 3:].clamp(min=-0.5, max=0.5)], 1)[:, :, ::2]
        u = self.gn(convlab.cat([u, u * u], 1))
        u = F.pad(u, (1, 2, 0, 1), mode="reflect")
        p = self.avg(self.pool(u) + 0.1) - u.mean(dim=(2, 3), keepdim=True) / (u.var(dim=1, keepdim=True).mean() + 1)
        q = self.adapt(p).softmax(1) + self.ln(self.adapt(p).permute(0, 1, 3, 2).reshape(-1, 24, 5, 3).flatten(2)[..., :7]
                                              ).amax(dim=-1, keepdim=True).unsqueeze(-1)
        y = self.fc(self.drop(q.flatten(1)))
        return y + (y.abs() + 1).sqrt().log() * 0.1 + F.linear(q.flatten(1), self.fc.weight).tanh().exp() * 0.01


def test_python_model_matches_onnxruntime():
    convlab.manual_seed(3)
    model = calibrate(Mixed(), (3, 21, 19))
    proto = check_logits(model, (3, 21, 19))
    ops = {n.op_type for n in proto.graph.node}
    for op in ("Conv", "ConvTranspose", "BatchNormalization", "InstanceNormalization", "LayerNormalization", "MaxPool",
               "AveragePool", "MatMul", "Gemm", "Concat", "Slice", "Pad", "Softmax", "ReduceMean", "ReduceMax", "Clip",
               "LeakyRelu", "Transpose", "Reshape"):
        assert op in ops, op
    assert "Dropout" not in ops  # evaluation-mode dropout runs nothing


def test_float64_graph_is_exact_in_onnx_reference_evaluator():
    """onnx's own reference implementation of every operator, in float64: agreement to rounding.
    (ONNX stores float attributes, the normalisations' epsilon and LeakyRelu's slope, as float32, so this model
    uses values float32 holds exactly.)"""
    reference = require("onnx.reference")
    convlab.manual_seed(3)
    model = calibrate(Mixed(eps=2.0 ** -16), (3, 21, 19)).double()
    x = np.random.default_rng(2).standard_normal((4, 3, 21, 19))
    with convlab.no_grad():
        ref = model(convlab.tensor(x)).numpy()
    got = reference.ReferenceEvaluator(to_onnx(model, (3, 21, 19))).run(None, {"input": x})[0]
    np.testing.assert_allclose(got, ref, rtol=1e-9, atol=1e-9)


def test_metadata_and_names():
    onnx = require("onnx")
    model = models.get("lenet5").eval()
    spec = {"channels": 1, "image_size": [28, 28], "mean": [0.286], "std": [0.353], "invert": False}
    proto = to_onnx(model, (1, 28, 28), metadata={"convlab.preprocessing": spec, "note": "plain text"})
    props = {p.key: p.value for p in proto.metadata_props}
    assert json.loads(props["convlab.preprocessing"]) == spec and props["note"] == "plain text"
    graph = proto.graph
    assert [i.name for i in graph.input] == ["input"] and [o.name for o in graph.output] == ["logits"]
    dims = graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param == "batch" and [d.dim_value for d in dims[1:]] == [1, 28, 28]
    assert {t.name for t in graph.initializer} >= {k for k in model.state_dict()}  # parameters keep their names
    onnx.checker.check_model(proto, full_check=True)


class Unpool(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(1, 2, 3))

    def forward(self, x):
        y, idx = F.max_pool2d(self.body(x), 2, return_indices=True)
        return F.max_unpool2d(y, idx, 2)


class ValueBranch(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        return self.fc(x) if float(x.sum()) > 0 else -self.fc(x)


class BatchInShape(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        return self.fc(x).reshape(1, -1)  # the batch folded into the features


class TrainingNorm(nn.Module):
    def __init__(self):
        super().__init__()
        self.bn = nn.BatchNorm1d(4, track_running_stats=False)

    def forward(self, x):
        return self.bn(x)


@pytest.mark.parametrize("model, shape, words", [
    (Unpool(), (1, 8, 8), ["cannot export the model (Unpool)", "MaxUnpool"]),
    (ValueBranch(), (4,), ["changes with the input", "the model (ValueBranch)", "Identity in one, Neg in the other"]),
    (BatchInShape(), (4,), ["batch size", "the Reshape's input"]),
    (TrainingNorm(), (4,), ["'bn' (BatchNorm1d)", "track_running_stats=False"]),
])
def test_unexportable_models_name_the_layer(model, shape, words):
    require("onnx")
    with pytest.raises(ExportError) as info:
        to_onnx(model, shape)
    message = str(info.value)
    for word in words:
        assert word.strip() in message, message

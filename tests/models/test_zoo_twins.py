"""Every zoo model against a plain-torch twin: eval-mode logits and one training step's loss,
logits, parameter gradients and updated batch-norm statistics.

The twins are in tests/zoo_twins.py (torchvision's architectures, written from its published
definitions) and ``convlab.bench.torch_twin`` (the seeds' own networks). convlab's weights, with
random batch-norm affine parameters and running statistics, are copied into the twin with
``load_state_dict(strict=True)`` (the same names and shapes, nothing more or less). Dropout and
stochastic depth are switched to eval in both (their masks come from different generators); batch
norm trains. Models run in float64 (in float32 a ReLU or a max pool near its kink takes the other
branch in one of the two, and the gradients of a VGG-16 differ by 2%), so the tolerances are near
the arithmetic's: a misplaced layer, a swapped concatenation or a wrong epsilon is far above them.
AlexNet runs in float32 (its gradients agree within 1e-2 there).
"""

import numpy as np
import pytest

import convlab
import convlab.models as models
from helpers import normwise_error, require_torch

torch = require_torch()
import zoo_twins as twins  # noqa: E402  (after require_torch: in CI a missing torch fails, not skips)
from convlab.bench import torch_twin  # noqa: E402
from convlab.models.efficientnet import StochasticDepth  # noqa: E402

NUM_CLASSES = 5
# normwise relative error bounds (max |ours - torch| / max |torch|) for (logits, gradients) by dtype, and
# the floor of a gradient's scale as a fraction of the model's largest gradient (a bias before a
# training-mode batch norm has a gradient of zero in exact arithmetic: rounding noise on both sides)
# (float32 gradients: a ReLU or a max pool near its kink can take the other branch in one of the two)
TOL = {np.float64: (1e-10, 1e-8), np.float32: (2e-5, 1e-2)}
FLOOR = {np.float64: 1e-6, np.float32: 1e-2}

# name -> (torch twin, input height/width, dtype, batch)
CASES = {
    "lenet5": (lambda: torch_twin("lenet5", num_classes=NUM_CLASSES), 28, np.float64, 4),
    "smallcnn": (lambda: torch_twin("smallcnn", num_classes=NUM_CLASSES), 32, np.float64, 4),
    "compactcnn": (lambda: torch_twin("compactcnn", num_classes=NUM_CLASSES), 28, np.float64, 4),
    "compactcnn_deep": (lambda: torch_twin("compactcnn_deep", num_classes=NUM_CLASSES), 28, np.float64, 4),
    "alexnet": (lambda: twins.AlexNet(NUM_CLASSES), 63, np.float32, 3),
    "googlenet": (lambda: twins.GoogLeNet(NUM_CLASSES), 33, np.float64, 3),
    "resnet18": (lambda: twins.ResNet(twins.BasicBlock, [2, 2, 2, 2], NUM_CLASSES), 40, np.float64, 3),
    "resnet34": (lambda: twins.ResNet(twins.BasicBlock, [3, 4, 6, 3], NUM_CLASSES), 33, np.float64, 3),
    "resnet50": (lambda: twins.ResNet(twins.Bottleneck, [3, 4, 6, 3], NUM_CLASSES), 40, np.float64, 3),
    "resnet101": (lambda: twins.ResNet(twins.Bottleneck, [3, 4, 23, 3], NUM_CLASSES), 33, np.float64, 3),
    "resnet20": (lambda: twins.CifarResNet(20, NUM_CLASSES), 12, np.float64, 3),
    "resnet32": (lambda: twins.CifarResNet(32, NUM_CLASSES), 8, np.float64, 3),
    "resnet44": (lambda: twins.CifarResNet(44, NUM_CLASSES), 8, np.float64, 3),
    "resnet56": (lambda: twins.CifarResNet(56, NUM_CLASSES), 8, np.float64, 3),
    "resnet110": (lambda: twins.CifarResNet(110, NUM_CLASSES), 8, np.float64, 3),
    "densenet121": (lambda: twins.DenseNet(32, (6, 12, 24, 16), 64, NUM_CLASSES), 33, np.float64, 3),
    "densenet_bc_100": (lambda: twins.DenseNet(12, (16, 16, 16), 24, NUM_CLASSES, cifar=True), 8, np.float64, 3),
    "efficientnet_b0": (lambda: twins.EfficientNet(NUM_CLASSES), 40, np.float64, 3),
    "vgg11_cifar": (lambda: twins.VGG("A", True, NUM_CLASSES, cifar=True), 32, np.float64, 3),
    "vgg16_cifar": (lambda: twins.VGG("D", True, NUM_CLASSES, cifar=True), 32, np.float64, 3),
    **{f"vgg{d}{bn}": (lambda c=c, b=bool(bn): twins.VGG(c, b, NUM_CLASSES), 32, np.float64, 2)
       for d, c in (("11", "A"), ("13", "B"), ("16", "D"), ("19", "E")) for bn in ("", "_bn")},
}


def test_every_zoo_model_has_a_twin():
    assert sorted(CASES) == models.list()


def _randomize_batch_norms(model, rng):
    """Random affine parameters and running statistics, so each one's use is checked."""
    for m in model.modules():
        if isinstance(m, convlab.nn.BatchNorm2d):
            n = m.num_features
            m.weight.data[...] = rng.uniform(0.5, 1.5, n)
            m.bias.data[...] = rng.normal(0, 0.2, n)
            m.running_mean.data[...] = rng.normal(0, 0.2, n)
            m.running_var.data[...] = rng.uniform(0.5, 1.5, n)


def _train_but_deterministic(model, stochastic):
    """Training mode with dropout and stochastic depth (``stochastic``: their classes) off."""
    model.train()
    for m in model.modules():
        if isinstance(m, stochastic):
            m.eval()
    return model


@pytest.mark.parametrize("name", sorted(CASES))
def test_zoo_model_matches_its_torch_twin(name):
    make_twin, size, dtype, batch = CASES[name]
    rtol_y, rtol_g = TOL[dtype]
    torch_dtype = torch.float64 if dtype == np.float64 else torch.float32
    ours = models.get(name, num_classes=NUM_CLASSES)
    if dtype == np.float64:
        ours.double()  # (compactcnn once hid Module.double() behind an attribute)
    _randomize_batch_norms(ours, np.random.default_rng(1))
    with torch.device("meta"):  # no memory and no initialisation: convlab's weights are assigned
        twin = make_twin().to(torch_dtype)
    # the parameters share convlab's arrays (neither side writes them here); the buffers, which both
    # sides update in training mode, are copied
    params = {k for k, _ in ours.named_parameters()}
    state = {k: torch.from_numpy(v.detach().numpy() if k in params else np.array(v.numpy()))
             for k, v in ours.state_dict().items()}
    twin.load_state_dict(state, strict=True, assign=True)  # the same names and shapes, nothing more or less
    rng = np.random.default_rng(2)
    c = 1 if name.startswith(("lenet", "compact")) else 3
    x = rng.standard_normal((batch, c, size, size)).astype(dtype)
    target = rng.integers(0, NUM_CLASSES, batch)

    # evaluation: the running statistics
    with convlab.no_grad():
        y = ours.eval()(convlab.tensor(x)).numpy()
    with torch.no_grad():
        ty = twin.eval()(torch.from_numpy(x)).numpy()
    assert y.shape == ty.shape == (batch, NUM_CLASSES)
    assert normwise_error(y, ty) <= rtol_y, f"eval logits: {normwise_error(y, ty):.1e}"

    # one training step: batch statistics, cross-entropy, every parameter's gradient (but the ImageNet
    # VGGs' 25088x4096 first classifier weight: its two 411 MB gradients would double the test's memory;
    # a linear layer's weight gradient is tested in tests/nn, and its bias's gradient here)
    frozen = {"classifier.0.weight"} if name.startswith("vgg") and not name.endswith("cifar") else set()
    for pname in frozen:
        dict(ours.named_parameters())[pname].requires_grad_(False)
        twin.get_parameter(pname).requires_grad_(False)
    _train_but_deterministic(ours, (convlab.nn.Dropout, StochasticDepth))
    _train_but_deterministic(twin, (torch.nn.Dropout, twins.StochasticDepth))
    out = ours(convlab.tensor(x))
    loss = convlab.nn.functional.cross_entropy(out, convlab.tensor(target))
    loss.backward()
    tout = twin(torch.from_numpy(x))
    tloss = torch.nn.functional.cross_entropy(tout, torch.from_numpy(target))
    tloss.backward()
    assert normwise_error(out.detach().numpy(), tout.detach().numpy()) <= rtol_y
    assert abs(loss.item() - tloss.item()) <= rtol_y * abs(tloss.item())
    theirs = {k: None if v.grad is None else v.grad.numpy() for k, v in twin.named_parameters()}
    floor = FLOOR[dtype] * max(np.abs(g).max() for g in theirs.values() if g is not None)
    for pname, p in ours.named_parameters():
        if pname in frozen:
            assert p.grad is None and theirs[pname] is None
            continue
        diff, ref = np.abs(p.grad.numpy() - theirs[pname]).max(), np.abs(theirs[pname]).max()
        assert diff <= rtol_g * max(ref, floor), f"{name}: gradient of {pname}: {diff:.1e} off, scale {ref:.1e}"
    buffers = dict(twin.named_buffers())
    for bname, b in ours.named_buffers():
        err = normwise_error(b.numpy(), buffers[bname].numpy())
        assert err <= rtol_y, f"{name}: {bname} after the step: {err:.1e}"

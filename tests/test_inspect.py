"""convlab.summary / trace / min_input_size: per-layer numbers, receptive fields, failure traces, CLI."""

import numpy as np
import pytest

import convlab
import convlab.models as models
from convlab import nn
from convlab.cli import main
from convlab.inspect import Layer, ShapeError, min_input_size, summary, trace


def _by_name(s):
    return {L.name: L for L in s.layers if not L.repeat}


# --------------------------------------------------------------------------- summary
def test_lenet5_summary_numbers_by_hand():
    s = convlab.summary(models.lenet5(), (1, 28, 28))  # the lazy top-level name
    assert s.input_shape == (1, 1, 28, 28) and s.output_shape == (1, 10)
    assert s.total_params == s.trainable_params == 61_706 and s.non_trainable_params == 0
    layers = _by_name(s)
    # MACs: outputs x (in_channels/groups x kernel) for convolutions, outputs x in_features for linear
    assert layers["conv1"].macs == 6 * 28 * 28 * 25
    assert layers["conv2"].macs == 16 * 10 * 10 * 6 * 25
    assert layers["fc1"].macs == 120 * 400 and layers["fc3"].macs == 10 * 84
    assert s.total_macs == 117_600 + 240_000 + 48_000 + 10_080 + 840
    # receptive field r += d(k-1) j and jump j *= s, layer by layer
    rf = [(L.name, L.rf[0], L.jump[0]) for L in s.layers]
    assert rf[:6] == [("conv1", 5, 1), ("act", 5, 1), ("pool", 6, 2), ("conv2", 14, 2), ("act", 14, 2), ("pool", 16, 4)]
    assert layers["fc1"].rf == (32, 32)  # flattening the 5x5 map: 16 + (5-1)*4
    # memory: every leaf output, float32
    outputs = 2 * 6 * 28 * 28 + 6 * 14 * 14 + 2 * 16 * 10 * 10 + 16 * 5 * 5 + 400 + 2 * 120 + 2 * 84 + 10
    assert s.activation_bytes == 4 * outputs and s.forward_backward_bytes == 8 * outputs
    assert s.input_bytes == 4 * 28 * 28 and s.params_bytes == 4 * 61_706
    text = str(s)
    assert "conv1" in text and "117,600" in text and "Total params: 61,706" in text and "RF" in text


def test_trainable_and_non_trainable_and_repeats():
    model = models.smallcnn()
    model.conv1.weight.requires_grad_(False)
    s = summary(model, (3, 32, 32))
    conv1 = _by_name(s)["conv1"]
    assert conv1.non_trainable == 32 * 27 and conv1.trainable == 32
    assert s.non_trainable_params == 32 * 27 and s.total_params == 545_290
    pools = [L for L in s.layers if L.name == "pool"]
    assert [p.repeat for p in pools] == [False, True]  # the seed reuses one MaxPool2d
    assert s.buffers == 2 * (32 + 64) + 2  # running mean/var and num_batches_tracked


def test_batch_size_scales_macs_and_memory():
    one, four = summary(models.lenet5(), (1, 28, 28)), summary(models.lenet5(), (1, 28, 28), batch_size=4)
    assert four.total_macs == 4 * one.total_macs and four.activation_bytes == 4 * one.activation_bytes


def test_summary_restores_modes_and_leaves_the_rng_alone():
    model = models.resnet20().train()
    model.fc.eval()
    state = convlab.get_rng_state()
    summary(model, (3, 8, 8))
    assert convlab.get_rng_state() == state
    assert model.training and model.layer1[0].training and not model.fc.training


# Araujo, Norris and Sim (2019), "Computing Receptive Fields of Convolutional Neural Networks",
# Distill, Table 1: AlexNet 195, VGG-16 212. ResNet-18 by the same arithmetic: 435.
def test_receptive_fields_of_classic_networks():
    alex = _by_name(summary(models.alexnet(num_classes=2), (3, 63, 63)))
    assert alex["features.12"].rf == (195, 195) and alex["features.12"].jump == (32, 32)
    vgg = _by_name(summary(models.vgg16_cifar(), (3, 32, 32)))  # same features as VGG-16
    assert vgg["features.43"].rf == (212, 212) and vgg["features.43"].jump == (32, 32)  # pool5
    res = _by_name(summary(models.resnet18(num_classes=2), (3, 32, 32)))
    assert res["layer4.1.conv2"].rf == (435, 435) and res["layer4.1.bn2"].jump == (32, 32)
    # He et al.'s CIFAR ResNet-20: 19 3x3 convolutions, two of them stride 2
    r20 = _by_name(summary(models.resnet20(), (3, 32, 32)))
    assert r20["layer3.2.conv2"].rf == (81, 81) and r20["layer3.2.conv2"].jump == (4, 4)


class _Residual(nn.Module):
    """relu(conv(x)) + x with the sum done by a function, the downsampled branch called last."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 2, 3, padding=1, stride=2)
        self.short = nn.Conv2d(2, 2, 1, stride=2)
        self.after = nn.ReLU()

    def forward(self, x):
        out = convlab.relu(self.conv(x))
        return self.after(out + self.short(x))


def test_receptive_field_through_functions_and_branches():
    model = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), _Residual(), nn.Conv2d(2, 2, 3, padding=1))
    layers = {L.name: L for L in trace(model, (1, 16, 16))}
    assert layers["1.short"].rf == (3, 3)  # a 1x1 on the block input
    assert layers["1.after"].rf == (5, 5) and layers["1.after"].jump == (2, 2)  # largest branch, stride 2
    assert layers["2"].rf == (9, 9)
    se = models.efficientnet.SqueezeExcitation(4, 2)
    gated = {L.name: L for L in trace(nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), se, nn.Conv2d(4, 4, 3)), (1, 6, 6))}
    assert gated["1.avgpool"].rf == (8, 8) and gated["1.avgpool"].jump == (6, 6)  # global
    assert gated["2"].jump == (1, 1) and gated["2"].rf == (10, 10)  # the gate is global, the map keeps its jump


def test_branches_of_inception_and_dense_blocks():
    g = summary(models.googlenet(num_classes=2), (3, 32, 32))
    layers = _by_name(g)
    assert g.output_shape == (1, 2) and g.total_params == models.googlenet(num_classes=2).fc.weight.numel() + (
        6_624_904 - 1024 * 1000 - 1000) + 2
    assert layers["inception3a.branch4.0"].rf[0] > layers["maxpool2"].rf[0]  # pool branch grows the field
    d = summary(models.densenet_bc_100(), (3, 8, 8))
    assert d.total_params == 769_162 and d.output_shape == (1, 10)


# --------------------------------------------------------------------------- failures
def test_trace_failure_shows_the_trace_the_arithmetic_and_the_fix():
    with pytest.raises(ShapeError) as info:
        trace(models.lenet5(), (1, 32, 32))
    err = info.value
    msg = str(err)
    assert "LeNet5 fails on input (1, 1, 32, 32) at layer 'fc1' (Linear)" in msg
    assert "flatten  Flatten    (1, 16, 6, 6)    (1, 576)" in msg and "> fc1" in msg and "FAILED" in msg
    assert "expects 400 input features (in_features) but receives 576 = 16x6x6" in msg
    assert "smallest input that works: 1x28x28" in msg
    assert err.min_size == (28, 28) and err.failed.name == "fc1" and err.failed.output_shape is None
    assert [L.name for L in err.layers] == ["conv1", "act", "pool", "conv2", "act", "pool", "flatten"]
    assert isinstance(err, ValueError) and all(isinstance(L, Layer) for L in err.layers)


def test_trace_failure_at_a_pool_spells_out_padding_kernel_and_ceil():
    with pytest.raises(ShapeError) as info:
        convlab.shapes.trace(models.googlenet(), (3, 14, 14))
    msg = str(info.value)
    assert "at layer 'maxpool3' (MaxPool2d)" in msg
    assert ("height: padded size 1 + 2*0 = 1; effective kernel d(k-1)+1 = 1*(3-1)+1 = 3; "
            "out = ceil((1 - 3) / 2) + 1 = 0  <-- fails: below 1") in msg
    assert "smallest input that works: 3x15x15" in msg


def test_trace_failure_at_a_dilated_strided_conv():
    model = nn.Sequential(nn.Conv2d(1, 2, 3, stride=2, dilation=2, padding=(1, 0)))
    with pytest.raises(ShapeError) as info:
        trace(model, (1, 2, 9))
    msg = str(info.value)
    assert ("height: padded size 2 + 2*1 = 4; effective kernel d(k-1)+1 = 2*(3-1)+1 = 5; "
            "out = floor((4 - 5) / 2) + 1 = 0  <-- fails: below 1") in msg
    assert "width: padded size 9 + 2*0 = 9; effective kernel d(k-1)+1 = 2*(3-1)+1 = 5; out = floor((9 - 5) / 2) + 1 = 3\n" \
        in msg
    assert info.value.min_size == (5, 5)  # the unpadded width needs 5


def test_too_small_dilated_conv_and_suggestion():
    model = nn.Sequential(nn.Conv2d(1, 2, 3, dilation=3), nn.ReLU())
    with pytest.raises(ShapeError) as info:
        trace(model, (1, 4, 4))
    msg = str(info.value)
    assert "padded size 4 + 2*0 = 4; effective kernel d(k-1)+1 = 3*(3-1)+1 = 7; out = floor((4 - 7) / 1) + 1 = -2" in msg
    assert info.value.min_size == (7, 7)


def test_channel_mismatch_is_not_a_size_problem():
    with pytest.raises(ShapeError) as info:
        summary(models.resnet18(), (1, 32, 32))
    msg = str(info.value)
    assert "Conv2d expects 3 input channels (in_channels) but receives 1" in msg
    assert "the input size is not the problem" in msg and info.value.min_size is None
    with pytest.raises(ValueError, match="no input size works: Conv2d expects 3 input channels"):
        min_input_size(models.resnet18(), in_channels=1)


def test_long_traces_are_cut_in_the_message_but_kept_whole():
    with pytest.raises(ShapeError) as info:
        trace(models.densenet121(), (3, 28, 28))
    err = info.value
    assert err.failed.name == "features.transition3.pool" and len(err.layers) > 200
    assert "earlier layers (ShapeError.layers has all)" in str(err) and str(err).count("\n") < 70
    assert err.min_size == (29, 29)


# --------------------------------------------------------------------------- min_input_size
@pytest.mark.parametrize("name, size", [
    ("googlenet", 15), ("densenet121", 29),  # torchvision's documented meta["min_size"]
    ("alexnet", 63), ("vgg11_cifar", 32), ("resnet18", 1), ("efficientnet_b0", 1),  # torchvision's too
    ("lenet5", 28), ("smallcnn", 32), ("resnet20", 1),
])
def test_min_input_size(name, size):
    assert min_input_size(models.get(name, num_classes=2)) == (size, size)


def test_min_input_size_when_nothing_works():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(7, 2))
    with pytest.raises(ValueError, match="size 3 is too small and 4 too large"):
        min_input_size(model)
    with pytest.raises(ValueError, match="no convolution"):
        min_input_size(nn.Sequential(nn.Linear(2, 2)))
    assert convlab.shapes.min_input_size(nn.Sequential(nn.Conv2d(1, 1, 5), nn.MaxPool2d(2))) == (6, 6)


def test_bad_input_shape():
    with pytest.raises(ValueError, match="input_shape"):
        summary(models.lenet5(), (28, 0))


# --------------------------------------------------------------------------- CLI
def test_cli_summary(capsys):
    assert main(["summary", "lenet5"]) == 0
    out = capsys.readouterr().out
    assert "Total params: 61,706" in out and "conv2" in out and "Multiply-accumulates: 416,520 (0.417 M)" in out
    assert main(["summary", "resnet20", "--input", "3x16x16", "--num-classes", "100", "-q"]) == 0
    assert capsys.readouterr().out.strip().startswith("275,572 params")


def test_cli_summary_errors(capsys):
    assert main(["summary", "lenet5", "--input", "1,32,32"]) == 1
    err = capsys.readouterr().err
    assert "fails on input (1, 1, 32, 32) at layer 'fc1'" in err and "smallest input that works: 1x28x28" in err
    assert main(["summary", "lenet", "--input", "1,28,28"]) == 2
    assert "did you mean lenet5" in capsys.readouterr().err
    assert main(["summary", "lenet5", "--input", "a,b"]) == 2
    assert main(["summary", "lenet5", "--num-classes", "0"]) == 2


def test_cli_models(capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    for name in models.list():
        assert name in out
    assert "138,357,544" in out and "61,706" in out and "1x28x28" in out
    assert main(["models", "-q"]) == 0
    assert capsys.readouterr().out.split() == models.list()


def test_summary_object_values_are_plain_numbers():
    s = summary(models.resnet20(), (3, 8, 8))
    assert all(isinstance(v, int) for L in s.layers for v in (L.trainable, L.non_trainable, L.macs))
    assert all(isinstance(v, (int, np.integer)) for L in s.layers if L.rf for v in L.rf)

"""Building blocks and naming of the zoo models: seed 003's blocks, shortcuts, stochastic depth, gradients."""

import numpy as np
import pytest

import convlab
import convlab.models as models
from convlab import nn
from convlab.models.efficientnet import StochasticDepth


def test_seed_resblock_is_relu_of_input_when_the_branch_is_zero():
    block = models.ResBlock(4).eval()
    for conv in (block.c1, block.c2):
        conv.weight.data[...] = 0
        conv.bias.data[...] = 0
    x = convlab.randn(2, 4, 5, 5)
    with convlab.no_grad():
        np.testing.assert_allclose(block(x).numpy(), np.maximum(x.numpy(), 0), atol=1e-6)
    assert list(block.state_dict())[:4] == ["c1.weight", "c1.bias", "b1.weight", "b1.bias"]


def test_smallcnn_keeps_the_seed_signature_and_names():
    model = models.SmallCNN(10)  # the seed's call
    assert model.fc2.out_features == 10 and model.conv1.in_channels == 3
    assert [k for k in model.state_dict() if k.endswith("weight")] == [
        "conv1.weight", "conv2.weight", "bn1.weight", "bn2.weight", "fc1.weight", "fc2.weight"]
    with pytest.raises(ValueError, match="4096"):  # fc1 is fixed to 32x32 inputs, as in the seed
        model.eval()(convlab.randn(1, 3, 28, 28))


def test_lenet5_activation_option():
    relu, tanh = models.lenet5(), models.lenet5(activation="tanh")
    assert isinstance(relu.act, nn.ReLU) and isinstance(tanh.act, nn.Tanh)
    with pytest.raises(ValueError, match="activation"):
        models.lenet5(activation="sigmoid")


def test_torchvision_names():
    keys = set(models.resnet50().state_dict())
    assert {"conv1.weight", "bn1.running_var", "layer1.0.downsample.0.weight", "layer1.0.downsample.1.num_batches_tracked",
            "layer4.2.conv3.weight", "fc.bias"} <= keys
    g = models.googlenet()
    assert {"conv1.conv.weight", "inception3a.branch4.1.conv.weight", "inception5b.branch3.1.bn.bias", "fc.weight"} \
        <= set(g.state_dict())
    assert g.conv1.bn.eps == 0.001 and g.conv1.conv.bias is None
    assert {"features.conv0.weight", "features.denseblock1.denselayer1.norm1.weight", "features.transition3.conv.weight",
            "features.denseblock4.denselayer16.conv2.weight", "features.norm5.running_mean", "classifier.weight"} \
        <= set(models.densenet121().state_dict())
    e = models.efficientnet_b0()
    assert {"features.0.0.weight", "features.0.1.running_mean", "features.1.0.block.0.0.weight",
            "features.1.0.block.1.fc1.weight", "features.2.0.block.1.0.weight", "features.8.0.weight",
            "classifier.1.weight"} <= set(e.state_dict())
    assert e.features[2][0].block[1][0].groups == 96  # depthwise: one filter per expanded channel
    assert {"features.0.weight", "features.1.running_var", "classifier.weight"} <= set(models.vgg11_cifar().state_dict())


def test_efficientnet_stochastic_depth_grows_linearly_to_0_2():
    probs = [m.stochastic_depth.p for m in models.efficientnet_b0().modules() if isinstance(m, models.efficientnet.MBConv)]
    assert len(probs) == 16
    np.testing.assert_allclose(probs, [0.2 * i / 16 for i in range(16)])


def test_stochastic_depth_drops_whole_samples_and_rescales():
    sd = StochasticDepth(0.5, "row")
    x = convlab.ones(400, 3, 2, 2)
    y = sd(x).numpy()
    per_sample = y.reshape(400, -1)
    assert set(np.unique(per_sample)) <= {0.0, 2.0}
    assert (per_sample == per_sample[:, :1]).all()  # one decision per sample
    assert 0.35 < (per_sample[:, 0] == 0).mean() < 0.65
    assert sd.eval()(x) is x
    assert (StochasticDepth(1.0).train()(x).numpy() == 0).all()
    with pytest.raises(ValueError):
        StochasticDepth(1.5)


def test_cifar_resnet_depth_and_shortcut_checks():
    with pytest.raises(ValueError, match="6n \\+ 2"):
        models.CifarResNet(depth=21)
    with pytest.raises(ValueError, match="shortcut"):
        models.resnet20(shortcut="C")
    block = models.resnet20().layer2[0]
    x = convlab.randn(1, 16, 8, 8)
    with convlab.no_grad():
        short = block.downsample(x).numpy()
    assert short.shape == (1, 32, 4, 4)
    np.testing.assert_array_equal(short[:, 8:24], x.numpy()[:, :, ::2, ::2])  # option A: subsample, zero-pad
    assert (short[:, :8] == 0).all() and (short[:, 24:] == 0).all()


@pytest.mark.parametrize("name, size", [("resnet20", 8), ("efficientnet_b0", 8), ("densenet_bc_100", 4), ("lenet5", 28)])
def test_every_parameter_gets_a_gradient(name, size):
    c = 1 if name == "lenet5" else 3
    model = models.get(name, num_classes=4).train()
    x = convlab.randn(2, c, size, size)
    loss = nn.CrossEntropyLoss()(model(x), convlab.tensor(np.array([0, 3])))
    loss.backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not np.isfinite(p.grad.numpy()).all()]
    assert missing == []


def test_init_follows_torchvision():
    m = models.resnet18()
    w = m.layer1[0].conv1.weight.data
    np.testing.assert_allclose(w.std(), np.sqrt(2.0 / (64 * 9)), rtol=0.05)  # He normal, fan_out
    assert (m.bn1.weight.data == 1).all() and (m.bn1.bias.data == 0).all()
    v = models.vgg11_cifar()
    assert abs(v.features[0].weight.data.std() - np.sqrt(2.0 / (64 * 9))) < 0.02
    assert (v.features[0].bias.data == 0).all()

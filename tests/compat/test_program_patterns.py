"""Patterns met in public PyTorch programs run on convlab (pytorch/examples mnist, dcgan, imagenet,
siamese_network; the official CIFAR-10 and quickstart tutorials; yunjey/pytorch-tutorial; kuangliu's
pytorch-cifar), each checked against torch."""

import numpy as np
import pytest

import convlab
import convlab.nn as nn
from helpers import require_torch

torch = require_torch()


def test_topk_accuracy_as_the_imagenet_example_computes_it():
    rng = np.random.default_rng(0)
    logits, target = rng.standard_normal((8, 10)).astype(np.float32), rng.integers(0, 10, 8)

    def accuracy(lib, output, target, topk=(1, 5)):
        with lib.no_grad():
            _, pred = output.topk(max(topk), 1, True, True)
            pred = pred.t()
            correct = pred.eq(target.view(1, -1).expand_as(pred))
            return [correct[:k].reshape(-1).float().sum(0, keepdim=True).mul_(100.0 / len(target)) for k in topk]

    ours = accuracy(convlab, convlab.tensor(logits), convlab.tensor(target))
    theirs = accuracy(torch, torch.tensor(logits), torch.tensor(target))
    assert [a.tolist() for a in ours] == [b.tolist() for b in theirs]
    meter = convlab.zeros(())  # AverageMeter: sum += val * n, with val a 1-element tensor's item
    meter += ours[0][0] * 8
    assert float(meter) == pytest.approx(float(theirs[0][0]) * 8)


def test_topk_values_and_gradient_match_torch():
    a = np.random.default_rng(1).standard_normal((3, 6))
    x, tx = convlab.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    for largest in (True, False):
        v, i = x.topk(3, dim=1, largest=largest)
        tv, ti = tx.topk(3, dim=1, largest=largest)
        np.testing.assert_array_equal(v.detach().numpy(), tv.detach().numpy())
        np.testing.assert_array_equal(i.numpy(), ti.numpy())
        (v * convlab.tensor(np.arange(9.0).reshape(3, 3))).sum().backward()
        (tv * torch.tensor(np.arange(9.0).reshape(3, 3))).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), tx.grad.numpy())


def test_replacing_a_child_keeps_its_place_and_rebuilding_without_fc_works():
    """siamese_network: swap resnet18's conv1 for a 1-channel one, then drop the last child (fc)."""
    resnet = convlab.vision.models.resnet18(weights=None)
    resnet.conv1 = nn.Conv2d(1, 64, kernel_size=7, stride=2, padding=3, bias=False)
    names = [n for n, _ in resnet.named_children()]
    assert names[0] == "conv1" and names[-1] == "fc"
    trunk = nn.Sequential(*list(resnet.children())[:-1])
    assert trunk(convlab.zeros(2, 1, 28, 28)).shape == (2, 512, 1, 1)
    t = torch.nn.Sequential(torch.nn.Linear(1, 1), torch.nn.ReLU(), torch.nn.Linear(1, 1))
    c = nn.Sequential(nn.Linear(1, 1), nn.ReLU(), nn.Linear(1, 1))
    t.act = torch.nn.Tanh()
    c.act = nn.Tanh()
    t[1], c[1] = torch.nn.Sigmoid(), nn.Sigmoid()  # replaced in place, not moved to the end
    assert [type(m).__name__ for m in c] == [type(m).__name__ for m in t] == ["Linear", "Sigmoid", "Linear", "Tanh"]


def test_zoo_factories_take_torchvisions_weights_argument():
    assert isinstance(convlab.vision.models.resnet18(weights=None), nn.Module)
    with pytest.raises(ValueError, match="no pretrained weights"):
        convlab.vision.models.resnet18(pretrained=True)
    names = sorted(n for n in convlab.vision.models.__dict__ if n.islower() and not n.startswith("__")
                   and callable(convlab.vision.models.__dict__[n]))
    assert {"resnet18", "resnet50", "vgg11"} <= set(names)


def test_dcgan_style_init_and_labels():
    def weights_init(m):
        classname = m.__class__.__name__
        if classname.find("Conv") != -1:
            nn.init.normal_(m.weight, 0.0, 0.02)
        elif classname.find("BatchNorm") != -1:
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)

    convlab.manual_seed(0)
    net = nn.Sequential(nn.ConvTranspose2d(8, 4, 4, 1, 0, bias=False), nn.BatchNorm2d(4), nn.ReLU(True))
    net.apply(weights_init)
    assert abs(float(net[0].weight.std()) - 0.02) < 0.005 and float(net[1].bias.abs().sum()) == 0
    x = convlab.randn(3, 8, 1, 1)
    assert not (x.is_cuda or x.is_xpu or x.is_mps)
    label = convlab.full((3,), 1.0, dtype=x.dtype, device=x.device)
    label.fill_(0.0)
    assert label.tolist() == [0.0, 0.0, 0.0]


def test_distributed_sampler_matches_torch_without_shuffling():
    from torch.utils.data.distributed import DistributedSampler as TorchSampler

    from convlab.utils.data.distributed import DistributedSampler

    for n, world, drop in ((10, 3, False), (10, 3, True), (4, 4, False)):
        for rank in range(world):
            ours = list(DistributedSampler(range(n), num_replicas=world, rank=rank, shuffle=False, drop_last=drop))
            theirs = list(TorchSampler(range(n), num_replicas=world, rank=rank, shuffle=False, drop_last=drop))
            assert ours == theirs, (n, world, drop, rank)
    s = DistributedSampler(range(10), num_replicas=2, rank=0)
    s.set_epoch(1)
    first = list(s)
    s.set_epoch(2)
    assert sorted(first) != first or list(s) != first  # the shuffle changes with the epoch


def _square(i, out):
    out.put((i, i * i))


def test_multiprocessing_spawn_runs_each_process():
    import convlab.multiprocessing as mp

    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    mp.spawn(_square, args=(q,), nprocs=2)
    assert sorted(q.get(timeout=30) for _ in range(2)) == [(0, 0), (1, 1)]

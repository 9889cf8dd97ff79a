"""The module paths, AMP, Hogwild sharing, hub and single-process distributed names that public
PyTorch programs import, each checked against torch's behaviour."""

import importlib
import multiprocessing
import pickle
import warnings

import numpy as np
import pytest

import convlab
from helpers import require_torch

torch = require_torch()

PATHS = ["nn.modules", "nn.modules.conv", "nn.modules.batchnorm", "nn.modules.loss", "nn.modules.module",
         "nn.modules.utils", "nn.modules.activation", "nn.modules.pooling", "nn.modules.container", "nn.modules.linear",
         "nn.modules.dropout", "utils.data.sampler", "utils.data.dataset", "utils.data.dataloader", "utils.tensorboard",
         "utils.model_zoo", "hub", "amp", "cuda.amp"]


@pytest.mark.parametrize("path", PATHS)
def test_torch_module_paths_exist_with_torchs_public_classes(path):
    ours, theirs = importlib.import_module(f"convlab.{path}"), importlib.import_module(f"torch.{path}")
    wanted = {"nn.modules.batchnorm": ["_BatchNorm", "BatchNorm2d"], "nn.modules.loss": ["_Loss", "_WeightedLoss"],
              "nn.modules.conv": ["_ConvNd", "Conv2d"], "nn.modules.utils": ["_pair", "_single", "_triple"],
              "utils.data.sampler": ["Sampler", "RandomSampler", "BatchSampler"], "utils.data.dataset": ["Dataset"],
              "utils.data.dataloader": ["DataLoader", "default_collate"], "utils.tensorboard": ["SummaryWriter"],
              "hub": ["load_state_dict_from_url"], "amp": ["GradScaler", "autocast"], "cuda.amp": ["GradScaler"]}
    for name in wanted.get(path, []):
        assert hasattr(theirs, name) and hasattr(ours, name), name


def test_ntuple_helpers_agree_with_torch():
    from torch.nn.modules.utils import _pair as tp
    from torch.nn.modules.utils import _triple as tt

    from convlab.nn.modules.utils import _pair, _triple
    for v in (3, (1, 2), [4, 5]):
        assert _pair(v) == tp(v)
    assert _triple(2) == tt(2)


def _step_both(lib, scaler, grads):
    p = lib.nn.Parameter(lib.tensor(np.ones(3)))
    opt = lib.optim.SGD([p], lr=0.1)
    scales = []
    for g in grads:
        opt.zero_grad()
        loss = scaler.scale((p * lib.tensor(np.asarray(g))).sum())
        loss.backward()
        scaler.step(opt)
        scaler.update()
        scales.append(scaler.get_scale())
    return p.detach().numpy(), scales


def test_grad_scaler_on_cpu_scales_skips_and_backs_off_as_torch():
    grads = [[1.0, 2.0, 3.0], [np.inf, 0.0, 1.0], [0.5, 0.5, 0.5], [1.0, 1.0, 1.0]]
    ours = _step_both(convlab, convlab.amp.GradScaler("cpu", init_scale=8.0, growth_interval=2), grads)
    theirs = _step_both(torch, torch.amp.GradScaler("cpu", init_scale=8.0, growth_interval=2), grads)
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-12)  # the inf step was skipped by both
    assert ours[1] == theirs[1] == [8.0, 4.0, 4.0, 8.0]


def test_cuda_amp_without_a_gpu_warns_and_disables_itself():
    with pytest.warns(UserWarning, match="CUDA is not available"):
        scaler = convlab.cuda.amp.GradScaler()
    assert not scaler.is_enabled() and scaler.get_scale() == 1.0
    x = convlab.ones(2, requires_grad=True)
    assert scaler.scale(x) is x
    with pytest.warns(UserWarning, match="CUDA is not available"):
        ctx = convlab.autocast(device_type="cuda")
    with ctx:
        assert convlab.ones(2).dtype == convlab.float32
    with convlab.autocast("cpu", enabled=False):
        pass


def test_cpu_autocast_says_by_name_that_convlab_has_no_reduced_precision():
    with pytest.raises(NotImplementedError, match="autocast.*float16/bfloat16"):
        convlab.autocast(device_type="cpu", dtype=convlab.float16)


def _hogwild_worker(model, rows):
    with convlab.no_grad():
        for p in model.parameters():
            p.add_(float(rows))


def test_share_memory_lets_a_spawned_process_update_the_weights():
    net = convlab.nn.Linear(3, 2)
    before = net.weight.detach().numpy().copy()
    assert net.share_memory() is net and net.weight.is_shared()
    proc = multiprocessing.get_context("spawn").Process(target=_hogwild_worker, args=(net, 2))
    proc.start()
    proc.join(60)
    assert proc.exitcode == 0
    np.testing.assert_array_equal(net.weight.detach().numpy(), before + 2)  # the child's writes, seen here
    copy = pickle.loads(pickle.dumps(convlab.ones(2)))  # a plain tensor still pickles by value
    assert not copy.is_shared() and copy.tolist() == [1.0, 1.0]


def test_load_state_dict_from_url_reads_a_cached_torch_file_without_network(tmp_path):
    net = torch.nn.Linear(3, 2)
    torch.save(net.state_dict(), tmp_path / "linear-abc.pth")
    sd = convlab.hub.load_state_dict_from_url("https://example.invalid/linear-abc.pth", model_dir=tmp_path)
    np.testing.assert_array_equal(sd["weight"].numpy(), net.weight.detach().numpy())
    with pytest.raises(NotImplementedError, match="hubconf.py"):
        convlab.hub.load("pytorch/vision", "resnet18")


def test_ddp_and_process_group_of_one_process():
    import convlab.distributed as dist

    dist.init_process_group("gloo", world_size=1, rank=0)
    assert (dist.get_rank(), dist.get_world_size()) == (0, 1)
    model = convlab.nn.parallel.DistributedDataParallel(convlab.nn.Linear(2, 1))
    assert list(model.state_dict()) == ["module.weight", "module.bias"]
    t = convlab.tensor([1.0, 2.0])
    dist.all_reduce(t)
    assert t.tolist() == [1.0, 2.0]  # the sum over a group of one
    with model.no_sync():
        model(convlab.ones(1, 2)).sum().backward()
    dist.destroy_process_group()
    with pytest.raises(RuntimeError, match="mpirun"):
        dist.init_process_group("nccl", world_size=2, rank=0)


def test_summary_writer_takes_convlab_tensors(tmp_path):
    from convlab.utils.tensorboard import SummaryWriter

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        w = SummaryWriter(tmp_path)
        w.add_scalar("loss", convlab.tensor(0.5), 1)
        w.add_image("grid", convlab.rand(3, 4, 4), 1)
        w.close()
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(tmp_path))
    acc.Reload()
    assert [e.value for e in acc.Scalars("loss")] == [0.5]
    assert acc.Tags()["images"] == ["grid"]
    with pytest.raises(NotImplementedError, match="add_graph"):
        SummaryWriter(tmp_path).add_graph(convlab.nn.Linear(1, 1))


def test_printing_a_shape_reads_as_torch_prints_it_with_convlabs_name():
    ours, theirs = convlab.zeros(2, 3).shape, torch.zeros(2, 3).shape
    assert str(ours).replace("convlab.", "torch.") == str(theirs) == "torch.Size([2, 3])"
    assert str(ours[1:]).replace("convlab.", "torch.") == str(theirs[1:])
    assert f"{ours}" == "(2, 3)"  # formatted into messages it stays a plain tuple

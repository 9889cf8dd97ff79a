"""The API fuzzer's engine: targets from ``inspect.signature``, baseline calls, hostile values, a judge.

Every public callable of convlab's namespaces (``convlab``, ``functional``, ``nn``, ``nn.init``,
``optim``, ``optim.lr_scheduler``, ``shapes``, ``filters``, ``signal``, ``data``,
``data.transforms``) and every ``Tensor`` method is a target. A target is *covered* when a
baseline call works: each required parameter takes a value from :data:`BASELINE` (by name;
``(function, name)`` first), each optional one its default. The fuzzer then replaces one
parameter at a time with a hostile value and asks :func:`judge` whether the outcome is allowed:

* a documented exception (``ValueError``, ``TypeError``, ``IndexError``, ``RuntimeError``,
  ``NotImplementedError``, ``OSError``) whose message names the argument or the function;
* or a result; where the function has a torch twin that refuses the same numeric value
  with a shape/value error, convlab accepting it is a defect (a silent wrong result), and where
  both accept, the results must be equal.

Never allowed: a hang (a per-call alarm), ``ZeroDivisionError``, ``RecursionError``,
``MemoryError``, ``OverflowError``, ``AttributeError``, ``KeyError``, ``AssertionError``,
``UnboundLocalError``, ``UnicodeError``, or an exception with an empty message.
"""

from __future__ import annotations

import contextlib
import inspect
import math
import os
import signal
import tempfile

import numpy as np

import convlab as cl
import convlab.data as data
import convlab.data.transforms as transforms
import convlab.files as files
import convlab.filters as filters
import convlab.functional as F
import convlab.nn as nn
import convlab.nn.functional as nnF
import convlab.nn.init as init
import convlab.nn.utils as nn_utils
import convlab.optim as optim
import convlab.optim.lr_scheduler as lr_scheduler
import convlab.random as crandom
import convlab.shapes as shapes
import convlab.signal as csignal
import convlab.utils.data as udata
import convlab.vision.transforms as vtransforms
import convlab.vision.transforms.functional as vF
from convlab.validate import ConvlabError

NAMESPACES = {"convlab": cl, "F": F, "nn": nn, "init": init, "optim": optim, "lr_scheduler": lr_scheduler,
              "shapes": shapes, "filters": filters, "signal": csignal, "data": data, "transforms": transforms,
              "nn.functional": nnF, "utils.data": udata, "vision.transforms": vtransforms, "vision.F": vF,
              "files": files, "random": crandom, "nn.utils": nn_utils}
# callables that read files, start processes, train, print or time things: fuzzed through their own tests
SKIP = {"read_idx", "write_idx", "read_cifar_bin", "load_image", "read_image", "ImageFolder", "MNIST",
        "FashionMNIST", "KMNIST", "CIFAR10", "DataLoader.__iter__",
        "max_unpool1d", "max_unpool2d", "max_unpool3d", "gradcheck", "set_default_dtype", "manual_seed",
        "set_num_threads", "set_rng_state", "get_rng_state", "seed", "fit", "min_input_size", "trace", "set_memory_budget",
        "set_printoptions", "use_deterministic_algorithms", "set_grad_enabled", "enable_grad", "no_grad", "inference_mode",
        "register_forward_hook", "register_full_backward_hook", "register_hook", "apply", "backward", "to", "cuda", "cpu",
        "share_memory_", "pin_memory", "numpy", "tolist", "item", "__init__", "Module", "Sequential", "ModuleList",
        "ModuleDict", "ParameterList", "ParameterDict", "Lambda", "Compose", "LRScheduler", "Optimizer", "Function",
        "Tensor", "Parameter", "Dataset", "Transform", "ConvGeometry", "RF", "InterpolationMode", "using_generator",
        "save_figure_bytes", "scoped_generator", "default_generator", "load_state_dict", "state_dict", "set_threads", "device",
        "get_num_threads", "get_memory_budget", "is_tensor", "typename", "from_dlpack", "compile"}

HOSTILE = [None, "x", "", b"\xff", float("nan"), float("inf"), float("-inf"), 0, -1, -7, 0.0, -0.5, 1.5, 10**12, 2**63,
           -(2**63), True, [], (), {}, [-1, 2], (0, 0), 1j, object(), 99, -99]


def _tensor(*shape, seed=0):
    return cl.tensor(np.random.default_rng(seed).standard_normal(shape).astype(np.float32))


def _with_grad():
    p = nn.Parameter(_tensor(3, 2))
    (p * p).sum().backward()
    return p


def _hostile_tensors():
    return [cl.zeros(0), _tensor(7), _tensor(1, 1, 1, 1), cl.tensor([[float("nan"), 1.0]]), cl.tensor([1, 2]),
            np.ones((2, 2), complex)]


SCRATCH = tempfile.mkdtemp(prefix="convlab-fuzz-")  # the file writers' baseline paths (hostile ones are relative:
                                                    # the tests run them from a temporary working directory)


def baseline_values():
    """Sensible values for required parameters, by name (``"fn.name"`` overrides)."""
    x4 = _tensor(2, 3, 6, 6)
    ds4 = data.ArrayDataset(np.zeros((4, 1, 5, 5), np.float32), np.arange(4) % 2)
    saved = os.path.join(SCRATCH, "saved.safetensors")
    if not os.path.exists(saved):
        cl.save({"w": _tensor(2, 3)}, saved)
    param = nn.Parameter(_tensor(3, 2))
    sgd = optim.SGD([param], lr=0.1, momentum=0.9)
    more = {
        "path": os.path.join(SCRATCH, "out.bin"), "files.write_atomic.data": b"abc", "text": "hi", "directory": SCRATCH,
        "files.write_json.obj": {"a": [1, 2]}, "obj": {"w": _tensor(2, 3)}, "convlab.load.path": saved,
        "items": [(np.zeros(2, np.float32), 0)] * 2, "batch": [(np.zeros(2, np.float32), 0)] * 2,
        "transform": transforms.RandomHorizontalFlip(), "vision.transforms.RandomApply.transforms": [
            vtransforms.RandomHorizontalFlip()], "degrees": 10, "img": _tensor(3, 6, 6), "top": 0, "left": 0,
        "height": 3, "width": 3, "weights": [0.5, 0.5, 0.5, 0.5], "num_samples": 3, "sampler": [0, 1, 2, 3],
        "batch_size": 2, "drop_last": False, "datasets": [ds4, ds4], "data_source": ds4, "base_lr": 0.01, "T_0": 5,
        "gamma": 0.9, "steps": 5, "mask": cl.tensor(np.array([[True, False, True]] * 2)), "src": _tensor(2, 3), "k": 2,
        "convlab.randint.high": 5, "convlab.normal.mean": 0.0, "convlab.normal.size": (2, 3),
        "F.adaptive_avg_pool1d.output_size": 3, "F.adaptive_max_pool1d.output_size": 3, "F.prelu.weight": _tensor(1),
        "upscale_factor": 1, "downscale_factor": 2,
        "parameters": [_with_grad()], "max_norm": 1.0, "clip_value": 0.5, "dtype": cl.float64, "Tensor.mm.b": _tensor(3, 2),
        "Tensor.matmul.b": _tensor(3, 2), "nn.functional.prelu.weight": _tensor(1),
        "nn.functional.adaptive_avg_pool1d.output_size": 3, "nn.functional.adaptive_max_pool1d.output_size": 3,
    }
    return more | {
        "a": _tensor(2, 3), "b": _tensor(2, 3), "input": x4, "x": x4, "tensor": _tensor(4, 3), "t": _tensor(2, 3),
        "kernel_size": 3, "size": (2, 3), "output_size": (3, 3), "weight": _tensor(4, 3, 3, 3),
        "in_channels": 3, "out_channels": 4, "params": [param], "optimizer": sgd, "dim": 1, "dim0": 0, "dim1": 1,
        "target": cl.tensor(np.array([0, 1])), "tensors": [_tensor(2, 3), _tensor(2, 3)], "padding": 1,
        "num_features": 3, "kernel": np.ones((3, 3)) / 9, "start": 0, "end": 5, "array": np.ones((2, 3), np.float32),
        "pad": (1, 1), "num_groups": 1, "normalized_shape": (6,), "image": np.full((6, 7), 100, np.uint8),
        "mean": (0.5,), "std": (0.25,), "chunks": 2, "fill_value": 1.5, "low": 0, "high": 5, "seed": 0,
        "split_size_or_sections": 1, "condition": cl.tensor(np.array([[True, False, True]] * 2)), "n": 3,
        "num_channels": 3, "in_features": 3, "out_features": 2, "T_max": 5, "milestones": [2, 4], "max_lr": 0.1,
        "step_size": 2, "stride": 1, "dilation": 1, "groups": 1, "signal": np.arange(8.0), "in1": _tensor(2, 3),
        "in2": _tensor(2, 4), "x_shape": (2, 3, 6, 6), "w_shape": (4, 3, 3, 3), "layers": [(3, 1), (2, 2)],
        "images": np.zeros((4, 1, 5, 5), np.float32), "labels": np.arange(4) % 2, "lengths": [2, 2], "val": 0.5,
        "data": [[1.0, 2.0], [3.0, 4.0]], "indices": cl.tensor(np.array([0, 2])), "spec": "1,0,-1", "name": "sobel-x",
        "nonlinearity": "relu", "in_size": 6, "inputs": [_tensor(2, 3)], "dataset": data.ArrayDataset(
            np.zeros((4, 1, 5, 5), np.float32), np.arange(4) % 2), "p": 0.5, "value": 0.0, "exponent": 2.0,
        "lr_lambda": lambda e: 0.9 ** e, "index": cl.tensor(np.array([[0, 1, 0], [1, 0, 1]])), "other": _tensor(2, 3),
        "shape": (3, 2), "sizes": (2, 3), "dims": (1, 0), "repeats": (1, 2), "scale_factor": 2,
        "F.linear.weight": _tensor(2, 6), "F.bilinear.weight": _tensor(5, 3, 4), "F.embedding.input": cl.tensor(
            np.array([0, 2])), "F.embedding.weight": _tensor(4, 3), "F.one_hot.tensor": cl.tensor(np.array([0, 2])),
        "F.conv1d.input": _tensor(2, 3, 6), "F.conv1d.weight": _tensor(4, 3, 3), "F.conv3d.input": _tensor(1, 1, 3, 3, 3),
        "F.conv3d.weight": _tensor(2, 1, 2, 2, 2), "F.conv_transpose2d.weight": _tensor(3, 4, 3, 3),
        "F.conv_transpose1d.input": _tensor(2, 3, 6), "F.conv_transpose1d.weight": _tensor(3, 4, 3),
        "F.max_pool1d.input": _tensor(2, 3, 6), "F.avg_pool1d.input": _tensor(2, 3, 6),
        "F.cross_entropy.input": _tensor(2, 3), "F.nll_loss.input": _tensor(2, 3), "F.mse_loss.target": x4,
        "F.l1_loss.target": x4, "F.smooth_l1_loss.target": x4, "F.huber_loss.target": x4,
        "F.binary_cross_entropy.input": cl.sigmoid(x4), "F.binary_cross_entropy.target": cl.sigmoid(x4) * 0 + 0.5,
        "F.binary_cross_entropy_with_logits.target": cl.sigmoid(x4) * 0 + 0.5, "F.kl_div.target": cl.sigmoid(x4),
        "F.batch_norm.running_mean": cl.zeros(3), "F.batch_norm.running_var": cl.ones(3),
        "F.layer_norm.normalized_shape": (6,), "F.group_norm.num_groups": 3, "F.pad.pad": (1, 1),
        "F.pixel_shuffle.upscale_factor": 1, "F.unfold.kernel_size": 2, "F.fold.output_size": (3, 3),
        "F.fold.input": _tensor(1, 4, 4), "F.fold.kernel_size": 2, "F.cosine_similarity.x1": _tensor(2, 3),
        "F.cosine_similarity.x2": _tensor(2, 3), "F.triplet_margin_loss.anchor": _tensor(2, 3),
        "F.triplet_margin_loss.positive": _tensor(2, 3), "F.triplet_margin_loss.negative": _tensor(2, 3),
        "convlab.matmul.b": _tensor(3, 2), "convlab.mm.b": _tensor(3, 2), "convlab.bmm.a": _tensor(2, 2, 3),
        "convlab.bmm.b": _tensor(2, 3, 2), "convlab.where.a": _tensor(2, 3), "convlab.gather.index": cl.tensor(
            np.array([[0, 1, 0], [1, 0, 1]])), "convlab.gather.input": _tensor(2, 3),
        "convlab.scatter.input": _tensor(2, 3), "convlab.scatter_add.input": _tensor(2, 3),
        "convlab.scatter.value": 1.5, "Tensor.scatter.value": 1.5, "convlab.select.index": 1,
        "Tensor.select.index": 1, "length": 1, "shifts": 1, "convlab.clamp_min.min": 0.0,
        "convlab.clamp_max.max": 0.0, "Tensor.clamp_min.min": 0.0, "Tensor.clamp_max.max": 0.0,
        "convlab.narrow.input": _tensor(2, 3), "convlab.roll.input": _tensor(2, 3),
        "axis0": 0, "axis1": 1, "convlab.iinfo.type": cl.int32,
        "convlab.bincount.input": cl.tensor(np.array([0, 2, 2])), "convlab.broadcast_to.input": _tensor(3),
        "convlab.diag.input": _tensor(2, 3), "convlab.outer.input": _tensor(2), "convlab.outer.vec2": _tensor(3),
        "F.dropout1d.input": _tensor(2, 3, 6), "F.local_response_norm.size": 2, "F.pairwise_distance.x1": _tensor(2, 3),
        "F.pairwise_distance.x2": _tensor(2, 3), "F.threshold.threshold": 0.1, "F.threshold.value": 0.0,
        **{f"convlab.{n}.input": _tensor(2, 3) for n in ("eq", "ne", "ge", "le", "gt", "lt", "greater", "less",
                                                         "greater_equal", "less_equal", "not_equal", "logical_and",
                                                         "logical_or", "logical_xor")},
        "convlab.randint.size": (2, 3), "convlab.full.size": (2, 3), "convlab.arange.start": 0,
        "nn.Unflatten.unflattened_size": (3, 2), "nn.Embedding.num_embeddings": 4, "nn.Embedding.embedding_dim": 3,
        "nn.GroupNorm.num_groups": 1, "nn.LayerNorm.normalized_shape": 6, "nn.Bilinear.in1_features": 3,
        "nn.Bilinear.in2_features": 4, "nn.Bilinear.out_features": 2, "data.random_split.lengths": [2, 2],
        "data.Subset.indices": [0, 1], "data.TensorDataset.tensors": [_tensor(4, 1, 5, 5)],
        "transforms.Normalize.mean": (0.5,), "transforms.Normalize.std": (0.25,), "transforms.RandomCrop.size": 4,
        "shapes.conv_params.kernel_size": 3, "shapes.conv_output_size.size": 6, "shapes.pool_output_size.size": 6,
        "shapes.unvisited.size": 6, "shapes.same_padding.size": 6, "shapes.conv_transpose_output_size.size": 6,
        "optim.SGD.lr": 0.1, "lr_scheduler.OneCycleLR.total_steps": 10, "data.TensorDataset.*": (_tensor(4, 2),),
        "Tensor.permute.*": (1, 0), "Tensor.expand.*": (4, 2, 3), "Tensor.reshape.*": (3, 2), "Tensor.view.*": (3, 2),
        "Tensor.repeat.*": (1, 2), "F.adaptive_avg_pool1d.input": _tensor(2, 3, 6),
        "F.adaptive_max_pool1d.input": _tensor(2, 3, 6), "F.adaptive_avg_pool3d.input": _tensor(1, 2, 4, 4, 4),
        "F.adaptive_max_pool3d.input": _tensor(1, 2, 4, 4, 4), "F.adaptive_avg_pool3d.output_size": 2,
        "F.adaptive_max_pool3d.output_size": 2, "F.conv_transpose3d.input": _tensor(1, 3, 3, 3, 3),
        "F.conv_transpose3d.weight": _tensor(3, 2, 2, 2, 2),
        "convlab.permute.*": (1, 0), "shapes.receptive_field.layers": [(3, 1), (2, 2)],
        "shapes.conv_geometry.where": "conv2d", "shapes.pool_geometry.where": "max_pool2d",
        "shapes.check_layout.where": "conv2d", "shapes.check_layout.shape": (2, 3, 6, 6), "shapes.check_layout.nd": 2,
        "shapes.check_strict.where": "conv2d", "shapes.ntuple.value": 3, "shapes.ntuple.n": 2,
        "shapes.ntuple.name": "kernel_size", "shapes.ntuple.where": "conv2d", "filters.filter_image.kernel": "box",
        "F.interpolate.scale_factor": 1.5, "nn.Upsample.scale_factor": 2, "nn.UpsamplingBilinear2d.scale_factor": 2,
        "nn.UpsamplingNearest2d.scale_factor": 2, "convlab.einsum.equation": "ij->j", "convlab.einsum.*": (_tensor(2, 3),),
        "convlab.index_select.index": cl.tensor(np.array([0, 2])), "Tensor.index_select.index": cl.tensor(np.array([1])),
        "convlab.masked_select.mask": cl.tensor(np.arange(6) % 2 == 0), "Tensor.masked_select.mask": cl.tensor(
            np.array([True, False, True])), "convlab.repeat_interleave.repeats": 2, "Tensor.repeat_interleave.repeats": 2,
    }


def targets():
    """``[(qualified name, callable)]``: public callables of the namespaces, then Tensor methods."""
    seen, out = set(), []
    for ns, mod in NAMESPACES.items():
        names = getattr(mod, "__all__", None) or [n for n in dir(mod) if not n.startswith("_")]
        for n in sorted(names):
            obj = getattr(mod, n, None)
            if n in SKIP or inspect.ismodule(obj) or not callable(obj) or id(inspect.unwrap(obj)) in seen:
                continue
            if inspect.isclass(obj) and issubclass(obj, (BaseException, np.generic)):
                continue  # exceptions, and the dtype aliases (convlab.double is numpy.float64, not a function)
            try:
                inspect.signature(obj)
            except (TypeError, ValueError):
                continue
            seen.add(id(inspect.unwrap(obj)))
            out.append((f"{ns}.{n}", obj))
    for n in sorted(dir(cl.Tensor)):
        obj = getattr(cl.Tensor, n)
        if n.startswith("_") or n in SKIP or not callable(obj) or isinstance(obj, property):
            continue
        try:
            inspect.signature(obj)
        except (TypeError, ValueError):
            continue
        out.append((f"Tensor.{n}", obj))
    return out


def plan(qualname, fn, values):
    """``(args, kwargs, slots)`` of the baseline call, or None when a required parameter has no
    baseline value. Required parameters are passed by position, optional ones keep their default
    (a ``"qualname.param"`` entry passes one by keyword). ``slots`` are the fuzzable places:
    ``("pos", index, name)`` or ``("kw", name, name)``."""
    params = list(inspect.signature(fn).parameters.values())
    args, kwargs, slots = [], {}, []
    if qualname.startswith("Tensor."):
        args.append(_tensor(2, 3))
        params = params[1:]
    for p in params:
        keys = (f"{qualname}.{p.name}", p.name)
        if p.kind == p.VAR_KEYWORD:
            continue
        if p.kind == p.VAR_POSITIONAL:
            star = values.get(f"{qualname}.*", (1, 0, 2) if p.name == "dims" else (2, 3))
            if p.name in ("size", "shape", "dims", "sizes", "repeats") or f"{qualname}.*" in values:
                slots.append(("pos", len(args), p.name))
                args.extend(star)
            continue
        if p.default is inspect.Parameter.empty:
            key = next((k for k in keys if k in values), None)
            if key is None:
                return None
            if p.kind == p.KEYWORD_ONLY:
                kwargs[p.name] = values[key]
                slots.append(("kw", p.name, p.name))
            else:
                slots.append(("pos", len(args), p.name))
                args.append(values[key])
        else:
            if keys[0] in values:
                kwargs[p.name] = values[keys[0]]
            slots.append(("kw", p.name, p.name))
    return args, kwargs, slots


def mutate(args, kwargs, slot, value):
    """The baseline call with one slot replaced by ``value``."""
    args, kwargs = list(args), dict(kwargs)
    kind, where, _ = slot
    if kind == "pos":
        args[where] = value
    else:
        kwargs[where] = value
    return args, kwargs


BARE = (ZeroDivisionError, RecursionError, MemoryError, OverflowError, AttributeError, KeyError, AssertionError,
        UnboundLocalError, UnicodeError, StopIteration, FloatingPointError)
DOCUMENTED = (ValueError, TypeError, IndexError, RuntimeError, NotImplementedError, OSError)


class Hang(Exception):
    pass


@contextlib.contextmanager
def alarm(seconds: float):
    """Raise :class:`Hang` in the main thread after ``seconds`` (no-op off the main thread)."""
    def ring(signum, frame):
        raise Hang(f"no answer after {seconds} s")

    try:
        old = signal.signal(signal.SIGALRM, ring)
    except ValueError:  # not the main thread
        yield
        return
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


TIMEOUT = float(os.environ.get("CONVLAB_FUZZ_TIMEOUT", "10"))


def call(fn, args, kwargs, seconds=TIMEOUT):
    """``(result, exception)`` of ``fn(*args, **kwargs)`` under an alarm, with NumPy warnings silenced."""
    try:
        with alarm(seconds), np.errstate(all="ignore"):
            return fn(*args, **kwargs), None
    except Hang as exc:
        return None, exc
    except BaseException as exc:  # noqa: BLE001 - classified by judge()
        if isinstance(exc, KeyboardInterrupt):
            raise
        return None, exc


def _mentions(msg: str, *words) -> bool:
    low = msg.lower()
    return any(w and (w.lower() in low or w.lower().replace("_", " ") in low) for w in words)


def judge(qualname: str, param: str, value, result, exc) -> str | None:
    """None when the outcome is allowed, else a one-line description of the defect's class."""
    if exc is None:
        return None
    kind = type(exc).__name__
    if isinstance(exc, Hang):
        return f"hang | {qualname} | {param}={value!r:.40}"
    msg = str(exc)
    if isinstance(exc, BARE) and not isinstance(exc, ConvlabError) or not isinstance(exc, DOCUMENTED):
        return f"bare {kind} | {qualname} | {param}=...: {msg[:80]!r}"
    if not msg.strip():
        return f"empty message | {qualname} | {param}=...: {kind}"
    fname = qualname.rsplit(".", 1)[-1]
    cls = qualname.split(".")[-2] if qualname.count(".") >= 2 else ""
    aliases = {"lr": "learning rate", "eps": "epsilon", "betas": "beta", "params": "parameter list"}
    if not _mentions(msg, param, aliases.get(param, ""), fname, cls, "dtype", "tensor", "shape", "size"):
        return f"unnamed argument | {qualname} | {param}=...: {kind} {msg[:80]!r}"
    return None


def scalar_hostile(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def finite_close(a, b) -> bool:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=1e-4, atol=1e-5, equal_nan=True))


def memory_cap(extra_bytes: int = 3 << 30):
    """Cap this process's address space for the fuzz (a guard that fails must not take the
    machine's memory); returns a function that restores the old limit."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    try:
        with open("/proc/self/statm") as f:
            vm = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return lambda: None
    cap = vm + extra_bytes
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    return lambda: resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def example_count(default: int) -> int:
    return int(os.environ.get("CONVLAB_FUZZ_EXAMPLES", default))


__all__ = ["HOSTILE", "baseline_values", "call", "example_count", "finite_close", "judge", "math", "memory_cap",
           "mutate", "plan", "scalar_hostile", "targets"]

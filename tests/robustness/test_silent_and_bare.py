# ruff: noqa: E501  (one case per line: the table reads better unwrapped)
"""Issue 20's classes of defect, each example a case: silent wrong results, bare internals,
unbounded work, and the command line. Every refusal is caught as ``RuntimeError`` too (torch's
type for shape and configuration errors), and dims out of range also as ``IndexError``.
"""

import os
import struct
import subprocess
import sys

import numpy as np
import pytest
from hostile import Case, check, params

import convlab as cl
import convlab.functional as F
from convlab import filters, nn, shapes
from convlab.cli import describe, main
from convlab.data import IDXError, ImageFolder, read_idx
from convlab.train.checkpoint import check_finite_weights, save_checkpoint

A = cl.randn(2, 3)


def _oob(where, lo, hi, got):
    return rf"{where}: Dimension out of range \(expected to be in range of \[{lo}, {hi}\], but got {got}\)"


def _param():
    return [nn.Parameter(cl.ones(2))]


SILENT = [
    Case("permute-dim-2", lambda: A.permute(0, 2), IndexError, _oob("permute", -2, 1, 2)),
    Case("permute-dim-neg3", lambda: cl.permute(A, -3, 0), IndexError, _oob("permute", -2, 1, -3)),
    Case("flatten-end-9", lambda: A.flatten(0, 9), IndexError, _oob("flatten", -2, 1, 9)),
    Case("flatten-start-5", lambda: A.flatten(5), IndexError, _oob("flatten", -2, 1, 5)),
    Case("split-negative-section", lambda: cl.split(A, [-1, 3]), ValueError, r"split: split_size_or_sections must be non-negative, got -1"),
    Case("split-negative-size", lambda: cl.split(A, -1), ValueError, r"split: split_size must be positive, got -1"),
    Case("split-dim-oob", lambda: cl.split(A, 1, dim=4), IndexError, _oob("split", -2, 1, 4)),
    Case("chunk-dim-oob", lambda: cl.chunk(A, 2, dim=-3), IndexError, _oob("chunk", -2, 1, -3)),
    Case("conv-params-groups", lambda: shapes.conv_params(3, 6, 3, groups=2), ValueError, r"conv_params: in_channels 3 is not divisible by groups 2"),
    Case("conv-params-out-groups", lambda: shapes.conv_params(4, 6, 3, groups=4), ValueError, r"conv_params: out_channels 6 is not divisible by groups 4"),
    Case("conv-macs-groups", lambda: shapes.conv_macs(3, 6, 3, 4, groups=2), ValueError, r"conv_macs: in_channels 3 is not divisible by groups 2"),
    Case("transpose-size-negative", lambda: shapes.conv_transpose_output_size(1, 1, padding=5), RuntimeError, r"output size -9 is not positive"),
    Case("pool-size-zero", lambda: shapes.pool_output_size(2, 5), RuntimeError, r"pool_output_size: .*(too small|smaller)"),
    Case("conv-size-stride-0", lambda: shapes.conv_output_size(8, 3, stride=0), ValueError, r"conv_output_size: stride must be positive, got 0"),
    Case("sgd-lr-nan", lambda: cl.optim.SGD(_param(), lr=float("nan")), ValueError, r"Invalid learning rate: nan"),
    Case("sgd-lr-inf", lambda: cl.optim.SGD(_param(), lr=float("inf")), ValueError, r"Invalid learning rate: inf"),
    Case("sgd-wd-nan", lambda: cl.optim.SGD(_param(), lr=0.1, weight_decay=float("nan")), ValueError, r"Invalid weight_decay value: nan"),
    Case("sgd-momentum-neg", lambda: cl.optim.SGD(_param(), lr=0.1, momentum=-0.5), ValueError, r"Invalid momentum value: -0.5"),
    Case("adam-eps-nan", lambda: cl.optim.Adam(_param(), eps=float("nan")), ValueError, r"Invalid epsilon value: nan"),
    Case("adam-beta-nan", lambda: cl.optim.Adam(_param(), betas=(float("nan"), 0.9)), ValueError, r"Invalid beta parameter at index 0: nan"),
    Case("adamw-wd-inf", lambda: cl.optim.AdamW(_param(), weight_decay=float("inf")), ValueError, r"Invalid weight_decay value: inf"),
    Case("rmsprop-alpha-nan", lambda: cl.optim.RMSprop(_param(), alpha=float("nan")), ValueError, r"Invalid alpha value: nan"),
    Case("group-lr-nan", lambda: cl.optim.SGD([{"params": _param(), "lr": float("nan")}], lr=0.1), ValueError, r"Invalid learning rate: nan"),
    Case("steplr-step-0", lambda: cl.optim.lr_scheduler.StepLR(cl.optim.SGD(_param(), lr=0.1), step_size=0), ValueError, r"StepLR: step_size must be positive, got 0"),
    Case("steplr-gamma-nan", lambda: cl.optim.lr_scheduler.StepLR(cl.optim.SGD(_param(), lr=0.1), 2, gamma=float("nan")), ValueError, r"StepLR: gamma must be a finite number, got nan"),
    Case("cosine-tmax-0", lambda: cl.optim.lr_scheduler.CosineAnnealingLR(cl.optim.SGD(_param(), lr=0.1), T_max=0), ValueError, r"T_max must be positive, got 0"),
    Case("plateau-patience-neg", lambda: cl.optim.lr_scheduler.ReduceLROnPlateau(cl.optim.SGD(_param(), lr=0.1), patience=-1), ValueError, r"patience must be non-negative, got -1"),
    Case("bn-eps-neg", lambda: nn.BatchNorm2d(4, eps=-1.0), ValueError, r"BatchNorm2d: eps must be non-negative, got -1.0"),
    Case("bn-eps-nan", lambda: nn.BatchNorm2d(4, eps=float("nan")), ValueError, r"BatchNorm2d: eps must be a finite number, got nan"),
    Case("bn-momentum-2", lambda: nn.BatchNorm2d(4, momentum=2.0), ValueError, r"BatchNorm2d: momentum must be in \[0, 1\], got 2.0"),
    Case("bn-features-0", lambda: nn.BatchNorm2d(0), ValueError, r"BatchNorm2d: num_features must be positive, got 0"),
    Case("F-bn-eps-neg", lambda: F.batch_norm(cl.randn(4, 3), None, None, training=True, eps=-1.0), ValueError, r"batch_norm: eps must be non-negative"),
    Case("groupnorm-eps-neg", lambda: nn.GroupNorm(1, 4, eps=-1.0), ValueError, r"GroupNorm: eps must be non-negative"),
    Case("layernorm-eps-nan", lambda: nn.LayerNorm(4, eps=float("nan")), ValueError, r"LayerNorm: eps must be a finite number"),
    Case("loader-batch-float", lambda: cl.data.DataLoader(cl.data.ArrayDataset(np.zeros((4, 1, 2, 2)), np.zeros(4)), batch_size=2.5), TypeError, r"DataLoader: (argument .)?batch_size.? must be (a positive integer|an int).*, got 2.5"),
    Case("loader-batch-zero", lambda: cl.data.DataLoader(cl.data.ArrayDataset(np.zeros((4, 1, 2, 2)), np.zeros(4)), batch_size=0), ValueError, r"DataLoader: batch_size must be (positive|>= 1), got 0"),
    Case("kernel-inf-array", lambda: filters.filter_image(np.ones((5, 5)), np.full((3, 3), np.inf)), ValueError, r"the kernel holds 9 non-finite"),
    Case("kernel-nan-array", lambda: filters.get_kernel([[0.0, float("nan")]]), ValueError, r"non-finite"),
    Case("kernel-inf-text", lambda: filters.get_kernel("1e999,0,-1"), ValueError, r"'1e999' is not a finite number"),
    Case("kernel-inf-fraction", lambda: filters.get_kernel("1e308/1e-308"), ValueError, r"is not a finite number"),
]

BARE = [
    Case("dtype-list", lambda: cl.zeros(2, dtype=[1]), TypeError, r"dtype \[1\] is not a data type"),
    Case("dtype-dict", lambda: cl.tensor([1.0], dtype={}), TypeError, r"dtype"),
    Case("dtype-set", lambda: cl.ones(2, dtype={1}), TypeError, r"dtype \{1\} is not a data type"),
    Case("astype-list", lambda: A.astype([1]), TypeError, r"astype: dtype \[1\] is not a data type"),
    Case("eq-broadcast", lambda: A == cl.randn(4, 5), ValueError, r"eq: shapes \(2, 3\) and \(4, 5\) cannot be broadcast"),
    Case("lt-broadcast", lambda: A < cl.randn(3, 2), ValueError, r"lt: shapes \(2, 3\) and \(3, 2\) cannot be broadcast"),
    Case("index-float-array", lambda: A[np.array([0.5])], IndexError, r"index .* is invalid for a tensor of shape \(2, 3\)"),
    Case("index-too-many", lambda: A[0, 0, 0], IndexError, r"is invalid for a tensor of shape \(2, 3\)"),
    Case("conv-groups-0", lambda: F.conv2d(cl.randn(1, 4, 5, 5), cl.randn(4, 4, 3, 3), groups=0), ValueError, r"groups must be positive, got 0"),
    Case("conv-stride-0", lambda: F.conv2d(cl.randn(1, 4, 5, 5), cl.randn(4, 4, 3, 3), stride=0), ValueError, r"stride must be positive, got 0"),
    Case("pool-stride-0", lambda: F.max_pool2d(cl.randn(1, 1, 4, 4), 2, stride=0), ValueError, r"stride must be positive, got 0"),
    Case("Conv2d-groups-0", lambda: nn.Conv2d(4, 4, 3, groups=0), ValueError, r"groups must be a positive integer, got 0"),
    Case("kernel-larger-than-input", lambda: F.conv2d(cl.randn(1, 1, 3, 3), cl.randn(1, 1, 5, 5)), RuntimeError, r"smaller than the dilated kernel"),
    Case("pool-larger-than-input", lambda: F.avg_pool2d(cl.randn(1, 1, 3, 3), 5), RuntimeError, r"smaller than the dilated kernel"),
    Case("none-input", lambda: F.relu(None), TypeError, r"relu: argument 'a' must be a Tensor, got NoneType"),
    Case("none-sum", lambda: cl.sum(None), TypeError, r"sum: argument 'a' must be a Tensor, got NoneType"),
    Case("str-bool-flag", lambda: F.dropout(A, training="yes"), TypeError, r"dropout: argument 'training' must be a bool"),
    Case("none-eps", lambda: cl.optim.AdamW(_param(), eps=None), TypeError, r"AdamW: argument 'eps' must be a real number, got None"),
    Case("init-std-none", lambda: nn.init.normal_(cl.ones(3), std=None), TypeError, r"normal_: argument 'std' must be a real number, got None"),
    Case("zeros-too-big", lambda: cl.zeros(2**40, 2**40), RuntimeError, r"(needs .* more than the .* allowed|past the limit)"),
    Case("pad-too-big", lambda: cl.pad(A, (10**9, 10**9)), RuntimeError, r"pad: the padded tensor .* needs"),
]


def _idx(tmp, name, raw):
    p = tmp / name
    p.write_bytes(raw)
    return p


def _nested_header(tmp, depth=100000):
    h = b"[" * depth + b"]" * depth
    p = tmp / "deep.safetensors"
    p.write_bytes(struct.pack("<Q", len(h)) + h)
    return p


def _self_containing():
    a = []
    a.append(a)
    return {"a": a}


FILES = [
    Case("idx-int64-overflow", lambda t: read_idx(_idx(t, "o.idx", b"\x00\x00\x08\x04" + struct.pack(">IIII", 65536, 65536, 65536, 65536))), IDXError,
         r"o.idx: not a valid IDX file: length check failed: .*18446744073709551616 data bytes"),
    Case("idx-overflow-is-runtime", lambda t: read_idx(_idx(t, "p.idx", b"\x00\x00\x0d\x04" + struct.pack(">IIII", 2**16, 2**16, 2**16, 2**14))), RuntimeError, r"p.idx.*length check failed"),
    Case("ckpt-nested-header", lambda t: cl.load(_nested_header(t)), ValueError, r"deep.safetensors: header nests deeper than 128 levels"),
    Case("ckpt-nested-is-runtime", lambda t: cl.load(_nested_header(t, 2000)), RuntimeError, r"deep.safetensors"),
    Case("save-self-containing", lambda t: cl.save(_self_containing(), t / "s.safetensors"), ValueError, r"save: the object nests deeper than 64 levels"),
    Case("image-error-names-file", lambda t: cl.data.read_image(_idx(t, "bad.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 30)), RuntimeError, r"bad.png: cannot read as an image"),
    Case("nan-weights", lambda t: check_finite_weights({"w": cl.tensor([1.0, float("nan")]), "b": cl.zeros(2)}, "m.safetensors"), ValueError,
         r"m.safetensors: the weights hold NaN or infinite values: w \(1 of 2\)"),
]

UNBOUNDED = [
    Case("gaussian-sigma-huge", lambda: filters.gaussian(1e4), ValueError, r"gaussian: sigma must be positive and <= 170.667, got 10000.0"),
    Case("gaussian-size-huge", lambda: filters.gaussian(1.0, size=10**6 + 1), ValueError, r"gaussian: size must be <= 1025, got 1000001"),
    Case("gaussian-sigma-inf", lambda: filters.gaussian(float("inf")), ValueError, r"gaussian: sigma must be a finite number, got inf"),
    Case("box-size-huge", lambda: filters.get_kernel("box:100001"), ValueError, r"box: size must be <= 1025"),
    Case("unvisited-huge", lambda: shapes.unvisited(10**12, 3), ValueError, r"unvisited: size must be <= "),
]


FAMILIES = {"silent": SILENT, "bare": BARE, "files": FILES, "unbounded": UNBOUNDED}


@params(SILENT)
def test_silent_wrong_results_are_refused(case):
    check(case)


@params(BARE)
def test_bare_internals_become_named_errors(case):
    msg = check(case)
    assert "Traceback" not in msg


@params(FILES)
def test_files_are_bounded_and_named(case, tmp_path):
    check(case, tmp_path)


@params(UNBOUNDED)
def test_unbounded_work_is_refused_first(case):
    check(case)


@pytest.mark.parametrize("case", SILENT + BARE + UNBOUNDED, ids=[c.id for c in SILENT + BARE + UNBOUNDED])
def test_every_refusal_is_a_runtime_error_like_torch(case):
    """``except RuntimeError`` catches convlab's shape/configuration errors, as it catches torch's."""
    with pytest.raises(RuntimeError):
        case.call()


def test_the_minimum_input_size_search_is_bounded_in_memory(monkeypatch):
    """A model no input fits (a pooling window of 100000): the doubling search stops at its memory
    bound (here 64 MiB of which it may use a quarter) instead of growing to gigabytes."""
    monkeypatch.setenv("CONVLAB_MAX_BYTES", str(64 << 20))
    model = nn.Sequential(nn.Conv2d(1, 4096, 1), nn.MaxPool2d(100000))
    with pytest.raises(RuntimeError, match=r"min_input_size: no input up to size 32 works, and trying 64 could need 64.0 MiB"):
        cl.inspect.min_input_size(model, 1)


def test_16bit_png_mean_is_not_clipped(tmp_path):
    from PIL import Image

    p = tmp_path / "g16.png"
    Image.fromarray(np.full((4, 4), 32768, np.uint16)).save(p)
    assert abs(float(cl.data.read_image(p).mean()) - 32768 / 65535) < 1e-6  # the clipped mean was 0.998


def test_non_utf8_class_name_cannot_crash_a_run_at_its_end(tmp_path):
    """A class folder named in Latin-1 bytes: its name is text that prints and goes into JSON
    (no lone surrogates left to crash the last print of a run)."""
    from PIL import Image

    bad = os.path.join(os.fsencode(tmp_path), b"caf\xe9")
    try:
        os.mkdir(bad)
    except (OSError, UnicodeError):
        pytest.skip("this filesystem refuses non-UTF-8 names")
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(os.path.join(bad, b"x.png").decode("utf-8", "surrogateescape"))
    ds = ImageFolder(tmp_path)
    assert len(ds) == 1 and ds.classes[0].startswith("caf")
    ds.classes[0].encode("utf-8")  # raises UnicodeEncodeError on a lone surrogate


@pytest.mark.parametrize("exc,expected", [
    (AssertionError(), "AssertionError (no message; rerun with --debug)"),
    (KeyError("w"), "KeyError: 'w'"),
    (MemoryError(), "MemoryError: not enough memory"),
    (RecursionError("maximum recursion depth exceeded"), "RecursionError: the input is nested too deeply"),
    (ValueError("bad thing"), "bad thing"),
])
def test_an_error_line_always_says_something(exc, expected):
    assert describe(exc) == expected


# ---------------------------------------------------------------- the command line
CLI = [
    (["train", "--lr", "nan"], r"--lr must be a finite number, got nan"),
    (["train", "--lr", "inf"], r"--lr must be a finite number, got inf"),
    (["train", "--weight-decay", "nan"], r"--weight-decay must be a finite number, got nan"),
    (["train", "--weight-decay", "-1"], r"--weight-decay must be non-negative, got -1.0"),
    (["train", "--early-stopping", "-2"], r"--early-stopping must be positive, got -2"),
    (["train", "--epochs", "-3"], r"--epochs must be positive, got -3"),
    (["train", "--pad", "100000"], r"--pad must be <= 128, got 100000"),
    (["train", "--erase", "nan"], r"--erase must be a finite number, got nan"),
    (["train", "--timeout=-inf"], r"--timeout must be a finite number, got -inf"),
    (["train", "--seed", "-1"], r"--seed must be non-negative, got -1"),
    (["train", "--mean", "nan", "--std", "1"], r"--mean:? expected finite numbers"),
    (["demo", "learned-kernel", "--steps", "-5"], r"--steps must be positive, got -5"),
    (["evaluate", "x.safetensors", "--batch-size", "0"], r"--batch-size must be positive, got 0"),
    (["predict", "x.safetensors", "y.png", "--topk", "-1"], r"--topk must be positive, got -1"),
    (["bench", "--threads", "0"], r"--threads must be positive, got 0"),
    (["summary", "lenet5", "--batch-size", "nan"], r"argument --batch-size: invalid int value: 'nan'"),
]


@pytest.mark.parametrize("argv,match", CLI, ids=[" ".join(a) for a, _ in CLI])
def test_flag_values_are_refused_at_parse_time(argv, match, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and __import__("re").search(match, err[0]), err
    assert not os.listdir(tmp_path)  # nothing made before refusing


@pytest.mark.parametrize("entry", [["-m", "convlab.cli"], ["-m", "convlab"]])
def test_every_entry_point_exits_2_on_a_usage_error(entry):
    for argv in (["summary", "lenet5", "--batch-size", "-1"], ["train", "--epochs", "x"], ["nosuchcommand"]):
        r = subprocess.run([sys.executable, *entry, *argv], capture_output=True, text=True, timeout=120)
        assert r.returncode == 2, (entry, argv, r.stderr)
        assert "Traceback" not in r.stderr and r.stderr.strip().splitlines()[-1].split("error:", 1)[-1].strip()


def test_a_diverging_run_stops_once_quietly_and_leaves_nothing(tmp_path):
    """lr 1e30: one error line, no NumPy RuntimeWarning, and no config.json left to demand --force."""
    out = tmp_path / "run"
    argv = ["-m", "convlab", "train", "--dataset", "lines", "--epochs", "2", "--lr", "1e30", "--optimizer", "sgd",
            "--limit-train", "128", "--limit-test", "32", "--out", str(out)]
    r = subprocess.run([sys.executable, *argv], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert r.returncode == 1, r.stderr
    assert "RuntimeWarning" not in r.stderr and "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "training stopped" in lines[0] and "nan" in lines[0], lines
    assert not out.exists() or not (out / "config.json").exists()
    r2 = subprocess.run([sys.executable, *argv[:-2], "--epochs", "1", "--lr", "0.01", "--out", str(out)],
                        capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert "--force" not in r2.stderr


def test_nan_checkpoint_is_refused_by_inspect(tmp_path, capsys):
    model = cl.models.get("lenet5")
    state = model.state_dict()
    state["conv1.weight"] = state["conv1.weight"] * float("nan")
    path = str(tmp_path / "nan.safetensors")
    save_checkpoint(path, {"model": state, "model_spec": {"name": "lenet5", "kwargs": {}}, "meta": {}})
    assert main(["inspect", path]) == 1
    err = capsys.readouterr().err
    assert "NaN or infinite" in err and "conv1.weight" in err


CATALOGUE = sum(len(v) for v in FAMILIES.values()) + len(CLI)

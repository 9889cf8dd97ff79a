# ruff: noqa: E501  (one case per line: the table reads better unwrapped)
"""A second careful hostile user (issue 20, after the fuzzer was emptied): each case was written
by first deciding what torch / torchvision / PIL do with the same input, then asserting convlab's
exact exception type and a message naming the argument or file and the value, or the correct value.

Families: torch-form refusals of arguments the signatures describe (dims, bools, dtypes, devices,
generators, optimizers, sizes), silent wrong results (values checked against torch or by hand),
unbounded work (sizes refused before anything is allocated), transforms, files (paths, crafted
safetensors / IDX / CIFAR / images) and the command line.
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
import convlab.vision.transforms as T
from convlab import data, files, filters, nn, optim, shapes
from convlab.data import read_cifar_bin, read_idx
from convlab.optim import lr_scheduler
from convlab.validate import ArgumentTypeError, ConvlabError, DimensionError

A = cl.randn(2, 3)
X4 = cl.randn(2, 3, 6, 6)


def _oob(where, lo, hi, got):
    return rf"{where}: Dimension out of range \(expected to be in range of \[{lo}, {hi}\], but got {got}\)"


def _sgd():
    return optim.SGD([nn.Parameter(cl.ones(2))], lr=0.1)


def _ds():
    return data.ArrayDataset(np.zeros((4, 1, 5, 5), np.float32), np.arange(4) % 2)


# torch: TypeError "sum(): argument 'keepdim' must be bool, not str" and its kin
ARGUMENT_TYPES = [
    Case("sum-keepdim-str", lambda: A.sum(1, keepdim="yes"), TypeError, r"sum: argument 'keepdim' must be a bool, got 'yes' \(str\)"),
    Case("mean-keepdim-float", lambda: A.mean(0, keepdim=0.5), TypeError, r"mean: argument 'keepdim' must be a bool, got 0\.5 \(float\)"),
    Case("argmax-dim-str", lambda: A.argmax(dim="1"), TypeError, r"argmax: argument 'dim' must be an int, got '1' \(str\)"),
    Case("softmax-dim-float", lambda: F.softmax(A, dim=1.0), TypeError, r"softmax: argument 'dim' must be an int, got 1\.0 \(float\)"),
    Case("max-dim-list", lambda: cl.max(A, dim=[]), TypeError, r"max: argument 'dim' must be an int, got \[\] \(list\)"),
    Case("zeros-dtype-str", lambda: cl.zeros(2, dtype="float33"), TypeError, r"zeros: dtype 'float33' is not a data type"),
    Case("ones-device-float", lambda: cl.ones(2, device=1.5), TypeError, r"ones: argument 'device' must be a device \(such as 'cpu'\), got 1\.5 \(float\)"),
    Case("randn-generator-int", lambda: cl.randn(2, generator=42), TypeError, r"randn: argument 'generator' must be a Generator \(convlab\.Generator, as torch\.Generator\), got 42 \(int\)"),
    Case("normal_-generator-str", lambda: cl.zeros(3).normal_(generator="g"), TypeError, r"normal_: argument 'generator' must be a Generator \(convlab\.Generator, as torch\.Generator\), got 'g' \(str\)"),
    Case("steplr-optimizer-str", lambda: lr_scheduler.StepLR("sgd", 2), TypeError, r"StepLR: str is not an Optimizer \(argument 'optimizer'\)"),
    Case("sgd-params-none", lambda: optim.SGD(None, lr=0.1), TypeError, r"SGD: params argument given to the optimizer should be an iterable of Tensors or dicts, but got NoneType"),
    Case("adam-betas-none", lambda: optim.Adam([nn.Parameter(cl.ones(2))], betas=None), TypeError, r"Adam: argument 'betas' must be a sequence \(list or tuple\), got None"),
    Case("lambdalr-none", lambda: lr_scheduler.LambdaLR(_sgd(), None), TypeError, r"LambdaLR: argument 'lr_lambda' must be a function, got None"),
    Case("conv2d-groups-float", lambda: F.conv2d(X4, cl.randn(3, 1, 3, 3), groups=3.0), TypeError, r"conv2d: argument 'groups' must be an int, got 3\.0 \(float\)"),
    Case("equal-number", lambda: cl.equal(A, 2), TypeError, r"equal: argument 'b' must be a Tensor, got int"),
    Case("allclose-array", lambda: cl.allclose(A, np.zeros((2, 3))), TypeError, r"allclose: argument 'b' must be a Tensor, got ndarray"),
    Case("expand_as-none", lambda: A.expand_as(None), TypeError, r"expand_as: argument 'other' must be a Tensor, got NoneType"),
    Case("view_as-list", lambda: A.view_as([6]), TypeError, r"view_as: argument 'other' must be a Tensor, got list"),
    Case("cat-none", lambda: cl.cat(None), TypeError, r"cat: argument 'tensors' must be a sequence of Tensors, got NoneType"),
    Case("full-fill-str", lambda: cl.full((2,), "x"), TypeError, r"full: argument 'fill_value' must be a real number, got 'x' \(str\)"),
    Case("fill_-str", lambda: cl.zeros(2).fill_("1"), TypeError, r"fill_: argument 'value' must be a real number, got '1' \(str\)"),
    Case("clamp-min-dict", lambda: A.clamp(min={}), TypeError, r"clamp: argument 'min' must be a number or a Tensor, got \{\} \(dict\)"),
    Case("size-none", lambda: cl.Size(None), TypeError, r"Size\(\): argument 'sizes' must be an iterable of ints, not NoneType"),
    Case("size-float-item", lambda: cl.Size([2, 1.5]), TypeError, r"Size\(\) takes an iterable of 'int' \(item 1 is 'float'\)"),
    Case("from_numpy-list", lambda: cl.from_numpy([1, 2]), TypeError, r"from_numpy\(\): expected np.ndarray \(got list\)"),
    Case("repeat-float", lambda: A.repeat(1.5, 1), TypeError, r"repeat: repeats must be a sequence of non-negative integers, got \(1.5, 1\)"),
    Case("expand-none", lambda: A.expand(None, 3), TypeError, r"expand: size must be a sequence of ints, got \(None, 3\)"),
    Case("pad-none", lambda: F.pad(X4, None), TypeError, r"pad: pad must be a tuple of ints, got None"),
    Case("pad-float", lambda: F.pad(X4, (1.5, 1)), TypeError, r"pad: pad must be an integer, got 1.5 \(float\)"),
    Case("pad-mode", lambda: F.pad(X4, (1, 1), mode="wrap"), ValueError, r"pad: mode must be one of 'constant', 'reflect', 'replicate', 'circular', got 'wrap'"),
    Case("copy_-str", lambda: cl.zeros(2).copy_("ab"), TypeError, r"copy_: argument 'src' must be a Tensor or an array of numbers, got 'ab' \(str\)"),
    Case("topk-k-float", lambda: A.topk(1.0), TypeError, r"topk: argument 'k' must be an int, got 1\.0 \(float\)"),
]

# torch: IndexError "Dimension out of range (expected to be in range of [-2, 1], but got 2)"
DIMS = [
    Case("argmax-dim-2", lambda: A.argmax(dim=2), IndexError, _oob("argmax", -2, 1, 2)),
    Case("argmin-dim-neg3", lambda: cl.argmin(A, dim=-3), IndexError, _oob("argmin", -2, 1, -3)),
    Case("max-dim-huge", lambda: cl.max(A, dim=10**12), IndexError, _oob("max", -2, 1, 10**12)),
    Case("sort-dim-neg7", lambda: A.sort(dim=-7), IndexError, _oob("sort", -2, 1, -7)),
    Case("argsort-dim-2", lambda: cl.argsort(A, dim=2), IndexError, _oob("sort", -2, 1, 2)),
    Case("topk-dim-5", lambda: A.topk(1, dim=5), IndexError, _oob("topk", -2, 1, 5)),
    Case("all-dim-3", lambda: A.all(dim=3), IndexError, _oob("all", -2, 1, 3)),
    Case("any-dim-tuple", lambda: A.any(dim=(0, 4)), IndexError, _oob("any", -2, 1, 4)),
    Case("size-dim-2", lambda: A.size(2), IndexError, _oob("size", -2, 1, 2)),
    Case("gather-dim-2", lambda: cl.gather(A, 2, cl.tensor(np.zeros((2, 3), np.int64))), IndexError, _oob("gather", -2, 1, 2)),
    Case("normalize-dim-2", lambda: F.normalize(A, dim=2), IndexError, _oob("normalize", -2, 1, 2)),
    Case("gather-index-ndim", lambda: cl.gather(A, 1, cl.tensor(np.array([0, 1]))), RuntimeError, r"gather\(\): Index tensor must have the same number of dimensions as input tensor"),
]

# values refused where torch refuses them (never computed into a silent wrong answer)
VALUES = [
    Case("hardtanh-min-gt-max", lambda: F.hardtanh(A, min_val=2.0, max_val=1.0), ValueError, r"hardtanh: min_val cannot be greater than max_val \(min_val=2.0, max_val=1.0\)"),
    Case("normal_-std-neg", lambda: cl.zeros(3).normal_(0.0, -1.0), RuntimeError, r"normal_: normal expects std >= 0.0, but found std -1.0"),
    Case("uniform_-from-gt-to", lambda: cl.zeros(3).uniform_(2.0, 1.0), RuntimeError, r"uniform_ expects to return a \[from, to\) range, but found from=2.0 > to=1.0"),
    Case("init-uniform-a-gt-b", lambda: nn.init.uniform_(cl.zeros(3), 2.0, 1.0), ValueError, r"uniform_: expects to return a \[from, to\) range, but found a=2.0 > b=1.0"),
    Case("init-normal-std-nan", lambda: nn.init.normal_(cl.zeros(3), std=float("nan")), ValueError, r"normal_: std must be a finite number, got nan"),
    Case("xavier-gain-neg", lambda: nn.init.xavier_normal_(cl.zeros(3, 3), gain=-1.0), ValueError, r"xavier_normal_: gain must be non-negative, got -1.0"),
    Case("mm-inner", lambda: cl.mm(A, cl.randn(2, 2)), RuntimeError, r"mm: mat1 and mat2 shapes cannot be multiplied \(2x3 and 2x2\)"),
    Case("linear-0d-weight", lambda: F.linear(A, cl.tensor(1.0)), RuntimeError, r"linear: both arguments to linear need to be at least 1D .* 2D \(input\) and 0D \(weight\)"),
    Case("nll-0d-input", lambda: F.nll_loss(cl.tensor(1.0), cl.tensor(np.array(0))), RuntimeError, r"nll_loss: input must be 1D \(C,\) or at least 2D"),
    Case("onecycle-div-0", lambda: lr_scheduler.OneCycleLR(_sgd(), 0.1, total_steps=10, div_factor=0), ValueError, r"OneCycleLR: div_factor must be positive, got 0.0"),
    Case("onecycle-last-epoch", lambda: lr_scheduler.OneCycleLR(_sgd(), 0.1, total_steps=10, last_epoch=100), ValueError, r"OneCycleLR: last_epoch must be <= 9, got 100"),
    Case("onecycle-max-lr-none", lambda: lr_scheduler.OneCycleLR(_sgd(), None, total_steps=10), TypeError, r"OneCycleLR: max_lr must be a real number, got None"),
    Case("conv-params-ndim", lambda: shapes.conv_params(3, 4, 3, ndim=10**12), ValueError, r"conv_params: ndim must be <= 3, got 1000000000000"),
    Case("receptive-field-int", lambda: shapes.receptive_field([5]), TypeError, r"receptive_field: each of layers must be"),
    Case("conv-padding-2-63", lambda: F.conv2d(X4, cl.randn(4, 3, 3, 3), padding=2**63), ValueError, r"conv2d: padding must fit in int64"),
    Case("data-loader-seed-neg", lambda: data.DataLoader(_ds(), seed=-1), TypeError, r"DataLoader: seed must be a non-negative integer, got -1"),
    Case("random-split-none", lambda: data.random_split(None, [2, 2]), TypeError, r"random_split: argument 'dataset' must be a Dataset, got None"),
    Case("concat-not-dataset", lambda: data.ConcatDataset([_ds(), 5]), TypeError, r"ConcatDataset: datasets\[1\] is not a dataset"),
    Case("collate-empty", lambda: data.collate([]), ValueError, r"collate: items must be a non-empty list of samples, got \[\]"),
    Case("weighted-sampler-str", lambda: data.WeightedRandomSampler("x", 3), TypeError, r"WeightedRandomSampler: argument 'weights' must be a Tensor or an array of numbers, got 'x' \(str\)"),
    Case("lines-size-str", lambda: data.LinesDataset(size="8"), TypeError, r"LinesDataset: size must be an integer >= 3, got '8' \(str\)"),
]

# sizes refused before the allocation (torch would try to allocate and fail, or take minutes)
UNBOUNDED = [
    Case("repeat-huge", lambda: A.repeat(10**6, 10**6), RuntimeError, r"repeat: the result of shape \(2000000, 3000000\) needs .* more than the .* allowed"),
    Case("adaptive-max-huge", lambda: F.adaptive_max_pool2d(X4, 10**6), RuntimeError, r"adaptive_max_pool2d: the output \(output_size=1000000\) of shape \(2, 3, 1000000, 1000000\) needs"),
    Case("adaptive-avg3d-huge", lambda: F.adaptive_avg_pool3d(cl.randn(1, 1, 2, 2, 2), 10**5), RuntimeError, r"adaptive_avg_pool3d: the output .* needs"),
    Case("vision-resize-huge", lambda: T.functional.resize(cl.randn(3, 4, 4), [10**6, 10**6]), RuntimeError, r"resize: the resized image of shape \(3, 1000000, 1000000\) needs"),
    Case("vision-crop-huge", lambda: T.functional.crop(cl.randn(3, 4, 4), 0, 0, 10**6, 10**6), RuntimeError, r"crop: the crop of shape \(3, 1000000, 1000000\) needs"),
    Case("new-full-negative", lambda: A.new_full((2, -1), 0.0), ValueError, r"new_full: size must be a sequence of non-negative integers, got \(2, -1\)"),
]

# torchvision transforms and convlab.data transforms
TRANSFORMS = [
    Case("centercrop-float", lambda: T.CenterCrop(2.5), TypeError, r"CenterCrop: size must be an int or a \(height, width\) pair, got 2.5"),
    Case("centercrop-zero", lambda: T.CenterCrop(0), ValueError, r"CenterCrop: size must be positive, got 0"),
    Case("crop-negative-height", lambda: T.functional.crop(cl.randn(3, 4, 4), 0, 0, -1, 2), ValueError, r"crop: height must be non-negative, got -1"),
    Case("hflip-none", lambda: T.functional.hflip(None), TypeError, r"hflip: argument 'img' must be a PIL Image or a Tensor, got NoneType"),
    Case("vflip-1d", lambda: T.functional.vflip(cl.zeros(3)), ValueError, r"vflip: img should be a tensor \(\.\.\., H, W\) of at least 2 dimensions, got shape \(3,\)"),
    Case("resize-interp", lambda: T.functional.resize(cl.randn(3, 4, 4), 2, interpolation="cubic"), ValueError, r"transforms: interpolation must be one of 'nearest', 'bilinear'"),
    Case("rotation-none", lambda: T.RandomRotation(None), TypeError, r"RandomRotation\(\): argument 'degrees'|RandomRotation: degrees"),
    Case("rotation-reversed", lambda: T.RandomRotation((10, -10)), ValueError, r"RandomRotation: degrees must be a number or a \(min, max\) pair, got \(10, -10\)"),
    Case("tv-normalize-nan", lambda: T.Normalize((0.5,), (float("nan"),)), ValueError, r"Normalize: std must be a finite number, got nan"),
    Case("tv-pad-none", lambda: T.Pad(None), TypeError, r"Pad: padding must be an int or a sequence of 2 or 4 ints, got None"),
    Case("rrc-scale-empty", lambda: T.RandomResizedCrop(8, scale=[]), ValueError, r"RandomResizedCrop: scale must be a number or a non-empty sequence of numbers, got \[\]"),
    Case("random-apply-none", lambda: T.RandomApply(None), TypeError, r"RandomApply\(\): argument 'transforms'|RandomApply: transforms must be a list of callables"),
    Case("data-normalize-str", lambda: data.Normalize("x", 1.0), TypeError, r"Normalize: mean must be a real number, got 'x'"),
    Case("data-pad-none", lambda: data.Pad(None), TypeError, r"Pad padding: expected an int or a pair, got None"),
    Case("data-randomcrop-float", lambda: data.RandomCrop(2.5), TypeError, r"RandomCrop size: expected an int or a pair, got 2\.5"),
    Case("erasing-p-2", lambda: data.RandomErasing(p=2.0), ValueError, r"RandomErasing: p must be in \[0, 1\], got 2.0"),
    Case("filter-clip-5", lambda: filters.filter_image(np.zeros((4, 4), np.uint8), "box", clip=5), TypeError, r"filter_image: clip must be True, False, None or a pair \(lo, hi\), got 5"),
    Case("parse-kernel-none", lambda: filters.parse_kernel(None), TypeError, r"parse_kernel: argument 'spec' must be a string, got None"),
    Case("get-kernel-empty", lambda: filters.get_kernel(""), ValueError, r"unknown kernel ''; the name must be one of"),
    Case("smooth-str", lambda: filters.smooth("abc"), TypeError, r"smooth: signal must be an array of real numbers, got 'abc'"),
]


def _write(tmp, name, payload):
    p = tmp / name
    p.write_bytes(payload)
    return p


def _safetensors(header: bytes, body: bytes = b"") -> bytes:
    return struct.pack("<Q", len(header)) + header + body


# files: paths, crafted checkpoints / IDX / CIFAR / images; every message names the file
FILES = [
    Case("write-atomic-empty-path", lambda t: files.write_atomic("", b"x"), ValueError, r"write_atomic: path must be a non-empty path without NUL characters, got ''"),
    Case("write-atomic-nul", lambda t: files.write_atomic(str(t / "a\0b"), b"x"), ValueError, r"write_atomic: path must be a non-empty path without NUL"),
    Case("write-atomic-str-data", lambda t: files.write_atomic(t / "d.bin", "text"), TypeError, r"write_atomic: data must be bytes, got str"),
    Case("write-text-none", lambda t: files.write_text(t / "t.txt", None), TypeError, r"write_text: text must be a str, got NoneType"),
    Case("write-json-indent", lambda t: files.write_json(t / "j.json", {}, indent=1.5), TypeError, r"write_json: indent must be an integer >= 0, got 1.5 \(float\)"),
    Case("ckpt-header-huge-length", lambda t: cl.load(_write(t, "huge.safetensors", struct.pack("<Q", 2**62) + b"{}")), ValueError, r"huge.safetensors"),
    Case("ckpt-header-deep", lambda t: cl.load(_write(t, "deep.safetensors", _safetensors(b'{"__metadata__":' + b"[" * 5000 + b"]" * 5000 + b"}"))), ValueError, r"deep.safetensors"),
    Case("ckpt-shape-overflow", lambda t: cl.load(_write(t, "ovf.safetensors", _safetensors(b'{"w":{"dtype":"F32","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,8]}}', b"\0" * 8))), ValueError, r"ovf.safetensors"),
    Case("idx-dims-overflow", lambda t: read_idx(_write(t, "ovf.idx", b"\x00\x00\x08\x04" + struct.pack(">IIII", 2**32 - 1, 2**32 - 1, 2**32 - 1, 2**32 - 1))), ValueError, r"ovf.idx"),
    Case("cifar-short", lambda t: read_cifar_bin(_write(t, "short.bin", b"\x00" * 100)), ValueError, r"short.bin"),
    Case("png-truncated-body", lambda t: data.read_image(_write(t, "cut.png", _png_bytes()[:-30])), ValueError, r"cut.png"),
    Case("gif-garbage-after-header", lambda t: data.read_image(_write(t, "g.gif", b"GIF89a" + b"\xff" * 40)), ValueError, r"g.gif"),
    Case("bmp-truncated", lambda t: data.read_image(_write(t, "t.bmp", b"BM" + b"\xff" * 60)), ValueError, r"t.bmp: cannot read as an image"),
    Case("tiff-garbage", lambda t: data.read_image(_write(t, "t.tif", b"II*\x00" + b"\xff" * 40)), ValueError, r"t.tif: cannot read as an image"),
    Case("png-declares-10g-pixels", lambda t: data.read_image(_write(t, "bomb.png", _png_header(100000, 100000))), ValueError, r"bomb.png: cannot read as an image: .*exceeds limit"),
    Case("bmp-declares-40g-pixels", lambda t: data.read_image(_write(t, "bomb.bmp", b"BM" + struct.pack("<IHHI", 0, 0, 0, 54) + struct.pack("<IiiHHIIiiII", 40, 200000, 200000, 1, 24, 0, 0, 0, 0, 0, 0))), ValueError, r"bomb.bmp: cannot read as an image: .*exceeds limit"),
    Case("i32-beyond-16-bits", lambda t: data.read_image(_image(t, "i32.tif", np.array([[0, 70000]], np.int32), "I")), ValueError, r"i32.tif: a 32-bit integer image with values in \[0, 70000\]"),
    Case("float-tiff-outside-01", lambda t: data.read_image(_image(t, "f.tif", np.array([[-1.0, 2.0]], np.float32), "F")), ValueError, r"f.tif: a floating-point image with values in \[-1.0, 2.0\]"),
]


def _png_header(w, h):
    import zlib

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", __import__("zlib").compress(b"\x00" * 10)) + chunk(b"IEND", b""))


def _image(tmp, name, array, mode=None, **save):
    from PIL import Image

    im = Image.fromarray(array, mode=mode) if mode else Image.fromarray(array)
    im.save(tmp / name, **save)
    return tmp / name


# decoded values against an independent decode (NumPy on the array that was written, or the mode's definition)
_RNG = np.random.default_rng(20)
_A16 = _RNG.integers(0, 65536, (5, 7)).astype(np.uint16)
_F01 = _RNG.random((3, 4)).astype(np.float32)


def _i16b(tmp):
    from PIL import Image

    Image.frombytes("I;16B", (7, 5), _A16.astype(">u2").tobytes()).save(tmp / "b16.tif")
    return tmp / "b16.tif"


def _exif(tmp, orientation):
    from PIL import Image

    a = np.zeros((4, 6), np.uint8)
    a[0, :] = 255  # a white top row
    im = Image.fromarray(a)
    ex = im.getexif()
    ex[0x0112] = orientation
    im.save(tmp / f"o{orientation}.png", exif=ex)
    return tmp / f"o{orientation}.png"


def _palette(tmp):
    from PIL import Image

    im = Image.fromarray(np.array([[0, 1], [2, 3]], np.uint8), mode="P")
    im.putpalette([0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 0, 255] + [0] * 756)
    im.save(tmp / "p.png")
    return tmp / "p.png"


def test_empty_reductions_match_torch():
    """torch: softmax of nothing is an empty tensor, the mean of nothing NaN, with no warning."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert cl.zeros(0).softmax(0).shape == (0,) and F.log_softmax(cl.zeros(2, 0), 1).shape == (2, 0)
        assert np.isnan(cl.zeros(0).mean().item())


def test_normalize_with_infinite_and_zero_orders_matches_torch():
    """F.normalize(p=inf) divided by 1 before (|x|^inf summed, to the power 0): torch divides by the largest magnitude."""
    torch = pytest.importorskip("torch")
    x = np.array([[3.0, -4.0, 0.0], [1.0, 2.0, -2.0]])
    for p in (float("inf"), float("-inf"), 0, 1, 3):
        want = torch.nn.functional.normalize(torch.tensor(x), p=p, dim=1).numpy()
        got = F.normalize(cl.tensor(x), p=p, dim=1).numpy()
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12, err_msg=f"p={p}")


DECODED = [  # (id, read, expected array, tolerance)
    ("png-16-bit", lambda t: data.read_image(_image(t, "a16.png", _A16))[0], _A16 / 65535, 1e-6),
    ("tiff-16-bit-big-endian", lambda t: data.read_image(_i16b(t))[0], _A16 / 65535, 1e-6),
    ("tiff-float-01", lambda t: data.read_image(_image(t, "f.tif", _F01, "F"))[0], _F01, 0.0),
    ("png-1-bit", lambda t: data.read_image(_image(t, "b.png", np.array([[0, 1], [1, 0]], bool)))[0], np.array([[0, 1], [1, 0]]), 0.0),
    ("png-palette-rgb", lambda t: data.read_image(_palette(t), mode="RGB"), np.array([[[0, 1], [0, 0]], [[0, 0], [1, 0]], [[0, 0], [0, 1]]]), 0.0),
    ("jpeg-cmyk-magenta", lambda t: data.read_image(_image(t, "c.jpg", np.zeros((2, 2, 4), np.uint8) + np.array([0, 255, 0, 0], np.uint8), "CMYK", quality=100), mode="RGB")[:, 0, 0], np.array([1.0, 0.0, 1.0]), 1 / 255),
    ("exif-rotate-90-cw", lambda t: data.read_image(_exif(t, 6))[0], np.pad(np.ones((6, 1)), ((0, 0), (3, 0))), 0.0),
    ("exif-mirror", lambda t: data.read_image(_exif(t, 2))[0], np.pad(np.ones((1, 6)), ((0, 3), (0, 0))), 0.0),
]


@pytest.mark.parametrize("read,want,tol", [d[1:] for d in DECODED], ids=[d[0] for d in DECODED])
def test_pictures_decode_to_their_values(read, want, tol, tmp_path):
    got = np.asarray(read(tmp_path), np.float64)
    assert got.shape == want.shape, (got.shape, want.shape)
    np.testing.assert_allclose(got, want, rtol=0, atol=tol)


def _png_bytes():
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.arange(64 * 64, dtype=np.uint8).reshape(64, 64)).save(buf, format="PNG")
    return buf.getvalue()


def _grad_param():
    p = nn.Parameter(cl.ones(2))
    (p * p).sum().backward()
    return [p]


def _setitem(t, idx, value):
    t[idx] = value


# the Tensor protocol (indexing, iteration, where) and the utilities around training
PROTOCOL = [
    Case("iterate-0d", lambda: list(cl.tensor(1.0)), TypeError, r"iteration over a 0-d tensor"),
    Case("setitem-str", lambda: _setitem(cl.zeros(2, 3), 0, "a"), TypeError, r"setitem: can't assign a str to a tensor of dtype float32"),
    Case("setitem-shape", lambda: _setitem(cl.zeros(2, 3), 0, cl.ones(4)), RuntimeError, r"setitem: shape mismatch: value of shape \(4,\) cannot be broadcast to the indexed shape \(3,\)"),
    Case("where-float-condition", lambda: cl.where(A, A, A), TypeError, r"where: expected condition to be a boolean tensor, but got a tensor with dtype float32"),
    Case("where-broadcast", lambda: cl.where(cl.tensor(np.array([True, False])), A, A), RuntimeError, r"where: condition \(2,\), input \(2, 3\) and other \(2, 3\) cannot be broadcast together"),
    Case("masked-fill-broadcast", lambda: A.masked_fill(cl.tensor(np.array([True, False])), 0.0), RuntimeError, r"masked_fill: mask of shape \(2,\) cannot be broadcast to the input's shape \(2, 3\)"),
    Case("argmax-empty", lambda: cl.zeros(0).argmax(), IndexError, r"argmax\(\): Expected reduction dim to be specified for input.numel\(\) == 0"),
    Case("argmin-empty-dim", lambda: cl.zeros(2, 0).argmin(1), IndexError, r"argmin\(\): cannot reduce dim 1 of size 0 \(shape \(2, 0\)\)"),
    Case("clip-norm-nan", lambda: nn.utils.clip_grad_norm_(_grad_param(), float("nan")), ValueError, r"clip_grad_norm_: max_norm must be a finite number, got nan|clip_grad_norm_: max_norm must be non-negative, got nan"),
    Case("clip-norm-type-0", lambda: nn.utils.clip_grad_norm_(_grad_param(), 1.0, norm_type=0), ValueError, r"clip_grad_norm_: norm_type must be positive, got 0.0"),
    Case("clip-params-int", lambda: nn.utils.clip_grad_value_(5, 1.0), TypeError, r"parameters must be a Tensor or an iterable of Tensors, got 5"),
    Case("clip-value-neg", lambda: nn.utils.clip_grad_value_(_grad_param(), -1.0), ValueError, r"clip_grad_value_: clip_value must be non-negative, got -1.0"),
]

FAMILIES = {"argument-types": ARGUMENT_TYPES, "protocol": PROTOCOL, "dims": DIMS, "values": VALUES, "unbounded": UNBOUNDED,
            "transforms": TRANSFORMS}


@params([c for cases in FAMILIES.values() for c in cases])
def test_refused_by_name(case):
    check(case)


@params(FILES)
def test_files_refused_by_name(case, tmp_path):
    check(case, tmp_path)


def test_every_refusal_is_catchable_as_torch_would_raise():
    """The shared classes: a type problem is a TypeError, a dim an IndexError, both also the
    ValueError / RuntimeError a caller of either library may catch."""
    for exc in (ArgumentTypeError, DimensionError):
        assert issubclass(exc, ConvlabError) and issubclass(exc, ValueError) and issubclass(exc, RuntimeError)
    with pytest.raises(RuntimeError):
        A.sum(keepdim="x")
    with pytest.raises(RuntimeError):
        A.argmax(dim=9)


# ---------------------------------------------------------------- the command line
@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A checkpoint that records its preprocessing, one with NaN weights, and picture folders: one
    with a corrupt picture, one with a single class, an empty one, one with a non-UTF-8 name."""
    from PIL import Image

    from convlab.data.preprocess import Preprocessing

    t = tmp_path_factory.mktemp("world")
    rng = np.random.default_rng(0)
    pre = Preprocessing(channels=1, size=(28, 28))
    model = cl.models.get("lenet5")
    cl.save(model, t / "ok.safetensors", preprocessing=pre, classes=["a", "b"])
    with cl.no_grad():
        next(iter(model.parameters())).fill_(float("nan"))
    cl.save(model, t / "nan.safetensors", preprocessing=pre, classes=["a", "b"])
    for name, classes in (("corrupt", "ab"), ("one", "a"), ("badname", "ab")):
        for c in classes:
            (t / name / c).mkdir(parents=True)
            for i in range(4):
                Image.fromarray(rng.integers(0, 255, (12, 12), dtype=np.uint8)).save(t / name / c / f"{i}.png")
    (t / "corrupt" / "a" / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 20)
    Image.fromarray(np.zeros((12, 12), np.uint8)).save(os.fsencode(t / "badname" / "a") + b"/caf\xe9.png")
    (t / "empty").mkdir()
    return t


CLI = [  # (argv with {t} for the world folder, exit code, the one stderr line, a path that must not exist after)
    (["train", "--dataset", "folder:{t}/corrupt", "--model", "lenet5", "--epochs", "1", "--out", "{t}/r1"], 1, r"corrupt/a/bad.png: not a readable picture", "{t}/r1"),
    (["train", "--dataset", "folder:{t}/one", "--epochs", "1", "--out", "{t}/r2"], 1, r"one has one class folder \(a\); a classifier needs at least two", "{t}/r2"),
    (["train", "--dataset", "folder:{t}/empty", "--epochs", "1", "--out", "{t}/r3"], 1, r"empty has no class folders", "{t}/r3"),
    (["train", "--epochs", "1", "--lr", "nan", "--out", "{t}/r4"], 2, r"--lr", "{t}/r4"),
    (["train", "--epochs", "1", "--early-stopping", "-1"], 2, r"--early-stopping must be", None),
    (["train", "--mean", "0.5,,0.5"], 2, r"--mean", None),
    (["evaluate", "{t}/ok.safetensors", "--dataset", "folder:{t}/corrupt", "--out", "{t}/e1"], 1, r"corrupt/a/bad.png: cannot read as an image", "{t}/e1"),
    (["evaluate", "{t}/nan.safetensors", "--dataset", "folder:{t}/badname", "--out", "{t}/e2"], 1, r"nan.safetensors.*(NaN|infinite)", "{t}/e2"),
    (["evaluate", "{t}/missing.safetensors"], 1, r"missing.safetensors does not exist", None),
    (["predict", "{t}/ok.safetensors", "{t}/corrupt/a/bad.png"], 1, r"corrupt/a/bad.png: cannot read as an image", None),
    (["predict", "{t}/nan.safetensors", "{t}/one/a/0.png"], 1, r"nan.safetensors.*(NaN|infinite)", None),
    (["predict", "{t}/ok.safetensors", "{t}/one/a/0.png", "--topk", "0"], 2, r"--topk must be positive, got 0", None),
    (["inspect", "{t}/corrupt/a/bad.png"], 1, r"bad.png: header length field says \d+ bytes", None),
    (["export", "{t}/nan.safetensors", "--out", "{t}/x.onnx"], 1, r"nan.safetensors.*(NaN|infinite)", "{t}/x.onnx"),
    (["bench", "--threads", "100000"], 2, r"--threads must be <= 64, got 100000", None),
    (["bench", "--repeats", "1000000"], 2, r"--repeats must be <= 1000, got 1000000", None),
    (["demo", "learned-kernel", "--steps", "99999999999"], 2, r"--steps must be <= 1000000, got 99999999999", None),
    (["demo", "edge-kernel", "--epochs", "1000000"], 2, r"--epochs must be <= 10000, got 1000000", None),
    (["filter", "--demo", "-k", "1,inf"], 2, r"kernel spec '1,inf': 'inf' is not a number", None),
    (["summary", "nosuchmodel"], 2, r"unknown model 'nosuchmodel'", None),
]
CLI_CASES = len(CLI) + 2  # and the two tests below


@pytest.mark.parametrize("argv,code,match,absent", CLI, ids=[" ".join(c[0][:3]).replace("{t}/", "") for c in CLI])
def test_commands_fail_with_one_line_and_leave_nothing(argv, code, match, absent, world, capsys, monkeypatch):
    import re

    from convlab.cli import main

    monkeypatch.chdir(world)
    argv = [a.replace("{t}", str(world)) for a in argv]
    try:
        rc = main(argv)
    except SystemExit as exc:
        rc = exc.code
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert rc == code, (rc, err)
    assert len(err) == 1 and re.search(match, err[0]) and "Traceback" not in err[0], err
    assert "RuntimeWarning" not in err[0]
    if absent:
        assert not os.path.exists(absent.replace("{t}", str(world)))


def test_a_non_utf8_picture_name_survives_train_evaluate_and_predict(world, tmp_path):
    """The byte name caf\\xe9.png: trained on, evaluated and predicted, printed with a replacement
    character, never a UnicodeEncodeError at the end of a run."""
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    run = [sys.executable, "-m", "convlab"]
    r = subprocess.run(run + ["train", "--dataset", f"folder:{world}/badname", "--model", "lenet5", "--epochs", "1",
                              "--image-size", "28", "--val-split", "2", "--out", str(tmp_path / "run"), "--quiet"],
                       capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode == 0, r.stderr
    r = subprocess.run(run + ["predict", str(tmp_path / "run" / "best.safetensors"), f"{world}/badname/a"],
                       capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode == 0 and "caf\\udce9.png: " in r.stdout, (r.stdout, r.stderr)


def test_the_console_script_and_python_m_agree_on_usage_errors():
    """``convlab`` (the installed entry point) and ``python -m convlab`` both exit 2 with one line."""
    script = os.path.join(os.path.dirname(sys.executable), "convlab")
    for cmd in ([script], [sys.executable, "-m", "convlab"]):
        r = subprocess.run(cmd + ["train", "--batch-size", "1.5"], capture_output=True, text=True, timeout=120)
        assert r.returncode == 2, (cmd, r.stderr)
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and "--batch-size" in lines[0] and "Traceback" not in r.stderr, lines

"""Layers, losses and the ``Module`` system, with ``torch.nn``'s names and defaults.

>>> import convlab.nn as nn
>>> net = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten())
>>> list(net.state_dict())[:3]
['0.weight', '0.bias', '1.weight']
"""

from . import functional, init, parallel, utils
from .activation import Hardsigmoid, Hardswish, LeakyReLU, LogSoftmax, ReLU, ReLU6, Sigmoid, SiLU, Softmax, Tanh
from .activation_more import (
    CELU,
    GELU,
    GLU,
    SELU,
    LogSigmoid,
    Mish,
    PixelShuffle,
    PixelUnshuffle,
    PReLU,
    Softsign,
    Tanhshrink,
)
from .container import ModuleDict, ModuleList, ParameterDict, ParameterList, Sequential
from .conv import Conv1d, Conv2d, Conv3d, ConvTranspose1d, ConvTranspose2d
from .dropout import Dropout, Dropout2d
from .layers_more import (
    ChannelShuffle,
    CosineSimilarity,
    Dropout1d,
    Dropout3d,
    Hardshrink,
    InstanceNorm1d,
    InstanceNorm2d,
    InstanceNorm3d,
    LazyBatchNorm1d,
    LazyBatchNorm2d,
    LazyBatchNorm3d,
    LocalResponseNorm,
    PairwiseDistance,
    Softmax2d,
    Softmin,
    Softshrink,
    SyncBatchNorm,
    Threshold,
)
from .lazy import LazyConv1d, LazyConv2d, LazyConv3d, LazyLinear
from .linear import Flatten, Identity, Linear, Unflatten
from .loss import (
    BCELoss,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    HuberLoss,
    KLDivLoss,
    L1Loss,
    MSELoss,
    NLLLoss,
    SmoothL1Loss,
)
from .module import IncompatibleKeys, Module, RemovableHandle
from .normalization import BatchNorm1d, BatchNorm2d, BatchNorm3d, GroupNorm, LayerNorm
from .padding import (
    CircularPad1d,
    CircularPad2d,
    CircularPad3d,
    ConstantPad1d,
    ConstantPad2d,
    ConstantPad3d,
    ReflectionPad1d,
    ReflectionPad2d,
    ReflectionPad3d,
    ReplicationPad1d,
    ReplicationPad2d,
    ReplicationPad3d,
    ZeroPad1d,
    ZeroPad2d,
    ZeroPad3d,
)
from .parallel import DataParallel, DistributedDataParallel
from .parameter import Parameter
from .pooling import (
    AdaptiveAvgPool1d,
    AdaptiveAvgPool2d,
    AdaptiveMaxPool2d,
    AvgPool1d,
    AvgPool2d,
    MaxPool1d,
    MaxPool2d,
)
from .pooling3d import (
    AdaptiveAvgPool3d,
    AdaptiveMaxPool1d,
    AdaptiveMaxPool3d,
    AvgPool3d,
    MaxPool3d,
    MaxUnpool1d,
    MaxUnpool2d,
    MaxUnpool3d,
)
from .sparse import Embedding
from .upsampling import ELU, Hardtanh, Softplus, Upsample, UpsamplingBilinear2d, UpsamplingNearest2d

__all__ = [
    "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveMaxPool2d", "AvgPool1d", "AvgPool2d", "BCELoss",
    "BCEWithLogitsLoss", "BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "Conv1d", "Conv2d", "Conv3d",
    "ConvTranspose1d", "ConvTranspose2d", "CrossEntropyLoss", "Dropout", "Dropout2d", "Flatten", "GroupNorm",
    "Hardsigmoid", "Hardswish", "Identity", "IncompatibleKeys", "L1Loss", "LayerNorm", "LeakyReLU", "Linear",
    "LogSoftmax", "MSELoss", "MaxPool1d", "MaxPool2d", "Module", "ModuleDict", "ModuleList", "NLLLoss",
    "Parameter", "ReLU", "ReLU6", "RemovableHandle", "Sequential", "SiLU", "Sigmoid", "Softmax", "Tanh",
    "Unflatten", "functional", "init", "utils", "DataParallel", "LazyConv1d", "LazyConv2d", "LazyConv3d", "LazyLinear",
    "parallel", "ELU", "Hardtanh", "Softplus", "Upsample", "UpsamplingNearest2d", "Embedding", "UpsamplingBilinear2d",
    "CELU", "GELU", "GLU", "SELU", "LogSigmoid", "Mish", "PixelShuffle", "PixelUnshuffle", "PReLU", "Softsign",
    "Tanhshrink", "ParameterDict", "ParameterList", "HuberLoss", "KLDivLoss", "SmoothL1Loss",
    "ChannelShuffle", "CosineSimilarity", "Dropout1d", "Dropout3d", "Hardshrink", "InstanceNorm1d", "InstanceNorm2d",
    "InstanceNorm3d", "LazyBatchNorm1d", "LazyBatchNorm2d", "LazyBatchNorm3d", "LocalResponseNorm", "PairwiseDistance",
    "Softmax2d", "Softmin", "Softshrink", "SyncBatchNorm", "Threshold", "DistributedDataParallel",
    "CircularPad1d", "CircularPad2d", "CircularPad3d", "ConstantPad1d", "ConstantPad2d", "ConstantPad3d",
    "ReflectionPad1d", "ReflectionPad2d", "ReflectionPad3d", "ReplicationPad1d", "ReplicationPad2d", "ReplicationPad3d",
    "ZeroPad1d", "ZeroPad2d", "ZeroPad3d", "AdaptiveAvgPool3d", "AdaptiveMaxPool1d", "AdaptiveMaxPool3d", "AvgPool3d",
    "MaxPool3d", "MaxUnpool1d", "MaxUnpool2d", "MaxUnpool3d",
]

from .. import argcheck as _argcheck  # noqa: E402
from ..shared import share_memory as _share_memory  # noqa: E402

Module.share_memory = _share_memory

from . import modules  # noqa: E402,F401  (torch.nn.modules.<file> paths; after every name above exists)

_argcheck.check_namespace(globals())  # arguments checked against the signatures (convlab.argcheck.checked)


_NOT_PROVIDED = {"RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell", "RNNBase", "MultiheadAttention", "Transformer",
                 "TransformerEncoder", "TransformerDecoder", "TransformerEncoderLayer", "TransformerDecoderLayer",
                 "CTCLoss", "EmbeddingBag", "AdaptiveLogSoftmaxWithLoss"}


def __getattr__(name):
    if name in _NOT_PROVIDED:
        raise AttributeError(f"convlab.nn has no {name}: convlab is a library for convolutional networks, and "
                             "recurrent, attention and sequence layers are not part of it")
    raise AttributeError(f"module 'convlab.nn' has no attribute {name!r}")

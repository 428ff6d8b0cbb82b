"""``minigrad.nn``: modules, layers, losses, initialisers and the functional API (PyTorch's names)."""

from . import functional, init, utils
from .layers import (
    ELU,
    GELU,
    Dropout,
    Embedding,
    Flatten,
    Hardtanh,
    Identity,
    LeakyReLU,
    Linear,
    LogSigmoid,
    LogSoftmax,
    Mish,
    ReLU,
    ReLU6,
    Sigmoid,
    SiLU,
    Softmax,
    Softmin,
    Softplus,
    Softsign,
    Tanh,
    Unflatten,
)
from .loss import (
    BCELoss,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    GaussianNLLLoss,
    HuberLoss,
    KLDivLoss,
    L1Loss,
    MSELoss,
    NLLLoss,
    SmoothL1Loss,
)
from .module import Module, ModuleDict, ModuleList, Parameter, ParameterDict, ParameterList, Sequential
from .normalization import BatchNorm1d, BatchNorm2d, GroupNorm, LayerNorm, RMSNorm

__all__ = [
    "functional", "init", "utils", "Module", "Parameter", "Sequential", "ModuleList", "ModuleDict",
    "ParameterList", "ParameterDict", "Identity", "Linear", "Flatten", "Unflatten", "Dropout", "Embedding",
    "ReLU", "ReLU6", "LeakyReLU", "ELU", "GELU", "Sigmoid", "Tanh", "Softplus", "SiLU", "Mish", "Hardtanh",
    "LogSigmoid", "Softsign", "Softmax", "LogSoftmax", "Softmin", "BatchNorm1d", "BatchNorm2d", "LayerNorm",
    "GroupNorm", "RMSNorm", "MSELoss", "L1Loss", "SmoothL1Loss", "HuberLoss", "CrossEntropyLoss", "NLLLoss",
    "BCELoss", "BCEWithLogitsLoss", "KLDivLoss", "GaussianNLLLoss",
]

# Layers written by other modules of the package, when present.
try:
    from .conv_layers import AdaptiveAvgPool2d, AvgPool2d, Conv1d, Conv2d, ConvTranspose2d, MaxPool2d  # noqa: F401

    __all__ += ["Conv1d", "Conv2d", "ConvTranspose2d", "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d"]
except ImportError:
    pass

try:
    from .rnn_layers import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell  # noqa: F401

    __all__ += ["RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell"]
except ImportError:
    pass

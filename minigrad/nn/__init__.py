"""``minigrad.nn``: modules, layers, losses, initialisers and the functional API (PyTorch's names)."""

from . import functional, init, utils
from .distance import CosineEmbeddingLoss, CosineSimilarity, PairwiseDistance, TripletMarginLoss
from .layers import (
    ELU,
    GELU,
    Dropout,
    Dropout1d,
    Dropout2d,
    Dropout3d,
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
    "Dropout1d", "Dropout2d", "Dropout3d", "CosineSimilarity", "PairwiseDistance",
    "TripletMarginLoss", "CosineEmbeddingLoss",
    "ReLU", "ReLU6", "LeakyReLU", "ELU", "GELU", "Sigmoid", "Tanh", "Softplus", "SiLU", "Mish", "Hardtanh",
    "LogSigmoid", "Softsign", "Softmax", "LogSoftmax", "Softmin", "BatchNorm1d", "BatchNorm2d", "LayerNorm",
    "GroupNorm", "RMSNorm", "MSELoss", "L1Loss", "SmoothL1Loss", "HuberLoss", "CrossEntropyLoss", "NLLLoss",
    "BCELoss", "BCEWithLogitsLoss", "KLDivLoss", "GaussianNLLLoss",
]

# convolution, pooling and recurrent layers (their kernels live in conv.py and rnn.py)
from .conv_layers import AdaptiveAvgPool2d, AvgPool2d, Conv1d, Conv2d, ConvTranspose2d, MaxPool2d  # noqa: E402
from .rnn_layers import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell  # noqa: E402

__all__ += ["Conv1d", "Conv2d", "ConvTranspose2d", "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d"]
__all__ += ["RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell"]

# attention and transformer layers
from .attention import MultiheadAttention  # noqa: E402

__all__ += ["MultiheadAttention"]
from .transformer import (  # noqa: E402
    Transformer,
    TransformerDecoder,
    TransformerDecoderLayer,
    TransformerEncoder,
    TransformerEncoderLayer,
)

__all__ += ["Transformer", "TransformerEncoder", "TransformerDecoder", "TransformerEncoderLayer",
            "TransformerDecoderLayer"]

# normalizing-flow layers
from .flows import (  # noqa: E402
    ActNorm,
    AdditiveCoupling,
    AffineCoupling,
    FlowModule,
    FlowSequential,
    InvConv1x1,
    LogitTransform,
    MultiScaleFlow,
    Squeeze,
    Unsqueeze,
)

__all__ += ["FlowModule", "FlowSequential", "AdditiveCoupling", "AffineCoupling", "Squeeze", "Unsqueeze",
            "MultiScaleFlow", "ActNorm", "InvConv1x1", "LogitTransform"]

from . import gan_losses  # noqa: E402  (GAN-family losses: minigrad.nn.gan_losses)

__all__ += ["gan_losses"]

# PixelCNN: raster-order masked convolution and the gated two-stack layer
from .gated_pixelcnn import GatedPixelCNNLayer  # noqa: E402
from .masked_conv import MaskedConv2d  # noqa: E402

__all__ += ["MaskedConv2d", "GatedPixelCNNLayer"]

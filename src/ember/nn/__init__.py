"""Neural-network building blocks: ``Module``, containers, layers, losses, ``init``, ``functional``, ``utils``.

>>> model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Dropout(0.2), nn.Linear(32, 10))
>>> loss = nn.CrossEntropyLoss()(model(em.randn(8, 64)), em.randint(0, 10, (8,)))
"""
from ember.autograd.tensor import Parameter
from ember.nn import functional, init, modules, parameter, utils
from ember.nn.activation import (
    CELU,
    ELU,
    GELU,
    GLU,
    SELU,
    Hardshrink,
    Hardsigmoid,
    Hardswish,
    Hardtanh,
    LeakyReLU,
    LogSigmoid,
    LogSoftmax,
    Mish,
    PReLU,
    ReLU,
    ReLU6,
    RReLU,
    Sigmoid,
    SiLU,
    Softmax,
    Softmax2d,
    Softmin,
    Softplus,
    Softshrink,
    Softsign,
    Tanh,
    Tanhshrink,
    Threshold,
)
from ember.nn.attention import (
    AdditiveAttention,
    BahdanauAttention,
    BilinearAttention,
    CosineAttention,
    DotProductAttention,
    GeneralAttention,
    MultiheadAttention,
    ScaledDotProductAttention,
)
from ember.nn.bilinear import Bilinear
from ember.nn.containers import (
    Flatten,
    Identity,
    ModuleDict,
    ModuleList,
    ParameterDict,
    ParameterList,
    Sequential,
    Unflatten,
)
from ember.nn.conv import Conv1d, Conv2d, Conv3d, ConvTranspose1d, ConvTranspose2d
from ember.nn.dropout import AlphaDropout, Dropout, Dropout1d, Dropout2d, Dropout3d, FeatureAlphaDropout
from ember.nn.embedding import Embedding, EmbeddingBag
from ember.nn.fold import Fold, Unfold
from ember.nn.lazy import (
    LazyBatchNorm1d,
    LazyBatchNorm2d,
    LazyBatchNorm3d,
    LazyConv1d,
    LazyConv2d,
    LazyConv3d,
    LazyConvTranspose1d,
    LazyConvTranspose2d,
    LazyLinear,
    UninitializedBuffer,
    UninitializedParameter,
)
from ember.nn.linear import Linear
from ember.nn.loss import (
    BCELoss,
    BCEWithLogitsLoss,
    ContrastiveLoss,
    CosineEmbeddingLoss,
    CosineSimilarity,
    CrossEntropyLoss,
    CTCLoss,
    GaussianNLLLoss,
    HingeEmbeddingLoss,
    HuberLoss,
    KLDivLoss,
    L1Loss,
    MarginRankingLoss,
    MSELoss,
    MultiLabelMarginLoss,
    MultiLabelSoftMarginLoss,
    MultiMarginLoss,
    NegativeSamplingLoss,
    NLLLoss,
    PairwiseDistance,
    PoissonNLLLoss,
    SmoothL1Loss,
    SoftMarginLoss,
    TripletMarginLoss,
    TripletMarginWithDistanceLoss,
)
from ember.nn.module import Module
from ember.nn.normalization import (
    BatchNorm1d,
    BatchNorm2d,
    BatchNorm3d,
    GroupNorm,
    InstanceNorm1d,
    InstanceNorm2d,
    LayerNorm,
    LocalResponseNorm,
    RMSNorm,
)
from ember.nn.padding import (
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
from ember.nn.parallel import DataParallel
from ember.nn.parameter import Buffer
from ember.nn.pooling import (
    AdaptiveAvgPool1d,
    AdaptiveAvgPool2d,
    AdaptiveAvgPool3d,
    AdaptiveMaxPool1d,
    AdaptiveMaxPool2d,
    AvgPool1d,
    AvgPool2d,
    AvgPool3d,
    GlobalAvgPool2d,
    GlobalMaxPool2d,
    LPPool1d,
    LPPool2d,
    MaxPool1d,
    MaxPool2d,
    MaxPool3d,
    MaxUnpool1d,
    MaxUnpool2d,
    SpatialPyramidPooling,
)
from ember.nn.positional import LearnedPositionalEmbedding, SinusoidalPositionalEncoding
from ember.nn.recurrent import GRU, LSTM, RNN, GRUCell, JordanRNN, LSTMCell, RNNCell
from ember.nn.transformer import (
    Transformer,
    TransformerDecoder,
    TransformerDecoderLayer,
    TransformerEncoder,
    TransformerEncoderLayer,
)
from ember.nn.upsampling import (
    ChannelShuffle,
    PixelShuffle,
    PixelUnshuffle,
    Upsample,
    UpsamplingBilinear2d,
    UpsamplingNearest2d,
)

__all__ = [
    "Buffer", "parameter", "RNN", "LSTM", "GRU", "JordanRNN", "RNNCell", "LSTMCell", "GRUCell",
    "Embedding", "DotProductAttention", "ScaledDotProductAttention", "CosineAttention", "GeneralAttention",
    "BilinearAttention", "AdditiveAttention", "BahdanauAttention", "MultiheadAttention",
    "MaxPool1d", "MaxPool2d", "MaxUnpool1d", "MaxUnpool2d",
    "AvgPool1d", "AvgPool2d", "AdaptiveAvgPool1d", "AdaptiveAvgPool2d",
    "AdaptiveMaxPool1d", "AdaptiveMaxPool2d", "GlobalAvgPool2d", "GlobalMaxPool2d", "SpatialPyramidPooling",
    "BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "InstanceNorm1d", "InstanceNorm2d", "LayerNorm", "GroupNorm",
    "functional", "init", "utils",
    "Module", "Parameter", "Sequential", "ModuleList", "ModuleDict", "Identity", "Flatten",
    "Linear", "Conv1d", "Conv2d", "ConvTranspose2d", "Dropout", "Dropout2d",
    "ReLU", "ReLU6", "LeakyReLU", "Sigmoid", "LogSigmoid", "Tanh", "ELU", "GELU", "Softplus", "SiLU", "Hardtanh",
    "Softmax", "LogSoftmax",
    "L1Loss", "MSELoss", "BCELoss", "BCEWithLogitsLoss", "CrossEntropyLoss", "NLLLoss", "TripletMarginLoss",
    "TripletMarginWithDistanceLoss",
    "SmoothL1Loss", "HuberLoss", "NegativeSamplingLoss",
    "ContrastiveLoss",
    "CELU", "GLU", "SELU", "Hardshrink", "Hardsigmoid", "Hardswish", "Mish", "PReLU", "RReLU", "Softmax2d", "Softmin",
    "Softshrink", "Softsign", "Tanhshrink", "Threshold", "RMSNorm", "LocalResponseNorm",
    "KLDivLoss", "PoissonNLLLoss", "GaussianNLLLoss", "CosineEmbeddingLoss", "MarginRankingLoss", "HingeEmbeddingLoss",
    "SoftMarginLoss", "MultiLabelSoftMarginLoss", "MultiLabelMarginLoss", "MultiMarginLoss", "CTCLoss",
    "CosineSimilarity", "PairwiseDistance", "Bilinear", "EmbeddingBag", "Unflatten", "ParameterList", "ParameterDict",
    "DataParallel", "Dropout1d", "Dropout3d", "AlphaDropout", "FeatureAlphaDropout",
    "modules", "Conv3d", "ConvTranspose1d", "MaxPool3d", "AvgPool3d", "AdaptiveAvgPool3d", "Fold", "Unfold",
    "LazyLinear", "LazyConv1d", "LazyConv2d", "LazyConv3d", "LazyConvTranspose1d", "LazyConvTranspose2d",
    "LazyBatchNorm1d", "LazyBatchNorm2d", "LazyBatchNorm3d", "UninitializedParameter", "UninitializedBuffer",
    "Upsample", "UpsamplingNearest2d", "UpsamplingBilinear2d", "PixelShuffle", "PixelUnshuffle", "ChannelShuffle",
    "LPPool1d", "LPPool2d",
    "ZeroPad1d", "ZeroPad2d", "ZeroPad3d", "ConstantPad1d", "ConstantPad2d", "ConstantPad3d", "ReflectionPad1d",
    "ReflectionPad2d", "ReflectionPad3d", "ReplicationPad1d", "ReplicationPad2d", "ReplicationPad3d",
    "CircularPad1d", "CircularPad2d", "CircularPad3d",
    "Transformer", "TransformerEncoder", "TransformerDecoder", "TransformerEncoderLayer", "TransformerDecoderLayer",
    "SinusoidalPositionalEncoding", "LearnedPositionalEmbedding",
]

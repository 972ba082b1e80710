"""Neural-network building blocks: ``Module``, containers, layers, losses, ``init``, ``functional``, ``utils``.

>>> model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Dropout(0.2), nn.Linear(32, 10))
>>> loss = nn.CrossEntropyLoss()(model(em.randn(8, 64)), em.randint(0, 10, (8,)))
"""
from ember.autograd.tensor import Parameter
from ember.nn import functional, init, utils
from ember.nn.activation import (
    ELU,
    GELU,
    Hardtanh,
    LeakyReLU,
    LogSigmoid,
    LogSoftmax,
    ReLU,
    ReLU6,
    Sigmoid,
    SiLU,
    Softmax,
    Softplus,
    Tanh,
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
from ember.nn.containers import Flatten, Identity, ModuleDict, ModuleList, Sequential
from ember.nn.conv import Conv1d, Conv2d, ConvTranspose2d
from ember.nn.dropout import Dropout, Dropout2d
from ember.nn.embedding import Embedding
from ember.nn.linear import Linear
from ember.nn.loss import (
    BCELoss,
    BCEWithLogitsLoss,
    ContrastiveLoss,
    CrossEntropyLoss,
    HuberLoss,
    L1Loss,
    MSELoss,
    NegativeSamplingLoss,
    NLLLoss,
    SmoothL1Loss,
    TripletMarginLoss,
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
)
from ember.nn.pooling import (
    AdaptiveAvgPool1d,
    AdaptiveAvgPool2d,
    AdaptiveMaxPool1d,
    AdaptiveMaxPool2d,
    AvgPool1d,
    AvgPool2d,
    GlobalAvgPool2d,
    GlobalMaxPool2d,
    MaxPool1d,
    MaxPool2d,
    SpatialPyramidPooling,
)
from ember.nn.recurrent import GRU, LSTM, RNN, GRUCell, JordanRNN, LSTMCell, RNNCell

__all__ = [
    "RNN", "LSTM", "GRU", "JordanRNN", "RNNCell", "LSTMCell", "GRUCell",
    "Embedding", "DotProductAttention", "ScaledDotProductAttention", "CosineAttention", "GeneralAttention",
    "BilinearAttention", "AdditiveAttention", "BahdanauAttention", "MultiheadAttention",
    "MaxPool1d", "MaxPool2d", "AvgPool1d", "AvgPool2d", "AdaptiveAvgPool1d", "AdaptiveAvgPool2d",
    "AdaptiveMaxPool1d", "AdaptiveMaxPool2d", "GlobalAvgPool2d", "GlobalMaxPool2d", "SpatialPyramidPooling",
    "BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "InstanceNorm1d", "InstanceNorm2d", "LayerNorm", "GroupNorm",
    "functional", "init", "utils",
    "Module", "Parameter", "Sequential", "ModuleList", "ModuleDict", "Identity", "Flatten",
    "Linear", "Conv1d", "Conv2d", "ConvTranspose2d", "Dropout", "Dropout2d",
    "ReLU", "ReLU6", "LeakyReLU", "Sigmoid", "LogSigmoid", "Tanh", "ELU", "GELU", "Softplus", "SiLU", "Hardtanh",
    "Softmax", "LogSoftmax",
    "L1Loss", "MSELoss", "BCELoss", "BCEWithLogitsLoss", "CrossEntropyLoss", "NLLLoss", "TripletMarginLoss",
    "SmoothL1Loss", "HuberLoss", "NegativeSamplingLoss",
    "ContrastiveLoss",
]

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
from ember.nn.containers import Flatten, Identity, ModuleDict, ModuleList, Sequential
from ember.nn.conv import Conv1d, Conv2d, ConvTranspose2d
from ember.nn.dropout import Dropout, Dropout2d
from ember.nn.linear import Linear
from ember.nn.loss import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, L1Loss, MSELoss, NLLLoss
from ember.nn.module import Module

__all__ = [
    "functional", "init", "utils",
    "Module", "Parameter", "Sequential", "ModuleList", "ModuleDict", "Identity", "Flatten",
    "Linear", "Conv1d", "Conv2d", "ConvTranspose2d", "Dropout", "Dropout2d",
    "ReLU", "ReLU6", "LeakyReLU", "Sigmoid", "LogSigmoid", "Tanh", "ELU", "GELU", "Softplus", "SiLU", "Hardtanh",
    "Softmax", "LogSoftmax",
    "L1Loss", "MSELoss", "BCELoss", "BCEWithLogitsLoss", "CrossEntropyLoss", "NLLLoss",
]

"""Neural-network building blocks: ``Module``, containers, layers, losses, init, utils."""
from ember.autograd.tensor import Parameter
from ember.nn.containers import Flatten, Identity, ModuleDict, ModuleList, Sequential
from ember.nn.module import Module

"""``ember.nn.modules``: PyTorch's ``torch.nn.modules`` import paths over ember's layers.

Each submodule re-exports the ember layers that PyTorch files under that name, so code that
imports ``from torch.nn.modules.linear import Linear`` or ``torch.nn.modules.conv.Conv2d``
runs unchanged; the layers themselves live in ``ember.nn``. The package exports them all.

>>> from ember.nn.modules.batchnorm import BatchNorm2d
>>> from ember.nn.modules.module import Module
"""
from ember.nn.modules import (
    activation,
    batchnorm,
    container,
    conv,
    distance,
    dropout,
    flatten,
    fold,
    instancenorm,
    lazy,
    linear,
    loss,
    module,
    normalization,
    padding,
    pixelshuffle,
    pooling,
    rnn,
    sparse,
    transformer,
    upsampling,
)

_SUBMODULES = (activation, batchnorm, container, conv, distance, dropout, flatten, fold, instancenorm, lazy, linear,
               loss, module, normalization, padding, pixelshuffle, pooling, rnn, sparse, transformer, upsampling)
globals().update({name: getattr(sub, name) for sub in _SUBMODULES for name in sub.__all__})
__all__ = sorted({name for sub in _SUBMODULES for name in sub.__all__})

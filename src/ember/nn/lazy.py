"""Lazy layers: the input size is read from the first batch, not given to the constructor.

``LazyLinear(out_features)`` is ``Linear(in_features, out_features)`` with ``in_features``
taken from the first input's last dimension; the lazy convolutions read ``in_channels`` and the
lazy batch norms ``num_features`` from dimension 1. Until then the weights are
``UninitializedParameter`` placeholders (they keep only dtype and device). The first forward
gives each its shape in place, initialises it as the eager layer would (its
``reset_parameters``), and turns the module into that eager class — so an optimiser built
before or after this dry run holds the very parameters that train, as in PyTorch:

>>> net = nn.Sequential(nn.LazyLinear(256), nn.ReLU(), nn.LazyLinear(10))
>>> net(em.randn(2, 20))                         # dry run: the shapes are now known
>>> optimizer = optim.SGD(net.parameters(), lr=0.1)
>>> net[0]
Linear(in_features=20, out_features=256, bias=True)

Loading a state dict into a lazy layer that has not run yet takes the shapes from the state dict.
"""
from __future__ import annotations

from itertools import chain

from ember.autograd.grad_mode import no_grad
from ember.autograd.tensor import Parameter, Tensor
from ember.creation import empty
from ember.nn.conv import Conv1d, Conv2d, Conv3d, ConvTranspose1d, ConvTranspose2d
from ember.nn.linear import Linear
from ember.nn.module import Module
from ember.nn.normalization import BatchNorm1d, BatchNorm2d, BatchNorm3d

__all__ = [
    "LazyBatchNorm1d", "LazyBatchNorm2d", "LazyBatchNorm3d", "LazyConv1d", "LazyConv2d", "LazyConv3d",
    "LazyConvTranspose1d", "LazyConvTranspose2d", "LazyLinear", "LazyModuleMixin", "UninitializedBuffer",
    "UninitializedParameter", "is_lazy",
]


# -- placeholders ----------------------------------------------------------------------------------


class _Uninitialized:
    """A tensor without a shape yet: an empty array that only carries dtype and device."""

    cls_to_become = Tensor

    def materialize(self, shape) -> None:
        """Give the tensor ``shape`` (zero-filled) and make it a plain tensor of ``cls_to_become``, in place."""
        self.array = self.xp.zeros(tuple(shape), dtype=self.dtype)
        self.__class__ = self.cls_to_become

    def __repr__(self):
        return f"<{type(self).__name__}>"


class UninitializedParameter(_Uninitialized, Parameter):
    """A parameter of a lazy layer before its first forward (PyTorch's ``nn.UninitializedParameter``).

    >>> p = nn.UninitializedParameter(); p.materialize((3, 4)); type(p).__name__, p.shape
    ('Parameter', (3, 4))
    """

    cls_to_become = Parameter

    def __init__(self, requires_grad=True, device=None, dtype=None):
        super().__init__(empty(0, dtype=dtype, device=device), requires_grad=requires_grad)


class UninitializedBuffer(_Uninitialized, Tensor):
    """A buffer of a lazy layer (a batch norm's running statistics) before its first forward."""

    def __init__(self, requires_grad=False, device=None, dtype=None):
        super().__init__(empty(0, dtype=dtype, device=device), requires_grad=requires_grad)


def is_lazy(tensor) -> bool:
    """True for a parameter or buffer whose shape a lazy layer has not fixed yet."""
    return isinstance(tensor, _Uninitialized)


# -- the mixin ----------------------------------------------------------------------------------


class LazyModuleMixin:
    """Turns a layer into its lazy form: placeholders until the first input, then the eager class.

    A subclass names ``cls_to_become`` (the eager class), the attribute the input fixes
    (``_lazy_size``, e.g. ``in_features``), how to read it from an input (``_size_of``) and from
    a state dict (``_size_from_state``), and the shape of each parameter and buffer for a size
    (``_shapes``).
    """

    cls_to_become = None
    _lazy_size = ""

    def has_uninitialized_params(self) -> bool:
        """Whether some parameter or buffer of this module still waits for its shape."""
        return any(is_lazy(t) for t in chain(self._parameters.values(), self._buffers.values()))

    def _make_lazy(self, names, device, dtype):
        """Replace the placeholder-sized tensors ``names`` by uninitialised ones, keeping their order."""
        for name in names:
            if self._parameters.get(name) is not None:
                self._parameters[name] = UninitializedParameter(device=device, dtype=dtype)
            elif self._buffers.get(name) is not None:
                self._buffers[name] = UninitializedBuffer(device=device, dtype=dtype)
        setattr(self, self._lazy_size, 0)

    def reset_parameters(self) -> None:
        """The eager layer's initialisation, once the shapes are known (nothing before)."""
        if not self.has_uninitialized_params() and getattr(self, self._lazy_size) != 0:
            super().reset_parameters()

    def initialize_parameters(self, input) -> None:
        """Fix every shape from ``input``, initialise, and become ``cls_to_become``."""
        self._materialize(self._size_of(input))

    def _materialize(self, size) -> None:
        if not self.has_uninitialized_params():
            return
        setattr(self, self._lazy_size, size)
        shapes = self._shapes(size)
        with no_grad():
            for name, t in chain(self._parameters.items(), self._buffers.items()):
                if is_lazy(t):
                    t.materialize(shapes[name])
            self.reset_parameters()
        if self.cls_to_become is not None:
            self.__class__ = self.cls_to_become

    def forward(self, input, *args, **kwargs):
        self.initialize_parameters(input)
        return self.forward(input, *args, **kwargs)  # the eager class's forward from now on

    def _materialize_from_state_dict(self, state_dict, prefix="") -> None:
        """Take the shapes from ``state_dict`` (keys under ``prefix``) when this layer has not run yet."""
        if self.has_uninitialized_params():
            size = self._size_from_state({k[len(prefix):]: v for k, v in state_dict.items() if k.startswith(prefix)})
            if size is not None:
                self._materialize(size)

    def load_state_dict(self, state_dict, strict: bool = True):
        self._materialize_from_state_dict(state_dict)
        return Module.load_state_dict(self, state_dict, strict)  # self may have become the eager class


def _shape_of(state, name):
    value = state.get(name)
    return None if value is None else tuple(value.shape)


# -- layers ---------------------------------------------------------------------------------------


class LazyLinear(LazyModuleMixin, Linear):
    """``Linear`` with ``in_features`` read from the first input's last dimension.

    >>> layer = nn.LazyLinear(30)
    >>> layer(em.randn(128, 20)).shape, layer
    ((128, 30), Linear(in_features=20, out_features=30, bias=True))
    """

    cls_to_become = Linear
    _lazy_size = "in_features"

    def __init__(self, out_features: int, bias: bool = True, device=None, dtype=None):
        super().__init__(0, out_features, bias, device, dtype)
        self._make_lazy(("weight", "bias"), device, dtype)

    def _size_of(self, input):
        return input.shape[-1]

    def _size_from_state(self, state):
        shape = _shape_of(state, "weight")
        return None if shape is None else shape[1]

    def _shapes(self, size):
        return {"weight": (self.out_features, size), "bias": (self.out_features,)}


class _LazyConvNd(LazyModuleMixin):
    """A lazy convolution: ``in_channels`` is dimension 1 of the first input (0 when unbatched)."""

    _lazy_size = "in_channels"

    def _size_of(self, input):
        size = input.shape[1] if input.ndim == self._dims + 2 else input.shape[0] if input.ndim else 0
        if input.ndim not in (self._dims + 1, self._dims + 2) or size % self.groups:
            raise ValueError(f"{type(self).__name__}: expected an input (N, C, *) with {self._dims} spatial "
                             f"dimensions and C divisible by groups={self.groups}, got {tuple(input.shape)}")
        return size

    def _size_from_state(self, state):
        shape = _shape_of(state, "weight")
        if shape is None:
            return None
        return shape[0] if self._transposed else shape[1] * self.groups

    def _shapes(self, size):
        if self._transposed:
            weight = (size, self.out_channels // self.groups, *self.kernel_size)
        else:
            weight = (self.out_channels, size // self.groups, *self.kernel_size)
        return {"weight": weight, "bias": (self.out_channels,)}


class _LazyConv(_LazyConvNd):
    """The constructor of LazyConv1d/2d/3d: ``ConvNd``'s arguments without ``in_channels``."""

    def __init__(self, out_channels: int, kernel_size, stride=1, padding=0, dilation=1, groups: int = 1,
                 bias: bool = True, padding_mode: str = "zeros", device=None, dtype=None):
        # ``groups`` stands in for in_channels until the first input: the smallest size the checks accept
        super().__init__(groups, out_channels, kernel_size, stride, padding, dilation, groups, bias, padding_mode,
                         device, dtype)
        self._make_lazy(("weight", "bias"), device, dtype)


class _LazyConvTranspose(_LazyConvNd):
    """The constructor of LazyConvTranspose1d/2d: ``ConvTransposeNd``'s arguments without ``in_channels``."""

    def __init__(self, out_channels: int, kernel_size, stride=1, padding=0, output_padding=0, groups: int = 1,
                 bias: bool = True, dilation=1, padding_mode: str = "zeros", device=None, dtype=None):
        super().__init__(groups, out_channels, kernel_size, stride, padding, output_padding, groups, bias, dilation,
                         padding_mode, device, dtype)
        self._make_lazy(("weight", "bias"), device, dtype)


class LazyConv1d(_LazyConv, Conv1d):
    """``Conv1d`` with ``in_channels`` read from the first input.

    >>> nn.LazyConv1d(16, kernel_size=3)(em.randn(4, 2, 20)).shape
    (4, 16, 18)
    """

    cls_to_become = Conv1d


class LazyConv2d(_LazyConv, Conv2d):
    """``Conv2d`` with ``in_channels`` read from the first input.

    >>> net = nn.Sequential(nn.LazyConv2d(6, kernel_size=5, padding=2), nn.ReLU())
    >>> net(em.randn(1, 1, 28, 28)).shape
    (1, 6, 28, 28)
    """

    cls_to_become = Conv2d


class LazyConv3d(_LazyConv, Conv3d):
    """``Conv3d`` with ``in_channels`` read from the first input."""

    cls_to_become = Conv3d


class LazyConvTranspose1d(_LazyConvTranspose, ConvTranspose1d):
    """``ConvTranspose1d`` with ``in_channels`` read from the first input."""

    cls_to_become = ConvTranspose1d


class LazyConvTranspose2d(_LazyConvTranspose, ConvTranspose2d):
    """``ConvTranspose2d`` with ``in_channels`` read from the first input."""

    cls_to_become = ConvTranspose2d


class _LazyBatchNorm(LazyModuleMixin):
    """A lazy batch norm: ``num_features`` is dimension 1 of the first input."""

    _lazy_size = "num_features"

    def __init__(self, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, device=None, dtype=None):
        super().__init__(1, eps, momentum, affine, track_running_stats, device, dtype)
        self._make_lazy(("weight", "bias", "running_mean", "running_var"), device, dtype)

    def _size_of(self, input):
        if input.ndim < 2:
            raise ValueError(f"{type(self).__name__}: expected an input (N, C, *), got {tuple(input.shape)}")
        return input.shape[1]

    def _size_from_state(self, state):
        shape = _shape_of(state, "weight") or _shape_of(state, "running_mean")
        return None if shape is None else shape[0]

    def _shapes(self, size):
        return dict.fromkeys(("weight", "bias", "running_mean", "running_var"), (size,))


class LazyBatchNorm1d(_LazyBatchNorm, BatchNorm1d):
    """``BatchNorm1d`` with ``num_features`` read from the first input (N, C) or (N, C, L).

    >>> nn.LazyBatchNorm1d()(em.randn(8, 100)).shape
    (8, 100)
    """

    cls_to_become = BatchNorm1d


class LazyBatchNorm2d(_LazyBatchNorm, BatchNorm2d):
    """``BatchNorm2d`` with ``num_features`` read from the first input (N, C, H, W)."""

    cls_to_become = BatchNorm2d


class LazyBatchNorm3d(_LazyBatchNorm, BatchNorm3d):
    """``BatchNorm3d`` with ``num_features`` read from the first input (N, C, D, H, W)."""

    cls_to_become = BatchNorm3d

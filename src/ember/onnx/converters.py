"""What each recorded op becomes in ONNX: one short converter per op class, and the few module types
the graph cannot show.

An op converter is ``fn(n, *xs) -> Value``: ``n`` is the recorded node (``n.op`` the ``Function``
with the attributes its forward set, ``n.y`` its output, ``n.path`` the module that ran it) and
``xs`` the ONNX values of its inputs. It writes the op's ONNX node(s) with ``n.emit`` (the node
whose output is the op's), ``n.step`` (an intermediate node) and ``n.const`` (a constant in the
output's dtype), and raises ``n.refuse(why)`` for a setting ONNX cannot express.

A module converter is ``fn(g, module, x, path) -> Value`` on the ``ExportGraph`` ``g``; it replaces
the module's whole forward. BatchNorm has one: in evaluation its forward folds the running
statistics into a scale and a shift computed outside the graph, so the recorded graph holds two
anonymous constants where ONNX has one ``BatchNormalization`` node that keeps the statistics.
"""
from __future__ import annotations

import math

import numpy as np

from ember import nn
from ember.backend import to_numpy
from ember.ops.activation import ELU, GELU, Hardtanh, LeakyReLU, LogSoftmax, Sigmoid, Softmax, Softplus, Tanh
from ember.ops.arithmetic import Add, Div, Mul, Neg
from ember.ops.conv import Conv2d
from ember.ops.linalg import Linear
from ember.ops.padding import Pad
from ember.ops.pooling import AdaptiveMaxPool2d, AvgPool2d, MaxPool2d
from ember.ops.shape import ConstantPad, Reshape

__all__ = ["CONVERTERS", "LIMITS", "OP_CONVERTERS", "register_converter", "register_op", "unsupported"]

OP_CONVERTERS: dict = {}  # Function subclass → fn(n, *xs)
CONVERTERS: dict = {}  # nn.Module subclass → fn(g, module, x, path), used instead of tracing its forward
LIMITS: dict = {}  # nn.Module subclass → fn(module, x, y) -> why it cannot be exported, or None


def register_op(*op_types):
    """Decorator: ``fn(n, *xs) -> Value`` converts the recorded ops of exactly these ``Function`` types.

    >>> @register_op(Square)
    ... def _square(n, x):
    ...     return n.emit("Mul", [x, x])
    """
    def decorate(fn):
        for cls in op_types:
            OP_CONVERTERS[cls] = fn
        return fn
    return decorate


def register_converter(*module_types):
    """Decorator: ``fn(g, module, x, path) -> Value`` converts modules of exactly these types.

    Their forward is not traced: ``g`` is the ``ExportGraph`` being built, ``x`` the input ``Value``
    (its ONNX name and the example tensor), ``path`` the module's dotted name in the model. A
    converter emits nodes with ``g.node``, converts children with ``g.module``, and returns the
    output ``Value``, whose tensor must equal the module's output on the example.

    >>> @register_converter(Scale)
    ... def _scale(g, m, x, path):
    ...     return g.node("Mul", [x, g.const(np.float32(m.factor), path + ".factor")], m(x.tensor), path)
    """
    def decorate(fn):
        for cls in module_types:
            CONVERTERS[cls] = fn
        return fn
    return decorate


def _limit(*module_types):
    def decorate(fn):
        for cls in module_types:
            LIMITS[cls] = fn
        return fn
    return decorate


def unsupported(path, module, why):
    """The error for a setting ONNX cannot express, naming the module where it sits."""
    return NotImplementedError(f"ember.onnx.export: module '{path or '<model>'}' ({module!r}) cannot be exported: "
                               f"{why}")


def join(path, name):
    """The dotted name of ``name`` inside the module at ``path``."""
    return f"{path}.{name}" if path else name


def _ints(values):
    return [int(v) for v in values]


def _pads(pairs):
    """ONNX's pads: every (low, high) pair's low end, then every high end."""
    return _ints([lo for lo, _ in pairs] + [hi for _, hi in pairs])


def _present(*xs):
    return [x for x in xs if x is not None]


# -- linear and convolution ---------------------------------------------------------------------------


@register_op(Linear)
def _linear(n, x, W, b=None):
    if len(x.shape) == 2:  # y = x Wᵀ + b
        return n.emit("Gemm", _present(x, W, b), transB=1)
    W_T = n.step("Transpose", W, perm=[1, 0])
    if b is None:
        return n.emit("MatMul", [x, W_T])
    return n.emit("Add", [n.step("MatMul", x, W_T), b])


@register_op(Conv2d)
def _conv(n, x, W, b=None):
    op = n.op
    if op.out_size is not None:
        raise n.refuse("a convolution cropped to fewer windows than fit")
    return n.emit("Conv", _present(x, W, b), kernel_shape=_ints(W.shape[2:]), strides=_ints(op.stride),
                  dilations=_ints(op.dilation), group=int(op.groups), pads=_pads(op.padding))


# -- padding and shapes -------------------------------------------------------------------------------

_PAD_MODES = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}


@register_op(Pad)
def _pad(n, x):
    if n.op.mode == "circular" and n.g.opset < 19:
        raise n.refuse(f"padding_mode='circular' needs opset_version >= 19, got {n.g.opset}")
    pads = n.const(_pads(n.op.widths), "pads", np.int64)
    return n.emit("Pad", [x, pads], mode=_PAD_MODES[n.op.mode])


@register_op(ConstantPad)
def _constant_pad(n, x):
    pads = n.const(_pads(n.op.widths), "pads", np.int64)
    return n.emit("Pad", [x, pads, n.const(n.op.value, "value")], mode="constant")


@register_op(Reshape)
def _reshape(n, x):
    old, new = x.shape, tuple(n.y.shape)
    if len(old) >= 2 and len(new) == 2 and new[0] == old[0]:  # (N, rest): ONNX's Flatten
        return n.emit("Flatten", [x], axis=1)
    # the leading sizes the reshape keeps are copied from the input (0), so the batch stays dynamic;
    # when the first one changes, the batch folds into it (-1)
    keep = next((i for i, (a, b) in enumerate(zip(old, new, strict=False)) if a != b), min(len(old), len(new)))
    shape = [0] * keep + list(new[keep:])
    if keep == 0 and shape:
        shape[0] = -1
    return n.emit("Reshape", [x, n.const(shape, "shape", np.int64)])


# -- pooling -----------------------------------------------------------------------------------------


def _window(w):
    """kernel_shape, strides and pads of a pooling op's windows (ceil_mode's extra window in the pads)."""
    return dict(kernel_shape=_ints(w.kernel), strides=_ints(w.stride), pads=_pads(w.pads))


def _global(w, x):
    """One window over the whole unpadded plane: ONNX's global pool."""
    return tuple(w.kernel) == tuple(x.shape[2:]) and not any(p for pair in w.pads for p in pair)


def _inside(w, spatial):
    """How many input positions (not padding) each window of a stride-s, undilated pool covers: (Ho, Wo)."""
    counts = []
    for size, k, s, (lo, _), out in zip(spatial, w.kernel, w.stride, w.pads, w.out, strict=True):
        start = np.arange(out) * s - lo
        counts.append(np.minimum(start + k, size) - np.maximum(start, 0))
    return np.outer(*counts)


@register_op(MaxPool2d)
def _max_pool(n, x):
    w = n.op.window
    if n.op.return_indices:
        raise n.refuse("return_indices=True")
    if _global(w, x):
        return n.emit("GlobalMaxPool", [x])
    return n.emit("MaxPool", [x], dilations=_ints(w.dilation), **_window(w))


@register_op(AvgPool2d)
def _avg_pool(n, x):
    # y = Σ window / divisor. AveragePool divides by the whole window (count_include_pad) or by its
    # positions inside the input; any other divisor (an override, windows clipped by ceil_mode) is
    # the first rescaled: Σ/counted · counted/divisor.
    w, divisor = n.op.window, n.op.divisor
    divisor = np.asarray(divisor if isinstance(divisor, int) else to_numpy(divisor))
    inside = _inside(w, x.shape[2:])
    whole = bool(np.all(divisor == w.size))
    inside_only = not whole and np.array_equal(np.broadcast_to(divisor, inside.shape), inside)
    op_type, attrs = "AveragePool", dict(count_include_pad=int(not inside_only), **_window(w))
    if _global(w, x):
        op_type, attrs = "GlobalAveragePool", {}
    if whole or inside_only:
        return n.emit(op_type, [x], **attrs)
    scale = n.const(w.size / divisor, "scale")
    return n.emit("Mul", [n.step(op_type, x, **attrs), scale])


@register_op(AdaptiveMaxPool2d)
def _adaptive_max_pool(n, x):
    raise n.refuse(f"output size {tuple(n.y.shape[2:])} does not divide the input size {x.shape[2:]}")


# -- activations ---------------------------------------------------------------------------------------

_ELEMENTWISE = {Sigmoid: "Sigmoid", Tanh: "Tanh", Neg: "Neg", Add: "Add", Mul: "Mul", Div: "Div"}


@register_op(*_ELEMENTWISE)
def _elementwise(n, *xs):
    return n.emit(_ELEMENTWISE[type(n.op)], xs)  # ONNX broadcasts as NumPy


@register_op(LeakyReLU)
def _leaky_relu(n, x):
    if n.op.slope == 0:
        return n.emit("Relu", [x])
    return n.emit("LeakyRelu", [x], alpha=float(n.op.slope))


@register_op(Hardtanh)
def _hardtanh(n, x):
    return n.emit("Clip", [x, n.const(n.op.low, "min"), n.const(n.op.high, "max")])


@register_op(ELU)
def _elu(n, x):
    return n.emit("Elu", [x], alpha=float(n.op.alpha))


@register_op(GELU)
def _gelu(n, x):
    if n.g.opset >= 20:
        return n.emit("Gelu", [x], approximate=n.op.approximate)
    if n.op.approximate == "tanh":  # x/2 · (1 + tanh(√(2/π) (x + 0.044715 x³)))
        cube = n.step("Mul", x, n.step("Mul", x, x))
        inner = n.step("Add", x, n.step("Mul", cube, n.const(0.044715, "c")))
        core = n.step("Tanh", n.step("Mul", inner, n.const(math.sqrt(2 / math.pi), "k")))
    else:  # x/2 · (1 + erf(x/√2))
        core = n.step("Erf", n.step("Mul", x, n.const(1 / math.sqrt(2), "k")))
    half_x = n.step("Mul", x, n.const(0.5, "half"))
    return n.emit("Mul", [half_x, n.step("Add", core, n.const(1.0, "one"))])


@register_op(Softplus)
def _softplus(n, x):
    # softplus(βx)/β, and x itself where βx > threshold (PyTorch's linear regime)
    beta = n.const(n.op.beta, "beta")
    bx = n.step("Mul", x, beta)
    soft = n.step("Div", n.step("Softplus", bx), beta)
    above = n.step("Greater", bx, n.const(n.op.threshold, "threshold"))
    return n.emit("Where", [above, x, soft])


@register_op(Softmax, LogSoftmax)
def _softmax(n, x):
    axis = int(n.op.axis) % max(len(x.shape), 1)
    return n.emit(type(n.op).__name__, [x], axis=axis)


# -- module converters and limits ------------------------------------------------------------------


@register_converter(nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)
def _batch_norm(g, m, x, path):
    if m.running_mean is None:
        raise unsupported(path, m, "track_running_stats=False normalises with each batch's own statistics")
    ones, zeros = np.ones(m.num_features, x.tensor.dtype), np.zeros(m.num_features, x.tensor.dtype)
    scale = g.param(m.weight, join(path, "weight")) if m.weight is not None else g.const(ones, join(path, "weight"))
    shift = g.param(m.bias, join(path, "bias")) if m.bias is not None else g.const(zeros, join(path, "bias"))
    stats = [g.param(getattr(m, name), join(path, name)) for name in ("running_mean", "running_var")]
    return g.node("BatchNormalization", [x, scale, shift, *stats], m(x.tensor), path, epsilon=float(m.eps))


# The exporter keeps to ONNX's own pooling ops: uneven adaptive bins (which trace to products with
# averaging matrices) and an override divisor over ceil_mode's clipped windows are refused.


@_limit(nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d)
def _uneven_bins(m, x, y):
    size_in, size_out = tuple(x.shape[2:]), tuple(y.shape[2:])
    if any(i % o for i, o in zip(size_in, size_out, strict=True)):
        return f"output size {size_out} does not divide the input size {size_in}"
    return None


@_limit(nn.AvgPool1d, nn.AvgPool2d)
def _override_with_ceil(m, x, y):
    if getattr(m, "divisor_override", None) is not None and m.ceil_mode:
        return "divisor_override with ceil_mode=True"
    return None

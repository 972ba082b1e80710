"""ONNX export of feed-forward and convolutional models, for onnxruntime and every ONNX consumer.

``export(model, example_input, path)`` walks the model module by module: each module type has a
converter (in ``CONVERTERS``, keyed by the exact class) that writes its ONNX nodes; containers
convert their children, and a known custom module (ResNet's ``BasicBlock``/``Bottleneck``,
``ResNet``, ``LeNet5``) has a converter that mirrors its ``forward``, residual ``Add`` included.
The example input is run through the model alongside, so every converter knows the shapes it
works on, and the traced output is checked equal to ``model(example_input)`` before anything is
written. Parameters become initializers under their state-dict names (``layer1.0.conv1.weight``).

Exported in evaluation mode (Dropout drops out, BatchNorm uses its running statistics); the
model's own train/eval flags are restored afterwards. Supported: Linear, Conv1d/Conv2d (any
padding, padding_mode, stride, dilation, groups), MaxPool1d/2d, AvgPool1d/2d, AdaptiveAvgPool1d/2d
and AdaptiveMaxPool1d/2d (to 1, or to a size dividing the input), GlobalAvgPool2d/GlobalMaxPool2d,
BatchNorm1d/2d/3d, ReLU, ReLU6, Hardtanh, LeakyReLU, Sigmoid, LogSigmoid, Tanh, ELU, GELU,
Softplus, SiLU, Softmax, LogSoftmax, Flatten, Dropout/Dropout2d, Identity, Sequential, and the
zoo's LeNet5, ResNet, BasicBlock and Bottleneck. ``register_converter`` adds a module type.

The ``onnx`` package is imported only when ``export`` runs (``pip install onnx``).
"""
from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path

import numpy as np

from ember import __version__, nn
from ember.autograd.grad_mode import no_grad
from ember.autograd.tensor import Tensor
from ember.backend import to_numpy
from ember.models.lenet import LeNet5
from ember.models.resnet import BasicBlock, Bottleneck, ResNet
from ember.ops.conv import resolve_padding
from ember.ops.pooling import pool_args

__all__ = ["CONVERTERS", "ExportGraph", "Value", "export", "register_converter"]

MIN_OPSET = 13  # Softmax over one axis, Pad/Clip with tensor inputs, Split with a tensor of sizes

CONVERTERS: dict = {}


def _require_onnx():
    try:
        import onnx
    except ImportError as err:
        raise ImportError("ember.onnx.export needs the 'onnx' package: pip install onnx "
                          "(or pip install 'ember[onnx]')") from err
    return onnx


def register_converter(*module_types):
    """Decorator: ``fn(g, module, x, path) -> Value`` converts modules of exactly these types.

    ``g`` is the ``ExportGraph`` being built, ``x`` the input ``Value`` (its ONNX name and the
    example tensor), ``path`` the module's dotted name in the model. A converter emits nodes
    with ``g.node``, converts children with ``g.module``, and returns the output ``Value``.

    >>> @register_converter(Scale)
    ... def _scale(g, m, x, path):
    ...     return g.node("Mul", [x, g.const(np.float32(m.factor), path + ".factor")], m(x.tensor), path)
    """
    def decorate(fn):
        for cls in module_types:
            CONVERTERS[cls] = fn
        return fn
    return decorate


class Value:
    """One value of the graph being built: its ONNX ``name`` and the example ``tensor`` it holds."""

    __slots__ = ("name", "tensor")

    def __init__(self, name: str, tensor: Tensor):
        self.name, self.tensor = name, tensor

    @property
    def shape(self) -> tuple:
        return tuple(self.tensor.shape)


class ExportGraph:
    """The nodes and initializers of the ONNX graph under construction, with unique names."""

    def __init__(self, onnx, opset_version: int):
        self.onnx, self.opset = onnx, opset_version
        self.nodes, self.initializers, self._names, self._params = [], [], set(), {}

    def fresh(self, base: str) -> str:
        """``base``, or ``base_1``, ``base_2`` … when taken."""
        name, k = base, 0
        while name in self._names:
            k += 1
            name = f"{base}_{k}"
        self._names.add(name)
        return name

    def reserve(self, name: str) -> None:
        """Mark ``name`` taken (the graph input's)."""
        self._names.add(name)

    def const(self, array, name: str) -> str:
        """An initializer holding ``array`` (a NumPy array or scalar); returns its name."""
        name = self.fresh(name)
        self.initializers.append(self.onnx.numpy_helper.from_array(np.asarray(array), name))
        return name

    def param(self, tensor, name: str) -> str:
        """A parameter or buffer as an initializer, stored once however often it is used."""
        if id(tensor) not in self._params:
            self._params[id(tensor)] = self.const(to_numpy(tensor.array), name)
        return self._params[id(tensor)]

    def node(self, op_type: str, inputs, tensor, path: str, **attrs) -> Value:
        """Add ``op_type(inputs)`` (Values or names; '' skips an optional input); its output holds ``tensor``."""
        names = [x.name if isinstance(x, Value) else x for x in inputs]
        out = self.fresh(f"{path}/{op_type}" if path else op_type)
        self.nodes.append(self.onnx.helper.make_node(op_type, names, [out], name=out, **attrs))
        return Value(out, tensor)

    def step(self, path: str, op_type: str, *inputs, **attrs) -> Value:
        """An intermediate node of a converter (no example tensor): ``op_type(*inputs)``."""
        return self.node(op_type, inputs, None, path, **attrs)

    def module(self, module, x: Value, path: str) -> Value:
        """Convert ``module`` applied to ``x``; an unknown module type is an error naming its path."""
        convert = CONVERTERS.get(type(module))
        if convert is None:
            cls = type(module)
            raise NotImplementedError(
                f"ember.onnx.export: module '{path or '<model>'}' of type {cls.__module__}.{cls.__qualname__} has "
                f"no ONNX converter; supported types: {', '.join(sorted(c.__name__ for c in CONVERTERS))}; "
                "add one with @ember.onnx.register_converter")
        return convert(self, module, x, path)

    def children(self, parent, x: Value, path: str, *names) -> Value:
        """Apply the named submodules of ``parent`` one after another (None ones are skipped)."""
        for name in names:
            child = getattr(parent, name)
            if child is not None:
                x = self.module(child, x, _join(path, name))
        return x


def _join(path, name):
    return f"{path}.{name}" if path else name


def _weight_and_bias(g, m, path):
    """The initializer names of ``m.weight`` and, when there is one, ``m.bias``."""
    names = [g.param(m.weight, _join(path, "weight"))]
    return names + [g.param(m.bias, _join(path, "bias"))] if m.bias is not None else names


def _ints(values):
    return [int(v) for v in values]


# -- containers and pass-throughs -------------------------------------------------------------------


@register_converter(nn.Sequential)
def _sequential(g, m, x, path):
    return g.children(m, x, path, *m._modules)


@register_converter(nn.Identity, nn.Dropout, nn.Dropout2d)
def _identity(g, m, x, path):
    return x  # Dropout is the identity in evaluation


@register_converter(nn.Flatten)
def _flatten(g, m, x, path):
    y, ndim = m(x.tensor), len(x.shape)
    start, end = m.start_dim % ndim, m.end_dim % ndim
    if (start, end) == (1, ndim - 1):  # ONNX Flatten always makes a matrix: only (N, rest) is PyTorch's
        return g.node("Flatten", [x], y, path, axis=1)
    # keep the leading dimensions as they come (0), so the batch stays dynamic
    shape = [0] * start + [-1] + list(x.shape[end + 1:])
    return g.node("Reshape", [x, g.const(np.array(shape, np.int64), _join(path, "shape"))], y, path)


# -- linear and convolution ---------------------------------------------------------------------------


@register_converter(nn.Linear)
def _linear(g, m, x, path):
    y, bias = m(x.tensor), m.bias is not None
    if len(x.shape) == 2:
        return g.node("Gemm", [x, *_weight_and_bias(g, m, path)], y, path, transB=1)
    W_T = g.const(to_numpy(m.weight.array).T.copy(), _join(path, "weight.T"))
    out = g.node("MatMul", [x, W_T], y, path)
    return g.node("Add", [out, g.param(m.bias, _join(path, "bias"))], y, path) if bias else out


_PAD_MODES = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def _pad(g, x, pairs, y, path, mode="constant"):
    """ONNX Pad of the spatial dimensions by (low, high) ``pairs``; N and C stay."""
    pads = [0, 0] + [lo for lo, _ in pairs] + [0, 0] + [hi for _, hi in pairs]
    return g.node("Pad", [x, g.const(np.array(pads, np.int64), _join(path, "pads"))], y, path, mode=mode)


@register_converter(nn.Conv1d, nn.Conv2d)
def _conv(g, m, x, path):
    y, spatial = m(x.tensor), x.shape[2:]
    pairs = resolve_padding(m.padding, spatial, m.kernel_size, m.stride, m.dilation, type(m).__name__)
    if m.padding_mode != "zeros" and any(p for pair in pairs for p in pair):
        if m.padding_mode == "circular" and g.opset < 19:
            raise NotImplementedError(f"ember.onnx.export: module '{path}' ({type(m).__name__}) uses "
                                      f"padding_mode='circular', which needs opset_version >= 19, got {g.opset}")
        x = _pad(g, x, pairs, None, path, _PAD_MODES[m.padding_mode])
        pairs = ((0, 0),) * len(spatial)
    pads = [lo for lo, _ in pairs] + [hi for _, hi in pairs]
    return g.node("Conv", [x, *_weight_and_bias(g, m, path)], y, path, kernel_shape=_ints(m.kernel_size),
                  strides=_ints(m.stride), dilations=_ints(m.dilation), group=m.groups, pads=pads)


# -- pooling -----------------------------------------------------------------------------------------


def _unsupported(path, m, why):
    return NotImplementedError(f"ember.onnx.export: module '{path}' ({m!r}) cannot be exported: {why}")


def _pool_attrs(m, x, dilation=1):
    """kernel_shape, strides, pads (low then high) and dilations of a pooling layer, as ONNX lists."""
    kernel, stride, padding, dilation = pool_args(type(m).__name__, len(x.shape) - 2, m.kernel_size, m.stride,
                                                  m.padding, dilation)
    return dict(kernel_shape=_ints(kernel), strides=_ints(stride), pads=_ints(padding) * 2,
                dilations=_ints(dilation), ceil_mode=int(m.ceil_mode))


@register_converter(nn.MaxPool1d, nn.MaxPool2d)
def _max_pool(g, m, x, path):
    if m.return_indices:
        raise _unsupported(path, m, "return_indices=True")
    return g.node("MaxPool", [x], m(x.tensor), path, **_pool_attrs(m, x, m.dilation))


@register_converter(nn.AvgPool1d, nn.AvgPool2d)
def _avg_pool(g, m, x, path):
    y, attrs, divisor = m(x.tensor), _pool_attrs(m, x), getattr(m, "divisor_override", None)
    del attrs["dilations"]  # AveragePool has dilations only from opset 19, and PyTorch's never dilates
    if divisor is not None and m.ceil_mode:
        raise _unsupported(path, m, "divisor_override with ceil_mode=True")
    include_pad = int(m.count_include_pad or divisor is not None)
    out = g.node("AveragePool", [x], y, path, count_include_pad=include_pad, **attrs)
    if divisor is None:
        return out
    scale = np.array(math.prod(attrs["kernel_shape"]) / divisor, dtype=x.tensor.dtype)  # whole windows: mean·k/d
    return g.node("Mul", [out, g.const(scale, _join(path, "scale"))], y, path)


def _adaptive(g, m, x, path, op):
    if getattr(m, "return_indices", False):
        raise _unsupported(path, m, "return_indices=True")
    y = m(x.tensor)
    size_in, size_out = x.shape[2:], tuple(y.shape[2:])
    if all(o == 1 for o in size_out):
        return g.node(f"Global{op}", [x], y, path)
    if any(i % o for i, o in zip(size_in, size_out, strict=True)):
        raise _unsupported(path, m, f"output size {size_out} does not divide the input size {size_in}")
    kernel = [i // o for i, o in zip(size_in, size_out, strict=True)]
    return g.node(op, [x], y, path, kernel_shape=kernel, strides=kernel)


@register_converter(nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d)
def _adaptive_avg(g, m, x, path):
    return _adaptive(g, m, x, path, "AveragePool")


@register_converter(nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d)
def _adaptive_max(g, m, x, path):
    return _adaptive(g, m, x, path, "MaxPool")


@register_converter(nn.GlobalAvgPool2d, nn.GlobalMaxPool2d)
def _global_pool(g, m, x, path):
    y = m(x.tensor)
    op = "GlobalAveragePool" if isinstance(m, nn.GlobalAvgPool2d) else "GlobalMaxPool"
    if not m.flatten:
        return g.node(op, [x], y, path)
    return g.node("Flatten", [g.step(path, op, x)], y, path, axis=1)


# -- normalization -----------------------------------------------------------------------------------


@register_converter(nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)
def _batch_norm(g, m, x, path):
    if m.running_mean is None:
        raise _unsupported(path, m, "track_running_stats=False normalises with each batch's own statistics")
    ones, zeros = np.ones(m.num_features, x.tensor.dtype), np.zeros(m.num_features, x.tensor.dtype)
    scale = g.param(m.weight, _join(path, "weight")) if m.weight is not None else g.const(ones, _join(path, "weight"))
    shift = g.param(m.bias, _join(path, "bias")) if m.bias is not None else g.const(zeros, _join(path, "bias"))
    stats = [g.param(getattr(m, name), _join(path, name)) for name in ("running_mean", "running_var")]
    return g.node("BatchNormalization", [x, scale, shift, *stats], m(x.tensor), path, epsilon=float(m.eps))


# -- activations ---------------------------------------------------------------------------------------


def _scalar(g, value, x, name):
    return g.const(np.array(value, dtype=x.tensor.dtype), name)


@register_converter(nn.ReLU, nn.Sigmoid, nn.Tanh)
def _elementwise(g, m, x, path):
    op = {nn.ReLU: "Relu", nn.Sigmoid: "Sigmoid", nn.Tanh: "Tanh"}[type(m)]
    return g.node(op, [x], m(x.tensor), path)


@register_converter(nn.ReLU6, nn.Hardtanh)
def _clip(g, m, x, path):
    low, high = (0.0, 6.0) if isinstance(m, nn.ReLU6) else (m.min_val, m.max_val)
    bounds = [_scalar(g, low, x, _join(path, "min")), _scalar(g, high, x, _join(path, "max"))]
    return g.node("Clip", [x, *bounds], m(x.tensor), path)


@register_converter(nn.LeakyReLU)
def _leaky_relu(g, m, x, path):
    return g.node("LeakyRelu", [x], m(x.tensor), path, alpha=float(m.negative_slope))


@register_converter(nn.ELU)
def _elu(g, m, x, path):
    return g.node("Elu", [x], m(x.tensor), path, alpha=float(m.alpha))


@register_converter(nn.LogSigmoid)
def _log_sigmoid(g, m, x, path):
    # log σ(x) = −softplus(−x)
    return g.node("Neg", [g.step(path, "Softplus", g.step(path, "Neg", x))], m(x.tensor), path)


@register_converter(nn.SiLU)
def _silu(g, m, x, path):
    return g.node("Mul", [x, g.step(path, "Sigmoid", x)], m(x.tensor), path)


@register_converter(nn.GELU)
def _gelu(g, m, x, path):
    y = m(x.tensor)
    if g.opset >= 20:
        return g.node("Gelu", [x], y, path, approximate=m.approximate)

    def c(value, name):
        return _scalar(g, value, x, _join(path, name))

    if m.approximate == "tanh":  # x/2 · (1 + tanh(√(2/π) (x + 0.044715 x³)))
        cube = g.step(path, "Mul", x, g.step(path, "Mul", x, x))
        inner = g.step(path, "Add", x, g.step(path, "Mul", cube, c(0.044715, "c")))
        core = g.step(path, "Tanh", g.step(path, "Mul", inner, c(math.sqrt(2 / math.pi), "k")))
    else:  # x/2 · (1 + erf(x/√2))
        core = g.step(path, "Erf", g.step(path, "Mul", x, c(1 / math.sqrt(2), "k")))
    half_x = g.step(path, "Mul", x, c(0.5, "half"))
    return g.node("Mul", [half_x, g.step(path, "Add", core, c(1.0, "one"))], y, path)


@register_converter(nn.Softplus)
def _softplus(g, m, x, path):
    # softplus(βx)/β, and x itself where βx > threshold (PyTorch's linear regime)
    beta = _scalar(g, m.beta, x, _join(path, "beta"))
    bx = g.step(path, "Mul", x, beta)
    soft = g.step(path, "Div", g.step(path, "Softplus", bx), beta)
    above = g.step(path, "Greater", bx, _scalar(g, m.threshold, x, _join(path, "threshold")))
    return g.node("Where", [above, x, soft], m(x.tensor), path)


@register_converter(nn.Softmax, nn.LogSoftmax)
def _softmax(g, m, x, path):
    ndim = len(x.shape)
    dim = m.dim if m.dim is not None else (0 if ndim in (0, 1, 3) else 1)  # PyTorch's legacy implicit dim
    op = "LogSoftmax" if isinstance(m, nn.LogSoftmax) else "Softmax"
    return g.node(op, [x], m(x.tensor), path, axis=int(dim) % max(ndim, 1))


# -- the model zoo's custom modules ------------------------------------------------------------------


def _residual(g, m, out, x, path):
    """relu(out + shortcut(x)), the end of every ResNet block."""
    identity = x if m.downsample is None else g.module(m.downsample, x, _join(path, "downsample"))
    total = g.node("Add", [out, identity], out.tensor + identity.tensor, path)
    return g.module(m.relu, total, _join(path, "relu"))


@register_converter(BasicBlock)
def _basic_block(g, m, x, path):
    out = g.children(m, x, path, "conv1", "bn1", "relu", "conv2", "bn2")
    return _residual(g, m, out, x, path)


@register_converter(Bottleneck)
def _bottleneck(g, m, x, path):
    out = g.children(m, x, path, "conv1", "bn1", "relu", "conv2", "bn2", "relu", "conv3", "bn3")
    return _residual(g, m, out, x, path)


def _flatten_batch(g, x, path):
    y = x.tensor.reshape(x.shape[0], -1)
    return g.node("Flatten", [x], y, path, axis=1)


@register_converter(ResNet)
def _resnet(g, m, x, path):
    x = g.children(m, x, path, "conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4", "avgpool")
    return g.module(m.fc, _flatten_batch(g, x, path), _join(path, "fc"))


@register_converter(LeNet5)
def _lenet5(g, m, x, path):
    frame, (H, W) = m.input_size, x.shape[2:]
    if (H, W) != (frame, frame):  # the zero-padding that centres a small image in the frame
        top, left = (frame - H) // 2, (frame - W) // 2
        padded = nn.functional.pad(x.tensor, (left, frame - W - left, top, frame - H - top))
        x = _pad(g, x, ((top, frame - H - top), (left, frame - W - left)), padded, path)
    x = _flatten_batch(g, g.children(m, x, path, "features"), path)
    return g.children(m, x, path, "classifier")


# -- export ---------------------------------------------------------------------------------------------


def _check_args(onnx, model, example_input, input_names, output_names, opset_version):
    if not isinstance(model, nn.Module):
        raise TypeError(f"ember.onnx.export: model must be an nn.Module, got {type(model).__name__}")
    if not isinstance(example_input, Tensor):
        raise TypeError(f"ember.onnx.export: example_input must be one Tensor, got {type(example_input).__name__}")
    if len(input_names) != 1 or len(output_names) != 1 or input_names[0] == output_names[0]:
        raise ValueError(f"ember.onnx.export: one input and one output, named differently, are supported, got "
                         f"input_names={tuple(input_names)} and output_names={tuple(output_names)}")
    newest = onnx.defs.onnx_opset_version()
    if not MIN_OPSET <= opset_version <= newest:
        raise ValueError(f"ember.onnx.export: opset_version must be in [{MIN_OPSET}, {newest}] (the installed onnx "
                         f"knows up to {newest}), got {opset_version}")


def _value_info(onnx, name, shape, dtype, batch):
    dims = ["batch" if batch and i == 0 else int(d) for i, d in enumerate(shape)]
    elem = onnx.helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
    return onnx.helper.make_tensor_value_info(name, elem, dims)


def _trace(g, model, example_input, input_name, output_name):
    """Convert the model on the example; check the trace against the model's own forward."""
    x = Value(input_name, Tensor(example_input.array.copy()))
    g.reserve(input_name)
    g.reserve(output_name)
    with no_grad():
        expected = model(Tensor(example_input.array.copy()))  # the model's own input checks speak first
        out = g.module(model, x, "")
    if out.tensor is None or not np.allclose(to_numpy(out.tensor.array), to_numpy(expected.array), rtol=1e-5,
                                             atol=1e-6, equal_nan=True):
        raise RuntimeError(f"ember.onnx.export: the converted graph of {type(model).__name__} does not compute its "
                           "forward on the example input; its converter does not match the module")
    return out


def _name_output(g, out, output_name):
    """Give the graph's last value the (reserved) output name; an Identity when it is not a node's output."""
    last = g.nodes[-1] if g.nodes else None
    if last is not None and last.output[0] == out.name:
        last.output[0] = output_name
    else:
        g.nodes.append(g.onnx.helper.make_node("Identity", [out.name], [output_name], name=output_name))


def _save_atomically(onnx, model_proto, path):
    """Write to a temporary file beside ``path``, then rename it over ``path`` (no half-written file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        onnx.save_model(model_proto, tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def export(model, example_input, path, input_names=("input",), output_names=("output",), opset_version: int = 17,
           dynamic_batch: bool = True):
    """Export ``model`` to an ONNX file at ``path``, as it computes in evaluation mode.

    Args:
        model: an ``nn.Module`` made of supported layers (see the module docstring), or one with
            a registered converter.
        example_input: one (N, ...) tensor of the dtype and sizes the model will see; it fixes
            every size but the batch.
        path: the ``.onnx`` file, written atomically (a temporary file renamed into place).
        input_names, output_names: the graph's input and output names (one of each).
        opset_version: the ONNX operator set (13 or more); GELU is the Gelu op from 20, its erf
            (or tanh) formula before.
        dynamic_batch: leave the first dimension of input and output symbolic ('batch').

    Raises ``NotImplementedError`` naming the path and type of a module with no converter
    (or a setting ONNX cannot express), ``ImportError`` when ``onnx`` is not installed.
    Returns the checked ``onnx.ModelProto``.

    >>> model = resnet18(num_classes=10, cifar_stem=True)
    >>> proto = export(model, em.randn(1, 3, 32, 32), "resnet18.onnx")
    >>> [node.op_type for node in proto.graph.node][:3]
    ['Conv', 'BatchNormalization', 'Relu']
    """
    onnx = _require_onnx()
    _check_args(onnx, model, example_input, input_names, output_names, opset_version)
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        g = ExportGraph(onnx, opset_version)
        out = _trace(g, model, example_input, input_names[0], output_names[0])
    finally:
        for m, training in modes:
            m.training = training
    _name_output(g, out, output_names[0])
    batch = dynamic_batch and out.tensor.ndim > 0 and out.shape[0] == example_input.shape[0]
    graph = onnx.helper.make_graph(
        g.nodes, type(model).__name__, [_value_info(onnx, input_names[0], example_input.shape, example_input.dtype,
                                                    dynamic_batch)],
        [_value_info(onnx, output_names[0], out.shape, out.tensor.dtype, batch)], g.initializers)
    opsets = [onnx.helper.make_opsetid("", opset_version)]
    model_proto = onnx.helper.make_model(graph, opset_imports=opsets, producer_name="ember",
                                         producer_version=__version__,
                                         ir_version=onnx.helper.find_min_ir_version_for(opsets))
    onnx.checker.check_model(model_proto, full_check=True)
    _save_atomically(onnx, model_proto, path)
    return model_proto

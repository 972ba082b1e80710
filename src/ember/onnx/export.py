"""ONNX export by walking the recorded op graph: run the model once, then convert each op it ran.

``export(model, example_input, path)`` runs the model in evaluation mode on a copy of the example
that requires grad, so every op records its ``Function`` node (``.inputs``, ``.outputs`` and the
attributes its forward set, such as a convolution's stride and padding). The nodes are then
visited in topological order and each is converted by the converter of its op class
(``converters.OP_CONVERTERS``); parameters and buffers, the graph's leaves, become initializers
under their state-dict names, and an op that does not depend on the input is folded into an
initializer. Forward hooks note which module ran each op, so nodes are named by module
(``layer1.0.conv1/Conv``) and an error names the module it comes from.

A module type with a converter of its own (``converters.CONVERTERS``: BatchNorm, and any type
added with ``register_converter``) is not traced: its output is cut from the graph and its
converter writes its nodes, which must compute the module's output on the example.
"""
from __future__ import annotations

import os
import tempfile
from functools import partial
from itertools import chain
from pathlib import Path

import numpy as np

from ember import nn
from ember._version import __version__
from ember.autograd.grad_mode import enable_grad, no_grad
from ember.autograd.tensor import Tensor
from ember.backend import to_numpy
from ember.onnx.converters import CONVERTERS, LIMITS, OP_CONVERTERS, join, unsupported

__all__ = ["ExportGraph", "OpNode", "Value", "export"]

MIN_OPSET = 13  # Softmax over one axis, Pad/Clip with tensor inputs, Split with a tensor of sizes


def _require_onnx():
    try:
        import onnx
    except ImportError as err:
        raise ImportError("ember.onnx.export needs the 'onnx' package: pip install onnx "
                          "(or pip install 'ember[onnx]')") from err
    return onnx


# -- the graph under construction ----------------------------------------------------------------------


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
        """A parameter, buffer or constant tensor as an initializer, stored once however often it is used."""
        if id(tensor) not in self._params:
            self._params[id(tensor)] = (self.const(to_numpy(tensor.array), name), tensor)
        return self._params[id(tensor)][0]

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
        """Convert ``module`` applied to ``x``: by its registered converter, or by tracing its forward."""
        convert = CONVERTERS.get(type(module))
        if convert is not None:
            return convert(self, module, x, path)
        return _convert_traced(self, module, x, path)

    def children(self, parent, x: Value, path: str, *names) -> Value:
        """Apply the named submodules of ``parent`` one after another (None ones are skipped)."""
        for name in names:
            child = getattr(parent, name)
            if child is not None:
                x = self.module(child, x, join(path, name))
        return x


class OpNode:
    """One recorded op while it is converted: ``op`` (the ``Function``), its output ``y``, and the
    ``path`` and ``module`` that ran it; what a converter writes goes into ``g``."""

    def __init__(self, g: ExportGraph, op, y: Tensor, path: str, module):
        self.g, self.op, self.y, self.path, self.module = g, op, y, path, module

    def emit(self, op_type: str, inputs, **attrs) -> Value:
        """The node whose output is the op's."""
        return self.g.node(op_type, inputs, self.y, self.path, **attrs)

    def step(self, op_type: str, *inputs, **attrs) -> Value:
        """An intermediate node."""
        return self.g.step(self.path, op_type, *inputs, **attrs)

    def const(self, value, name: str, dtype=None) -> str:
        """A constant initializer, in the output's dtype unless ``dtype`` is given."""
        return self.g.const(np.asarray(value, dtype=dtype or self.y.dtype), join(self.path, name))

    def refuse(self, why: str) -> NotImplementedError:
        """The error for a setting ONNX cannot express (raise it)."""
        return unsupported(self.path, self.module, why)


# -- tracing -------------------------------------------------------------------------------------------


class _Recording:
    """Forward hooks on every module of a traced model, while its forward runs.

    Hooks fire innermost first, so a module claims the ops of its call that no submodule claimed
    (``scope``: op → (path, module)). A submodule with a converter of its own is cut out: its
    output is replaced by a fresh leaf, and ``cuts`` keeps what converting it needs.
    """

    def __init__(self, root, path):
        self.root, self.scope, self.cuts, self.handles = root, {}, {}, []
        for name, m in root.named_modules():
            self.handles.append(m.register_forward_hook(partial(self._leave, join(path, name))))

    def remove(self):
        for handle in self.handles:
            handle.remove()

    def _leave(self, path, m, args, output):
        limit = LIMITS.get(type(m))
        why = limit(m, args[0], output) if limit is not None else None
        if why is not None:
            raise unsupported(path, m, why)
        if m is not self.root and CONVERTERS.get(type(m)) is not None:
            return self._cut(path, m, args, output)
        self._claim(path, m, args, output)
        return None

    def _cut(self, path, m, args, output):
        if len(args) != 1 or not isinstance(args[0], Tensor) or not isinstance(output, Tensor):
            raise NotImplementedError(f"ember.onnx.export: module '{path}' ({type(m).__name__}) has a converter, "
                                      "which maps one tensor to one tensor")
        leaf = output.detach().requires_grad_()
        self.cuts[id(leaf)] = (leaf, m, path, args[0], output)
        return leaf

    def _claim(self, path, m, args, output):
        stop = {id(a) for a in args}
        todo = list(_tensors(output))
        while todo:
            t = todo.pop()
            fn = t.creator
            if id(t) in stop or fn is None or id(fn) in self.scope:
                continue
            self.scope[id(fn)] = (fn, path, m)
            todo.extend(fn.inputs)

    def parents(self, t):
        """The tensors ``t`` is computed from: a cut module's input, or its op's inputs."""
        if id(t) in self.cuts:
            return (self.cuts[id(t)][3],)
        return t.creator.inputs if t.creator is not None else ()


def _tensors(output):
    if isinstance(output, Tensor):
        return [output]
    return [t for t in output if isinstance(t, Tensor)] if isinstance(output, (tuple, list)) else []


def _in_order(outputs, parents):
    """Every tensor the outputs are computed from, each after its parents (an iterative depth-first walk)."""
    order, seen, stack = [], set(), [(t, False) for t in reversed(outputs)]
    while stack:
        t, expanded = stack.pop()
        if expanded:
            order.append(t)
        elif id(t) not in seen:
            seen.add(id(t))
            stack.append((t, True))
            stack.extend((p, False) for p in reversed(parents(t)) if id(p) not in seen)
    return order


def _trace(module, x: Value, path: str):
    """Run ``module`` on a copy of ``x`` that requires grad, recording; returns (input, output, recording)."""
    x_in = Tensor(x.tensor.array.copy()).requires_grad_()  # a copy: an in-place op must not touch the caller's
    rec = _Recording(module, path)
    try:
        with enable_grad():
            out = module(x_in)
    finally:
        rec.remove()
    return x_in, out, rec


def _convert_traced(g: ExportGraph, module, x: Value, path: str) -> Value:
    """Convert ``module`` applied to ``x`` by converting the ops its forward records, in order."""
    x_in, out, rec = _trace(module, x, path)
    names = {id(t): join(path, name) for name, t in chain(module.named_parameters(), module.named_buffers())}
    values = {id(x_in): x}  # the converted tensors: those computed from the input

    def value(t, user_path):  # a constant becomes an initializer when a node first uses it
        if id(t) in values:
            return values[id(t)]
        return Value(g.param(t, names.get(id(t)) or _constant_name(rec, t, user_path)), t)

    for t in _in_order(_tensors(out), rec.parents):
        if id(t) in values or not any(id(p) in values for p in rec.parents(t)):
            continue  # the input, or a constant
        if id(t) in rec.cuts:
            values[id(t)] = _convert_cut(g, rec.cuts[id(t)], values)
        else:
            values[id(t)] = _convert_op(g, rec, t, path, value)
    if not isinstance(out, Tensor):
        raise NotImplementedError(f"ember.onnx.export: module '{path or '<model>'}' ({type(module).__name__}) "
                                  f"returns {type(out).__name__}; one output tensor is supported")
    return value(out, path)


def _constant_name(rec, t, user_path):
    """A constant that is no parameter or buffer is named after the op that made it, or else its user."""
    if t.creator is None:
        return join(user_path, "const")
    _, path, _ = rec.scope.get(id(t.creator), (None, user_path, None))
    return f"{path}/{type(t.creator).__name__}" if path else type(t.creator).__name__


def _convert_op(g, rec, t, path, value):
    fn = t.creator
    _, where, module = rec.scope.get(id(fn), (fn, path, rec.root))
    convert = OP_CONVERTERS.get(type(fn))
    if convert is None:
        cls = type(module)
        raise NotImplementedError(
            f"ember.onnx.export: module '{where or '<model>'}' of type {cls.__module__}.{cls.__qualname__} computes "
            f"{type(fn).__name__}, which has no ONNX converter; converted ops: "
            f"{', '.join(sorted(c.__name__ for c in OP_CONVERTERS))}; add one for the op with "
            "@ember.onnx.register_op, or for the module with @ember.onnx.register_converter")
    n = OpNode(g, fn, t, where, module)
    if fn.outputs[0]() is not t:
        raise n.refuse(f"a later output of the multi-output op {type(fn).__name__} is used")
    return convert(n, *[value(i, where) for i in fn.inputs])


def _convert_cut(g, cut, values):
    _, module, path, x, y = cut
    out = g.module(module, values[id(x)], path)
    _check_same(out, y, module)
    return out


def _check_same(out, expected, module):
    if out.tensor is None or not np.allclose(to_numpy(out.tensor.array), to_numpy(expected.array), rtol=1e-5,
                                             atol=1e-6, equal_nan=True):
        raise RuntimeError(f"ember.onnx.export: the converted graph of {type(module).__name__} does not compute its "
                           "forward on the example input; its converter does not match the module")


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


def _convert(g, model, example_input, input_name, output_name):
    """Convert the model on the example; check the result against the model's own forward."""
    g.reserve(input_name)
    g.reserve(output_name)
    with no_grad():
        expected = model(Tensor(example_input.array.copy()))  # the model's own input checks speak first
        out = g.module(model, Value(input_name, example_input), "")
    _check_same(out, expected, model)
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
        model: an ``nn.Module`` whose forward runs ops with converters (see ``ember.onnx``), or
            one with a registered module converter.
        example_input: one (N, ...) tensor of the dtype and sizes the model will see; it fixes
            every size but the batch.
        path: the ``.onnx`` file, written atomically (a temporary file renamed into place).
        input_names, output_names: the graph's input and output names (one of each).
        opset_version: the ONNX operator set (13 or more); GELU is the Gelu op from 20, its erf
            (or tanh) formula before.
        dynamic_batch: leave the first dimension of input and output symbolic ('batch').

    Raises ``NotImplementedError`` naming the path and type of the module that runs an op with
    no converter (or a setting ONNX cannot express), ``ImportError`` when ``onnx`` is not installed.
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
        out = _convert(g, model, example_input, input_names[0], output_names[0])
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

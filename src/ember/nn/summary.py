"""``summary(model, input_shape)``: a per-layer table of output shapes, parameter counts and
receptive fields, from one forward pass watched by forward hooks (``model.summary(...)`` calls it).

Receptive field. For a chain of convolutions and poolings, the field r (pixels of the input
seen by one output unit) and the jump j (input pixels between two neighbouring output units)
follow, per spatial dimension, the recurrence

    r_out = r_in + (k − 1)·d·j_in,    j_out = j_in·s,    starting from r = j = 1 on the input

for a layer of kernel k, dilation d and stride s. Layers that keep the spatial size
(activations, batch norm, dropout) keep (r, j); adaptive and global pooling whose bins divide
the input evenly count as pooling with k = s = input/output size; ``Linear``, ``Flatten`` and
any output without spatial dimensions end it ('-' in the table). Padding does not change r:
near the borders part of the field falls on the padding.

(r, j) is carried by the tensors themselves, not by the order of the layers: each layer reads
the field of the tensor it is given, so parallel branches (a ResNet shortcut, the branches of
an Inception module) each keep their own. Where functional code joins branches between two
layers (``out + identity``, ``cat``), no hook sees the joined tensor; it takes the largest
field among the maps of the same spatial size made inside the same enclosing module call —
the exact answer for residual and Inception blocks, where the joined maps are all ancestors,
and an upper bound where an unrelated map of that size was made earlier in the same call.
A spatial map made by functional code no hook can follow (``F.max_pool2d`` inside
``forward``), or by a layer the recurrence does not cover (transposed convolution,
upsampling), shows '?'.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ember.autograd.grad_mode import no_grad
from ember.autograd.tensor import Tensor
from ember.creation import zeros
from ember.nn.linear import Linear
from ember.nn.module import Module

__all__ = ["LayerInfo", "ModelSummary", "summary"]

UNKNOWN = "?"  # a spatial map whose receptive field cannot be traced


@dataclass
class LayerInfo:
    """One row of the summary: a leaf module call (or a module with parameters of its own).

    ``receptive_field`` and ``jump`` hold one int per spatial dimension, ``None`` where the
    output is not a spatial map, or '?' where it cannot be traced. ``shared`` marks a second
    call of a module already listed: its parameters are counted once, on the first row.
    """

    name: str
    layer_type: str
    output_shape: tuple | list
    num_params: int
    trainable_params: int
    receptive_field: tuple | str | None = None
    jump: tuple | str | None = None
    output_bytes: int = 0
    shared: bool = False


@dataclass(repr=False)
class ModelSummary:
    """What ``summary`` returns: the rows, the totals, and a memory estimate in bytes.

    ``forward_bytes`` sums the outputs of the listed layers (what one forward pass keeps for
    backward, roughly); ``params_bytes`` counts parameters and buffers. ``str(s)`` is the
    printed table; ``s.to_dict()`` gives plain values.
    """

    layers: list[LayerInfo]
    input_shape: tuple | list
    output_shape: tuple | list
    total_params: int
    trainable_params: int
    non_trainable_params: int
    input_bytes: int
    forward_bytes: int
    params_bytes: int
    show_receptive_field: bool = False

    @property
    def total_bytes(self) -> int:
        """Input + forward outputs + parameters and buffers."""
        return self.input_bytes + self.forward_bytes + self.params_bytes

    def to_dict(self) -> dict:
        """The summary as plain dicts and lists (e.g. to log as JSON)."""
        return asdict(self) | {"total_bytes": self.total_bytes}

    def __repr__(self):
        return (f"ModelSummary(total_params={self.total_params:,}, trainable_params={self.trainable_params:,}, "
                f"non_trainable_params={self.non_trainable_params:,}, output_shape={self.output_shape}, "
                f"forward_bytes={self.forward_bytes:,}, params_bytes={self.params_bytes:,})")

    def __str__(self):
        return "\n".join(self.lines())

    def lines(self) -> list[str]:
        """The table, one string per line."""
        frozen = self.non_trainable_params > 0
        header = ["Layer", "Type", "Output shape", "Param #"] + ["Trainable"] * frozen
        header += ["Receptive field"] * self.show_receptive_field
        table = [header] + [_cells(row, frozen, self.show_receptive_field) for row in self.layers]
        widths = [max(len(r[i]) for r in table) for i in range(len(header))]

        def fmt(cells):  # names and shapes left-aligned, numbers right-aligned
            pairs = enumerate(zip(cells, widths, strict=True))
            return "  ".join(c.ljust(w) if i < 3 else c.rjust(w) for i, (c, w) in pairs)

        rule = "=" * len(fmt(header))
        return [rule, fmt(header), rule, *(fmt(r) for r in table[1:]), rule,
                f"Total params: {self.total_params:,}",
                f"Trainable params: {self.trainable_params:,}",
                f"Non-trainable params: {self.non_trainable_params:,}",
                f"Input shape: {self.input_shape}   Output shape: {self.output_shape}",
                f"Input size: {_human(self.input_bytes)}   Forward outputs: {_human(self.forward_bytes)}   "
                f"Params size: {_human(self.params_bytes)}   Estimated total: {_human(self.total_bytes)}",
                rule]


def _cells(row: LayerInfo, frozen: bool, show_rf: bool) -> list[str]:
    params = "(shared)" if row.shared and row.num_params else f"{row.num_params:,}"
    cells = [row.name or "(model)", row.layer_type, _shape_text(row.output_shape), params]
    cells += [f"{row.trainable_params:,}"] * frozen
    cells += [_field_text(row.receptive_field)] * show_rf
    return cells


def _field_text(rf) -> str:
    if rf is None:
        return "-"
    return rf if isinstance(rf, str) else "×".join(str(r) for r in rf)


def _shape_text(shape) -> str:
    return ", ".join(_shape_text(s) for s in shape) if isinstance(shape, list) else str(tuple(shape))


def _human(nbytes: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if nbytes < 1024 or unit == "GiB":
            return f"{nbytes:.0f} {unit}" if unit == "B" else f"{nbytes:.2f} {unit}"
        nbytes /= 1024


# -- the summary -------------------------------------------------------------------------


def summary(model: Module, input_shape, dtype=None, device=None, batch_size: int | None = None,
            print_fn=print) -> ModelSummary:
    """Run one forward pass on zeros of ``input_shape`` and tabulate every layer.

    Per row: the dotted layer name and type, its output shape, its parameter count (and the
    trainable part when some are frozen), and — when the model has convolution or pooling
    layers — the receptive field r of its output in input pixels per spatial dimension
    (r_out = r_in + (k − 1)·d·j_in, j_out = j_in·s; see the module docstring for branches).

    Args:
        model: any Module. It runs in eval mode under ``no_grad``; each module's own
            train/eval flag is restored afterwards, and every hook removed, even on error.
        input_shape: the full input shape with the batch dimension, as torchinfo's
            ``input_size`` (``(1, 3, 32, 32)``); a list of shapes for a model of several inputs.
        dtype: the inputs' dtype (a list for several inputs); default the dtype of the model's
            first floating-point parameter, else float32. Integer dtypes give token ids 0.
        device: default the device of the model's parameters.
        batch_size: if given, ``input_shape`` is per sample (Keras' convention) and this is
            prepended to it.
        print_fn: called with each line of the table (``None``: print nothing).

    Returns a ``ModelSummary``: rows, total/trainable/non-trainable parameters (each shared
    parameter once), output shape and a memory estimate. Every intermediate output is kept
    alive during the pass (about ``forward_bytes``), so use a batch of 1 for a large model.

    >>> net = nn.Sequential(nn.Conv2d(1, 8, 3), nn.ReLU(), nn.Conv2d(8, 8, 3, stride=2))
    >>> s = net.summary((1, 1, 28, 28))
    >>> s.layers[-1].receptive_field, s.output_shape
    ((5, 5), (1, 8, 12, 12))
    """
    shapes = _input_shapes(input_shape, batch_size)
    inputs = [zeros(*shape, dtype=dt, device=device or _model_device(model))
              for shape, dt in zip(shapes, _dtypes(model, dtype, len(shapes)), strict=True)]
    tracer = _Tracer(model)
    modes = [(m, m.training) for m in model.modules()]
    handles = [h for m in model.modules() for h in (m.register_forward_pre_hook(tracer.pre),
                                                    m.register_forward_hook(tracer.post))]
    try:
        model.eval()
        tracer.start(inputs)
        with no_grad():
            output = model(*inputs)
    finally:
        for handle in handles:
            handle.remove()
        for module, training in modes:
            module.training = training
    result = _totals(model, tracer, inputs, output)
    if print_fn is not None:
        for line in result.lines():
            print_fn(line)
    return result


def _input_shapes(input_shape, batch_size) -> list[tuple]:
    many = isinstance(input_shape, list) and all(isinstance(s, (tuple, list)) for s in input_shape)
    shapes = [tuple(s) for s in input_shape] if many else [tuple(input_shape)]
    for shape in shapes:
        if not shape or not all(isinstance(n, (int, np.integer)) and n > 0 for n in shape):
            raise ValueError(f"summary: input_shape must be a tuple of positive ints (or a list of them), "
                             f"got {input_shape!r}")
    return [(batch_size, *s) for s in shapes] if batch_size is not None else shapes


def _dtypes(model, dtype, n) -> list:
    if isinstance(dtype, (list, tuple)):
        if len(dtype) != n:
            raise ValueError(f"summary: {len(dtype)} dtypes given for {n} inputs")
        return list(dtype)
    if dtype is None:
        dtype = next((p.dtype for p in model.parameters() if p.dtype.kind == "f"), np.float32)
    return [dtype] * n


def _model_device(model) -> str:
    return next((p.device for p in model.parameters()), "cpu")


def _totals(model, tracer, inputs, output) -> ModelSummary:
    params = list(model.parameters())
    total = sum(p.numel() for p in params)
    trainable = sum(p.numel() for p in params if p.requires_grad)
    state_bytes = sum(int(t.array.nbytes) for t in (*params, *model.buffers()))
    return ModelSummary(
        layers=tracer.rows, input_shape=_shape_of(inputs[0] if len(inputs) == 1 else inputs),
        output_shape=_shape_of(output), total_params=total, trainable_params=trainable,
        non_trainable_params=total - trainable, input_bytes=sum(int(x.array.nbytes) for x in inputs),
        forward_bytes=sum(row.output_bytes for row in tracer.rows), params_bytes=state_bytes,
        show_receptive_field=tracer.saw_kernels)


def _shape_of(value):
    if isinstance(value, Tensor):
        return tuple(value.shape)
    if isinstance(value, (tuple, list)):
        return [_shape_of(v) for v in value]
    return type(value).__name__


def _tensors(value) -> list[Tensor]:
    if isinstance(value, Tensor):
        return [value]
    if isinstance(value, (tuple, list)):
        return [t for v in value for t in _tensors(v)]
    return []


# -- tracing -----------------------------------------------------------------------------


class _Tracer:
    """The forward hooks' shared state: the field (r, j) of every tensor seen, and the rows.

    ``fields`` maps id(tensor) → field, where a field is a tuple of (r, j) pairs per spatial
    dimension, ``None`` (not a spatial map) or UNKNOWN. ``seen`` keeps every tensor alive for
    the pass, so no id is reused. ``frames`` holds, per open module call, where its tensors
    start in ``seen``: the maps a functional join may come from.
    """

    def __init__(self, model: Module):
        self.names = {id(m): name for name, m in model.named_modules()}
        self.containers = {id(m) for m in model.modules() if any(True for _ in m.children())}
        self.fields, self.seen, self.frames, self.rows = {}, [], [], []
        self.listed, self.saw_kernels = set(), False

    def start(self, inputs) -> None:
        for x in inputs:
            self._register(x, _identity(x) if x.dtype.kind == "f" else None)

    def _register(self, t: Tensor, fld) -> None:
        if id(t) not in self.fields:
            self.fields[id(t)] = fld
            self.seen.append(t)

    def field_of(self, t: Tensor):
        """The field of ``t``; a tensor no hook saw takes the join rule of the module docstring."""
        if id(t) not in self.fields:
            self._register(t, self._joined(t))
        return self.fields[id(t)]

    def _joined(self, t: Tensor):
        if t.ndim < 3:
            return None
        start = self.frames[-1] if self.frames else 0
        made = [(s, self.fields[id(s)]) for s in self.seen[start:]]
        same = [f for s, f in made if s.ndim == t.ndim and s.shape[2:] == t.shape[2:] and isinstance(f, tuple)]
        if same:
            return tuple((max(f[i][0] for f in same), max(f[i][1] for f in same)) for i in range(t.ndim - 2))
        if all(f is None for _, f in made):  # nothing spatial upstream (e.g. embeddings permuted for Conv1d)
            return _identity(t)
        return UNKNOWN

    def pre(self, module, args):
        for t in _tensors(args):
            self.field_of(t)
        self.frames.append(len(self.seen))
        for t in _tensors(args):
            self.seen.append(t)  # inside this call's frame too (may repeat: harmless)

    def post(self, module, args, output):
        leaf = id(module) not in self.containers
        outs = _tensors(output)
        if leaf:
            x = next(iter(_tensors(args)), None)
            fld = _propagate(module, self.fields.get(id(x)) if x is not None else None, x, output)
            self.saw_kernels |= _kernel(module) is not None
            for t in outs:
                self._register(t, fld if t is output else None)
        else:
            for t in outs:
                self.field_of(t)
        self.frames.pop()
        own = list(module.parameters(recurse=False))
        if leaf or own:
            self._add_row(module, own, output, outs, leaf)

    def _add_row(self, module, own, output, outs, leaf) -> None:
        """A row for this call; a container's output bytes are its last layer's, already counted."""
        fld = self.fields.get(id(outs[0])) if len(outs) == 1 else None
        self.rows.append(LayerInfo(
            name=self.names[id(module)], layer_type=type(module).__name__, output_shape=_shape_of(output),
            num_params=sum(p.numel() for p in own), trainable_params=sum(p.numel() for p in own if p.requires_grad),
            receptive_field=tuple(r for r, _ in fld) if isinstance(fld, tuple) else fld,
            jump=tuple(j for _, j in fld) if isinstance(fld, tuple) else fld,
            output_bytes=sum(int(t.array.nbytes) for t in outs) if leaf else 0, shared=id(module) in self.listed))
        self.listed.add(id(module))


def _identity(t: Tensor):
    """The field of an input map: every unit sees one pixel, neighbours are one pixel apart."""
    return ((1, 1),) * (t.ndim - 2) if t.ndim >= 3 else None


def _kernel(module):
    """(kernel_size, stride, dilation) of a convolution or pooling layer, else None.

    Conv layers store tuples; pooling layers store PyTorch's int-or-tuple, stride None for
    "= kernel_size", and dilation only for max pooling.
    """
    if not (hasattr(module, "kernel_size") and hasattr(module, "stride")):
        return None
    stride = module.stride if module.stride is not None else module.kernel_size
    return module.kernel_size, stride, getattr(module, "dilation", 1)


def _per_dim(value, n: int) -> tuple:
    values = tuple(value) if isinstance(value, (tuple, list)) else (value,) * n
    return values if len(values) == n else (values[-1],) * n


def _propagate(module, fld, x, y):
    """The field of layer ``module``'s output ``y`` given the field ``fld`` of its input ``x``."""
    if not isinstance(y, Tensor) or y.ndim < 3 or isinstance(module, Linear) or fld is None:
        return None
    if fld == UNKNOWN or getattr(module, "_transposed", False):
        return UNKNOWN
    n = y.ndim - 2
    kernel = _kernel(module)
    adaptive = hasattr(module, "output_size") or "Pool" in type(module).__name__  # adaptive or global pooling
    if kernel is None and adaptive and x is not None and x.ndim == y.ndim:
        if any(i % o for i, o in zip(x.shape[2:], y.shape[2:], strict=True)):
            return UNKNOWN  # uneven bins: no constant stride
        ratio = tuple(i // o for i, o in zip(x.shape[2:], y.shape[2:], strict=True))
        kernel = ratio, ratio, 1
    if kernel is not None:
        k, s, d = (_per_dim(v, n) for v in kernel)
        return tuple((r + (k[i] - 1) * d[i] * j, j * s[i]) for i, (r, j) in enumerate(fld))
    if x is not None and x.ndim == y.ndim and x.shape[2:] == y.shape[2:]:
        return fld
    return UNKNOWN

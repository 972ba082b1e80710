"""The computation graph of a tensor as Graphviz DOT text, and its rendering to PNG or SVG.

Every op that produced the tensor is a box named by its ``Function`` class (``Linear``,
``Conv2d``, ``_CrossEntropy`` …), with the shape and dtype of what it computed; leaf tensors
(inputs, parameters, constants) are ellipses, named after the parameter when a ``params``
mapping is given; edges run from the inputs towards the output, as the data flowed. The walk
is iterative, so a graph unrolled over hundreds of RNN steps draws without recursion limits.

Rendering needs Graphviz's ``dot`` program; the DOT text itself needs nothing.
"""
from __future__ import annotations

import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

__all__ = ["graph", "render_graph"]

_FORMATS = ("png", "svg")
_STYLE = {
    "op": 'shape=box, style="rounded,filled", fillcolor="#f2f2f2"',
    "param": 'shape=ellipse, style=filled, fillcolor="#cfe2ff"',
    "leaf": 'shape=ellipse, style=filled, fillcolor="#e8e8e8"',
    "output": 'shape=ellipse, style=filled, fillcolor="#d1f0c8"',
}


def _quote(text: str) -> str:
    """A DOT double-quoted string: backslashes and quotes escaped, newlines as ``\\n``."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _describe(shape, dtype) -> str:
    return f"{tuple(shape)} {dtype}"


def _param_names(params) -> dict:
    """``{id(tensor): name}`` from a ``{name: tensor}`` mapping or a module (its parameters and buffers)."""
    if params is None:
        return {}
    if hasattr(params, "named_parameters"):
        params = {**dict(params.named_parameters()), **dict(params.named_buffers())}
    if not isinstance(params, Mapping):
        raise TypeError(f"graph: params must be a mapping of name to tensor (e.g. dict(model.named_parameters())), "
                        f"got {type(params).__name__}")
    return {id(t): name for name, t in params.items() if t is not None}


class _DotBuilder:
    """Collects the node and edge lines; gives each tensor and Function one id, in visit order."""

    def __init__(self, show_shapes, names):
        self.show_shapes, self.names = show_shapes, names
        self.ids, self.nodes, self.edges = {}, [], []

    def node(self, obj, kind, label) -> tuple[str, bool]:
        """The id of ``obj``'s node and whether it was new (declaring it on first sight)."""
        key = id(obj)
        if key in self.ids:
            return self.ids[key], False
        node_id = f"n{len(self.ids)}"
        self.ids[key] = node_id
        self.nodes.append(f"  {node_id} [label={_quote(label)}, {_STYLE[kind]}];")
        return node_id, True

    def edge(self, tail, head, label=None):
        self.edges.append(f"  {tail} -> {head}" + (f" [label={_quote(label)}];" if label else ";"))

    def leaf(self, t) -> str:
        name = self.names.get(id(t))
        if name is None and t.numel() == 1 and not t.requires_grad:
            name = f"const {t.item():.4g}" if t.dtype.kind in "fc" else f"const {t.item()}"
        label = name or ("tensor" if t.requires_grad else "input")
        if self.show_shapes:
            label += "\n" + _describe(t.shape, t.dtype)
        return self.node(t, "param" if id(t) in self.names else "leaf", label)[0]

    def op(self, fn) -> tuple[str, bool]:
        label = fn.op_name
        if self.show_shapes:
            label += "\n" + "\n".join(_describe(*meta) for meta in _output_meta(fn))
        return self.node(fn, "op", label)

    def text(self) -> str:
        head = ["digraph ember {", "  graph [rankdir=TB];", '  node [fontname="Helvetica", fontsize=10];',
                '  edge [fontname="Helvetica", fontsize=9];']
        return "\n".join(head + self.nodes + self.edges + ["}"]) + "\n"


def _output_meta(fn):
    """(shape, dtype) of each output of a recorded Function (live outputs first-hand, else the record)."""
    if hasattr(fn, "output_meta"):
        return fn.output_meta
    y = fn.outputs[0]()
    return [(y.shape, y.dtype)] if y is not None else []


def _output_index(fn, t):
    """Which output of a multi-output Function ``t`` is (None for a single output)."""
    if len(fn.outputs) == 1:
        return None
    return next((i for i, ref in enumerate(fn.outputs) if ref() is t), None)


def _check_alive(fn):
    if fn.inputs is None:
        raise RuntimeError(f"graph: the graph through {fn.op_name} was freed by backward(); call graph() before "
                           "backward, or backward(retain_graph=True) to keep it")


def _walk(root, builder):
    """Declare every op and leaf reachable from ``root`` and the edges between them, without recursion."""
    stack = [root]
    while stack:
        fn = stack.pop()
        head, _ = builder.op(fn)
        for x in fn.inputs:
            if x.creator is None:
                builder.edge(builder.leaf(x), head)
                continue
            _check_alive(x.creator)
            tail, new = builder.op(x.creator)
            index = _output_index(x.creator, x)
            builder.edge(tail, head, None if index is None else f"[{index}]")
            if new:
                stack.append(x.creator)


def graph(tensor, show_shapes: bool = True, params=None) -> str:
    """The autograd graph that produced ``tensor``, as Graphviz DOT text.

    Nodes: one box per op (its ``Function`` class name and, with ``show_shapes``, the shape and
    dtype of each output), one ellipse per leaf tensor (its name in ``params``, ``const v`` for a
    one-element constant, else ``input``/``tensor``, and its shape and dtype) and one for the
    output. Edges follow the data from the inputs to the output; an edge out of an op with
    several outputs is labelled with the output's index. Call it before ``backward()``, which
    frees the graph (or keep it with ``retain_graph=True``).

    Args:
        tensor: the tensor whose history to draw (a loss, a network output).
        show_shapes: print shapes and dtypes on the nodes.
        params: ``{name: tensor}`` such as ``dict(model.named_parameters())`` (or the module
            itself) to label the parameters with their names.

    >>> model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    >>> loss = F.cross_entropy(model(em.randn(5, 4)), em.tensor([0, 1, 2, 0, 1]))
    >>> dot = graph(loss, params=dict(model.named_parameters()))
    >>> dot.splitlines()[0], "_CrossEntropy" in dot, "0.weight" in dot
    ('digraph ember {', True, True)
    """
    builder = _DotBuilder(show_shapes, _param_names(params))
    label = "output" + ("\n" + _describe(tensor.shape, tensor.dtype) if show_shapes else "")
    if tensor.creator is None:
        builder.leaf(tensor)
        return builder.text()
    _check_alive(tensor.creator)
    out, _ = builder.node(tensor, "output", label)
    head, _ = builder.op(tensor.creator)
    index = _output_index(tensor.creator, tensor)
    builder.edge(head, out, None if index is None else f"[{index}]")
    _walk(tensor.creator, builder)
    return builder.text()


def render_graph(tensor_or_dot, path, format: str = "png") -> Path:
    """Render a graph (a tensor, or DOT text from ``graph``) to ``path`` with Graphviz's ``dot``.

    ``format``: 'png' or 'svg'. Parent directories are created. Raises ``RuntimeError`` naming
    the missing program when ``dot`` is not on the PATH (install Graphviz: ``apt-get install
    graphviz`` on Debian/Ubuntu, ``brew install graphviz`` on macOS), or with dot's message when
    it fails. Returns the path written.

    >>> render_graph(loss, "runs/graph.svg", format="svg")
    PosixPath('runs/graph.svg')
    """
    if format not in _FORMATS:
        raise ValueError(f"render_graph: format must be one of {_FORMATS}, got {format!r}")
    dot_text = tensor_or_dot if isinstance(tensor_or_dot, str) else graph(tensor_or_dot)
    program = shutil.which("dot")
    if program is None:
        raise RuntimeError("render_graph: the Graphviz program 'dot' was not found on the PATH; install Graphviz "
                           "(Debian/Ubuntu: apt-get install graphviz; macOS: brew install graphviz; or conda "
                           "install graphviz), or save the text of ember.viz.graph(...) and render it elsewhere")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    done = subprocess.run([program, f"-T{format}", "-o", str(path)], input=dot_text, text=True,
                          capture_output=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"render_graph: dot failed with exit status {done.returncode}: {done.stderr.strip()}")
    return path

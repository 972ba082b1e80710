"""Computation-graph DOT text: it parses, names every op of a known graph, shows shapes, scales to long RNN
graphs, and renders through Graphviz's ``dot`` (or says clearly that dot is missing)."""
import os
import re
import shutil
import stat
import sys
import textwrap
from collections import Counter

import numpy as np
import pytest

import ember as em
from ember import nn
from ember.nn import functional as F
from ember.viz.graph import graph, render_graph
from system_programs import require_program

# -- a small DOT parser: enough of the language to check the structure of what graph() writes ----

_TOKEN = re.compile(r'\s*(?:(->)|("(?:[^"\\]|\\.)*")|([A-Za-z_][A-Za-z0-9_.]*|-?[0-9.]+)|([{}\[\]=,;]))')


def _tokens(text):
    pos, out = 0, []
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        assert m, f"unexpected DOT text at {text[pos:pos + 30]!r}"
        arrow, quoted, word, punct = m.groups()
        out.append(("str", quoted[1:-1].replace('\\"', '"').replace("\\n", "\n").replace("\\\\", "\\"))
                   if quoted else ("id", word) if word else ("p", arrow or punct))
        pos = m.end()
    return out


def _attrs(tokens, i):
    """Parse ``[k=v, ...]`` at tokens[i]; returns (dict, next index)."""
    attrs = {}
    if tokens[i] != ("p", "["):
        return attrs, i
    i += 1
    while tokens[i] != ("p", "]"):
        key, eq, value = tokens[i:i + 3]
        assert key[0] == "id" and eq == ("p", "=") and value[0] in ("id", "str"), tokens[i:i + 3]
        attrs[key[1]] = value[1]
        i += 3
        if tokens[i] == ("p", ","):
            i += 1
    return attrs, i + 1


def parse_dot(text):
    """{node id: attrs} and [(tail, head, attrs)] of a ``digraph``; asserts the structure is sound."""
    tokens = _tokens(text)
    assert tokens[:3] == [("id", "digraph"), ("id", "ember"), ("p", "{")] and tokens[-1] == ("p", "}")
    depth = 0
    for kind, value in tokens:  # braces balance and close only at the very end
        depth += (value == "{") - (value == "}") if kind == "p" else 0
        assert depth >= 0
    assert depth == 0
    nodes, edges, i = {}, [], 3
    while i < len(tokens) - 1:
        (kind, name) = tokens[i]
        assert kind == "id", tokens[i]
        if tokens[i + 1] == ("p", "->"):
            head = tokens[i + 2]
            assert head[0] == "id", head
            attrs, i = _attrs(tokens, i + 3)
            edges.append((name, head[1], attrs))
        else:
            attrs, i = _attrs(tokens, i + 1)
            if name not in ("graph", "node", "edge"):
                assert name not in nodes, f"node id {name} declared twice"
                nodes[name] = attrs
        assert tokens[i] == ("p", ";"), tokens[i]
        i += 1
    for tail, head, _ in edges:
        assert tail in nodes and head in nodes, f"edge {tail} -> {head} has an undeclared end"
    return nodes, edges


def _edges(text):
    """Edges as (tail, head) read straight from the text (the parser's edge list is checked against it)."""
    return re.findall(r"^\s*(\w+) -> (\w+)", text, flags=re.M)


def _ops(nodes):
    return [a["label"].split("\n")[0] for a in nodes.values() if a.get("shape") == "box"]


def _creator_names(tensor):
    """The Function names of a graph, by an independent walk over ``creator``/``inputs``."""
    names, seen, stack = [], set(), [tensor.creator]
    while stack:
        fn = stack.pop()
        if fn is None or id(fn) in seen:
            continue
        seen.add(id(fn))
        names.append(fn.op_name)
        stack.extend(x.creator for x in fn.inputs)
    return names


@pytest.fixture
def mlp_loss():
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    W, b = nn.Parameter(em.randn(3, 3)), nn.Parameter(em.randn(3))
    logits = model(em.randn(5, 4)) @ W + b
    return F.cross_entropy(logits, em.tensor([0, 1, 2, 0, 1])), {**dict(model.named_parameters()), "W": W, "b": b}


# -- structure ------------------------------------------------------------------------------------


def test_dot_parses_and_names_every_op(mlp_loss):
    loss, params = mlp_loss
    text = graph(loss, params=params)
    nodes, edges = parse_dot(text)
    assert [(t, h) for t, h, _ in edges] == _edges(text)
    ops = _ops(nodes)
    assert Counter(ops) == Counter(_creator_names(loss))
    assert {"Linear", "MatMul", "Add", "_CrossEntropy"} <= set(ops)
    assert any("ReLU" in op for op in ops)
    assert Counter(ops)["Linear"] == 2


def test_edges_run_from_the_inputs_to_the_output(mlp_loss):
    loss, params = mlp_loss
    nodes, edges = parse_dot(graph(loss, params=params))
    by_label = {a["label"].split("\n")[0]: n for n, a in nodes.items()}
    tails, heads = {t for t, _, _ in edges}, {h for _, h, _ in edges}
    assert nodes[next(iter(heads - tails))]["label"].startswith("output")  # the one sink
    sources = {nodes[n]["label"].split("\n")[0] for n in tails - heads}
    assert set(params) <= sources and "input" in sources
    assert (by_label["0.weight"], by_label["2.weight"]) != (None, None)
    linear_of = {t: h for t, h, _ in edges}
    assert nodes[linear_of[by_label["0.weight"]]]["label"].startswith("Linear")
    assert nodes[linear_of[by_label["W"]]]["label"].startswith("MatMul")


def test_shapes_and_dtypes_appear_on_nodes(mlp_loss):
    loss, params = mlp_loss
    labels = [a["label"] for a in parse_dot(graph(loss, params=params))[0].values()]
    assert "0.weight\n(8, 4) float32" in labels
    assert "input\n(5, 4) float32" in labels
    assert "input\n(5,) int64" in labels
    assert "Linear\n(5, 8) float32" in labels
    assert "output\n() float32" in labels
    plain = graph(loss, show_shapes=False)
    assert "float32" not in plain and "(5, 8)" not in plain
    assert Counter(_ops(parse_dot(plain)[0])) == Counter(_creator_names(loss))


def test_unnamed_leaves_and_constants():
    x = em.randn(2, 3, requires_grad=True)
    text = graph(x * 2.5 + x, show_shapes=False)
    nodes, edges = parse_dot(text)
    labels = Counter(a["label"] for a in nodes.values())
    assert labels["tensor"] == 1 and labels["const 2.5"] == 1  # x is one node, used twice
    x_node = next(n for n, a in nodes.items() if a["label"] == "tensor")
    assert sorted(nodes[h]["label"] for t, h, _ in edges if t == x_node) == ["Add", "Mul"]


def test_multi_output_op_edges_name_the_output():
    x = em.randn(6, 2, requires_grad=True)
    a, b, c = em.split(x, 2)
    nodes, edges = parse_dot(graph(c * a))
    split = next(n for n, attrs in nodes.items() if attrs["label"].startswith("Split"))
    assert sorted(attrs.get("label") for t, _, attrs in edges if t == split) == ["[0]", "[2]"]
    assert nodes[split]["label"].count("(2, 2) float32") == 3


def test_a_leaf_alone_and_module_params():
    layer = nn.Linear(3, 2)
    nodes, edges = parse_dot(graph(layer.weight, params=layer))
    assert [a["label"] for a in nodes.values()] == ["weight\n(2, 3) float32"] and edges == []
    nodes, _ = parse_dot(graph(layer(em.randn(4, 3)), params=layer))
    assert {"weight\n(2, 3) float32", "bias\n(2,) float32"} <= {a["label"] for a in nodes.values()}


def test_names_with_quotes_and_backslashes_are_escaped():
    w = em.randn(2, requires_grad=True)
    name = 'odd "name" \\ here'
    nodes, _ = parse_dot(graph(w * w, params={name: w}, show_shapes=False))
    assert name in {a["label"] for a in nodes.values()}


def test_freed_graph_gives_a_clear_error():
    x = em.randn(3, requires_grad=True)
    y = (x.exp() * 2).sum()
    y.backward(retain_graph=True)
    assert "Exp" in graph(y)
    y.backward()
    with pytest.raises(RuntimeError, match="freed by backward"):
        graph(y)


def test_params_must_be_a_mapping():
    with pytest.raises(TypeError, match="params must be a mapping"):
        graph(em.randn(2), params=[1, 2])


def test_long_rnn_graph_needs_no_recursion():
    T, N, H = 200, 2, 4
    W, U = em.randn(H, H, requires_grad=True), em.randn(3, H, requires_grad=True)
    h = em.zeros(N, H)
    xs = em.randn(T, N, 3, requires_grad=True)
    for t in range(T):
        h = em.tanh(h @ W * 0.5 + xs[t] @ U)
    loss = h.sum()
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(150 + len(_frames()))  # a recursive walk of ~1000 nested ops would overflow this
    try:
        text = graph(loss, params={"W": W, "U": U})
    finally:
        sys.setrecursionlimit(limit)
    ops = Counter(_ops(parse_dot(text)[0]))
    assert ops["Tanh"] == T and ops["MatMul"] == 2 * T and ops["GetItem"] == T


def _frames():
    frame, out = sys._getframe(), []
    while frame is not None:
        out.append(frame)
        frame = frame.f_back
    return out


# -- rendering ------------------------------------------------------------------------------------


def test_render_without_dot_names_the_missing_program(monkeypatch, tmp_path, mlp_loss):
    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: None)
    with pytest.raises(RuntimeError, match=r"'dot'.*graphviz"):
        render_graph(mlp_loss[0], tmp_path / "g.png")
    assert not (tmp_path / "g.png").exists()


def test_render_rejects_unknown_formats(tmp_path):
    with pytest.raises(ValueError, match="format must be one of"):
        render_graph("digraph ember {}", tmp_path / "g.jpg", format="jpg")


@pytest.mark.skipif(sys.platform == "win32", reason="the stand-in dot is a POSIX script")
def test_render_calls_dot_with_format_output_and_the_text(monkeypatch, tmp_path, mlp_loss):
    # a stand-in for dot that records how it was called, so the call is tested without Graphviz
    bindir = tmp_path / "bin"
    bindir.mkdir()
    fake = bindir / "dot"
    fake.write_text(textwrap.dedent(f"""\
        #!{sys.executable}
        import sys, pathlib
        args = sys.argv[1:]
        text = sys.stdin.read()
        pathlib.Path(args[args.index("-o") + 1]).write_text("\\n".join(args) + "\\n---\\n" + text)
        sys.exit(3 if "fail" in text else 0)
        """))
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", str(bindir) + os.pathsep + os.environ.get("PATH", ""))
    out = render_graph(mlp_loss[0], tmp_path / "sub" / "g.svg", format="svg")
    written = out.read_text()
    assert written.startswith("-Tsvg\n-o\n" + str(tmp_path / "sub" / "g.svg"))
    assert written.split("---\n", 1)[1] == graph(mlp_loss[0])
    with pytest.raises(RuntimeError, match="dot failed with exit status 3"):
        render_graph("digraph fail {}", tmp_path / "g.png")


def test_render_png_with_graphviz(tmp_path, mlp_loss):
    require_program("dot", "Debian: apt-get install graphviz; the DOT text is tested above")
    out = render_graph(mlp_loss[0], tmp_path / "g.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    svg = render_graph(graph(mlp_loss[0]), tmp_path / "g.svg", format="svg").read_text()
    assert "<svg" in svg and "_CrossEntropy" in svg


def test_graph_of_float64_and_no_grad_tensor():
    x = em.tensor(np.ones((2, 2)), requires_grad=True)
    labels = {a["label"] for a in parse_dot(graph((x * x).sum()))[0].values()}
    assert "tensor\n(2, 2) float64" in labels
    with em.no_grad():
        y = x * x
    assert [a["label"] for a in parse_dot(graph(y))[0].values()] == ["input\n(2, 2) float64"]

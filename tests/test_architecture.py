"""The import direction: every module of ``src/ember`` imports only from its own layer or the layers below.

Layers, bottom to top (docs/architecture.md draws them)::

    backend → autograd → ops → nn → optim/data → models → distributed → vision/text/train → apps → cli

Each module is parsed with ``ast``; every import counts, at any depth of the file (the lazy imports
inside functions too), except those under ``if TYPE_CHECKING:``, which never run. ``ember/__init__.py``
is the package facade and may import anything. Inside one layer, packages may import each other
as long as the package graph has no cycle. The exceptions the tree has today are listed, each with
its reason, in ``KNOWN_EXCEPTIONS``: a new upward import fails, and so does a listed one that is gone.
"""
from __future__ import annotations

import ast
import functools
import importlib
import types
from dataclasses import dataclass
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "ember"

# Rank (major, minor) and name of each layer; a package's layer is looked up by its first name
# under ``ember`` (``ember.nn.functional`` → ``nn``). ``distributed`` shares the application layer
# with vision/text/train but sits a step below it: the Trainer drives data-parallel training, and
# the gradient all-reduce knows nothing of trainers.
LAYERS = {
    (0, 0): ("backend", {"backend", "backends", "dtypes", "random", "threads", "accelerator", "cuda", "_version",
                         "multiprocessing",
                         # amp: the autocast state (a dtype policy) imports only backend, and cuda.amp
                         # re-exports it, so it sits with the devices it describes.
                         "amp"}),
    # creation: the tensor factories (zeros, randn, arange) build Tensors and need nothing above them.
    (1, 0): ("autograd", {"autograd", "creation"}),
    # func: grad/vjp/vmap over the autograd engine, stacking with ops.stack; nn.utils.stateless
    # (functional_call) builds on it, so it cannot sit above nn.
    # linalg, special: PyTorch's torch.linalg and torch.special namespaces over the ops.
    (2, 0): ("ops", {"ops", "func", "linalg", "special"}),
    # distributions: densities and samplers composed from ops; nothing below nn needs them.
    # jit: imports nothing; script/trace take modules, so it is an nn-level API.
    (3, 0): ("nn", {"nn", "distributions", "jit"}),
    # testing: gradcheck and the op-test helpers; the library below never imports them.
    (4, 0): ("optim/data", {"optim", "data", "serialization", "utils", "testing"}),
    (5, 0): ("models", {"models"}),
    (6, 0): ("distributed", {"distributed"}),
    (6, 1): ("vision/text/train", {"vision", "text", "train", "viz", "onnx"}),
    (7, 0): ("apps", {"apps", "playground"}),
    (8, 0): ("cli", {"cli", "__main__"}),
}
FACADE = "ember"
LAYER_OF = {package: (rank, name) for rank, (name, packages) in LAYERS.items() for package in packages}
LAYER_OF[FACADE] = ((9, 0), "facade")

# Modules allowed to import ember.apps (the command line that dispatches to the apps, and the apps).
APPS_IMPORTERS = ("ember.apps", "ember.cli", "ember.__main__")

# (importing module, imported module) pairs that go upward today. The layering is the rule;
# each of these is a deliberate, reasoned step over it.
KNOWN_EXCEPTIONS = {
    # Tensor's methods (x.relu(), x.sum(), x.add_(y)) are the functional ops of ember.ops, written once:
    # the mixins look ember.ops up when called, and tensor.py imports it at its end, after Tensor exists.
    ("ember.autograd.tensor", "ember.ops"),
    ("ember.autograd.op_methods", "ember.ops"),
    ("ember.autograd.math_methods", "ember.ops"),
    ("ember.autograd.inplace_methods", "ember.ops"),
    # jacobian/hessian stack the rows of the result with ops.stack (a lazy import, when called).
    ("ember.autograd.functional", "ember.ops"),
    # set_default_dtype keeps the tensor constructor's DEFAULT_DTYPE in step (a lazy import, when called).
    ("ember.dtypes", "ember.autograd.tensor"),
    # PyTorch's namespaces: torch.utils.data.DistributedSampler and torch.nn.parallel.DistributedDataParallel
    # are classes of ember.distributed, re-exported under the names PyTorch programs import. data and
    # nn.parallel import them on first use (a module __getattr__); utils.data, the torch.utils.data
    # alias of ember.data, binds ember.distributed.sampler as its ``distributed`` submodule.
    ("ember.data", "ember.distributed.sampler"),
    ("ember.nn.parallel", "ember.distributed.ddp"),
    ("ember.utils.data", "ember.distributed.sampler"),
}


# -- reading the imports -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Import:
    importer: str  # the importing module, "ember.nn.linear"
    line: int
    imported: str  # the ember module imported, "ember.ops.linalg"


def module_name(path: Path, root: Path = SRC) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_submodule(name: str) -> bool:
    """True where ``name`` (``ember.ops.conv``) is a module or package of the source tree."""
    path = SRC.joinpath(*name.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


@functools.cache
def facade_origin(attr: str) -> str:
    """The module that defines ``ember.<attr>`` (``save`` → ``ember.serialization``), or the facade itself."""
    if is_submodule(f"{FACADE}.{attr}"):
        return f"{FACADE}.{attr}"
    obj = getattr(importlib.import_module(FACADE), attr, None)
    if isinstance(obj, types.ModuleType):
        return obj.__name__
    origin = getattr(obj, "__module__", None) or FACADE
    # NumPy's dtypes (em.float32) and math's constants are not ember modules: they come with the facade.
    return origin if origin == FACADE or origin.startswith(FACADE + ".") else FACADE


def is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def runtime_nodes(tree: ast.AST):
    """Every node of ``tree`` except the bodies of ``if TYPE_CHECKING:`` (their ``else`` runs)."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, ast.If) and is_type_checking(node.test):
            stack.extend(node.orelse)
            continue
        stack.extend(ast.iter_child_nodes(node))


def absolute(node: ast.ImportFrom, importer: str, is_package: bool) -> str:
    """The absolute module of ``from <module> import ...``, relative forms included."""
    if not node.level:
        return node.module or ""
    base = importer.split(".") if is_package else importer.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports_of(source: str, importer: str, is_package: bool = False) -> list[Import]:
    """The ember modules ``importer`` imports. ``from a import b`` counts as ``a.b`` where ``b`` is a
    module; names taken from the facade count as the module that defines them, and so does a
    bare ``import ember`` (or ``import ember as em``) at each ``ember.<name>`` it is used for."""
    found, facade_aliases = [], set()
    nodes = list(runtime_nodes(ast.parse(source)))
    for node in nodes:
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == FACADE:
                    facade_aliases.add(alias.asname or FACADE)
                elif alias.name.startswith(FACADE + "."):
                    found.append(Import(importer, node.lineno, alias.name))
                    if alias.asname is None:  # `import ember.ops` binds `ember` too
                        facade_aliases.add(FACADE)
        elif isinstance(node, ast.ImportFrom):
            module = absolute(node, importer, is_package)
            if module != FACADE and not module.startswith(FACADE + "."):
                continue
            for alias in node.names:
                name = f"{module}.{alias.name}"
                if module == FACADE:
                    found.append(Import(importer, node.lineno, facade_origin(alias.name)))
                else:
                    found.append(Import(importer, node.lineno, name if is_submodule(name) else module))
    for node in nodes:
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                and node.value.id in facade_aliases):
            found.append(Import(importer, node.lineno, facade_origin(node.attr)))
    return sorted(found, key=lambda i: i.line)


@functools.cache
def all_imports() -> tuple[Import, ...]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        importer = module_name(path)
        if importer != FACADE:
            found += imports_of(path.read_text(encoding="utf-8"), importer, path.name == "__init__.py")
    return tuple(i for i in found if i.imported != i.importer)


# -- the rules -----------------------------------------------------------------------------------------------
def package(module: str) -> str:
    """``ember.nn.functional`` → ``nn``; the facade is its own package."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else FACADE


def layer(module: str) -> tuple[tuple[int, int], str]:
    try:
        return LAYER_OF[package(module)]
    except KeyError:
        raise AssertionError(f"{module}: its package {package(module)!r} has no layer; add it to LAYERS "
                             "in tests/test_architecture.py and to docs/architecture.md") from None


def upward(imports) -> list[tuple[Import, str]]:
    """Each import of a module in a layer above the importer's, with the message that names it."""
    bad = []
    for i in imports:
        (low, low_name), (high, high_name) = layer(i.importer), layer(i.imported)
        if high > low:
            bad.append((i, f"{i.importer} (line {i.line}, layer {low_name}) imports {i.imported} "
                           f"(layer {high_name}, above it)"))
    return bad


def package_cycles(imports) -> list[list[str]]:
    """The cycles of the package graph (Tarjan's strongly connected components of size > 1)."""
    graph: dict[str, set[str]] = {}
    for i in imports:
        a, b = package(i.importer), package(i.imported)
        if a != b:
            graph.setdefault(a, set()).add(b)
            graph.setdefault(b, set())
    index, low, stack, on_stack, cycles = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while not component or component[-1] != v:
                component.append(stack.pop())
                on_stack.discard(component[-1])
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return cycles


def checked_imports():
    return [i for i in all_imports() if (i.importer, i.imported) not in KNOWN_EXCEPTIONS]


# -- the tests -----------------------------------------------------------------------------------------------
def test_every_package_has_a_layer():
    packages = {package(module_name(p)) for p in PACKAGE.rglob("*.py")}
    assert packages - set(LAYER_OF) == set(), "packages with no layer in LAYERS"


def test_nothing_imports_upward():
    bad = upward(checked_imports())
    assert not bad, "upward imports (see docs/architecture.md):\n" + "\n".join(msg for _, msg in bad)


def test_no_cycle_between_packages():
    assert package_cycles(checked_imports()) == []


def test_only_the_command_line_imports_the_apps():
    """Nothing in the library imports ember.apps, the playground included (it drives the Trainer itself)."""
    bad = [f"{i.importer} (line {i.line}, layer {layer(i.importer)[1]}) imports {i.imported} "
           f"(layer {layer(i.imported)[1]})" for i in all_imports()
           if package(i.imported) == "apps" and not i.importer.startswith(APPS_IMPORTERS)]
    assert not bad, "only apps/, cli.py and __main__.py import ember.apps:\n" + "\n".join(bad)


def test_the_known_exceptions_still_exist():
    pairs = {(i.importer, i.imported) for i in all_imports()}
    stale = sorted(KNOWN_EXCEPTIONS - pairs)
    assert not stale, f"KNOWN_EXCEPTIONS lists imports the tree no longer has; remove them: {stale}"
    assert all(upward([Import(a, 0, b)]) for a, b in KNOWN_EXCEPTIONS), "an exception that is not upward"


def test_the_checker_catches_an_upward_import():
    source = ("from typing import TYPE_CHECKING\n"
              "from ember.autograd import Tensor\n"
              "if TYPE_CHECKING:\n    from ember.models import LeNet5\n"
              "def f():\n    from ember.nn import functional\n    return functional\n")
    found = imports_of(source, "ember.ops.fake")
    assert [(i.line, i.imported) for i in found] == [(2, "ember.autograd"), (6, "ember.nn.functional")]
    [(_, message)] = upward(found)
    assert message == "ember.ops.fake (line 6, layer ops) imports ember.nn.functional (layer nn, above it)"
    assert upward(imports_of("import ember as em\nem.save\n", "ember.nn.fake"))  # save is serialization's
    assert package_cycles([Import("ember.nn.a", 1, "ember.jit"), Import("ember.jit", 1, "ember.nn")]) == [
        ["jit", "nn"]]

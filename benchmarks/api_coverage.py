"""How much of the PyTorch API that real programs use does ember have? Usage-weighted, over a corpus.

Give it folders of PyTorch code (.py files, notebooks' code cells, and Markdown code blocks
marked for PyTorch, as the d2l book writes them). Every use of the API is counted:

- a dotted name reached from an imported ``torch`` module (``torch.randn``, ``nn.Linear``,
  ``F.cross_entropy``, ``optim.lr_scheduler.StepLR``, ``DataLoader`` imported from
  ``torch.utils.data``), resolved through the file's imports and aliases;
- a method or attribute that only a tensor, a module or an optimizer has (``x.view``,
  ``x.shape``, ``model.parameters``, ``optimizer.zero_grad``): without types this is a
  heuristic, counted by name when PyTorch's class has that name and Python's lists, dicts,
  strings and sets do not.

Each use counts as covered when ember has the same name at the same place after the import
swap (``torch`` → ``ember``, ``torch.utils.data`` → ``ember.utils.data``). PyTorch is imported
only to know its names.

    python benchmarks/api_coverage.py CORPUS_DIR [CORPUS_DIR ...] [--top 40]
"""
from __future__ import annotations

import argparse
import ast
import functools
import importlib
import json
import re
from collections import Counter
from pathlib import Path

from harness import print_machine

PYTHON_METHODS = set(dir(list)) | set(dir(dict)) | set(dir(str)) | set(dir(set)) | set(dir(tuple))


# -- reading the corpus ------------------------------------------------------------------------------
def sources(folder: Path):
    """(name, Python source) of every program in ``folder``: files, notebook cells, Markdown blocks."""
    for path in sorted(folder.rglob("*")):
        if path.suffix == ".py":
            yield str(path), path.read_text(errors="replace")
        elif path.suffix == ".ipynb":
            try:
                cells = json.loads(path.read_text(errors="replace")).get("cells", [])
            except json.JSONDecodeError:
                continue
            code = ["".join(c.get("source", [])) for c in cells if c.get("cell_type") == "code"]
            yield str(path), "\n".join(code)
        elif path.suffix == ".md":
            blocks = re.findall(r"```\{?\.?python[^\n]*\n(.*?)```", path.read_text(errors="replace"), re.S)
            yield str(path), "\n".join(b for b in blocks if _pytorch_block(b))


def _pytorch_block(block: str) -> bool:
    """A Markdown code block meant for PyTorch: d2l marks each with a tab line (``%%tab pytorch``)."""
    first = block.lstrip().splitlines()[0] if block.strip() else ""
    return "tab" not in first or "pytorch" in first or "all" in first


def parse(source: str):
    """The module's AST, after dropping notebook magics and shell lines; None if it still does not parse."""
    lines = [line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))]
    try:
        return ast.parse("\n".join(lines))
    except (SyntaxError, ValueError):
        return None


# -- counting the uses -----------------------------------------------------------------------------
class Uses(ast.NodeVisitor):
    """Collects the API uses of one module into ``self.counts`` (dotted torch names and Class.member names)."""

    def __init__(self, tensor_names, module_names, optimizer_names):
        self.aliases, self.counts = {}, Counter()
        self.members = (("Tensor", tensor_names), ("Module", module_names), ("Optimizer", optimizer_names))

    def visit_Import(self, node):  # noqa: N802 - ast's names
        for a in node.names:
            if a.name.split(".")[0] == "torch":
                self.aliases[a.asname or a.name.split(".")[0]] = a.name if a.asname else "torch"

    def visit_ImportFrom(self, node):  # noqa: N802
        if node.module and node.module.split(".")[0] == "torch":
            for a in node.names:
                if a.name != "*":
                    self.aliases[a.asname or a.name] = f"{node.module}.{a.name}"
                    self.counts[f"{node.module}.{a.name}"] += 1

    def visit_Attribute(self, node):  # noqa: N802
        dotted = self._dotted(node)
        if dotted is not None:
            self.counts[dotted] += 1
            return  # the chain is one use; its inner attributes are not counted again
        for owner, names in self.members:
            if node.attr in names:
                self.counts[f"{owner}.{node.attr}"] += 1
                break
        self.generic_visit(node)

    def visit_Name(self, node):  # noqa: N802
        target = self.aliases.get(node.id)
        if target is not None and isinstance(node.ctx, ast.Load) and "." in target:
            self.counts[target] += 1

    def _dotted(self, node):
        parts = []
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        if isinstance(node, ast.Name) and node.id in self.aliases:
            return ".".join([self.aliases[node.id], *reversed(parts)])
        return None


def member_names():
    """Names that only a tensor, a module or an optimizer has (not Python's containers and strings)."""
    import torch

    tensor = {n for n in dir(torch.Tensor) if not n.startswith("_")} - PYTHON_METHODS
    module = {n for n in dir(torch.nn.Module) if not n.startswith("_")} - PYTHON_METHODS - tensor
    optimizer = {n for n in dir(torch.optim.Optimizer) if not n.startswith("_")} - PYTHON_METHODS - tensor - module
    return tensor, module, optimizer


# -- looking names up -------------------------------------------------------------------------------
@functools.cache
def resolve(dotted: str, root: str):
    """The object ``dotted`` names with its leading ``torch`` replaced by ``root``, or None."""
    parts = dotted.split(".")
    parts[0] = root
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except Exception:  # noqa: BLE001 - any import failure means "no module of that name"
            continue
        for attr in parts[cut:]:
            try:
                obj = getattr(obj, attr)
            except Exception:  # noqa: BLE001 - AttributeError, or a lazy module refusing the name
                return None
        return obj
    return None


def torch_name(dotted: str) -> bool:
    """Whether PyTorch itself has ``dotted`` (uses of names it lacks, e.g. a local variable, are not counted)."""
    return dotted.split(".")[0] in ("Tensor", "Module", "Optimizer") or resolve(dotted, "torch") is not None


def ember_has(dotted: str) -> bool:
    owner, _, member = dotted.partition(".")
    if owner in ("Tensor", "Module", "Optimizer"):
        instance = _ember_instances()[owner]
        try:
            return hasattr(instance, member)
        except Exception:  # noqa: BLE001 - a property that exists but refuses this instance (x.mT of a 1-D x)
            return True
    return resolve(dotted, "ember") is not None


@functools.cache
def _ember_instances() -> dict:
    """An ember tensor, module and optimizer: members such as ``grad`` are set on instances, not classes."""
    import ember

    weight = ember.zeros(2, 2, requires_grad=True)
    return {"Tensor": weight, "Module": ember.nn.Linear(1, 1), "Optimizer": ember.optim.SGD([weight], lr=0.1)}


def measure(folders) -> tuple[Counter, int]:
    names, files = member_names(), 0
    counts = Counter()
    for folder in folders:
        for _, source in sources(Path(folder)):
            tree = parse(source)
            if tree is None:
                continue
            files += 1
            uses = Uses(*names)
            uses.visit(tree)
            counts.update(uses.counts)
    return Counter({k: v for k, v in counts.items() if torch_name(k)}), files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", help="folders of PyTorch programs")
    parser.add_argument("--top", type=int, default=40, help="how many of the most used missing names to list")
    args = parser.parse_args()
    print_machine(args)
    counts, files = measure(args.folders)
    covered = {name for name in counts if ember_has(name)}
    uses, hits = sum(counts.values()), sum(counts[n] for n in covered)
    print(f"{files} programs, {uses} API uses of {len(counts)} distinct names")
    print(f"usage-weighted coverage: {100 * hits / uses:.1f} % of uses; {len(covered)}/{len(counts)} distinct names")
    missing = [(n, c) for n, c in counts.most_common() if n not in covered][:args.top]
    print("most used names ember lacks: " + ", ".join(f"{n} ({c})" for n, c in missing))


if __name__ == "__main__":
    main()

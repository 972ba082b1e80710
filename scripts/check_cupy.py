"""Check that every array-module call ember makes exists in CuPy, without a GPU.

ember writes its maths once against ``xp`` (NumPy or CuPy). This script reads the library's
source, collects every ``xp.<name>`` (also ``xp_of(a).<name>`` and ``get_array_module(a).<name>``)
and every ufunc method called through it (``xp.add.at``, ``xp.maximum.reduceat``), and checks
them against the installed CuPy:

- a name must exist in ``cupy``;
- a ufunc method must exist, and calling it with placeholder arguments must not raise
  ``NotImplementedError`` (CuPy raises that for unsupported methods before touching a GPU, so
  the answer needs no device; any other error means the method is implemented).

Run it through ``make check-cupy``, which installs ``cupy-cuda12x`` first. Exits 1 on a miss.
"""
from __future__ import annotations

import ast
import sys
from collections import defaultdict
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[1] / "src" / "ember"
MODULE_NAMES = {"xp", "cp"}
MODULE_CALLS = {"xp_of", "get_array_module", "cupy"}


def _is_module(node) -> bool:
    """``xp``, ``cp``, ``xp_of(a)``, ``get_array_module(a)`` or ``backend.cupy()``."""
    if isinstance(node, ast.Name):
        return node.id in MODULE_NAMES
    if isinstance(node, ast.Call):
        func = node.func
        name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
        return name in MODULE_CALLS
    return False


def collect(root=SOURCE):
    """{name: [files]} and {(ufunc, method): [files]} of the array-module calls under ``root``."""
    names, methods = defaultdict(set), defaultdict(set)
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and _is_module(node.value):
                names[node.attr].add(path.relative_to(root).as_posix())
            elif (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute)
                  and _is_module(node.value.value) and node.attr in ("at", "reduceat", "outer", "accumulate")):
                methods[(node.value.attr, node.attr)].add(path.relative_to(root).as_posix())
    return names, methods


def _method_missing(cupy, ufunc: str, method: str) -> bool:
    try:
        getattr(getattr(cupy, ufunc), method)(None, None)
    except NotImplementedError:
        return True
    except Exception:  # noqa: BLE001 - any other failure is about the placeholder arguments
        return False
    return False


def main() -> int:
    import cupy

    names, methods = collect()
    missing = [(n, sorted(f)) for n, f in sorted(names.items()) if not hasattr(cupy, n)]
    missing += [(f"{u}.{m}", sorted(f)) for (u, m), f in sorted(methods.items())
                if not hasattr(cupy, u) or _method_missing(cupy, u, m)]
    print(f"CuPy {cupy.__version__}: {len(names)} array-module names and {len(methods)} ufunc methods used by ember")
    for name, files in missing:
        print(f"  missing in CuPy: {name}  (used in {', '.join(files)})")
    print("all present" if not missing else f"{len(missing)} missing")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())

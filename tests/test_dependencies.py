"""The library's import-time dependencies: PyTorch is a test oracle only."""
import pathlib
import subprocess
import sys

SRC = pathlib.Path(__file__).resolve().parents[1] / "src" / "ember"


def test_importing_ember_and_all_subpackages_does_not_import_torch():
    code = ("import sys, ember, ember.testing, ember.cli; "
            "print(sorted(m for m in sys.modules if m == 'torch' or m.startswith('torch.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_no_library_source_mentions_an_import_of_torch():
    offenders = [f"{path.relative_to(SRC)}:{n}" for path in SRC.rglob("*.py")
                 for n, line in enumerate(path.read_text().splitlines(), 1)
                 if line.strip().startswith(("import torch", "from torch"))]
    assert offenders == []


def test_numba_is_imported_only_when_a_compiled_kernel_is_asked_for():
    """numba (the optional ``fast`` extra) takes about a second to import: importing ember, or
    building a model without Word2Vec, must not pay it."""
    code = ("import sys, ember, ember.text, ember.cli; from ember.text import Word2Vec; "
            "print('numba' in sys.modules, end=' '); Word2Vec(); print('numba' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False True"

"""The documentation: the site builds with warnings as errors, every tutorial runs, and the
concept index covers every tutorial with ember names that exist."""
import importlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
TUTORIALS = sorted((DOCS / "tutorials").glob("[0-9][0-9]-*.md"))
PYTHON_BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def python_blocks(path: Path) -> str:
    """The ```python blocks of a Markdown file, joined into one script."""
    return "\n".join(PYTHON_BLOCK.findall(path.read_text(encoding="utf-8")))


def run_python(args, cwd, timeout):
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MPLBACKEND="Agg",
               PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")])))
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def test_site_builds_strict(tmp_path):
    site = tmp_path / "site"
    done = run_python(["-m", "mkdocs", "build", "--strict", "-f", str(ROOT / "mkdocs.yml"), "-d", str(site)],
                      cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (site / "index.html").exists() and (site / "api" / "nn" / "index.html").exists()
    for tutorial in TUTORIALS:
        assert (site / "tutorials" / tutorial.stem / "index.html").exists(), tutorial.name


def test_there_is_a_tutorial_per_course_topic():
    assert len(TUTORIALS) >= 14, [t.name for t in TUTORIALS]
    for tutorial in TUTORIALS:
        assert python_blocks(tutorial).strip(), f"{tutorial.name} has no ```python code"
        assert "../api/" in tutorial.read_text(encoding="utf-8") or "][ember." in tutorial.read_text(
            encoding="utf-8"), f"{tutorial.name} links to no API reference entry"


@pytest.mark.parametrize("tutorial", TUTORIALS, ids=[t.stem for t in TUTORIALS])
def test_tutorial_runs(tutorial, tmp_path):
    script = tmp_path / f"{tutorial.stem}.py"
    script.write_text(python_blocks(tutorial), encoding="utf-8")
    done = run_python([str(script)], cwd=tmp_path, timeout=120)
    assert done.returncode == 0, f"{tutorial.name} failed:\n{done.stdout[-3000:]}\n{done.stderr[-5000:]}"


# -- the concept index ------------------------------------------------------------------------------------
def concept_rows():
    """(english, chinese, ember names, tutorial links) for each row of the concept table."""
    rows = []
    for line in (DOCS / "concepts.md").read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")] if line.startswith("|") else []
        if len(cells) != 4 or set(cells[0]) <= set("-: ") or cells[0].lower() == "english":
            continue
        names = re.findall(r"`(ember(?:\.\w+)+)`", cells[2])
        links = re.findall(r"\(tutorials/([\w.-]+\.md)(?:#[\w-]+)?\)", cells[3])
        rows.append((cells[0], cells[1], names, links))
    return rows


def resolve(dotted: str):
    """Import the longest module prefix of ``dotted`` and get the rest as attributes."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(dotted)


def test_concept_index_covers_every_tutorial():
    rows = concept_rows()
    assert len(rows) >= 30
    linked = {link for *_, links in rows for link in links}
    assert {t.name for t in TUTORIALS} <= linked, sorted({t.name for t in TUTORIALS} - linked)
    assert linked <= {t.name for t in TUTORIALS}, sorted(linked - {t.name for t in TUTORIALS})
    for english, chinese, names, links in rows:
        assert re.search(r"[\u4e00-\u9fff]", chinese), f"{english}: no Chinese course term"
        assert names and links, f"{english}: needs an ember name and a tutorial"


def test_concept_index_names_resolve():
    names = sorted({name for _, _, names, _ in concept_rows() for name in names})
    missing = []
    for name in names:
        try:
            resolve(name)
        except (ImportError, AttributeError) as err:
            missing.append(f"{name}: {err}")
    assert not missing, missing


# -- coming from PyTorch ----------------------------------------------------------------------------------
def ember_names_in_tables(path: Path) -> list[str]:
    """Every `ember.…` name written in backticks inside a table row of ``path``."""
    rows = [line for line in path.read_text(encoding="utf-8").splitlines() if line.startswith("|")]
    return sorted({name for row in rows for name in re.findall(r"`(ember(?:\.\w+)+)`", row)})


def test_every_name_on_the_coming_from_pytorch_page_exists():
    names = ember_names_in_tables(DOCS / "coming-from-pytorch.md")
    assert len(names) > 100, names
    missing = []
    for name in names:
        try:
            resolve(name)
        except (AttributeError, ImportError):
            missing.append(name)
    assert not missing, f"names on the page that ember lacks: {missing}"

"""Finding a dataset's files on disk, downloading them only when asked, and naming a missing one.

Every file-based loader (``mnist``, ``cifar10``) looks for its files in a few known places,
fetches them with ``download=True``, and otherwise raises the same kind of error: the
missing path, every place looked in, and the address to get the file from.
"""
from __future__ import annotations

import urllib.request
from pathlib import Path

from ember.serialization import atomic_write

__all__ = ["download", "locate", "missing_file"]


def download(url: str, dest: Path) -> None:
    """Fetch ``url`` into ``dest`` atomically (a failed download never leaves a partial file)."""
    with urllib.request.urlopen(url) as response:  # noqa: S310 - the user asked for it
        atomic_write(dest, response.read())


def locate(candidates, url: str, dest: Path, fetch: bool) -> Path | None:
    """The first file of ``candidates`` that exists; else, with ``fetch``, ``url`` downloaded to ``dest``.

    Returns ``None`` when nothing is found and nothing was fetched.
    """
    found = next((path for path in candidates if path.is_file()), None)
    if found is None and fetch:
        download(url, dest)
        found = dest
    return found


def missing_file(who: str, missing, looked_in, url: str, root: Path) -> FileNotFoundError:
    """The error a loader raises for a missing file: what is missing, where it looked, where to get it."""
    return FileNotFoundError(
        f"{who}: missing file {missing}; looked in {', '.join(str(p) for p in looked_in)}. "
        f"Download it from {url} into {root}, or pass download=True"
    )

"""Atomic writes: a temporary file beside the target, flushed to disk, then renamed over it.

Readers see either the old file or the complete new one, never a torn write; a crash or an
error midway leaves the previous file untouched, and the next write of the same target deletes
the temporaries that killed writes left behind.
"""
from __future__ import annotations

import contextlib
import os
import re
import socket
import tempfile
import time
import zlib
from pathlib import Path

_TMP_SUFFIX = ".ember-tmp"
_STALE_AFTER_S = 3600.0


def _host_tag() -> str:
    """Eight hex digits naming this machine, short whatever its host name."""
    return f"{zlib.crc32(socket.gethostname().encode()):08x}"


def _pid_alive(pid: int) -> bool:
    if os.name != "posix":  # os.kill(pid, 0) would terminate the process on Windows; the age rule applies there
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # e.g. PermissionError: the process exists but belongs to another user
        return True
    return True


def _remove_stale_temporaries(path: Path) -> None:
    """Delete the temporaries that killed saves of ``path`` left beside it."""
    # NOTE: a temporary is named .<target>.<host>-<pid>.<random>.ember-tmp. One whose process has died
    # on this host can never be finished, so it goes at once. One whose process lives may be a concurrent
    # save of the same target, and one from another host (a shared filesystem) has a pid that means
    # nothing here: those go only once untouched for an hour, far longer than writing any file takes.
    pattern = re.compile(re.escape(f".{path.name}.") + r"([0-9a-f]{8})-(\d+)\.[a-z0-9_]+" + re.escape(_TMP_SUFFIX))
    here, now = _host_tag(), time.time()
    try:
        entries = list(os.scandir(path.parent))
    except OSError:
        return
    for entry in entries:
        match = pattern.fullmatch(entry.name)
        if match is None:
            continue
        try:
            if (match[1] == here and not _pid_alive(int(match[2]))) or now - entry.stat().st_mtime > _STALE_AFTER_S:
                os.unlink(entry.path)
        except OSError:  # removed meanwhile by another save, or not ours to remove: never fail a save over it
            pass


@contextlib.contextmanager
def _replacing(path):
    """A binary file to write that atomically replaces ``path`` when the block ends without error.

    The bytes go to a temporary file beside ``path``, are flushed to disk and renamed over it;
    on any error the temporary is deleted and ``path`` keeps its old contents.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temporaries(path)
    prefix = f".{path.name}.{_host_tag()}-{os.getpid()}."
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=prefix, suffix=_TMP_SUFFIX)
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_directory(path.parent)


def atomic_write(path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically: temp file in the same directory, fsync, rename.

    Readers see either the old file or the complete new one, never a torn write.
    """
    with _replacing(path) as f:
        f.write(data)


def _fsync_directory(directory: Path) -> None:
    # The rename itself is durable only once the directory entry reaches the disk (POSIX).
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def sidecar_path(path) -> Path:
    """The JSON sidecar's path: ``x.safetensors`` → ``x.json``, any other name gains ``.json``."""
    path = Path(path)
    return path.with_suffix(".json") if path.suffix == ".safetensors" else path.with_name(path.name + ".json")


"""Saving and loading: safetensors for the arrays, JSON for everything else, never pickle.

``em.save(obj, f)`` takes what ``torch.save`` takes in practice: a tensor, a NumPy array, a
``model.state_dict()``, an ``optimizer.state_dict()``, a whole checkpoint (``{"model": ...,
"optimizer": ..., "epoch": 3}``), any nesting of dicts, lists and tuples whose leaves are
tensors, arrays, numbers, strings, booleans or ``None`` — and whole ``nn.Module`` s. ``f`` is a
path (``str`` or ``pathlib.Path``) or a binary file object (``io.BytesIO``, ``open(p, "wb")``).
The tree is split in two:

- every array leaf goes into a `safetensors <https://huggingface.co/docs/safetensors>`_
  file under its dotted path (``model.fc1.weight``, ``optimizer.state.0.exp_avg``);
- the rest of the tree, with each array replaced by a reference to its key, is written as
  JSON into the safetensors header's metadata (key ``"ember"``).

So one file holds everything and loading it can never run code (no pickle anywhere).
With ``sidecar=True`` the JSON is also written next to the file (``x.safetensors`` →
``x.json``), for people and tools that want to read it; ``load`` always reads the
embedded copy, so the one file is the single source of truth.

The arrays are streamed to the file one after the other, so saving needs almost no memory
beyond the arrays themselves. Writes to a path are atomic: the bytes go to a temporary file
beside the target (``.x.safetensors.<host>-<pid>.<random>.ember-tmp``), are flushed to disk
(``fsync``), and then ``os.replace`` swaps it in; a crash or an error midway leaves the
previous file untouched, and the next save of the same target deletes the temporaries
that killed saves left behind. A file object is simply written to, from its position.

``em.load(f)`` returns the tree as saved: tensors come back as ember ``Tensor`` s (with their
``requires_grad``; a ``Parameter`` as a ``Parameter``; one tensor saved under two names as one
object), NumPy arrays and NumPy scalars as themselves, tuples as tuples, and dicts keep their
key types (``int`` keys of an optimizer state stay ``int``), so
``model.load_state_dict(em.load(path))`` works directly. ``map_location`` places the tensors
as in ``torch.load``. Metadata that ``save`` cannot have written is refused with a
``ValueError`` naming the file and the field. Tensors in dtypes NumPy lacks (bfloat16 and
float8 from PyTorch) load as float32, with a warning.

Whole modules are saved as data, the way PyTorch 2.6+ loads them with ``weights_only=True``:
each module's class (module and qualified name), its ``training`` flag, its plain attributes
(numbers, strings, booleans, ``None``, tensors, arrays, dtypes, allowed classes, and lists,
tuples and dicts of those), its parameters, buffers and submodules. ``load`` rebuilds a module
without calling its ``__init__`` and only from allowed classes: every class defined in the
``ember`` package, and those the program allows with ``add_safe_globals([MyNet])`` or, for a
block, ``with safe_globals([MyNet]):``. Any other class is refused with an
``UnsupportedGlobalError`` (a ``pickle.UnpicklingError``, as PyTorch raises) that names it.
Nothing named in a file is ever imported: ember's classes are looked up in its modules already
imported (``import ember`` brings in ``nn``, ``models``, ``vision``, ``text``, ...). Functions
(say, an activation kept as an attribute) are allowed only through ``add_safe_globals``.

A file holding only what the first format version could hold is still written as version 1,
so older ember reads it; files with modules or parameters are version 2.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
from pathlib import Path

from ember.serialization.atomic import _replacing, atomic_write, sidecar_path
from ember.serialization.format import (
    _META_KEY,
    FORMAT,
    VERSION,
    _BadFieldError,
    _document,
    _read_arrays,
    _read_stream,
    _warn_widened,
    _write_safetensors,
)
from ember.serialization.modules import (
    UnsupportedGlobalError,
    add_safe_globals,
    clear_safe_globals,
    get_safe_globals,
    safe_globals,
)
from ember.serialization.tree import _Flattener, _placer, _Unflattener, flatten, unflatten

__all__ = ["FORMAT", "VERSION", "UnsupportedGlobalError", "add_safe_globals", "atomic_write", "clear_safe_globals",
           "flatten", "get_safe_globals", "load", "safe_globals", "save", "sidecar_path", "unflatten"]


def _as_path(f, what: str) -> Path:
    if isinstance(f, io.TextIOBase):
        raise TypeError(f"{what}: the file is open in text mode; open it in binary mode ('wb' or 'rb')")
    if isinstance(f, (str, os.PathLike)):
        return Path(f)
    raise TypeError(f"{what}: f must be a path (str or os.PathLike) or a binary file object, got {type(f).__name__}")


def save(obj, f, pickle_module=None, pickle_protocol=2, _use_new_zipfile_serialization=True,
         _disable_byteorder_record=False, *, sidecar: bool = False) -> None:
    """Save a tree of tensors, arrays, plain values and modules to ``f`` in safetensors format.

    ``obj`` may be a tensor, an array, a ``state_dict``, an optimizer state, a whole module, or
    any nesting (up to 100 levels) of dicts, lists and tuples of those and of numbers, strings,
    booleans and ``None``. ``f`` is a path — written atomically, see the module docs — or a
    binary file object, written from its position. The arrays are streamed to the file one by
    one, without a copy of the payload in memory. With ``sidecar=True`` (paths only) a readable
    JSON copy of the non-array part (plus the file's SHA-256) is written next to it.
    ``pickle_module``, ``pickle_protocol`` and the underscored arguments of ``torch.save`` are
    accepted and ignored: nothing is pickled.

    A module is saved with its class, attributes, parameters, buffers and submodules; an
    attribute that is none of numbers, strings, booleans, ``None``, tensors, arrays, dtypes,
    classes and containers of those (a lambda, an open file) is refused with a ``TypeError``
    naming it, and so are forward hooks.

    >>> em.save(model.state_dict(), "model.safetensors")
    >>> model.load_state_dict(em.load("model.safetensors"))
    >>> em.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": 3}, "ckpt.safetensors")
    """
    flattener = _Flattener()
    skeleton = flattener(obj, "")
    document = {"format": FORMAT, "version": flattener.version, "tree": skeleton}
    metadata = {_META_KEY: json.dumps(document, separators=(",", ":"))}
    if hasattr(f, "write") and not isinstance(f, io.TextIOBase):
        if sidecar:
            raise ValueError("save: sidecar=True needs a path to write the .json beside, not a file object")
        _write_safetensors(f, flattener.arrays, metadata)
        return
    path = _as_path(f, "save")
    digest = hashlib.sha256() if sidecar else None
    with _replacing(path) as out:
        _write_safetensors(out, flattener.arrays, metadata, digest)
    if sidecar:
        readable = dict(document, tensors=path.name, sha256=digest.hexdigest())
        atomic_write(sidecar_path(path), (json.dumps(readable, indent=1) + "\n").encode())


def load(f, map_location=None, pickle_module=None, *, weights_only=None, mmap=None, device=None,
         **pickle_load_args):
    """Load what ``save`` wrote from a path or a binary file object: the same tree, modules rebuilt.

    Tensors come back as ``Tensor`` s placed by ``map_location``, as in ``torch.load``: ``None``
    keeps the device each was saved from (a CUDA tensor needs CUDA, else ``RuntimeError``);
    ``'cpu'``, ``'cuda'``, ``'cuda:0'`` or a device object (anything whose ``str`` is one)
    puts all there; a dict maps saved locations (``{'cuda:0': 'cpu'}``); a callable is called
    as ``map_location(tensor_on_cpu, location)`` and its tensor used (``None``: the saved
    device). Device types ember has no backend for (``'mps'``, ``'xpu'``, ``'meta'``, ...) map
    to the CPU. ``device`` is ember's older spelling of a device ``map_location``.

    ember never unpickles: only safetensors and JSON are parsed, so loading an untrusted file
    cannot run code. A whole module is rebuilt without its ``__init__`` and only from an allowed
    class (ember's own, or those in ``add_safe_globals``); any other raises
    ``UnsupportedGlobalError`` naming it. With ``weights_only=False`` (the program trusts the file,
    as in PyTorch) the classes and functions of modules the program has already imported are
    allowed too, such as a model class defined in the script; still nothing is imported or run.
    ``pickle_module``, ``mmap`` and extra keyword arguments (``encoding=...``) are accepted and
    ignored.
    Metadata ``save`` cannot have written raises ``ValueError`` naming the file and the field.
    A plain safetensors file written by another tool loads as a flat dict of NumPy arrays;
    bfloat16 and float8 tensors (which NumPy lacks) load as float32, with a warning.

    >>> state = em.load("model.safetensors", map_location="cpu")
    >>> model = em.load(io.BytesIO(data))
    """
    if device is not None:
        if map_location is not None:
            raise ValueError("load: give map_location or device, not both")
        map_location = device
    place = _placer(map_location)
    if hasattr(f, "read") and not isinstance(f, io.TextIOBase):
        name = getattr(f, "name", None)
        where = f"load: {name!r}" if isinstance(name, str) else f"load: <{type(f).__name__}>"
        metadata, arrays, widened = _read_stream(f, where)
    else:
        path = _as_path(f, "load")
        if not path.exists():
            raise FileNotFoundError(f"load: no such file {str(path)!r}")
        where = f"load: {str(path)!r}"
        metadata, arrays, widened = _read_arrays(path, where)
    _warn_widened(widened, where)
    if _META_KEY not in metadata:
        return arrays
    document = _document(metadata[_META_KEY], where)
    try:
        return _Unflattener(arrays, place, trust_loaded=weights_only is False)(document["tree"], "")
    except _BadFieldError as err:
        raise ValueError(f"{where}: {err}") from None
    except UnsupportedGlobalError as err:
        raise UnsupportedGlobalError(f"{where}: {err}") from None

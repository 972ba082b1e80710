"""ember.serialization: safetensors + JSON round trips, no pickle, atomic writes."""
import json
import os
import pickle
import re
import signal
import struct
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import safetensors.numpy
from safetensors import safe_open

import ember as em
from ember import nn
from ember.serialization import flatten, load, save, sidecar_path


class _Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(em.randn(3, 4))
        self.bias = nn.Parameter(em.zeros(3))
        self.register_buffer("count", em.tensor(np.array([5], dtype=np.int64)))


def _read_header(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        return json.loads(f.read(n))


def test_nested_round_trip_keeps_types_dtypes_and_values(tmp_path):
    rng = np.random.default_rng(1)
    obj = {
        "f32": em.randn(2, 3),
        "f64": rng.normal(size=(4,)),
        "i64": np.arange(5, dtype=np.int64),
        "i32": np.arange(3, dtype=np.int32),
        "u8": np.array([0, 255], dtype=np.uint8),
        "bool": np.array([True, False, True]),
        "f16": np.ones((2, 2), dtype=np.float16),
        "scalar0d": np.array(7.5),
        "npscalar": np.float64(0.25),
        "empty": np.zeros((0, 3), dtype=np.float32),
        "nested": {"list": [1, 2.5, None, "text", True], "tuple": (np.ones(2), 3), "deep": {"x": {"y": em.ones(1)}}},
        "int_keys": {0: {"step": 3}, 1: {"step": 4}},
        "specials": [float("inf"), float("-inf")],
    }
    path = tmp_path / "state.safetensors"
    save(obj, path)
    back = load(path)
    assert set(back) == set(obj)
    assert isinstance(back["f32"], em.Tensor) and back["f32"].dtype == np.float32
    np.testing.assert_array_equal(back["f32"].numpy(), obj["f32"].numpy())
    for key in ("f64", "i64", "i32", "u8", "bool", "f16", "scalar0d", "empty"):
        assert isinstance(back[key], np.ndarray), key
        assert back[key].dtype == obj[key].dtype and back[key].shape == obj[key].shape, key
        np.testing.assert_array_equal(back[key], obj[key])
    assert type(back["npscalar"]) is np.float64 and back["npscalar"] == 0.25
    assert back["nested"]["list"] == [1, 2.5, None, "text", True]
    assert isinstance(back["nested"]["tuple"], tuple) and back["nested"]["tuple"][1] == 3
    np.testing.assert_array_equal(back["nested"]["deep"]["x"]["y"].numpy(), [1.0])
    assert back["int_keys"] == {0: {"step": 3}, 1: {"step": 4}}
    assert back["specials"] == [float("inf"), float("-inf")]
    nan = load(_save(tmp_path / "nan.safetensors", {"v": float("nan")}))["v"]
    assert np.isnan(nan)


def _save(path, obj):
    save(obj, path)
    return path


def test_rng_state_with_big_ints_round_trips_and_reproduces_draws(tmp_path):
    em.manual_seed(123)
    em.randn(10)
    state = em.get_rng_state()
    assert state["state"]["state"] > 2**64  # PCG64's 128-bit state does not fit int64
    path = _save(tmp_path / "rng.safetensors", {"rng": state})
    expected = em.randn(5).numpy()
    em.manual_seed(0)
    em.set_rng_state(load(path)["rng"])
    np.testing.assert_array_equal(em.randn(5).numpy(), expected)


def test_model_state_dict_loads_back_into_a_fresh_model(tmp_path):
    model = _Tiny()
    path = _save(tmp_path / "model.safetensors", model.state_dict())
    fresh = _Tiny()
    assert not np.array_equal(fresh.weight.detach().numpy(), model.weight.detach().numpy())
    fresh.load_state_dict(load(path))
    for (k, a), (_, b) in zip(model.state_dict().items(), fresh.state_dict().items(), strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=k)


def test_top_level_save_and_load_are_these(tmp_path):
    model = _Tiny()
    em.save(model.state_dict(), tmp_path / "m.safetensors")
    fresh = _Tiny()
    fresh.load_state_dict(em.load(tmp_path / "m.safetensors"))
    np.testing.assert_array_equal(fresh.weight.detach().numpy(), model.weight.detach().numpy())
    assert em.save is save and em.load is load


def test_file_is_plain_safetensors_with_dotted_keys(tmp_path):
    path = _save(tmp_path / "m.safetensors", {"model": {"fc1": {"weight": np.ones((2, 3), np.float32)}}, "epoch": 4})
    header = _read_header(path)
    assert header["model.fc1.weight"]["dtype"] == "F32" and header["model.fc1.weight"]["shape"] == [2, 3]
    meta = json.loads(header["__metadata__"]["ember"])
    assert meta["tree"]["epoch"] == 4
    arrays = safetensors.numpy.load_file(str(path))  # any safetensors reader opens it
    assert list(arrays) == ["model.fc1.weight"]


def test_no_pickle_is_involved(tmp_path, monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("pickle must not be used")

    for name in ("dumps", "dump", "loads", "load", "Unpickler", "Pickler"):
        monkeypatch.setattr(pickle, name, forbidden)
    path = _save(tmp_path / "s.safetensors", {"w": em.randn(3), "rng": em.get_rng_state(), "k": {1: "a"}})
    assert load(path)["k"] == {1: "a"}


def test_plain_safetensors_from_another_tool_loads_as_arrays(tmp_path):
    path = tmp_path / "other.safetensors"
    safetensors.numpy.save_file({"a": np.arange(4, dtype=np.float32)}, str(path))
    back = load(path)
    np.testing.assert_array_equal(back["a"], np.arange(4, dtype=np.float32))


def test_load_device_and_missing_file(tmp_path):
    path = _save(tmp_path / "t.safetensors", {"w": em.ones(2)})
    assert load(path, device="cpu")["w"].device == "cpu"
    with pytest.raises(FileNotFoundError, match="nope.safetensors"):
        load(tmp_path / "nope.safetensors")
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a safetensors file at all")
    with pytest.raises(ValueError, match="not a valid safetensors"):
        load(bad)


def test_unsupported_leaves_give_clear_errors(tmp_path):
    with pytest.raises(TypeError, match="cannot serialise a object at 'a.b'"):
        save({"a": {"b": object()}}, tmp_path / "x.safetensors")
    with pytest.raises(TypeError, match="dtype <U1"):
        save({"s": np.array(["x"])}, tmp_path / "x.safetensors")
    assert not (tmp_path / "x.safetensors").exists()


def test_key_collisions_are_disambiguated():
    _, arrays = flatten({"a.b": np.zeros(1), "a": {"b": np.ones(1)}})
    assert len(arrays) == 2


def test_failed_write_leaves_old_file_intact_and_no_temp_files(tmp_path, monkeypatch):
    path = _save(tmp_path / "ckpt.safetensors", {"v": np.array([1.0])})
    before = path.read_bytes()

    def broken_fsync(fd):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="disk full"):
        save({"v": np.array([2.0])}, path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt.safetensors"]
    np.testing.assert_array_equal(load(path)["v"], [1.0])


def test_sidecar_is_readable_json_matching_the_file(tmp_path):
    import hashlib

    path = _save(tmp_path / "c.safetensors", {"w": em.ones(2)})
    assert not sidecar_path(path).exists()
    save({"w": em.ones(2), "epoch": 3}, path, sidecar=True)
    side = json.loads(sidecar_path(path).read_text())
    assert sidecar_path(path).name == "c.json"
    assert side["tree"]["epoch"] == 3 and side["tree"]["w"]["shape"] == [2]
    assert side["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert sidecar_path(tmp_path / "c.ckpt").name == "c.ckpt.json"


# -- temporaries ------------------------------------------------------------------------------


def test_temporary_file_is_named_after_its_target(tmp_path, monkeypatch):
    seen, replace = [], os.replace
    monkeypatch.setattr(os, "replace", lambda src, dst: (seen.append(Path(src)), replace(src, dst)))
    save({"v": np.ones(2)}, tmp_path / "ckpt.safetensors")
    assert len(seen) == 1 and seen[0].parent == tmp_path
    assert re.fullmatch(r"\.ckpt\.safetensors\.[0-9a-f]{8}-\d+\.\w+\.ember-tmp", seen[0].name), seen[0].name


_KILLED_SAVE = """
import os, signal, sys
import numpy as np
from ember.serialization import save
os.fsync = lambda fd: os.kill(os.getpid(), signal.SIGKILL)  # die after the bytes are written, before the rename
save({"v": np.ones(1000)}, sys.argv[1])
"""


def _killed_save(path):
    """Run a save in another process that is killed midway; return the temporary it leaves behind."""
    done = subprocess.run([sys.executable, "-c", _KILLED_SAVE, str(path)], capture_output=True, timeout=60)
    assert done.returncode == -signal.SIGKILL, done.stderr.decode()
    left = [p for p in path.parent.iterdir() if p.name.startswith(f".{path.name}.")]
    assert len(left) == 1 and left[0].name.endswith(".ember-tmp"), left
    return left[0]


def test_next_save_removes_temporaries_of_killed_saves_of_the_same_target_only(tmp_path):
    path = _save(tmp_path / "ckpt.safetensors", {"v": np.zeros(2)})
    dead = _killed_save(path)
    owner = re.search(r"-(\d+)\.\w+\.ember-tmp$", dead.name).group(1)
    live = tmp_path / dead.name.replace(f"-{owner}.", f"-{os.getpid()}.")  # a concurrent save in progress
    other = tmp_path / dead.name.replace(".ckpt.safetensors.", ".other.safetensors.")
    prefix = tmp_path / dead.name.replace(".ckpt.safetensors.", ".ckpt.")  # target "ckpt", not "ckpt.safetensors"
    stuck = tmp_path / live.name.replace(".ember-tmp", "x.ember-tmp")  # untouched for two hours
    for p in (live, other, prefix, stuck):
        p.write_bytes(b"partial")
    os.utime(stuck, (time.time() - 7200, time.time() - 7200))
    save({"v": np.ones(2)}, path)
    assert not dead.exists() and not stuck.exists()
    assert live.exists() and other.exists() and prefix.exists()
    np.testing.assert_array_equal(load(path)["v"], [1.0, 1.0])


# -- the file format: streamed, readable by any safetensors reader -----------------------------


def test_save_streams_arrays_without_a_copy_of_the_payload(tmp_path):
    state = {f"layer{i}": np.full((1024, 1024), i, dtype=np.float32) for i in range(16)}  # 64 MiB
    payload = sum(a.nbytes for a in state.values())
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        save(state, tmp_path / "big.safetensors", sidecar=True)
        extra = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    assert extra < 0.5 * payload, f"save needed {extra / payload:.2f}x the payload in extra memory"
    with safe_open(str(tmp_path / "big.safetensors"), framework="np") as f:
        assert f.get_tensor("layer7")[3, 5] == 7.0


def test_file_reads_back_in_safetensors_and_torch(tmp_path):
    import safetensors.torch

    arrays = {
        "f32": np.arange(12, dtype=np.float32).reshape(3, 4), "f64": np.linspace(0, 1, 5),
        "f16": np.array([0.5, -2.0], dtype=np.float16), "i64": np.arange(-2, 3), "i32": np.arange(3, dtype=np.int32),
        "i8": np.array([-7, 7], dtype=np.int8), "u8": np.array([0, 255], dtype=np.uint8),
        "bool": np.array([True, False]), "scalar": np.array(2.5), "empty": np.zeros((0, 3), np.float32),
        "strided": np.arange(20.0).reshape(4, 5)[:, ::2], "big_endian": np.arange(4, dtype=">f4"),
    }
    path = _save(tmp_path / "all.safetensors", arrays)
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    assert n % 8 == 0 and raw[8:9] == b"{"
    with safe_open(str(path), framework="np") as f:
        assert set(f.keys()) == set(arrays) and json.loads(f.metadata()["ember"])["format"] == "ember"
        for key, a in arrays.items():
            np.testing.assert_array_equal(f.get_tensor(key), a, err_msg=key)
    for key, t in safetensors.torch.load_file(str(path)).items():
        assert tuple(t.shape) == arrays[key].shape, key
        np.testing.assert_array_equal(t.numpy(), arrays[key], err_msg=key)
    back = load(path)
    assert back["big_endian"].dtype == np.float32 and back["strided"].shape == (4, 3)


def test_deeply_nested_trees_are_refused_on_save(tmp_path):
    deep = [1.0]
    for _ in range(200):
        deep = [deep]
    with pytest.raises(ValueError, match="nested more than"):
        save({"deep": deep}, tmp_path / "deep.safetensors")
    assert not (tmp_path / "deep.safetensors").exists()


# -- crafted metadata: clear errors naming the file and the field ------------------------------


def _crafted(tmp_path, document):
    """A valid safetensors file (one tensor, 'w') whose ember metadata is ``document`` (JSON text or a tree)."""
    text = document if isinstance(document, str) else json.dumps(document)
    path = tmp_path / "crafted.safetensors"
    safetensors.numpy.save_file({"w": np.ones(2, np.float32)}, str(path), metadata={"ember": text})
    return path


def _tree(node):
    return {"format": "ember", "version": 1, "tree": {"model": {"fc": {"weight": node}}}}


_FIELD = "metadata field 'model.fc.weight'"
_NESTED = "[" * 100_000 + "]" * 100_000
_CRAFTED = {
    "not-json": ("{", "metadata field 'ember' is not valid JSON"),
    "json-too-deep": ('{"format": "ember", "version": 1, "tree": ' + _NESTED + "}", "nested too deeply"),
    "tree-too-deep": (_tree(json.loads("[" * 500 + "]" * 500)),
                      r"'model\.fc\.weight(\.0)+' is nested more than \d+ levels"),
    "not-an-object": ("[1, 2]", "metadata field 'ember' is not a JSON object"),
    "version-a-string": ({"format": "ember", "version": "1", "tree": {}}, "unsupported format 'ember' version '1'"),
    "future-version": ({"format": "ember", "version": 99, "tree": {}}, "unsupported format 'ember' version 99"),
    "unknown-format": ({"format": "other", "version": 1, "tree": {}}, "unsupported format 'other'"),
    "no-tree": ({"format": "ember", "version": 1}, "metadata field 'tree' is missing"),
    "missing-tensor": (_tree({"__array__": "nope", "kind": "tensor"}),
                       _FIELD + " refers to a missing tensor 'nope'"),
    "key-not-a-string": (_tree({"__array__": ["w"], "kind": "tensor"}),
                         _FIELD + " refers to a missing tensor \\['w'\\]"),
    "no-kind": (_tree({"__array__": "w"}), _FIELD + " has an unknown kind None"),
    "unknown-kind": (_tree({"__array__": "w", "kind": "blob"}), _FIELD + " has an unknown kind"),
    "tuple-not-a-list": (_tree({"__tuple__": 5}), _FIELD + " holds a __tuple__ that is not a list"),
    "dict-not-pairs": (_tree({"__dict__": 5}), _FIELD + " holds a __dict__ that is not a list"),
    "dict-short-pair": (_tree({"__dict__": [[1]]}), _FIELD + " holds a __dict__ that is not"),
    "dict-list-key": (_tree({"__dict__": [[[1], 2]]}), _FIELD + " has a key of type list"),
    "float-not-a-number": (_tree({"__float__": "abc"}), _FIELD + " holds a bad __float__ 'abc'"),
    "float-not-a-string": (_tree({"__float__": 5}), _FIELD + " holds a bad __float__ 5"),
}


@pytest.mark.parametrize("document, message", _CRAFTED.values(), ids=_CRAFTED.keys())
def test_crafted_metadata_gives_an_error_naming_the_file_and_the_field(tmp_path, document, message):
    path = _crafted(tmp_path, document)
    with pytest.raises(ValueError, match=message) as info:
        load(path)
    assert str(path) in str(info.value)


# -- files written by PyTorch ------------------------------------------------------------------


def test_bfloat16_and_float8_from_torch_load_as_float32_with_a_warning(tmp_path):
    import safetensors.torch
    import torch

    values = torch.tensor([[1.5, -3.25, 1e-3], [65504.0, -0.0, 3e38]])
    tensors = {"bf16": values.to(torch.bfloat16), "e4m3": values[:, :2].clamp(-448, 448).to(torch.float8_e4m3fn),
               "e5m2": values[:, :2].to(torch.float8_e5m2), "f16": values[:, :2].to(torch.float16)}
    path = tmp_path / "torch.safetensors"
    safetensors.torch.save_file(tensors, str(path))
    with pytest.warns(UserWarning, match="bfloat16.*float32") as record:
        back = load(path)
    messages = sorted(str(w.message) for w in record)
    assert [m.split(" (")[0] for m in messages] == [f"load: {str(path)!r}: 1 tensor(s) in {name}"
                                                    for name in ("bfloat16", "float8_e4m3fn", "float8_e5m2")]
    for key, t in tensors.items():
        expected = t.float().numpy() if key != "f16" else t.numpy()
        assert back[key].dtype == expected.dtype, key
        np.testing.assert_array_equal(back[key], expected, err_msg=key)


def test_dtypes_numpy_cannot_hold_give_a_clear_error(tmp_path):
    import safetensors.torch
    import torch

    path = tmp_path / "fnuz.safetensors"
    safetensors.torch.save_file({"q": torch.zeros(2).to(torch.float8_e4m3fnuz)}, str(path))
    with pytest.raises(ValueError, match="tensor 'q' has dtype F8_E4M3FNUZ, which ember cannot load"):
        load(path)

"""ember.serialization: safetensors + JSON round trips, no pickle, atomic writes."""
import json
import os
import pickle
import struct

import numpy as np
import pytest
import safetensors.numpy

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

"""em.save / em.load with torch.save's and torch.load's API: file objects, map_location, whole modules."""
import io
import json
import pickle
import struct
import sys
import tracemalloc

import numpy as np
import pytest
import safetensors.numpy

import ember as em
import ember.models
from ember import nn, optim
from ember.serialization import (
    UnsupportedGlobalError,
    add_safe_globals,
    clear_safe_globals,
    get_safe_globals,
    load,
    safe_globals,
    save,
)


@pytest.fixture(autouse=True)
def _empty_allowlist():
    clear_safe_globals()
    yield
    clear_safe_globals()


def _assert_same(a, b, where="<root>"):
    """``b`` equals ``a`` in type and value, all the way down (tensors and arrays compared exactly)."""
    assert type(b) is type(a), f"{where}: {type(a).__name__} came back as {type(b).__name__}"
    if isinstance(a, em.Tensor):
        assert b.dtype == a.dtype and b.shape == a.shape and b.requires_grad == a.requires_grad, where
        np.testing.assert_array_equal(b.detach().numpy(), a.detach().numpy(), err_msg=where)
    elif isinstance(a, np.ndarray):
        assert b.dtype == a.dtype, where
        np.testing.assert_array_equal(b, a, err_msg=where)
    elif isinstance(a, dict):
        assert list(b) == list(a), where
        for k in a:
            _assert_same(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, (list, tuple)):
        assert len(b) == len(a), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _assert_same(x, y, f"{where}.{i}")
    else:
        assert b == a, where


def _round_trip(obj, **load_kwargs):
    f = io.BytesIO()
    save(obj, f)
    f.seek(0)
    return load(f, **load_kwargs)


def _tree():
    return {"w": em.randn(2, 3), "a": np.arange(4, dtype=np.int32), "n": np.float64(0.5), "s": "text",
            "none": None, "t": (1, [2.5, True]), 3: {"deep": [em.ones(1)]}}


# -- paths and file objects ----------------------------------------------------------------------


def test_paths_and_file_objects_write_the_same_bytes_and_read_back_the_same_tree(tmp_path):
    obj = _tree()
    save(obj, str(tmp_path / "a.safetensors"))
    save(obj, tmp_path / "b.safetensors")
    buffer = io.BytesIO()
    save(obj, buffer)
    with open(tmp_path / "c.safetensors", "wb") as f:
        save(obj, f)
    raw = (tmp_path / "a.safetensors").read_bytes()
    assert buffer.getvalue() == raw
    assert (tmp_path / "b.safetensors").read_bytes() == raw == (tmp_path / "c.safetensors").read_bytes()
    with open(tmp_path / "c.safetensors", "rb") as f:
        from_file = load(f)
    for back in (load(str(tmp_path / "a.safetensors")), load(tmp_path / "b.safetensors"), load(io.BytesIO(raw)),
                 from_file):
        _assert_same(obj, back)


def test_a_file_object_is_read_from_its_position_and_left_after_the_object(tmp_path):
    f = io.BytesIO()
    f.write(b"header!")
    save({"x": em.arange(3)}, f)
    save([1, "two"], f)
    f.seek(7)
    np.testing.assert_array_equal(load(f)["x"].numpy(), [0, 1, 2])
    assert load(f) == [1, "two"]


def test_load_from_a_file_object_needs_about_the_payload_in_memory():
    state = {f"layer{i}": np.full((512, 1024), i, dtype=np.float32) for i in range(8)}  # 16 MiB
    payload = sum(a.nbytes for a in state.values())
    f = io.BytesIO()
    save(state, f)
    f.seek(0)
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        back = load(f)
        extra = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    assert extra < 1.25 * payload, f"load needed {extra / payload:.2f}x the payload"
    assert back["layer5"][7, 9] == 5.0
    back["layer5"][0, 0] = -1.0  # writable, as a loaded array must be


def test_bad_targets_and_bad_streams_give_clear_errors(tmp_path):
    with pytest.raises(TypeError, match="path .* or a binary file object, got int"):
        save({"x": 1}, 3)
    with pytest.raises(TypeError, match="got list"):
        load([1])
    with pytest.raises(ValueError, match="sidecar=True needs a path"):
        save({"x": 1}, io.BytesIO(), sidecar=True)
    f = io.BytesIO()
    save({"w": np.ones(100)}, f)
    with pytest.raises(ValueError, match=r"load: <BytesIO> is not a valid safetensors file \(it ends after"):
        load(io.BytesIO(f.getvalue()[:-8]))
    with pytest.raises(ValueError, match="not a valid safetensors file"):
        load(io.BytesIO(struct.pack("<Q", 2) + b"{["))
    (tmp_path / "t.safetensors").write_bytes(f.getvalue())
    with open(tmp_path / "t.safetensors") as text, pytest.raises(TypeError, match="text mode"):
        load(text)
    with open(tmp_path / "u.safetensors", "w") as text, pytest.raises(TypeError, match="text mode"):
        save({"x": 1}, text)


def test_a_stream_with_gaps_or_wrong_sizes_is_refused():
    def stream(header, payload):
        text = json.dumps(header).encode()
        return io.BytesIO(struct.pack("<Q", len(text)) + text + payload)

    with pytest.raises(ValueError, match="takes 4 bytes, its shape and dtype need 8"):
        load(stream({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}}, bytes(4)))
    with pytest.raises(ValueError, match="starts at byte 4, not at 0"):
        load(stream({"a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}, bytes(8)))
    with pytest.raises(ValueError, match="tensor 'a' has dtype F8_E4M3FNUZ, which ember cannot load"):
        load(stream({"a": {"dtype": "F8_E4M3FNUZ", "shape": [1], "data_offsets": [0, 1]}}, bytes(1)))
    plain = load(stream({"a": {"dtype": "I16", "shape": [2], "data_offsets": [0, 4]}}, b"\x01\x00\xff\xff"))
    np.testing.assert_array_equal(plain["a"], np.array([1, -1], np.int16))


def test_bfloat16_from_torch_loads_from_a_file_object_too():
    import safetensors.torch
    import torch

    values = torch.tensor([1.5, -3.25, 65504.0])
    raw = safetensors.torch.save({"bf": values.to(torch.bfloat16)})
    with pytest.warns(UserWarning, match="load: <BytesIO>: 1 tensor\\(s\\) in bfloat16"):
        back = load(io.BytesIO(raw))
    np.testing.assert_array_equal(back["bf"], values.to(torch.bfloat16).float().numpy())


# -- what round-trips ----------------------------------------------------------------------------


@pytest.mark.parametrize("obj", [
    np.arange(6.0).reshape(2, 3), np.array(3, dtype=np.int8), em.randn(3, 2), em.randn(2, requires_grad=True),
    3, 0.25, float("inf"), "text", None, True, (1, "a", None), [np.ones(2), (em.zeros(1), {"k": [None]})],
    {"a": {"b": {"c": 1}}, 0: "int key", "__x": 2},
], ids=lambda o: type(o).__name__)
def test_anything_torch_save_takes_in_practice_comes_back_as_it_went_in(obj):
    _assert_same(obj, _round_trip(obj))


def test_one_tensor_under_two_names_comes_back_as_one_object():
    t = em.randn(3)
    back = _round_trip({"a": t, "b": [t], "c": t.detach()})
    assert back["a"] is back["b"][0] and back["c"] is not back["a"]


def test_a_checkpoint_with_model_and_optimizer_state_comes_back_and_resumes_training(tmp_path):
    em.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    opt = optim.Adam(model.parameters(), lr=0.01, betas=(0.8, 0.9))
    x, y = em.randn(16, 4), em.randn(16, 2)

    def step(m, o):
        o.zero_grad()
        loss = ((m(x) - y) ** 2).mean()
        loss.backward()
        o.step()

    for _ in range(3):
        step(model, opt)
    checkpoint = {"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": 3, "loss": 0.25}
    save(checkpoint, tmp_path / "ckpt.safetensors")
    back = load(tmp_path / "ckpt.safetensors")
    _assert_same(checkpoint["epoch"], back["epoch"])
    assert back["loss"] == 0.25 and list(back) == ["model", "optimizer", "epoch", "loss"]
    for key in ("model", "optimizer"):
        _assert_same({k: v for k, v in checkpoint[key].items()}, {k: v for k, v in back[key].items()}, key)
    assert set(back["optimizer"]["state"]) == {0, 1, 2, 3}
    fresh = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    fresh_opt = optim.Adam(fresh.parameters(), lr=0.5)
    fresh.load_state_dict(back["model"])
    fresh_opt.load_state_dict(back["optimizer"])
    step(model, opt)
    step(fresh, fresh_opt)
    for (k, a), b in zip(model.state_dict().items(), fresh.state_dict().values(), strict=True):
        np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-6, atol=1e-7, err_msg=k)


def test_state_dicts_are_still_written_as_version_1_for_older_ember():
    f = io.BytesIO()
    save({"model": nn.Linear(2, 3).state_dict(), "epoch": 1}, f)
    n = struct.unpack("<Q", f.getvalue()[:8])[0]
    assert json.loads(json.loads(f.getvalue()[8:8 + n])["__metadata__"]["ember"])["version"] == 1
    f = io.BytesIO()
    save(nn.Linear(2, 3), f)
    n = struct.unpack("<Q", f.getvalue()[:8])[0]
    assert json.loads(json.loads(f.getvalue()[8:8 + n])["__metadata__"]["ember"])["version"] == 2


def test_a_file_written_by_older_ember_still_loads(tmp_path):
    # Byte for byte what ember's first format wrote: nodes with "__array__"/"kind", "__dict__" pairs, "__tuple__".
    tree = {"model": {"fc": {"weight": {"__array__": "model.fc.weight", "kind": "tensor", "dtype": "float32",
                                        "shape": [2, 2]}}},
            "optimizer": {"state": {"__dict__": [[0, {"step": 3, "exp_avg": {"__array__": "optimizer.state.0.exp_avg",
                                                                             "kind": "tensor"}}]]},
                          "param_groups": [{"lr": 0.1, "betas": {"__tuple__": [0.9, 0.999]}, "params": [0]}]},
            "mean": {"__array__": "mean", "kind": "ndarray"}, "seed": {"__array__": "seed", "kind": "scalar"},
            "best": {"__float__": "inf"}}
    arrays = {"model.fc.weight": np.eye(2, dtype=np.float32), "optimizer.state.0.exp_avg": np.ones(2, np.float32),
              "mean": np.arange(3.0), "seed": np.array(7, np.int64)}
    path = tmp_path / "old.safetensors"
    safetensors.numpy.save_file(arrays, str(path), metadata={"ember": json.dumps(
        {"format": "ember", "version": 1, "tree": tree})})
    back = load(path)
    assert isinstance(back["model"]["fc"]["weight"], em.Tensor) and back["model"]["fc"]["weight"].shape == (2, 2)
    assert back["optimizer"]["state"][0]["step"] == 3
    assert back["optimizer"]["param_groups"][0]["betas"] == (0.9, 0.999)
    assert type(back["seed"]) is np.int64 and back["seed"] == 7 and back["best"] == float("inf")
    np.testing.assert_array_equal(back["mean"], np.arange(3.0))


def test_the_allowlist_functions_are_reachable_as_in_pytorch():
    assert em.serialization.add_safe_globals is add_safe_globals and em.serialization.safe_globals is safe_globals
    assert issubclass(UnsupportedGlobalError, pickle.UnpicklingError)


def test_torch_only_arguments_are_accepted_and_nothing_is_pickled(monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("pickle must not be used")

    for name in ("dumps", "dump", "loads", "load", "Unpickler", "Pickler"):
        monkeypatch.setattr(pickle, name, forbidden)
    model = nn.Sequential(nn.Linear(2, 2))
    f = io.BytesIO()
    save(model, f, pickle_module=pickle, pickle_protocol=4, _use_new_zipfile_serialization=False)
    for kwargs in ({"weights_only": True}, {"weights_only": False}, {"pickle_module": pickle}, {"mmap": True},
                   {"encoding": "latin1"}):
        f.seek(0)
        assert isinstance(load(f, **kwargs), nn.Sequential), kwargs


# -- map_location --------------------------------------------------------------------------------


def test_map_location_strings_device_objects_dicts_and_callables_put_tensors_on_the_cpu():
    import torch

    seen = []

    def on_cpu(storage, location):
        seen.append((type(storage).__name__, location))
        return storage

    for where in ("cpu", torch.device("cpu"), {"cuda:0": "cpu"}, on_cpu, lambda storage, loc: None, "mps", "meta"):
        back = _round_trip({"w": em.ones(2), "a": np.ones(2)}, map_location=where)
        assert back["w"].device == "cpu" and isinstance(back["a"], np.ndarray), where
    assert seen == [("Tensor", "cpu")]
    assert _round_trip({"w": em.ones(2)}, device="cpu")["w"].device == "cpu"
    with pytest.raises(ValueError, match="map_location 'tpu' names no device"):
        _round_trip({"w": em.ones(2)}, map_location="tpu")
    with pytest.raises(ValueError, match="not both"):
        _round_trip({"w": em.ones(2)}, map_location="cpu", device="cpu")
    with pytest.raises(TypeError, match="map_location returned a int"):
        _round_trip({"w": em.ones(2)}, map_location=lambda storage, loc: 3)


def _rewritten(raw: bytes, mutate) -> bytes:
    """The file ``raw`` with its ember document changed by ``mutate(document)`` (arrays kept)."""
    n = struct.unpack("<Q", raw[:8])[0]
    document = json.loads(json.loads(raw[8:8 + n])["__metadata__"]["ember"])
    mutate(document)
    return safetensors.numpy.save(safetensors.numpy.load(raw), metadata={"ember": json.dumps(document)})


def _saved_on_cuda():
    """A file whose tensor was saved from a GPU (as ember writes one there)."""
    f = io.BytesIO()
    save({"w": em.ones(2), "n": 1}, f)
    return _rewritten(f.getvalue(), lambda document: document["tree"]["w"].update(device="cuda"))


def test_tensors_saved_on_a_gpu_follow_map_location():
    raw = _saved_on_cuda()
    for where in ("cpu", {"cuda:0": "cpu"}, {"cuda": "cpu"}):
        assert load(io.BytesIO(raw), map_location=where)["w"].device == "cpu", where
    locations = []
    load(io.BytesIO(raw), map_location=lambda storage, loc: locations.append(loc) or storage)
    assert locations == ["cuda:0"]
    if em.cuda_available():
        assert load(io.BytesIO(raw))["w"].device == "cuda"
    else:
        with pytest.raises(RuntimeError, match="saved on a CUDA device.*map_location='cpu'"):
            load(io.BytesIO(raw))


# -- whole modules -------------------------------------------------------------------------------


class _Blocks(nn.Module):
    def __init__(self):
        super().__init__()
        self.convs = nn.ModuleList([nn.Conv2d(2, 4, 3, padding=1), nn.Conv2d(4, 4, 3, padding="same")])
        self.norms = nn.ModuleDict({"a": nn.BatchNorm2d(4), "b": nn.GroupNorm(2, 4)})
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(0.3), nn.Linear(4 * 5 * 5, 3))

    def forward(self, x):
        x = self.norms["a"](self.convs[0](x)).relu()
        return self.head(self.norms["b"](self.convs[1](x)))


def _modules():
    """(name, module factory, input factory): ember layers and models of every family."""
    return [
        ("sequential", lambda: nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                                             nn.Flatten(), nn.Linear(4 * 3 * 3, 5)), lambda: em.randn(2, 1, 8, 8)),
        ("containers", _Blocks, lambda: em.randn(2, 2, 5, 5)),
        ("lstm", lambda: nn.LSTM(4, 5, num_layers=2, batch_first=True, bidirectional=True),
         lambda: em.randn(2, 3, 4)),
        ("gru", lambda: nn.GRU(4, 3), lambda: em.randn(3, 2, 4)),
        ("embedding", lambda: nn.Sequential(nn.Embedding(10, 4, padding_idx=0), nn.LayerNorm(4)),
         lambda: em.tensor(np.array([[1, 0, 9]]))),
        ("lenet5", ember.models.lenet5, lambda: em.randn(1, 1, 28, 28)),
        ("resnet18", lambda: ember.models.resnet18(num_classes=3), lambda: em.randn(1, 3, 32, 32)),
    ]


@pytest.mark.parametrize("name, make, make_input", _modules(), ids=[m[0] for m in _modules()])
def test_a_module_saved_whole_loads_with_equal_outputs_and_state(tmp_path, name, make, make_input):
    add_safe_globals([_Blocks])
    em.manual_seed(0)
    model = make()
    model.eval()
    path = tmp_path / f"{name}.safetensors"
    save(model, path)
    back = load(path)
    assert type(back) is type(model) and repr(back) == repr(model)
    x = make_input()
    out, out_back = model(x), back(x)
    out, out_back = (out[0], out_back[0]) if isinstance(out, tuple) else (out, out_back)
    np.testing.assert_array_equal(out_back.detach().numpy(), out.detach().numpy())
    _assert_same(dict(model.state_dict()), dict(back.state_dict()))
    for (k, m), (_, b) in zip(model.named_modules(), back.named_modules(), strict=True):
        assert type(b) is type(m) and b.training == m.training, k
    for (k, p), (_, q) in zip(model.named_parameters(), back.named_parameters(), strict=True):
        assert type(q) is nn.Parameter and q.requires_grad == p.requires_grad, k


def test_training_flags_frozen_weights_and_non_persistent_buffers_are_kept():
    add_safe_globals([_Blocks])
    model = _Blocks()
    model.train()
    model.head.eval()
    model.convs[0].requires_grad_(False)
    model.norms["a"].register_buffer("scratch", em.zeros(2), persistent=False)
    back = _round_trip(model)
    assert back.training and back.convs.training and not back.head.training and not back.head[1].training
    assert not back.convs[0].weight.requires_grad and back.convs[1].weight.requires_grad
    assert "scratch" in back.norms["a"]._buffers and "norms.a.scratch" not in back.state_dict()
    back.train()  # the rebuilt modules behave as modules
    assert back.head[1].training


def test_tied_weights_and_shared_submodules_stay_shared():
    class Tied(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(6, 4)
            self.out = nn.Linear(4, 6, bias=False)
            self.out.weight = self.embed.weight
            self.block = nn.Linear(4, 4)
            self.again = self.block

    add_safe_globals([Tied])
    back = _round_trip(Tied())
    assert back.out.weight is back.embed.weight and back.again is back.block
    assert len(list(back.parameters())) == 3


def test_a_lazy_layer_saved_before_its_first_forward_is_still_lazy():
    net = nn.Sequential(nn.LazyLinear(3), nn.ReLU())
    back = _round_trip(net)
    assert type(back[0]) is nn.LazyLinear and type(back[0].weight) is nn.UninitializedParameter
    x = em.randn(2, 5)
    net(x), back(x)
    assert type(back[0]) is nn.Linear and back[0].weight.shape == (3, 5) and back[0].in_features == 5
    again = _round_trip(net)
    np.testing.assert_array_equal(again(x).detach().numpy(), net(x).detach().numpy())


class MyNet(nn.Module):
    inits = 0

    def __init__(self, hidden=3):
        super().__init__()
        MyNet.inits += 1
        self.hidden, self.scale, self.name = hidden, 0.5, "mine"
        self.fc = nn.Linear(2, hidden)

    def forward(self, x):
        return self.fc(x) * self.scale


def test_a_class_of_the_program_is_refused_until_allowed():
    model = MyNet()
    name = f"{MyNet.__module__}.MyNet"
    f = io.BytesIO()
    save(model, f)
    allow = r"add_safe_globals\(\[MyNet\]\)"
    with pytest.raises(pickle.UnpicklingError, match=rf"Unsupported global: GLOBAL {name} .*{allow}"):
        load(io.BytesIO(f.getvalue()))
    with pytest.raises(UnsupportedGlobalError, match=r"load: <BytesIO>: .*safe_globals\(\[MyNet\]\)"):
        load(io.BytesIO(f.getvalue()), weights_only=True)
    inits = MyNet.inits
    with safe_globals([MyNet]):
        back = load(io.BytesIO(f.getvalue()))
        assert get_safe_globals() == [MyNet]
    assert get_safe_globals() == []
    assert MyNet.inits == inits, "load must not call __init__"
    assert type(back) is MyNet and (back.hidden, back.scale, back.name) == (3, 0.5, "mine")
    x = em.randn(4, 2)
    np.testing.assert_array_equal(back(x).detach().numpy(), model(x).detach().numpy())
    with pytest.raises(UnsupportedGlobalError):
        load(io.BytesIO(f.getvalue()))
    # A class saved under a name it no longer has is allowed as (class, "old.name").
    renamed = _rewritten(f.getvalue(), lambda d: d["tree"]["__module__"].update(module="old_module", qualname="Net"))
    with pytest.raises(UnsupportedGlobalError, match="GLOBAL old_module.Net"):
        load(io.BytesIO(renamed), weights_only=False)  # trusting the file still imports nothing
    add_safe_globals([(MyNet, "old_module.Net")])
    assert get_safe_globals() == [(MyNet, "old_module.Net")]
    assert type(load(io.BytesIO(renamed))) is MyNet
    clear_safe_globals()
    assert get_safe_globals() == []
    with pytest.raises(TypeError, match="is not a class, a function"):
        add_safe_globals([3])


def test_weights_only_false_trusts_the_classes_the_program_has_imported():
    """As ``torch.load(path, weights_only=False)`` loads a whole model saved with ``torch.save(model, path)``."""
    model = MyNet()
    f = io.BytesIO()
    save(model, f)
    inits = MyNet.inits
    back = load(io.BytesIO(f.getvalue()), weights_only=False)
    assert type(back) is MyNet and MyNet.inits == inits and get_safe_globals() == []
    x = em.randn(4, 2)
    np.testing.assert_array_equal(back(x).detach().numpy(), model(x).detach().numpy())
    function_named = _rewritten(f.getvalue(), lambda d: d["tree"]["__module__"].update(module="json", qualname="dumps"))
    with pytest.raises(ValueError, match="not an nn.Module"):  # a function where a module class belongs
        load(io.BytesIO(function_named), weights_only=False)
    with pytest.raises(UnsupportedGlobalError):
        load(io.BytesIO(f.getvalue()), weights_only=None)


def test_attributes_of_every_plain_kind_come_back(tmp_path):
    class Attrs(nn.Module):
        def __init__(self):
            super().__init__()
            self.dtype, self.np_dtype = em.float64, np.dtype("int32")
            self.kernel, self.sizes, self.padding = (3, 3), [1, 2, None], "same"
            self.table = {0: "zero", "k": (1.5, float("nan"))}
            self.factory, self.momentum, self.flag = nn.ReLU, None, False
            self.mask = em.tensor(np.array([True, False]))
            self.lookup = np.arange(3)

    add_safe_globals([Attrs])
    back = _round_trip(Attrs())
    assert back.dtype is np.float64 and back.np_dtype == np.dtype("int32") and isinstance(back.np_dtype, np.dtype)
    assert back.kernel == (3, 3) and back.sizes == [1, 2, None] and back.padding == "same"
    assert back.table[0] == "zero" and back.table["k"][0] == 1.5 and np.isnan(back.table["k"][1])
    assert back.factory is nn.ReLU and back.momentum is None and back.flag is False
    np.testing.assert_array_equal(back.mask.numpy(), [True, False])
    np.testing.assert_array_equal(back.lookup, np.arange(3))


def test_modules_inside_a_checkpoint_and_functions_need_allowing():
    back = _round_trip({"model": nn.Linear(2, 2), "epoch": 3, "act": nn.GELU})
    assert isinstance(back["model"], nn.Linear) and back["epoch"] == 3 and back["act"] is nn.GELU
    with pytest.raises(UnsupportedGlobalError, match="GLOBAL ember.nn.functional.relu"):
        _round_trip({"fn": nn.functional.relu})
    add_safe_globals([nn.functional.relu])
    assert _round_trip({"fn": nn.functional.relu})["fn"] is nn.functional.relu


def test_what_cannot_be_saved_is_refused_naming_the_attribute(tmp_path):
    model = nn.Sequential(nn.Linear(2, 2))
    model[0].activation = lambda x: x
    with pytest.raises(TypeError, match="attribute 'activation' of the ember.nn.linear.Linear at '0'"):
        save(model, tmp_path / "m.safetensors")
    model[0].activation = {1, 2}
    with pytest.raises(TypeError, match="attribute 'activation' .* cannot serialise a set at '0.activation'"):
        save(model, tmp_path / "m.safetensors")
    del model[0].activation
    model[0].forward = model[0].forward  # a bound method stored on the instance, hiding the class's
    with pytest.raises(TypeError, match="attribute 'forward' of the Linear at '0' hides its method forward"):
        save(model, tmp_path / "m.safetensors")
    del model[0].forward
    handle = model.register_forward_hook(lambda m, args, out: None)
    with pytest.raises(TypeError, match="Sequential at '<root>' has forward hooks"):
        save(model, tmp_path / "m.safetensors")
    assert not (tmp_path / "m.safetensors").exists()
    handle.remove()
    save(model, tmp_path / "m.safetensors")  # emptied hooks are no obstacle
    assert isinstance(load(tmp_path / "m.safetensors"), nn.Sequential)


# -- crafted files: nothing outside the allowlist is imported or built ---------------------------


def _crafted(mutate) -> io.BytesIO:
    """A saved ``nn.Linear`` whose module node ``mutate(node)`` has changed."""
    f = io.BytesIO()
    save(nn.Linear(2, 3), f)
    return io.BytesIO(_rewritten(f.getvalue(), lambda document: mutate(document["tree"]["__module__"])))


def _set(**fields):
    return lambda spec: spec.update(fields)


@pytest.mark.parametrize("mutate, error, message", [
    (_set(module="this", qualname="Zen"), UnsupportedGlobalError, "Unsupported global: GLOBAL this.Zen"),
    (_set(module="ember.serialization", qualname="os.system"), UnsupportedGlobalError, "ember.serialization.os.system"),
    (_set(module="ember.serialization", qualname="importlib"), UnsupportedGlobalError, "ember.serialization.importlib"),
    (_set(module="ember.nowhere", qualname="Linear"), UnsupportedGlobalError, "GLOBAL ember.nowhere.Linear"),
    (_set(module="ember.__main__", qualname="main"), UnsupportedGlobalError, "import ember.__main__ before"),
    (_set(module="ember.autograd.tensor", qualname="Tensor"), ValueError, "Tensor, which is not an nn.Module"),
    (lambda s: s["attributes"].update(forward=1), ValueError, "'forward' would replace Linear.forward"),
    (lambda s: s["attributes"].update(_parameters={}), ValueError, "would replace Linear._parameters"),
    (lambda s: s["attributes"].update(f={"__global__": {"module": "os", "qualname": "system"}}),
     UnsupportedGlobalError, "GLOBAL os.system"),
    (lambda s: s["parameters"].update(weight=3), ValueError, "'weight' is listed in parameters but holds a int"),
    (lambda s: s["modules"].update(sub={"__module_ref__": 7}), ValueError, "refers to a module 7"),
    (lambda s: s["attributes"].update(d={"__dtype__": "object"}), ValueError, "bad __dtype__ 'object'"),
    (lambda s: s.pop("training"), ValueError, "without the fields"),
    (lambda s: s["parameters"]["bias"].update(requires_grad="yes"), ValueError, "bad requires_grad 'yes'"),
], ids=["not-ember", "through-a-module", "a-module", "missing-module", "runs-on-import", "not-a-module",
        "shadow-forward", "internals", "global-attribute", "param-not-tensor", "dangling-ref", "bad-dtype",
        "no-training", "bad-grad"])
def test_crafted_module_files_are_refused_without_importing_anything(mutate, error, message):
    modules = set(sys.modules)
    with pytest.raises(error, match=message) as info:
        load(_crafted(mutate))
    assert "load: <BytesIO>" in str(info.value)
    assert set(sys.modules) == modules, "loading must import nothing"

"""Module behaviour against torch.nn.Module: naming, state dicts, modes, dtypes, repr."""
from collections import OrderedDict

import numpy as np
import pytest
import torch

import ember as em
from ember import nn


def _mlp(lib):
    """The same nested model in either library."""
    return lib.Sequential(
        lib.Linear(4, 8), lib.ReLU(), lib.Dropout(0.2),
        lib.Sequential(OrderedDict([("hidden", lib.Linear(8, 8)), ("act", lib.Tanh())])),
        lib.Linear(8, 3),
    )


class Tied(nn.Module):
    """Encoder and decoder sharing one weight matrix."""

    def __init__(self):
        super().__init__()
        self.encoder = nn.Linear(5, 3, bias=False)
        self.decoder = nn.Linear(3, 5, bias=False)
        self.decoder.weight = self.encoder.weight  # tied (shapes as in a transposed use)
        self.register_buffer("steps", em.zeros(1))


def test_named_parameters_and_state_dict_keys_equal_torchs():
    ours, theirs = _mlp(nn), _mlp(torch.nn)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]
    assert [type(m).__name__ for m in ours.children()] == [type(m).__name__ for m in theirs.children()]


def test_torch_state_dict_loads_and_outputs_agree():
    ours, theirs = _mlp(nn).eval(), _mlp(torch.nn).eval()
    result = ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    assert result.missing_keys == [] and result.unexpected_keys == []
    x = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    np.testing.assert_allclose(ours(em.tensor(x)).detach().numpy(), theirs(torch.tensor(x)).detach().numpy(), rtol=1e-5,
                               atol=1e-6)


def test_shared_weights_appear_once_in_parameters():
    model = Tied()
    names = [n for n, _ in model.named_parameters()]
    assert names == ["encoder.weight"]
    assert len(list(model.parameters())) == 1


def test_shared_module_keys_follow_torch():
    lin, tlin = nn.Linear(2, 2), torch.nn.Linear(2, 2)
    ours, theirs = nn.Sequential(lin, nn.ReLU(), lin), torch.nn.Sequential(tlin, torch.nn.ReLU(), tlin)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert list(ours.state_dict()) == list(theirs.state_dict())


def test_buffers_are_in_state_dict_and_follow_to():
    model = Tied()
    assert list(model.state_dict()) == ["steps", "encoder.weight", "decoder.weight"]
    assert [n for n, _ in model.named_buffers()] == ["steps"]
    model.register_buffer("scratch", em.ones(2), persistent=False)
    assert "scratch" not in model.state_dict()
    model.double()
    assert model.steps.dtype == np.float64 and model.scratch.dtype == np.float64


def test_strict_load_lists_missing_unexpected_and_mismatched():
    model = _mlp(nn)
    state = {k: v.numpy() for k, v in model.state_dict().items()}
    del state["0.bias"]
    state["extra.weight"] = np.zeros(3)
    with pytest.raises(RuntimeError, match=r"missing keys: \['0.bias'\].*unexpected keys: \['extra.weight'\]"):
        model.load_state_dict(state)
    state["4.weight"] = np.zeros((2, 8))
    with pytest.raises(RuntimeError, match=r"size mismatch for 4.weight.*\(2, 8\).*\(3, 8\)"):
        model.load_state_dict(state, strict=False)


def test_non_strict_load_returns_the_problems_and_loads_the_rest():
    model = _mlp(nn)
    state = {"0.weight": np.full((8, 4), 0.5), "bogus": np.zeros(1)}
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert unexpected == ["bogus"] and "0.bias" in missing and "0.weight" not in missing
    np.testing.assert_array_equal(model[0].weight.detach().numpy(), 0.5)


def test_load_casts_to_the_parameter_dtype_and_keeps_the_objects():
    layer = nn.Linear(2, 2)
    weight = layer.weight
    layer.load_state_dict({"weight": np.ones((2, 2), dtype=np.float64), "bias": [1, 2]})
    assert layer.weight is weight and layer.weight.dtype == np.float32
    np.testing.assert_array_equal(layer.bias.detach().numpy(), [1.0, 2.0])
    layer.double().load_state_dict({"weight": np.eye(2, dtype=np.float32), "bias": np.zeros(2, np.float32)})
    assert layer.weight.dtype == np.float64 and layer.bias.dtype == np.float64


def test_state_dict_values_are_detached_and_share_storage():
    layer = nn.Linear(2, 2)
    state = layer.state_dict()
    assert not state["weight"].requires_grad
    with em.no_grad():
        layer.weight.array[0, 0] = 42.0
    assert state["weight"].numpy()[0, 0] == 42.0
    assert layer.state_dict(keep_vars=True)["weight"] is layer.weight


def test_train_eval_propagate_to_every_submodule():
    model = _mlp(nn)
    assert all(m.training for m in model.modules())
    assert model.eval() is model
    assert not any(m.training for m in model.modules())
    model.train()
    assert all(m.training for m in model.modules())
    model[3].eval()
    assert model.training and not model[3].hidden.training


def test_dropout_inside_a_model_follows_the_mode():
    model = nn.Sequential(nn.Dropout(0.5))
    x = em.ones(1000)
    assert (model(x).numpy() == 0).any()
    np.testing.assert_array_equal(model.eval()(x).numpy(), x.numpy())


@pytest.mark.parametrize("convert,dtype", [
    (lambda m: m.to(em.float64), np.float64), (lambda m: m.double(), np.float64),
    (lambda m: m.double().float(), np.float32), (lambda m: m.to(dtype=em.float64), np.float64),
])
def test_dtype_conversion(convert, dtype):
    model = _mlp(nn)
    params = list(model.parameters())
    assert convert(model) is model
    assert all(p.dtype == dtype for p in model.parameters())
    assert [id(p) for p in model.parameters()] == [id(p) for p in params]  # same objects: optimisers keep working
    assert model(em.randn(2, 4, dtype=dtype)).dtype == dtype


def test_requires_grad_and_zero_grad():
    model = _mlp(nn)
    model(em.randn(3, 4)).sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    model.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad.numpy().any() for p in model.parameters())
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())
    model[0].requires_grad_(False)
    assert [p.requires_grad for p in model.parameters()][:2] == [False, False]
    model(em.randn(3, 4)).sum().backward()
    assert model[0].weight.grad is None and model[4].weight.grad is not None


def test_repr_tree_matches_torch():
    assert repr(_mlp(nn)) == repr(_mlp(torch.nn))


def test_assignment_rules():
    layer = nn.Linear(2, 3)
    with pytest.raises(TypeError, match="cannot assign Tensor as parameter 'weight'"):
        layer.weight = em.zeros(3, 2)
    layer.bias = None  # switching an optional parameter off keeps the slot, as in PyTorch
    assert layer.bias is None and "bias" in layer._parameters
    assert [n for n, _ in layer.named_parameters()] == ["weight"]
    model = nn.Sequential(nn.Linear(2, 2))
    with pytest.raises(TypeError, match="child module '0'"):
        setattr(model, "0", 5)
    with pytest.raises(AttributeError, match=r"call super\(\).__init__\(\) before assigning .fc."):
        class Broken(nn.Module):
            def __init__(self):
                self.fc = nn.Linear(1, 1)

        Broken()


def test_parameter_and_module_registration_by_attribute():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.scale = nn.Parameter(em.ones(1))
            self.body = nn.Linear(2, 2)
            self.note = "not registered"

        def forward(self, x):
            return self.body(x) * self.scale

    net = Net()
    assert [n for n, _ in net.named_parameters()] == ["scale", "body.weight", "body.bias"]
    assert net(em.randn(4, 2)).shape == (4, 2)
    del net.body
    assert [n for n, _ in net.named_parameters()] == ["scale"]


def test_forward_hooks_capture_and_replace():
    model = _mlp(nn)
    seen = {}
    handle = model[3].register_forward_hook(lambda m, args, out: seen.update(hidden=out.shape))
    model(em.randn(5, 4))
    assert seen == {"hidden": (5, 8)}
    handle.remove()
    seen.clear()
    model(em.randn(5, 4))
    assert seen == {}
    with model[4].register_forward_hook(lambda m, args, out: out * 0):
        assert not model(em.randn(2, 4)).detach().numpy().any()
    assert model(em.randn(2, 4)).detach().numpy().any()
    with model.register_forward_pre_hook(lambda m, args: em.zeros(1, 4)):
        assert model(em.randn(7, 4)).shape == (1, 3)


def test_get_submodule_and_add_module_checks():
    model = _mlp(nn)
    assert model.get_submodule("3.hidden") is model[3].hidden
    assert model.get_submodule("") is model
    with pytest.raises(AttributeError, match="no submodule 'nope'"):
        model.get_submodule("3.nope")
    with pytest.raises(TypeError, match="not a Module"):
        model.add_module("x", 3)
    with pytest.raises(KeyError, match="invalid child name"):
        model.add_module("a.b", nn.ReLU())


def test_reassignment_keeps_the_position_like_torch():
    ours, theirs = nn.Linear(2, 3), torch.nn.Linear(2, 3)
    ours.weight, theirs.weight = nn.Parameter(em.zeros(3, 2)), torch.nn.Parameter(torch.zeros(3, 2))
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()] == ["weight", "bias"]
    model = Tied()
    model.register_buffer("later", em.zeros(1))
    model.steps = em.ones(1)  # a buffer takes a new tensor in its slot
    assert list(model.state_dict())[:2] == ["steps", "later"]
    seq = nn.Sequential(nn.Linear(2, 4), nn.ReLU(), nn.Linear(4, 1))
    setattr(seq, "0", nn.Linear(2, 4))
    assert list(seq._modules) == ["0", "1", "2"] and seq(em.randn(3, 2)).shape == (3, 1)


def test_buffer_rules_follow_torch():
    model = Tied()
    with pytest.raises(TypeError, match="cannot assign int as buffer 'steps'"):
        model.steps = 3
    model.steps = None  # switching a buffer off keeps the slot
    assert "steps" in model._buffers and "steps" not in model.state_dict()
    with pytest.raises(TypeError, match="register_buffer: 'raw' must be a Tensor"):
        model.register_buffer("raw", np.zeros(2))
    model.register_buffer("scratch", em.ones(2), persistent=False)
    model.register_buffer("scratch", em.ones(2))  # registered again as persistent
    assert "scratch" in model.state_dict()
    model.scratch = nn.Parameter(em.ones(2))  # a parameter replaces the buffer
    assert [n for n, _ in model.named_buffers()] == [] and "scratch" in dict(model.named_parameters())


def test_named_members_with_duplicates_follow_torch():
    lin, tlin = nn.Linear(2, 2), torch.nn.Linear(2, 2)
    ours, theirs = nn.Sequential(lin, nn.ReLU(), lin), torch.nn.Sequential(tlin, torch.nn.ReLU(), tlin)
    for method in ("named_modules", "named_parameters"):
        assert ([n for n, _ in getattr(ours, method)(remove_duplicate=False)]
                == [n for n, _ in getattr(theirs, method)(remove_duplicate=False)])
    assert [n for n, _ in ours.named_parameters(prefix="net")] == ["net.0.weight", "net.0.bias"]
    assert [n for n, _ in ours.named_parameters(recurse=False)] == []


def test_train_calls_each_childs_own_train():
    class FrozenStats(nn.Module):
        def train(self, mode=True):
            return super().train(False)  # e.g. a BatchNorm kept on its running statistics

    model = nn.Sequential(nn.Linear(2, 2), FrozenStats())
    model.train()
    assert model.training and model[0].training and not model[1].training


def test_failed_load_copies_nothing_and_tensors_load_directly():
    layer = nn.Linear(2, 2)
    before = layer.weight.detach().numpy().copy()
    with pytest.raises(RuntimeError, match="size mismatch for bias"):
        layer.load_state_dict({"weight": np.ones((2, 2)), "bias": np.ones(3)})
    np.testing.assert_array_equal(layer.weight.detach().numpy(), before)
    source = nn.Linear(2, 2).double()
    layer.load_state_dict(source.state_dict())
    np.testing.assert_allclose(layer.weight.detach().numpy(), source.weight.detach().numpy(), rtol=1e-7)
    assert layer.weight.dtype == np.float32
    with pytest.raises(RuntimeError) as info:
        layer.load_state_dict({"weight": np.ones((3, 2))}, strict=False)
    assert "missing keys" not in str(info.value)  # not strict: only the size mismatch is an error


def test_shared_parameters_are_converted_once():
    model = Tied()
    seen = []
    model._apply_to_tensors(lambda a: seen.append(a.shape) or a)
    assert seen == [(3, 5), (1,)]


def test_buffer_assignment_registers_as_torch_does():
    import torch

    class Ours(em.nn.Module):
        def __init__(self):
            super().__init__()
            self.mask = em.nn.Buffer(em.ones(3))
            self.scratch = em.nn.Buffer(em.zeros(2), persistent=False)

    class Theirs(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.mask = torch.nn.Buffer(torch.ones(3))
            self.scratch = torch.nn.Buffer(torch.zeros(2), persistent=False)

    ours, theirs = Ours(), Theirs()
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["mask"]
    assert [n for n, _ in ours.named_buffers()] == [n for n, _ in theirs.named_buffers()] == ["mask", "scratch"]
    assert not ours.mask.requires_grad and list(ours.parameters()) == []


def test_older_import_paths_of_parameter_and_loss_bases():
    from ember.nn.modules.loss import _Loss, _WeightedLoss
    from ember.nn.parameter import Parameter

    assert Parameter is em.nn.Parameter and issubclass(_WeightedLoss, _Loss)

    class Squared(_Loss):
        def forward(self, a, b):
            return ((a - b) ** 2).mean() if self.reduction == "mean" else ((a - b) ** 2).sum()

    assert Squared(reduction="sum")(em.ones(2), em.zeros(2)).item() == 2.0


def test_load_state_dict_assign_takes_the_arrays_themselves():
    import numpy as np

    layer = em.nn.Linear(2, 3)
    weight, bias = np.ones((3, 2), np.float64), np.zeros(3, np.float64)
    layer.load_state_dict({"weight": weight, "bias": bias}, assign=True)
    assert layer.weight.dtype == np.float64 and layer.weight.array is weight and layer.weight.requires_grad
    other = em.nn.Linear(2, 3)
    other.load_state_dict({"weight": weight, "bias": bias})
    assert other.weight.dtype == np.float32 and other.weight.array is not weight

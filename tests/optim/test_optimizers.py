"""Optimisers: N steps on a tiny net in ember and in PyTorch from the same weights and data."""
import json

import numpy as np
import pytest
import torch

import ember as em
import ember.nn as nn
from ember import optim

STEPS = 10
SHAPES = {"W1": (5, 4), "b1": (5,), "W2": (3, 5), "b2": (3,), "unused": (2,)}


def _init(dtype):
    rng = np.random.default_rng(1)
    weights = {k: rng.normal(size=s).astype(dtype) for k, s in SHAPES.items()}
    batches = [(rng.normal(size=(8, 4)).astype(dtype), rng.normal(size=(8, 3)).astype(dtype)) for _ in range(STEPS)]
    return weights, batches


def _groups(params, grouped, lr2=0.03):
    """One group of all parameters, or two groups with different learning rates."""
    names = list(SHAPES)
    if not grouped:
        return [params[k] for k in names]
    return [{"params": [params[k] for k in names[:2]]}, {"params": [params[k] for k in names[2:]], "lr": lr2}]


def _ember_loss(P, x, y):
    h = em.relu(em.linear(em.tensor(x), P["W1"], P["b1"]))
    return em.mse_loss(em.linear(h, P["W2"], P["b2"]), em.tensor(y))


def _torch_loss(P, x, y):
    h = torch.relu(torch.nn.functional.linear(torch.from_numpy(x), P["W1"], P["b1"]))
    return torch.nn.functional.mse_loss(torch.nn.functional.linear(h, P["W2"], P["b2"]), torch.from_numpy(y))


def train_step(opt, loss, P, x, y):
    """One step of ``opt`` (ember's or PyTorch's): clear the gradients, backpropagate ``loss(P, x, y)``, update."""
    opt.zero_grad()
    loss(P, x, y).backward()
    opt.step()


def assert_cuda_matches_cpu(cls, kwargs, steps):
    """``steps`` updates of one parameter from the same random gradients end at the same values on CPU and GPU."""
    rng = np.random.default_rng(0)
    w0, grads = rng.normal(size=(6, 5)), [rng.normal(size=(6, 5)) for _ in range(steps)]
    results = []
    for device in ("cpu", "cuda"):
        w = nn.Parameter(em.tensor(w0, device=device))
        opt = getattr(optim, cls)([w], **kwargs)
        for g in grads:
            w.grad = em.tensor(g, device=device)
            opt.step()
        assert w.device == device
        results.append(em.backend.to_numpy(w.array))
    np.testing.assert_allclose(results[1], results[0], rtol=1e-10, atol=1e-12)


def run_ember(cls, kwargs, dtype, grouped=False, steps=range(STEPS), params=None, opt=None):
    weights, batches = _init(dtype)
    P = params or {k: nn.Parameter(em.tensor(w.copy())) for k, w in weights.items()}
    opt = opt or getattr(optim, cls)(_groups(P, grouped), **kwargs)
    for i in steps:
        train_step(opt, _ember_loss, P, *batches[i])
    return P, opt


def run_torch(cls, kwargs, dtype, grouped=False, steps=STEPS):
    weights, batches = _init(dtype)
    P = {k: torch.nn.Parameter(torch.from_numpy(w.copy())) for k, w in weights.items()}
    opt = getattr(torch.optim, cls)(_groups(P, grouped), **kwargs)
    for i in range(steps):
        train_step(opt, _torch_loss, P, *batches[i])
    return P, opt


CASES = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.9)),
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True)),
    ("SGD", dict(lr=0.05, momentum=0.5, weight_decay=0.1)),
    ("SGD", dict(lr=0.01, momentum=0.9, weight_decay=0.01, maximize=True)),
    ("RMSprop", dict()),
    ("RMSprop", dict(lr=0.01, alpha=0.9, eps=1e-6)),
    ("RMSprop", dict(lr=0.01, momentum=0.9)),
    ("RMSprop", dict(lr=0.01, centered=True)),
    ("RMSprop", dict(lr=0.01, centered=True, momentum=0.5, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.01, maximize=True)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.01, amsgrad=True)),
    ("Adam", dict(lr=0.01, weight_decay=0.1)),
    ("Adam", dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6, maximize=True)),
    ("Adam", dict(lr=0.01, weight_decay=0.1, maximize=True)),
    ("AdamW", dict(lr=0.01)),
    ("AdamW", dict(lr=0.01, weight_decay=0.1, amsgrad=True)),
    ("AdamW", dict(lr=0.01, weight_decay=0.1, maximize=True)),
]


def _case_id(case):
    return case[0] + "-" + "-".join(f"{k}={v}" for k, v in case[1].items())


@pytest.mark.parametrize("dtype, rtol, atol", [(np.float64, 1e-10, 1e-12), (np.float32, 1e-4, 1e-5)])
@pytest.mark.parametrize("grouped", [False, True])
@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_matches_torch(case, grouped, dtype, rtol, atol):
    cls, kwargs = case
    ours, _ = run_ember(cls, kwargs, dtype, grouped)
    theirs, _ = run_torch(cls, kwargs, dtype, grouped)
    for k in SHAPES:
        assert ours[k].dtype == dtype
        np.testing.assert_allclose(ours[k].array, theirs[k].detach().numpy(), rtol=rtol, atol=atol, err_msg=k)
    weights, _ = _init(dtype)
    assert np.array_equal(ours["unused"].array, weights["unused"])  # no grad: left alone
    assert not np.allclose(ours["W1"].array, weights["W1"])  # the run really moved the weights


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_step_leaves_the_gradients_alone(case):
    """The update rules work in place on weights and state, never on p.grad."""
    cls, kwargs = case
    rng = np.random.default_rng(0)
    w = nn.Parameter(em.tensor(rng.normal(size=(4, 3))))
    opt = getattr(optim, cls)([w], **kwargs)
    for _ in range(3):
        g = rng.normal(size=(4, 3))
        w.grad = em.tensor(g.copy())
        opt.step()
        np.testing.assert_array_equal(w.grad.array, g)


def test_course_momentum_is_dampened_average():
    """dampening=β turns the momentum into v = βv + (1 − β)dw (after v = dw on the first step)."""
    w = nn.Parameter(em.tensor([1.0, -2.0], dtype=np.float64))
    opt = optim.SGD([w], lr=0.1, momentum=0.9, dampening=0.9)
    grads = [np.array([1.0, 2.0]), np.array([3.0, -1.0]), np.array([0.5, 0.5])]
    v, expected = None, w.array.copy()
    for g in grads:
        w.grad = em.tensor(g)
        opt.step()
        v = g.copy() if v is None else 0.9 * v + 0.1 * g
        expected -= 0.1 * v
    np.testing.assert_allclose(w.array, expected, rtol=1e-14)
    np.testing.assert_allclose(opt.state[w]["momentum_buffer"], v, rtol=1e-14)


def test_adam_first_step_is_lr_times_sign():
    """With bias correction the first Adam step is α·dw/(|dw| + ε) ≈ α·sign(dw)."""
    w = nn.Parameter(em.tensor([1.0, 1.0, 1.0], dtype=np.float64))
    w.grad = em.tensor(np.array([1e-3, -5.0, 20.0]))
    optim.Adam([w], lr=0.1, eps=0.0).step()
    np.testing.assert_allclose(w.array, [0.9, 1.1, 0.9], rtol=1e-12)


# -- state dict -------------------------------------------------------------------------------
def _to_checkpoint(state_dict):
    """Split a state dict into arrays (as for safetensors) and JSON text, as a checkpoint writer does."""
    arrays, state = {}, {}
    for i, values in state_dict["state"].items():
        state[i] = {}
        for k, v in values.items():
            if isinstance(v, em.Tensor):
                arrays[f"{i}.{k}"] = v.numpy()
                v = {"__array__": f"{i}.{k}"}
            state[i][k] = v
    return arrays, json.dumps({"state": state, "param_groups": state_dict["param_groups"]})


def _from_checkpoint(arrays, text):
    sd = json.loads(text)
    for values in sd["state"].values():
        for k, v in values.items():
            if isinstance(v, dict) and "__array__" in v:
                values[k] = arrays[v["__array__"]]
    return sd


@pytest.mark.parametrize("case", [
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True)),
    ("RMSprop", dict(lr=0.01, centered=True, momentum=0.5)),
    ("Adam", dict(lr=0.01, amsgrad=True, betas=(0.8, 0.99))),
    ("AdamW", dict(lr=0.01, weight_decay=0.1)),
], ids=_case_id)
def test_state_dict_round_trip(case):
    cls, kwargs = case
    full, _ = run_ember(cls, kwargs, np.float32, grouped=True)
    first, opt = run_ember(cls, kwargs, np.float32, grouped=True, steps=range(3))
    arrays, text = _to_checkpoint(opt.state_dict())
    resumed = {k: nn.Parameter(em.tensor(first[k].array.copy())) for k in SHAPES}
    opt.step()  # the saved dict is a copy: later steps must not change it
    fresh = getattr(optim, cls)(_groups(resumed, grouped=True), lr=123.0)  # options come from the checkpoint
    fresh.load_state_dict(_from_checkpoint(arrays, text))
    assert fresh.param_groups[1]["lr"] == 0.03
    run_ember(cls, kwargs, np.float32, params=resumed, opt=fresh, steps=range(3, STEPS))
    for k in SHAPES:
        np.testing.assert_array_equal(resumed[k].array, full[k].array, err_msg=k)


def test_state_dict_layout():
    P, opt = run_ember("Adam", dict(lr=0.01), np.float32, grouped=True, steps=range(2))
    sd = opt.state_dict()
    assert [g["params"] for g in sd["param_groups"]] == [[0, 1], [2, 3, 4]]
    assert sorted(sd["state"]) == [0, 1, 2, 3]  # the unused parameter never got state
    assert sd["state"][0]["step"] == 2 and isinstance(sd["state"][0]["step"], int)
    assert isinstance(sd["state"][0]["exp_avg"], em.Tensor) and sd["state"][0]["exp_avg"].shape == (5, 4)


def test_loads_torch_state_dict():
    """A PyTorch optimiser's state dict, tensors turned into arrays, continues in ember."""
    kwargs = dict(lr=0.01, amsgrad=True)
    full, _ = run_torch("Adam", kwargs, np.float64, grouped=True)
    start, topt = run_torch("Adam", kwargs, np.float64, grouped=True, steps=3)
    sd = topt.state_dict()
    sd["state"] = {i: {k: v.numpy() for k, v in s.items()} for i, s in sd["state"].items()}
    P = {k: nn.Parameter(em.tensor(v.detach().numpy().copy())) for k, v in start.items()}
    opt = optim.Adam(_groups(P, grouped=True))
    opt.load_state_dict(sd)
    run_ember("Adam", kwargs, np.float64, params=P, opt=opt, steps=range(3, STEPS))
    for k in SHAPES:
        np.testing.assert_allclose(P[k].array, full[k].detach().numpy(), rtol=1e-10, atol=1e-12)


def test_load_state_dict_rejects_mismatch():
    _, opt = run_ember("SGD", dict(lr=0.1, momentum=0.9), np.float32, grouped=True, steps=range(1))
    other = optim.SGD([nn.Parameter(em.zeros(3))], lr=0.1)
    with pytest.raises(ValueError, match="parameter groups"):
        other.load_state_dict(opt.state_dict())


# -- the optimiser contract -------------------------------------------------------------------
def test_zero_grad():
    w = nn.Parameter(em.ones(3))
    opt = optim.SGD([w], lr=0.1)
    (w * w).sum().backward()
    opt.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(w.grad.array, np.zeros(3))
    opt.zero_grad()
    assert w.grad is None


def test_step_with_closure_returns_loss():
    w = nn.Parameter(em.tensor([2.0]))
    opt = optim.SGD([w], lr=0.25)

    def closure():
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    loss = opt.step(closure)
    assert float(loss) == 4.0
    np.testing.assert_allclose(w.array, [1.0])  # 2 − 0.25·4


def test_add_param_group_uses_defaults():
    a, b = nn.Parameter(em.ones(2)), nn.Parameter(em.ones(2))
    opt = optim.SGD([a], lr=0.1, momentum=0.9)
    opt.add_param_group({"params": b, "lr": 0.5})
    assert opt.param_groups[1]["momentum"] == 0.9 and opt.param_groups[1]["lr"] == 0.5
    b.grad = em.ones(2)
    opt.step()
    np.testing.assert_allclose(b.array, [0.5, 0.5])
    np.testing.assert_array_equal(a.array, [1.0, 1.0])


def test_named_parameters_are_accepted():
    P = {k: nn.Parameter(em.zeros(2)) for k in ("w", "b")}
    opt = optim.Adam(list(P.items()))
    assert opt.param_groups[0]["param_names"] == ["w", "b"]
    assert all(a is b for a, b in zip(opt.param_groups[0]["params"], P.values(), strict=True))


def test_step_invalidates_graphs_that_saved_the_weights():
    w = nn.Parameter(em.tensor([1.0, 2.0]))
    loss = (w * w).sum()
    loss.backward(retain_graph=True)
    optim.SGD([w], lr=0.1).step()
    with pytest.raises(RuntimeError, match="modified"):
        loss.backward()


@pytest.mark.parametrize("make, match", [
    (lambda w: optim.SGD([], lr=0.1), "empty"),
    (lambda w: optim.SGD(w, lr=0.1), "single Tensor"),
    (lambda w: optim.SGD({w}, lr=0.1), "not a set"),
    (lambda w: optim.SGD([w, w], lr=0.1), "more than one"),
    (lambda w: optim.SGD([w * 2], lr=0.1), "non-leaf"),
    (lambda w: optim.SGD([w], lr=-1.0), "invalid lr"),
    (lambda w: optim.SGD([w], lr=0.1, nesterov=True), "Nesterov"),
    (lambda w: optim.RMSprop([w], alpha=-0.5), "invalid alpha"),
    (lambda w: optim.Adam([w], betas=(0.9, 1.0)), "betas"),
    (lambda w: optim.Adam([w], weight_decay=-1), "invalid weight_decay"),
])
def test_bad_arguments(make, match):
    w = nn.Parameter(em.ones(2))
    with pytest.raises((ValueError, TypeError), match=match):
        make(w)


def test_repr_lists_groups():
    text = repr(optim.SGD([nn.Parameter(em.ones(2))], lr=0.1, momentum=0.9))
    assert text.startswith("SGD (") and "Parameter Group 0" in text and "momentum: 0.9" in text


@pytest.mark.skipif(not em.cuda_available(), reason="needs CuPy and a GPU")
@pytest.mark.parametrize("case", [c for c in CASES if c[0] != "SGD" or "nesterov" in c[1]], ids=_case_id)
def test_cuda_matches_cpu(case):
    cls, kwargs = case
    assert_cuda_matches_cpu(cls, kwargs, steps=5)

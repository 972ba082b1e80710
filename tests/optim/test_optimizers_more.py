"""More optimisers (Adagrad, Adadelta, Adamax, NAdam, RAdam, Rprop, ASGD, LBFGS) and PyTorch's keyword options
on every optimiser: parameters after each step against torch.optim, state-dict layout and round trips."""
import copy

import numpy as np
import pytest
import torch
from test_optimizers import (
    SHAPES,
    _case_id,
    _ember_loss,
    _from_checkpoint,
    _init,
    _to_checkpoint,
    _torch_loss,
    assert_cuda_matches_cpu,
    train_step,
)

import ember as em
import ember.nn as nn
from ember import optim

STEPS = 12  # RAdam switches its adaptive rate on at step 6


def _groups(P, second):
    """Two groups: W1, b1 with the defaults; W2, b2 and an unused parameter with the options ``second``."""
    names = list(SHAPES)
    return [{"params": [P[k] for k in names[:2]]}, {"params": [P[k] for k in names[2:]], **second}]


def _trajectories(cls, kwargs, second, dtype, steps=STEPS):
    """The parameters after each step, in ember and in PyTorch, from the same weights and batches."""
    weights, batches = _init(dtype)
    batches = (batches * 2)[:steps]
    P = {k: nn.Parameter(em.tensor(w.copy())) for k, w in weights.items()}
    T = {k: torch.nn.Parameter(torch.from_numpy(w.copy())) for k, w in weights.items()}
    opt = getattr(optim, cls)(_groups(P, second), **kwargs)
    topt = getattr(torch.optim, cls)(_groups(T, second), **kwargs)
    ours, theirs = [], []
    for x, y in batches:
        train_step(opt, _ember_loss, P, x, y)
        train_step(topt, _torch_loss, T, x, y)
        ours.append({k: p.array.copy() for k, p in P.items()})
        theirs.append({k: p.detach().numpy().copy() for k, p in T.items()})
    return ours, theirs, opt, topt


CASES = [
    ("Adagrad", dict(lr=0.1), dict(lr=0.05)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.1, weight_decay=0.05), dict(lr_decay=0.5, eps=1e-6)),
    ("Adagrad", dict(lr=0.1, initial_accumulator_value=0.5, eps=1e-3), dict(initial_accumulator_value=0.1)),
    ("Adagrad", dict(lr=0.05, maximize=True, foreach=False), dict(weight_decay=0.1)),
    ("Adadelta", dict(), dict(lr=0.5)),
    ("Adadelta", dict(lr=2.0, rho=0.8, eps=1e-4), dict(rho=0.95, weight_decay=0.1)),
    ("Adadelta", dict(maximize=True, weight_decay=0.05), dict(eps=1e-3)),
    ("Adamax", dict(lr=0.02), dict(lr=0.01)),
    ("Adamax", dict(lr=0.02, betas=(0.8, 0.99), eps=1e-4), dict(weight_decay=0.1)),
    ("Adamax", dict(lr=0.02, maximize=True, weight_decay=0.05), dict(betas=(0.5, 0.9))),
    ("NAdam", dict(lr=0.02), dict(lr=0.01)),
    ("NAdam", dict(lr=0.02, momentum_decay=0.05, weight_decay=0.1), dict(betas=(0.8, 0.99))),
    ("NAdam", dict(lr=0.02, weight_decay=0.1, decoupled_weight_decay=True), dict(momentum_decay=0.01, eps=1e-4)),
    ("NAdam", dict(lr=0.02, maximize=True), dict(weight_decay=0.05)),
    ("RAdam", dict(lr=0.02), dict(lr=0.01)),
    ("RAdam", dict(lr=0.02, betas=(0.8, 0.99), weight_decay=0.1), dict(eps=1e-4)),
    ("RAdam", dict(lr=0.02, weight_decay=0.1, decoupled_weight_decay=True), dict(betas=(0.7, 0.9))),
    ("RAdam", dict(lr=0.02, maximize=True), dict(weight_decay=0.05)),
    ("Rprop", dict(lr=0.01), dict(lr=0.02)),
    ("Rprop", dict(lr=0.01, etas=(0.3, 1.5), step_sizes=(1e-4, 0.05)), dict(maximize=True)),
    ("ASGD", dict(lr=0.05), dict(lr=0.1)),
    ("ASGD", dict(lr=0.05, t0=3, lambd=0.01, alpha=0.5), dict(t0=5, weight_decay=0.1)),
    ("ASGD", dict(lr=0.005, t0=2, maximize=True), dict(lambd=0.1, alpha=1.0)),
    # PyTorch's keyword options on the optimisers that had them already
    ("SGD", dict(lr=0.01, momentum=0.5, maximize=True, foreach=False, differentiable=False, fused=None),
     dict(nesterov=True, lr=0.005)),
    ("RMSprop", dict(lr=0.01, centered=True, momentum=0.5, capturable=False, foreach=None, maximize=True),
     dict(centered=False, alpha=0.9)),
    ("Adam", dict(lr=0.01, amsgrad=True, maximize=True, foreach=False, capturable=False, fused=None),
     dict(amsgrad=False, betas=(0.8, 0.9))),
    ("Adam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True, differentiable=False), dict(amsgrad=True)),
    ("AdamW", dict(lr=0.01, amsgrad=True, maximize=True, foreach=None, capturable=False, fused=None),
     dict(weight_decay=0.5)),
]


def _id(case):
    return _case_id(case[:2]) + "-group2-" + "-".join(f"{k}={v}" for k, v in case[2].items())


@pytest.mark.parametrize("dtype, rtol, atol", [(np.float64, 1e-10, 1e-12), (np.float32, 2e-4, 2e-5)])
@pytest.mark.parametrize("case", CASES, ids=_id)
def test_matches_torch_after_each_step(case, dtype, rtol, atol):
    cls, kwargs, second = case
    ours, theirs, _, _ = _trajectories(cls, kwargs, second, dtype)
    for step, (a, b) in enumerate(zip(ours, theirs, strict=True)):
        for k in SHAPES:
            assert a[k].dtype == dtype
            np.testing.assert_allclose(a[k], b[k], rtol=rtol, atol=atol, err_msg=f"{k} after step {step + 1}")
    weights, _ = _init(dtype)
    assert np.array_equal(ours[-1]["unused"], weights["unused"])  # no grad: left alone
    assert not np.allclose(ours[-1]["W2"], weights["W2"])  # the second group really moved


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_state_dict_layout_is_torch(case):
    """The same group options (names, order, values) and the same state entries, per parameter."""
    cls, kwargs, second = case
    _, _, opt, topt = _trajectories(cls, kwargs, second, np.float64, steps=3)
    ours, theirs = opt.state_dict(), topt.state_dict()
    assert [list(g) for g in ours["param_groups"]] == [list(g) for g in theirs["param_groups"]]
    assert ours["param_groups"] == theirs["param_groups"]
    assert sorted(ours["state"]) == sorted(theirs["state"])
    for i, state in theirs["state"].items():
        assert sorted(ours["state"][i]) == sorted(state), i
        for key, value in state.items():
            if key == "step":
                assert ours["state"][i][key] == int(value)
            elif value is not None:
                np.testing.assert_allclose(np.asarray(ours["state"][i][key]), value.numpy(), rtol=1e-6, err_msg=key)


ROUND_TRIP = [c for c in CASES if c[0] not in ("SGD", "RMSprop", "Adam", "AdamW")]


@pytest.mark.parametrize("case", ROUND_TRIP, ids=_id)
def test_state_dict_round_trip(case):
    """Save after 4 steps (arrays apart from JSON text, as a checkpoint), load into a fresh optimiser, go on:
    the run equals the uninterrupted one."""
    cls, kwargs, second = case
    weights, batches = _init(np.float32)

    def run(P, opt, steps):
        for i in steps:
            train_step(opt, _ember_loss, P, *batches[i])

    P = {k: nn.Parameter(em.tensor(w.copy())) for k, w in weights.items()}
    full = getattr(optim, cls)(_groups(P, second), **kwargs)
    run(P, full, range(10))
    Q = {k: nn.Parameter(em.tensor(w.copy())) for k, w in weights.items()}
    opt = getattr(optim, cls)(_groups(Q, second), **kwargs)
    run(Q, opt, range(4))
    arrays, text = _to_checkpoint(opt.state_dict())
    R = {k: nn.Parameter(em.tensor(q.array.copy())) for k, q in Q.items()}
    fresh = getattr(optim, cls)(_groups(R, {}), lr=123.0)  # every option comes from the checkpoint
    fresh.load_state_dict(_from_checkpoint(arrays, text))
    assert fresh.param_groups[1] == {**opt.param_groups[1], "params": fresh.param_groups[1]["params"]}
    run(R, fresh, range(4, 10))
    for k in SHAPES:
        np.testing.assert_array_equal(R[k].array, P[k].array, err_msg=k)


@pytest.mark.parametrize("case", ROUND_TRIP, ids=_id)
def test_loads_torch_state_dict(case):
    """PyTorch's state dict, tensors turned into arrays, continues in ember as it does in PyTorch."""
    cls, kwargs, second = case
    weights, batches = _init(np.float64)
    T = {k: torch.nn.Parameter(torch.from_numpy(w.copy())) for k, w in weights.items()}
    topt = getattr(torch.optim, cls)(_groups(T, second), **kwargs)
    P = None
    for i, (x, y) in enumerate(batches):
        if i == 4:
            P = {k: nn.Parameter(em.tensor(t.detach().numpy().copy())) for k, t in T.items()}
            sd = copy.deepcopy(topt.state_dict())
            sd["state"] = {i: {k: v.numpy() for k, v in s.items()} for i, s in sd["state"].items()}
            opt = getattr(optim, cls)(_groups(P, {}))
            opt.load_state_dict(sd)
        if P is not None:
            train_step(opt, _ember_loss, P, x, y)
        train_step(topt, _torch_loss, T, x, y)
    for k in SHAPES:
        np.testing.assert_allclose(P[k].array, T[k].detach().numpy(), rtol=1e-10, atol=1e-12, err_msg=k)


def test_adagrad_state_exists_from_the_start():
    """As in PyTorch, Adagrad's accumulators exist before the first step (for every parameter given)."""
    w = nn.Parameter(em.ones(3))
    opt = optim.Adagrad([w], initial_accumulator_value=0.25)
    np.testing.assert_array_equal(opt.state[w]["sum"], np.full(3, 0.25, np.float32))
    assert opt.state_dict()["state"][0]["step"] == 0


def test_asgd_averages_the_iterates_after_t0():
    """With t0 = 0, ax is the running mean of the iterates w_2, ..., w_t (PyTorch's μ = 1/max(1, t − 1 − t0))."""
    w = nn.Parameter(em.tensor([1.0, -2.0], dtype=np.float64))
    opt = optim.ASGD([w], lr=0.1, lambd=0.0, t0=0)
    iterates = []
    for g in ([1.0, 2.0], [0.5, -1.0], [2.0, 0.0], [-1.0, 1.0]):
        w.grad = em.tensor(np.array(g))
        opt.step()
        iterates.append(w.array.copy())
    np.testing.assert_allclose(opt.state[w]["ax"], np.mean(iterates[1:], axis=0), rtol=1e-6)  # μ is float32


def test_flags_are_recorded_and_change_nothing():
    """foreach, fused, capturable and differentiable are accepted everywhere and kept in the groups."""
    rng = np.random.default_rng(0)
    w0, grads = rng.normal(size=(3, 2)), [rng.normal(size=(3, 2)) for _ in range(4)]
    results = []
    for flags in (dict(), dict(foreach=True, capturable=True, differentiable=True)):
        w = nn.Parameter(em.tensor(w0))
        opt = optim.NAdam([w], lr=0.1, **flags)
        assert all(opt.param_groups[0][k] == v for k, v in flags.items())
        for g in grads:
            w.grad = em.tensor(g)
            opt.step()
        results.append(w.array.copy())
    np.testing.assert_array_equal(results[0], results[1])


@pytest.mark.parametrize("make, match", [
    (lambda w: optim.Adagrad([w], lr_decay=-1), "invalid lr_decay"),
    (lambda w: optim.Adagrad([w], initial_accumulator_value=-0.1), "invalid initial_accumulator_value"),
    (lambda w: optim.Adadelta([w], rho=1.5), "rho"),
    (lambda w: optim.Adamax([w], betas=(1.0, 0.9)), "betas"),
    (lambda w: optim.NAdam([w], momentum_decay=-1), "invalid momentum_decay"),
    (lambda w: optim.RAdam([w], eps=-1), "invalid eps"),
    (lambda w: optim.ASGD([w], weight_decay=-1), "invalid weight_decay"),
    (lambda w: optim.LBFGS([w], line_search_fn="armijo"), "strong_wolfe"),
    (lambda w: optim.LBFGS([{"params": [w]}, {"params": [nn.Parameter(em.ones(2))]}]), "parameter groups"),
])
def test_bad_arguments(make, match):
    w = nn.Parameter(em.ones(2))
    with pytest.raises((ValueError, TypeError), match=match):
        make(w)


# -- L-BFGS ------------------------------------------------------------------------------------------
def _quadratic(lib):
    rng = np.random.default_rng(3)
    M = rng.normal(size=(6, 6))
    A, b = M @ M.T + 0.5 * np.eye(6), rng.normal(size=6)
    A, b = (lib.tensor(A), lib.tensor(b))

    def f(P):
        w = P[0]
        return 0.5 * (w * (A @ w)).sum() - (b * w).sum()
    return f, [rng.normal(size=6)]


def _rosenbrock(lib):
    """The n-dimensional Rosenbrock function, its coordinates split over two tensors."""
    def f(P):
        x = lib.cat([P[0], P[1]])
        return (100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2).sum()
    return f, [np.array([-1.2, 1.0, -0.5]), np.array([0.8, 1.3])]


def _lbfgs_runs(problem, kwargs, steps):
    """(loss returned, parameters) after each step(closure), in ember and in PyTorch."""
    runs = []
    for lib, make_opt, make_param in ((em, optim.LBFGS, lambda a: nn.Parameter(em.tensor(a.copy()))),
                                      (torch, torch.optim.LBFGS, lambda a: torch.nn.Parameter(torch.tensor(a)))):
        f, start = problem(lib)
        P = [make_param(a) for a in start]
        opt = make_opt(P, **kwargs)

        def closure(opt=opt, P=P, f=f):
            opt.zero_grad()
            loss = f(P)
            loss.backward()
            return loss

        trace = []
        for _ in range(steps):
            loss = opt.step(closure)
            trace.append((float(loss.detach()), [np.array(p.detach().numpy() if lib is torch else p.array) for p in P]))
        runs.append((trace, opt))
    return runs


LBFGS_CASES = [
    ("quadratic", _quadratic, dict(lr=1, max_iter=4, history_size=3)),
    ("quadratic", _quadratic, dict(lr=0.5, max_iter=3, history_size=2, line_search_fn="strong_wolfe")),
    ("rosenbrock", _rosenbrock, dict(lr=1, max_iter=5, line_search_fn="strong_wolfe")),
    ("rosenbrock", _rosenbrock, dict(lr=1, max_iter=20, max_eval=15, history_size=4, line_search_fn="strong_wolfe",
                                     tolerance_change=1e-12)),
    ("rosenbrock", _rosenbrock, dict(lr=2e-3, max_iter=6, history_size=5)),
]


@pytest.mark.parametrize("name, problem, kwargs", LBFGS_CASES,
                         ids=[f"{c[0]}-" + "-".join(f"{k}={v}" for k, v in c[2].items()) for c in LBFGS_CASES])
def test_lbfgs_iterates_match_torch(name, problem, kwargs):
    (ours, opt), (theirs, topt) = _lbfgs_runs(problem, kwargs, steps=10)
    for step, ((loss, P), (tloss, T)) in enumerate(zip(ours, theirs, strict=True)):
        assert loss == pytest.approx(tloss, rel=1e-9, abs=1e-12), step
        for p, t in zip(P, T, strict=True):
            np.testing.assert_allclose(p, t, rtol=1e-8, atol=1e-10, err_msg=f"after step {step + 1}")
    state, tstate = opt.state[opt._params[0]], topt.state[topt._params[0]]
    assert (state["n_iter"], state["func_evals"]) == (tstate["n_iter"], tstate["func_evals"])
    assert ours[-1][0] < ours[0][0] / 2  # it really optimised


def test_lbfgs_state_dict_layout_and_round_trip():
    kwargs = dict(lr=1, max_iter=3, history_size=3, line_search_fn="strong_wolfe")
    (ours, opt), (_, topt) = _lbfgs_runs(_rosenbrock, kwargs, steps=2)
    sd, tsd = opt.state_dict(), topt.state_dict()
    assert sd["param_groups"] == tsd["param_groups"]
    assert sorted(sd["state"][0]) == sorted(tsd["state"][0])
    assert [len(sd["state"][0][k]) for k in ("old_dirs", "al")] == [len(tsd["state"][0][k]) for k in ("old_dirs", "al")]

    f, start = _rosenbrock(em)
    full = [nn.Parameter(em.tensor(a.copy())) for a in start]
    resumed = [nn.Parameter(em.tensor(p.array.copy())) for p in full]
    full_opt = optim.LBFGS(full, **kwargs)

    def closure(P, o):
        def run():
            o.zero_grad()
            loss = f(P)
            loss.backward()
            return loss
        return run

    for _ in range(2):
        full_opt.step(closure(full, full_opt))
    resumed = [nn.Parameter(em.tensor(p.array.copy())) for p in full]
    fresh = optim.LBFGS(resumed, lr=5.0)
    fresh.load_state_dict(copy.deepcopy(full_opt.state_dict()))
    for _ in range(3):
        full_opt.step(closure(full, full_opt))
        fresh.step(closure(resumed, fresh))
    for a, b in zip(resumed, full, strict=True):
        np.testing.assert_array_equal(a.array, b.array)


def test_lbfgs_on_a_tiny_net_matches_torch():
    """The closure re-evaluates a small network on a fixed batch; every evaluation runs with grad on."""
    weights, batches = _init(np.float64)
    x, y = batches[0]
    P = {k: nn.Parameter(em.tensor(w.copy())) for k, w in weights.items()}
    T = {k: torch.nn.Parameter(torch.from_numpy(w.copy())) for k, w in weights.items()}
    opt = optim.LBFGS(list(P.values()), lr=0.5, max_iter=5, line_search_fn="strong_wolfe")
    topt = torch.optim.LBFGS(list(T.values()), lr=0.5, max_iter=5, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = _ember_loss(P, x, y)
        loss.backward()
        return loss

    def tclosure():
        topt.zero_grad()
        loss = _torch_loss(T, x, y)
        loss.backward()
        return loss

    with em.no_grad():  # step switches grad on for the closure itself
        losses = [float(opt.step(closure)) for _ in range(4)]
    tlosses = [float(topt.step(tclosure).detach()) for _ in range(4)]
    np.testing.assert_allclose(losses, tlosses, rtol=1e-9)
    for k in SHAPES:
        np.testing.assert_allclose(P[k].array, T[k].detach().numpy(), rtol=1e-7, atol=1e-9, err_msg=k)


@pytest.mark.skipif(not em.cuda_available(), reason="needs CuPy and a GPU")
@pytest.mark.parametrize("case", ROUND_TRIP, ids=_id)
def test_cuda_matches_cpu(case):
    cls, kwargs, _ = case
    assert_cuda_matches_cpu(cls, kwargs, steps=8)


@pytest.mark.skipif(not em.cuda_available(), reason="needs CuPy and a GPU")
@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
def test_lbfgs_cuda_matches_cpu(line_search_fn):
    results = []
    for device in ("cpu", "cuda"):
        f, start = _rosenbrock(em)
        P = [nn.Parameter(em.tensor(a, device=device)) for a in start]
        opt = optim.LBFGS(P, lr=1 if line_search_fn else 2e-3, max_iter=5, line_search_fn=line_search_fn)

        def closure(opt=opt, P=P, f=f):
            opt.zero_grad()
            loss = f(P)
            loss.backward()
            return loss

        for _ in range(4):
            opt.step(closure)
        results.append([em.backend.to_numpy(p.array) for p in P])
    for a, b in zip(*results, strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-9, atol=1e-12)

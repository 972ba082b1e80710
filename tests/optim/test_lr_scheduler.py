"""Learning-rate schedulers: sequences against torch.optim.lr_scheduler and closed forms."""
import json
import math

import numpy as np
import pytest
import torch

import ember as em
import ember.nn as nn
from ember import optim
from ember.optim import lr_scheduler as S

EPOCHS = 40
LRS = (0.1, 0.02)  # two parameter groups with different initial rates


def _ember_opt():
    return optim.SGD([{"params": [nn.Parameter(em.ones(2))]}, {"params": [nn.Parameter(em.ones(2))], "lr": LRS[1]}],
                     lr=LRS[0], momentum=0.9)


def _torch_opt():
    groups = [{"params": [torch.nn.Parameter(torch.ones(2))]},
              {"params": [torch.nn.Parameter(torch.ones(2))], "lr": LRS[1]}]
    return torch.optim.SGD(groups, lr=LRS[0], momentum=0.9)


def _sequence(opt, sched, metrics=None, epochs=EPOCHS):
    """The rates in force at each epoch: read at construction, then after each step()."""
    out = [[g["lr"] for g in opt.param_groups]]
    for epoch in range(epochs):
        opt.step()
        sched.step() if metrics is None else sched.step(metrics[epoch])
        out.append([g["lr"] for g in opt.param_groups])
        assert list(sched.get_last_lr()) == out[-1]
    return np.array(out)


SCHEDULES = {
    "StepLR": (dict(step_size=7, gamma=0.5), {}),
    "MultiStepLR": (dict(milestones=[3, 10, 10, 25], gamma=0.3), {}),
    "ExponentialLR": (dict(gamma=0.95), {}),
    "CosineAnnealingLR": (dict(T_max=12, eta_min=1e-3), {}),  # 40 epochs: past T_max and back up
    "LambdaLR": (dict(lr_lambda=lambda e: 1 / (1 + e) ** 0.5 if e % 3 else 0.5), {}),
}


@pytest.mark.parametrize("name", list(SCHEDULES))
def test_sequence_matches_torch(name):
    kwargs, _ = SCHEDULES[name]
    opt, topt = _ember_opt(), _torch_opt()
    ours = _sequence(opt, getattr(S, name)(opt, **kwargs))
    theirs = _sequence(topt, getattr(torch.optim.lr_scheduler, name)(topt, **kwargs))
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-15)
    assert len(np.unique(ours[:, 0])) > 3  # the schedule really changes the rate


def test_lambda_lr_one_function_per_group():
    opt, topt = _ember_opt(), _torch_opt()
    fns = [lambda e: 0.9**e, lambda e: 1.0 / (e + 1)]
    np.testing.assert_allclose(_sequence(opt, S.LambdaLR(opt, fns)),
                               _sequence(topt, torch.optim.lr_scheduler.LambdaLR(topt, fns)), rtol=1e-12)


METRICS = [1.0, 0.9, 0.9, 0.95, 0.91, 0.9, 0.9, 0.9, 0.85, 0.8499, 0.86, 0.87, 0.88, 0.7, 0.7, 0.7, 0.7, 0.7,
           0.71, 0.72, 0.69, 0.69, 0.7, 0.7, 0.7, 0.7, 0.7, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6,
           0.6, 0.6]


@pytest.mark.parametrize("kwargs", [
    dict(),
    dict(factor=0.5, patience=2),
    dict(factor=0.5, patience=1, cooldown=2, min_lr=[0.01, 0.005]),
    dict(mode="max", factor=0.2, patience=2, threshold=0.05, threshold_mode="abs", min_lr=1e-3),
    dict(factor=0.5, patience=0, threshold=0.01, threshold_mode="rel"),
])
def test_reduce_on_plateau_matches_torch(kwargs):
    opt, topt = _ember_opt(), _torch_opt()
    ours = _sequence(opt, S.ReduceLROnPlateau(opt, **kwargs), METRICS)
    theirs = _sequence(topt, torch.optim.lr_scheduler.ReduceLROnPlateau(topt, **kwargs), METRICS)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)
    if kwargs:
        assert ours[-1, 0] < LRS[0]  # these settings do cut the rate


def test_reduce_on_plateau_takes_a_tensor_metric():
    opt = _ember_opt()
    sched = S.ReduceLROnPlateau(opt, patience=0)
    sched.step(em.tensor(1.0))
    sched.step(em.tensor(2.0))
    assert opt.param_groups[0]["lr"] == pytest.approx(LRS[0] * 0.1)


# -- the course's decays and warmup, in closed form ---------------------------------------------
def test_inverse_time_decay():
    opt = _ember_opt()
    seq = _sequence(opt, S.InverseTimeDecay(opt, decay_rate=0.5), epochs=30)
    e = np.arange(31)[:, None]
    np.testing.assert_allclose(seq, np.array(LRS) / (1 + 0.5 * e), rtol=1e-14)


def test_inverse_sqrt_decay_uses_epoch_one_at_epoch_zero():
    opt = _ember_opt()
    seq = _sequence(opt, S.InverseSqrtDecay(opt, k=2.0), epochs=30)
    e = np.maximum(np.arange(31), 1)[:, None]
    np.testing.assert_allclose(seq, 2.0 * np.array(LRS) / np.sqrt(e), rtol=1e-14)
    assert seq[0, 0] == seq[1, 0] == pytest.approx(0.2)


def test_linear_warmup_then_constant():
    opt = _ember_opt()
    seq = _sequence(opt, S.LinearWarmup(opt, warmup_steps=4, start_factor=0.2), epochs=10)
    factors = [0.2, 0.4, 0.6, 0.8] + [1.0] * 7
    np.testing.assert_allclose(seq, np.outer(factors, LRS), rtol=1e-14)


def test_linear_warmup_chains_into_another_schedule():
    opt = _ember_opt()
    cosine = S.CosineAnnealingLR(opt, T_max=10)
    seq = _sequence(opt, S.LinearWarmup(opt, warmup_steps=5, after_scheduler=cosine), epochs=20)
    e = np.arange(21)
    factors = np.where(e < 5, e / 5, (1 + np.cos(np.pi * (e - 5) / 10)) / 2)
    np.testing.assert_allclose(seq, np.outer(factors, LRS), rtol=1e-12, atol=1e-15)
    assert seq[0, 0] == 0.0 and seq[5, 0] == LRS[0]


def test_linear_warmup_matches_torch_linear_lr():
    """Without chaining, the ramp is PyTorch's LinearLR with end_factor=1."""
    opt, topt = _ember_opt(), _torch_opt()
    ours = _sequence(opt, S.LinearWarmup(opt, warmup_steps=6, start_factor=0.25))
    theirs = _sequence(topt, torch.optim.lr_scheduler.LinearLR(topt, start_factor=0.25, total_iters=6))
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)


# -- state dict -------------------------------------------------------------------------------
@pytest.mark.parametrize("make", [
    lambda o: S.StepLR(o, step_size=4, gamma=0.5),
    lambda o: S.MultiStepLR(o, milestones=[3, 9], gamma=0.1),
    lambda o: S.CosineAnnealingLR(o, T_max=8, eta_min=0.001),
    lambda o: S.InverseTimeDecay(o, decay_rate=0.3),
    lambda o: S.LinearWarmup(o, 3, 0.1, after_scheduler=S.ExponentialLR(o, gamma=0.9)),
    lambda o: S.ReduceLROnPlateau(o, factor=0.5, patience=1, cooldown=1),
], ids=["step", "multistep", "cosine", "inverse-time", "warmup-chain", "plateau"])
def test_state_dict_round_trip(make):
    opt = _ember_opt()
    sched = make(opt)
    plateau = isinstance(sched, S.ReduceLROnPlateau)
    full = _sequence(opt, sched, METRICS, epochs=20) if plateau else _sequence(opt, sched, epochs=20)

    opt = _ember_opt()
    sched = make(opt)
    (_sequence(opt, sched, METRICS, epochs=7) if plateau else _sequence(opt, sched, epochs=7))
    opt_state, text = opt.state_dict(), json.dumps(sched.state_dict())

    opt = _ember_opt()
    sched = make(opt)
    opt.load_state_dict(opt_state)
    sched.load_state_dict(json.loads(text))
    rest = _sequence(opt, sched, METRICS[7:], epochs=13) if plateau else _sequence(opt, sched, epochs=13)
    np.testing.assert_allclose(rest, full[7:], rtol=1e-14)


def test_resume_with_last_epoch():
    """Passing last_epoch (and the optimizer's 'initial_lr') resumes the schedule at the next epoch."""
    opt = _ember_opt()
    S.ExponentialLR(opt, gamma=0.5)
    sched = S.ExponentialLR(opt, gamma=0.5, last_epoch=3)
    assert sched.get_last_lr() == pytest.approx([LRS[0] * 0.5**4, LRS[1] * 0.5**4])
    with pytest.raises(KeyError, match="initial_lr"):
        S.ExponentialLR(_ember_opt(), gamma=0.5, last_epoch=3)


def test_manual_change_through_base_lrs():
    opt = _ember_opt()
    sched = S.StepLR(opt, step_size=2, gamma=0.5)
    sched.base_lrs = [1.0, 1.0]
    sched.step()
    sched.step()
    assert sched.get_last_lr() == [0.5, 0.5]


@pytest.mark.parametrize("make, match", [
    (lambda o: S.StepLR(o, step_size=0), "step_size"),
    (lambda o: S.CosineAnnealingLR(o, T_max=0), "T_max"),
    (lambda o: S.LambdaLR(o, [lambda e: 1.0]), "one per param group"),
    (lambda o: S.ReduceLROnPlateau(o, factor=1.5), "factor"),
    (lambda o: S.ReduceLROnPlateau(o, mode="lowest"), "mode"),
    (lambda o: S.LinearWarmup(o, warmup_steps=0), "warmup_steps"),
    (lambda o: S.LinearWarmup(o, 2, after_scheduler=S.ReduceLROnPlateau(o)), "after_scheduler"),
    (lambda o: S.StepLR(object(), 3), "Optimizer"),
])
def test_bad_arguments(make, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make(_ember_opt())


def test_schedulers_only_touch_lr():
    opt = _ember_opt()
    before = [{k: v for k, v in g.items() if k not in ("lr", "params", "initial_lr")} for g in opt.param_groups]
    sched = S.CosineAnnealingLR(opt, T_max=5)
    for _ in range(3):
        sched.step()
    after = [{k: v for k, v in g.items() if k not in ("lr", "params", "initial_lr")} for g in opt.param_groups]
    assert before == after
    assert math.isclose(opt.param_groups[0]["lr"], LRS[0] * (1 + math.cos(math.pi * 3 / 5)) / 2)

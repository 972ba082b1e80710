"""More schedulers (OneCycleLR, CyclicLR, PolynomialLR, ConstantLR, LinearLR, MultiplicativeLR,
CosineAnnealingWarmRestarts, SequentialLR, ChainedScheduler): the rates (and cycled momenta) at each
step against torch.optim.lr_scheduler, state dicts, resuming, and PyTorch's errors."""
import json
import math
import warnings

import numpy as np
import pytest
import torch

import ember as em
import ember.nn as nn
from ember import optim
from ember.optim import lr_scheduler as S

STEPS = 30
LRS = (0.1, 0.02)


def _opt(lib, kind="SGD"):
    """Two groups with different rates: SGD with momentum, or Adam (whose β1 is the momentum)."""
    make = (lambda: nn.Parameter(em.ones(2))) if lib is em else (lambda: torch.nn.Parameter(torch.ones(2)))
    cls = getattr(optim if lib is em else torch.optim, kind)
    groups = [{"params": [make()]}, {"params": [make()], "lr": LRS[1]}]
    return cls(groups, lr=LRS[0], momentum=0.9) if kind == "SGD" else cls(groups, lr=LRS[0])


def _row(opt):
    """Each group's rate, then its momentum (β1 for Adam)."""
    groups = opt.param_groups
    return [g["lr"] for g in groups] + [g["momentum"] if "momentum" in g else g["betas"][0] for g in groups]


def _run(lib, make, kind="SGD", steps=STEPS, epochs=None):
    """The rows at construction and after each step (``step(epochs[i])`` when epochs are given)."""
    sched_module = S if lib is em else torch.optim.lr_scheduler
    opt = _opt(lib, kind)
    sched = make(sched_module, opt)
    rows = [_row(opt)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PyTorch's deprecation warning for step(epoch)
        for i in range(steps):
            opt.step()
            sched.step() if epochs is None else sched.step(epochs[i])
            rows.append(_row(opt))
            assert list(sched.get_last_lr()) == rows[-1][:2]
    return np.array(rows, dtype=float), sched, opt


CASES = {
    "OneCycleLR-cos": (lambda S, o: S.OneCycleLR(o, max_lr=1.0, total_steps=STEPS), "SGD"),
    "OneCycleLR-linear-adam": (lambda S, o: S.OneCycleLR(o, max_lr=[0.5, 0.05], total_steps=STEPS + 5,
                                                         anneal_strategy="linear", pct_start=0.4), "Adam"),
    "OneCycleLR-three-phase": (lambda S, o: S.OneCycleLR(o, max_lr=1.0, epochs=5, steps_per_epoch=6, three_phase=True,
                                                         div_factor=10.0, final_div_factor=100.0), "SGD"),
    "OneCycleLR-no-momentum": (lambda S, o: S.OneCycleLR(o, max_lr=0.3, total_steps=40, cycle_momentum=False,
                                                         base_momentum=0.5, max_momentum=0.6), "SGD"),
    "CyclicLR-triangular": (lambda S, o: S.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=4), "SGD"),
    "CyclicLR-triangular2": (lambda S, o: S.CyclicLR(o, base_lr=[0.01, 0.001], max_lr=[0.1, 0.02], step_size_up=3,
                                                     step_size_down=5, mode="triangular2"), "SGD"),
    "CyclicLR-exp-range-adam": (lambda S, o: S.CyclicLR(o, 0.001, 0.01, step_size_up=5, mode="exp_range", gamma=0.9,
                                                        base_momentum=0.85, max_momentum=0.95), "Adam"),
    "CyclicLR-scale-fn": (lambda S, o: S.CyclicLR(o, 0.01, 0.1, step_size_up=2, scale_fn=lambda x: 1 / (1 + x),
                                                  scale_mode="iterations", cycle_momentum=False), "SGD"),
    "PolynomialLR": (lambda S, o: S.PolynomialLR(o, total_iters=20, power=2.0), "SGD"),
    "PolynomialLR-sqrt": (lambda S, o: S.PolynomialLR(o, total_iters=12, power=0.5), "SGD"),
    "ConstantLR": (lambda S, o: S.ConstantLR(o, factor=0.5, total_iters=4), "SGD"),
    "ConstantLR-default": (lambda S, o: S.ConstantLR(o), "SGD"),
    "LinearLR": (lambda S, o: S.LinearLR(o, start_factor=0.25, end_factor=0.75, total_iters=10), "SGD"),
    "LinearLR-down": (lambda S, o: S.LinearLR(o, start_factor=1.0, end_factor=0.1, total_iters=17), "SGD"),
    "MultiplicativeLR": (lambda S, o: S.MultiplicativeLR(o, lambda e: 0.95), "SGD"),
    "MultiplicativeLR-per-group": (lambda S, o: S.MultiplicativeLR(o, [lambda e: 0.9 if e % 3 else 1.1,
                                                                       lambda e: 1 - 0.01 * e]), "SGD"),
    "LambdaLR": (lambda S, o: S.LambdaLR(o, lambda e: 1 / (1 + e)), "SGD"),
    "MultiStepLR": (lambda S, o: S.MultiStepLR(o, milestones=[5, 12, 12, 20], gamma=0.5), "SGD"),
    "WarmRestarts": (lambda S, o: S.CosineAnnealingWarmRestarts(o, T_0=5), "SGD"),
    "WarmRestarts-mult": (lambda S, o: S.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=2, eta_min=1e-3), "SGD"),
    "Sequential-constant-exp": (lambda S, o: S.SequentialLR(o, [S.ConstantLR(o, factor=0.1, total_iters=20),
                                                                S.ExponentialLR(o, gamma=0.9)], milestones=[20]),
                                "SGD"),
    "Sequential-linear-cosine": (lambda S, o: S.SequentialLR(o, [S.LinearLR(o, start_factor=0.1, total_iters=5),
                                                                 S.CosineAnnealingLR(o, T_max=20, eta_min=1e-3)],
                                                             milestones=[5]), "SGD"),
    "Sequential-three": (lambda S, o: S.SequentialLR(o, [S.LinearLR(o, 0.2, total_iters=4), S.StepLR(o, 3, 0.5),
                                                         S.MultiplicativeLR(o, lambda e: 0.97)], milestones=[4, 15]),
                         "SGD"),
    "Sequential-restarts": (lambda S, o: S.SequentialLR(o, [S.ConstantLR(o, 0.5, total_iters=3),
                                                            S.CosineAnnealingWarmRestarts(o, T_0=4, T_mult=2)],
                                                        milestones=[6]), "SGD"),
    "Chained-constant-exp": (lambda S, o: S.ChainedScheduler([S.ConstantLR(o, factor=0.1, total_iters=20),
                                                              S.ExponentialLR(o, gamma=0.9)]), "SGD"),
    "Chained-three": (lambda S, o: S.ChainedScheduler([S.LinearLR(o, 0.5, total_iters=6), S.StepLR(o, 4, 0.7),
                                                       S.MultiplicativeLR(o, lambda e: 0.99)], optimizer=o), "SGD"),
    "Chained-cosine-poly": (lambda S, o: S.ChainedScheduler([S.CosineAnnealingLR(o, T_max=12),
                                                             S.PolynomialLR(o, total_iters=40, power=1.5),
                                                             S.LambdaLR(o, lambda e: 1 + 0.1 * (e % 2))]), "Adam"),
    # PyTorch's chain of schedules that do not just multiply: cosine about eta_min, and the non-chainable ones
    "Chained-constant-cosine-eta": (lambda S, o: S.ChainedScheduler([S.ConstantLR(o, factor=0.5, total_iters=5),
                                                                     S.CosineAnnealingLR(o, T_max=8, eta_min=0.01)]),
                                    "SGD"),
    "Chained-lambda-exp": (lambda S, o: S.ChainedScheduler([S.LambdaLR(o, lambda e: 1 / (1 + e)),
                                                            S.ExponentialLR(o, gamma=0.9)]), "SGD"),
    "Chained-restarts-step": (lambda S, o: S.ChainedScheduler([S.CosineAnnealingWarmRestarts(o, T_0=4),
                                                               S.StepLR(o, 3, 0.5)]), "SGD"),
    "Chained-step-cyclic": (lambda S, o: S.ChainedScheduler([S.StepLR(o, 3, 0.5),
                                                             S.CyclicLR(o, 0.01, 0.1, step_size_up=4)]), "SGD"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_sequence_matches_torch(name):
    make, kind = CASES[name]
    ours, _, _ = _run(em, make, kind)
    theirs, _, _ = _run(torch, make, kind)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-15)
    assert len(np.unique(ours[:, 0])) > 1  # the schedule really changes the rate


def test_one_cycle_sets_the_group_options_as_torch():
    _, _, opt = _run(em, CASES["OneCycleLR-three-phase"][0], steps=3)
    _, _, topt = _run(torch, CASES["OneCycleLR-three-phase"][0], steps=3)
    keys = ("initial_lr", "max_lr", "min_lr", "max_momentum", "base_momentum", "momentum")
    for g, tg in zip(opt.param_groups, topt.param_groups, strict=True):
        assert {k: g[k] for k in keys} == pytest.approx({k: tg[k] for k in keys}, rel=1e-15)


def test_one_cycle_refuses_to_step_past_the_end():
    opt = _opt(em)
    sched = S.OneCycleLR(opt, max_lr=1.0, total_steps=3)
    for _ in range(3):
        sched.step()
    with pytest.raises(ValueError, match="total_steps"):
        sched.step()


# -- CosineAnnealingWarmRestarts.step(epoch) --------------------------------------------------------------
@pytest.mark.parametrize("T_mult", [1, 2, 3])
def test_warm_restarts_fractional_epochs(T_mult):
    """step(epoch + i/iters) per batch, as in PyTorch's example, jumps included."""
    iters = 4
    epochs = [e + i / iters for e in range(8) for i in range(iters)] + [26, 3.5, 0, 13.25]

    def make(S, o):
        return S.CosineAnnealingWarmRestarts(o, T_0=2, T_mult=T_mult, eta_min=0.005)

    ours, sched, _ = _run(em, make, steps=len(epochs), epochs=epochs)
    theirs, tsched, _ = _run(torch, make, steps=len(epochs), epochs=epochs)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-15)
    assert (sched.last_epoch, sched.T_cur, sched.T_i) == (tsched.last_epoch, tsched.T_cur, tsched.T_i)


def test_warm_restarts_step_after_a_jump():
    """step() after step(26) goes on from epoch 27, as PyTorch's does."""
    def run(lib):
        opt = _opt(lib)
        sched = (S if lib is em else torch.optim.lr_scheduler).CosineAnnealingWarmRestarts(opt, T_0=5, T_mult=2)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = []
            for step in [None] * 7 + [26] + [None] * 9:
                sched.step(step)
                out.append((opt.param_groups[0]["lr"], sched.last_epoch, sched.T_cur, sched.T_i))
        return out
    assert np.allclose(run(em), run(torch), rtol=1e-12, atol=0)


# -- state dicts -----------------------------------------------------------------------------------------
TORCH_INTERNALS = {"_get_lr_called_within_step", "_is_initial"}


@pytest.mark.parametrize("name", list(CASES))
def test_state_dict_has_torch_keys(name):
    make, kind = CASES[name]
    _, sched, _ = _run(em, make, kind, steps=3)
    _, tsched, _ = _run(torch, make, kind, steps=3)
    ours, theirs = sched.state_dict(), tsched.state_dict()
    assert set(theirs) - TORCH_INTERNALS <= set(ours)
    for key in set(theirs) & {"last_epoch", "total_steps", "T_i", "T_cur", "_milestones",
                              "max_lrs", "base_lrs", "_last_lr"}:
        assert ours[key] == pytest.approx(theirs[key], rel=1e-12), key
    for mine, their in zip(ours.get("_schedulers", []), theirs.get("_schedulers", []), strict=True):
        assert set(their) - TORCH_INTERNALS <= set(mine)
        assert mine["last_epoch"] == their["last_epoch"]


@pytest.mark.parametrize("name", list(CASES))
def test_state_dict_round_trip(name):
    """Save after 12 steps (JSON for the scheduler), restore into fresh objects, go on: the same rates."""
    make, kind = CASES[name]
    full, _, _ = _run(em, make, kind)
    _, sched, opt = _run(em, make, kind, steps=12)
    opt_state, text = opt.state_dict(), json.dumps(sched.state_dict())
    opt = _opt(em, kind)
    sched = make(S, opt)
    opt.load_state_dict(opt_state)
    sched.load_state_dict(json.loads(text))
    rest = [_row(opt)]
    for _ in range(STEPS - 12):
        opt.step()
        sched.step()
        rest.append(_row(opt))
    np.testing.assert_allclose(np.array(rest), full[12:], rtol=1e-14, atol=1e-16)


def test_callable_objects_keep_their_state():
    """A callable object's attributes are saved (a plain function's cannot be), as in PyTorch."""
    class Decay:
        def __init__(self, rate):
            self.rate = rate

        def __call__(self, epoch):
            return self.rate**epoch

    opt = _opt(em)
    sched = S.LambdaLR(opt, [Decay(0.5), lambda e: 1.0])
    sd = json.loads(json.dumps(sched.state_dict()))
    assert sd["lr_lambdas"] == [{"rate": 0.5}, None]
    restored = S.LambdaLR(_opt(em), [Decay(0.9), lambda e: 1.0])
    restored.load_state_dict(sd)
    assert restored.lr_lambdas[0].rate == 0.5


# -- composition ------------------------------------------------------------------------------------------
def test_chained_is_the_product_of_the_factors():
    opt = _opt(em)
    sched = S.ChainedScheduler([S.StepLR(opt, 3, 0.5), S.LinearLR(opt, 0.5, total_iters=4)])
    for epoch in range(1, 10):
        sched.step()
        expected = LRS[0] * 0.5 ** (epoch // 3) * (0.5 + 0.5 * min(epoch, 4) / 4)
        assert sched.get_last_lr()[0] == pytest.approx(expected, rel=1e-14)


def test_sequential_hands_over_at_the_milestone():
    opt = _opt(em)
    warmup, cosine = S.LinearLR(opt, 0.1, total_iters=4), S.CosineAnnealingLR(opt, T_max=8)
    sched = S.SequentialLR(opt, [warmup, cosine], milestones=[4])
    lrs = [sched.get_last_lr()[0]]
    for _ in range(8):
        sched.step()
        lrs.append(sched.get_last_lr()[0])
    expected = [LRS[0] * (0.1 + 0.9 * e / 4) for e in range(4)]
    expected += [LRS[0] * (1 + math.cos(math.pi * e / 8)) / 2 for e in range(5)]
    np.testing.assert_allclose(lrs, expected, rtol=1e-14)
    assert (sched.last_epoch, warmup.last_epoch, cosine.last_epoch) == (8, 3, 4)


@pytest.mark.parametrize("make, match", [
    (lambda o: S.ConstantLR(o, factor=1.5), "factor"),
    (lambda o: S.LinearLR(o, start_factor=0.0), "start_factor"),
    (lambda o: S.LinearLR(o, end_factor=1.5), "end_factor"),
    (lambda o: S.MultiplicativeLR(o, [lambda e: 1.0]), "one per param group"),
    (lambda o: S.MultiplicativeLR(o, 0.9), "function"),
    (lambda o: S.CosineAnnealingWarmRestarts(o, T_0=0), "T_0"),
    (lambda o: S.CosineAnnealingWarmRestarts(o, T_0=2, T_mult=1.5), "T_mult"),
    (lambda o: S.CyclicLR(o, 0.01, 0.1, mode="square"), "mode"),
    (lambda o: S.CyclicLR(o, [0.01], 0.1), "one value per param group"),
    (lambda o: S.OneCycleLR(o, max_lr=0.1), "total_steps"),
    (lambda o: S.OneCycleLR(o, max_lr=0.1, total_steps=10, pct_start=1), "pct_start"),
    (lambda o: S.OneCycleLR(o, max_lr=0.1, total_steps=10, anneal_strategy="exp"), "anneal_strategy"),
    (lambda o: S.OneCycleLR(o, max_lr=0.1, epochs=2, steps_per_epoch=0), "steps_per_epoch"),
    (lambda o: S.OneCycleLR(optim.Adagrad([nn.Parameter(em.ones(2))]), max_lr=0.1, total_steps=5), "momentum"),
    (lambda o: S.SequentialLR(o, [S.ConstantLR(o)], milestones=[3]), "milestone"),
    (lambda o: S.SequentialLR(o, [], milestones=[]), "at least one"),
    (lambda o: S.SequentialLR(o, [S.ConstantLR(o), S.ReduceLROnPlateau(o)], milestones=[3]), "ReduceLROnPlateau"),
    (lambda o: S.ChainedScheduler([S.ConstantLR(o), S.ConstantLR(_opt(em))]), "same optimizer"),
    (lambda o: S.ChainedScheduler([]), "at least one"),
])
def test_bad_arguments(make, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make(_opt(em))


def _warmup_cosine(base):
    """A custom schedule as programs write one: subclass PyTorch's older base name and define get_lr."""

    class WarmupCosine(base):
        def __init__(self, optimizer, warmup, total, last_epoch=-1):
            self.warmup, self.total = warmup, total
            super().__init__(optimizer, last_epoch)

        def get_lr(self):
            if self.last_epoch < self.warmup:
                return [b * (self.last_epoch + 1) / self.warmup for b in self.base_lrs]
            t = (self.last_epoch - self.warmup) / max(1, self.total - self.warmup)
            return [b * 0.5 * (1 + math.cos(math.pi * t)) for b in self.base_lrs]

    return WarmupCosine


def test_a_custom_scheduler_on_the_older_base_class_matches_torch():
    rates = []
    for lib, base in ((em, em.optim.lr_scheduler._LRScheduler), (torch, torch.optim.lr_scheduler._LRScheduler)):
        p = lib.nn.Parameter(lib.ones(2))
        opt = lib.optim.SGD([p], lr=0.1)
        sched = _warmup_cosine(base)(opt, 3, 10)
        seen = []
        for _ in range(12):
            opt.step()
            sched.step()
            seen.append(opt.param_groups[0]["lr"])
        rates.append(seen + sched.get_last_lr())
    np.testing.assert_allclose(rates[0], rates[1], rtol=1e-12)

"""Checkpoints: full state round trip, clear errors, and bit-exact resumption of training."""
import copy
import json

import numpy as np
import pytest
from train_problem import make_blobs, make_model

import ember as em
from ember import nn, optim
from ember.data import DataLoader, TensorDataset
from ember.optim import lr_scheduler
from ember.serialization import load, save
from ember.train import EarlyStopping, LRSchedulerCallback, ModelCheckpoint, Trainer, load_checkpoint, save_checkpoint


def _params(model):
    return {k: v.numpy().copy() for k, v in model.state_dict().items()}


def _one_adam_step(model, opt):
    x, y = em.randn(8, 2), em.tensor(np.arange(8) % 3)
    opt.zero_grad()
    nn.CrossEntropyLoss()(model(x), y).backward()
    opt.step()


def test_round_trip_restores_model_optimizer_scheduler_rng_and_extras(tmp_path):
    model = make_model(seed=1)
    opt = optim.Adam(model.parameters(), lr=0.01)
    sched = lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    _one_adam_step(model, opt)
    sched.step()
    path = tmp_path / "ckpt.safetensors"
    save_checkpoint(path, model, opt, sched, epoch=3, note="hi", scores=[0.5, 0.75])
    expected_draw = em.randn(4).numpy()
    expected_params = _params(model)

    fresh = make_model(seed=2)
    fresh_opt = optim.Adam(fresh.parameters(), lr=0.5)
    fresh_sched = lr_scheduler.StepLR(fresh_opt, step_size=1, gamma=0.5)
    extra = load_checkpoint(path, fresh, fresh_opt, fresh_sched)
    assert extra == {"epoch": 3, "note": "hi", "scores": [0.5, 0.75]}
    np.testing.assert_array_equal(em.randn(4).numpy(), expected_draw)  # the RNG continues where it was
    for k, v in _params(fresh).items():
        np.testing.assert_array_equal(v, expected_params[k])
    assert fresh_opt.param_groups[0]["lr"] == opt.param_groups[0]["lr"] == 0.005
    assert fresh_sched.state_dict() == sched.state_dict()
    for p, q in zip(model.parameters(), fresh.parameters(), strict=True):
        for key in ("exp_avg", "exp_avg_sq"):
            np.testing.assert_array_equal(np.asarray(opt.state[p][key]), np.asarray(fresh_opt.state[q][key]))
    # one more identical step on both gives identical parameters
    em.manual_seed(7)
    _one_adam_step(model, opt)
    em.manual_seed(7)
    _one_adam_step(fresh, fresh_opt)
    for a, b in zip(_params(model).values(), _params(fresh).values(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_checkpoint_has_sidecar_and_clear_errors(tmp_path):
    model = make_model()
    path = tmp_path / "m.safetensors"
    save_checkpoint(path, model, epoch=1)
    side = json.loads((tmp_path / "m.json").read_text())
    assert side["tree"]["extra"]["epoch"] == 1 and side["tree"]["optimizer"] is None
    with pytest.raises(ValueError, match="holds no optimizer state"):
        load_checkpoint(path, model, optim.SGD(model.parameters(), lr=0.1))
    save(model.state_dict(), tmp_path / "plain.safetensors")
    with pytest.raises(ValueError, match="not an ember checkpoint"):
        load_checkpoint(tmp_path / "plain.safetensors", model)
    state = em.get_rng_state()
    em.randn(3)
    load_checkpoint(path, model, restore_rng=False)
    assert em.get_rng_state() != state


def _state(model, opt, sched):
    """Everything load_checkpoint may change, as plain copies."""
    opt_state = opt.state_dict()
    arrays = {i: {k: np.array(v.numpy() if isinstance(v, em.Tensor) else v) for k, v in s.items()}
              for i, s in opt_state["state"].items()}
    return _params(model), arrays, copy.deepcopy(opt_state["param_groups"]), sched.state_dict(), em.get_rng_state()


def _corrupt_rng(state):
    state["rng"]["state"]["state"] = "not a number"


def _corrupt_rng_kind(state):
    state["rng"]["bit_generator"] = "MT19937"


def _corrupt_model_shape(state):
    state["model"]["3.weight"] = np.zeros((4, 16), np.float32)


def _corrupt_model_key(state):
    state["model"]["3.scale"] = state["model"].pop("3.bias")


def _corrupt_optimizer_index(state):
    state["optimizer"]["state"][7] = state["optimizer"]["state"].pop(0)


def _corrupt_optimizer_moment(state):
    state["optimizer"]["state"][1]["exp_avg"] = np.zeros(3, np.float32)


def _corrupt_optimizer_groups(state):
    state["optimizer"]["param_groups"].append(state["optimizer"]["param_groups"][0])


def _corrupt_optimizer_option(state):
    state["optimizer"]["param_groups"][0]["lr"] = "fast"


def _corrupt_scheduler(state):
    state["scheduler"]["T_max"] = 10  # a CosineAnnealingLR's state in a StepLR's place


def _corrupt_extra(state):
    state["extra"] = [3]


_CORRUPTIONS = {f.__name__.removeprefix("_corrupt_"): f for f in (
    _corrupt_rng, _corrupt_rng_kind, _corrupt_model_shape, _corrupt_model_key, _corrupt_optimizer_index,
    _corrupt_optimizer_moment, _corrupt_optimizer_groups, _corrupt_optimizer_option, _corrupt_scheduler,
    _corrupt_extra)}


@pytest.mark.parametrize("corrupt", _CORRUPTIONS.values(), ids=_CORRUPTIONS.keys())
def test_a_bad_entry_fails_before_anything_is_restored(tmp_path, corrupt):
    model = make_model(seed=1)
    opt = optim.Adam(model.parameters(), lr=0.01)
    sched = lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    _one_adam_step(model, opt)
    path = tmp_path / "ckpt.safetensors"
    save_checkpoint(path, model, opt, sched, epoch=1)
    state = load(path)
    corrupt(state)
    save(state, path)

    fresh = make_model(seed=2)
    fresh_opt = optim.Adam(fresh.parameters(), lr=0.5)
    fresh_sched = lr_scheduler.StepLR(fresh_opt, step_size=3, gamma=0.1)
    _one_adam_step(fresh, fresh_opt)
    em.randn(3)
    before = _state(fresh, fresh_opt, fresh_sched)
    with pytest.raises(Exception) as info:  # noqa: B017 - the state is checked first, the error's type below
        load_checkpoint(path, fresh, fresh_opt, fresh_sched)
    after = _state(fresh, fresh_opt, fresh_sched)
    for k, v in before[0].items():
        np.testing.assert_array_equal(after[0][k], v, err_msg=k)
    assert after[1].keys() == before[1].keys()
    for i, moments in before[1].items():
        for k, v in moments.items():
            np.testing.assert_array_equal(after[1][i][k], v, err_msg=f"{i}.{k}")
    assert after[2:] == before[2:]  # param groups, scheduler, RNG
    assert info.type is ValueError and f"load_checkpoint: {str(path)!r}" in str(info.value), info.value


def _run(epochs, loader_seed, tmp_path=None, resume_from=None, seed=0):
    """Adam + StepLR + dropout + shuffling; optionally checkpointing every epoch."""
    em.manual_seed(seed)
    x, y = make_blobs(120, seed=3)
    train = DataLoader(TensorDataset(x[:90], y[:90]), batch_size=16, shuffle=True, seed=loader_seed)
    dev = DataLoader(TensorDataset(x[90:], y[90:]), batch_size=30)
    model = make_model(dropout=0.3)
    opt = optim.Adam(model.parameters(), lr=0.02)
    sched = lr_scheduler.StepLR(opt, step_size=1, gamma=0.7)
    callbacks = [LRSchedulerCallback(sched), EarlyStopping(monitor="dev_loss", patience=100)]
    if tmp_path is not None:
        callbacks.append(ModelCheckpoint(tmp_path, monitor="dev_accuracy"))
    trainer = Trainer(model, opt, nn.CrossEntropyLoss(), callbacks=callbacks)
    history = trainer.fit(train, dev, epochs=epochs, resume_from=resume_from)
    return model, opt, history, callbacks


@pytest.mark.parametrize("loader_seed", [None, 5], ids=["global-rng-shuffle", "seeded-shuffle"])
def test_resume_is_bit_exact(tmp_path, loader_seed):
    straight, straight_opt, straight_history, straight_cbs = _run(4, loader_seed)

    _run(2, loader_seed, tmp_path=tmp_path)
    em.manual_seed(12345)  # the resumed process starts from an unrelated RNG state
    resumed, resumed_opt, resumed_history, resumed_cbs = _run(4, loader_seed, seed=99,
                                                              resume_from=tmp_path / "last.safetensors")
    for (k, a), b in zip(_params(straight).items(), _params(resumed).values(), strict=True):
        assert np.array_equal(a, b), k
    assert resumed_opt.param_groups[0]["lr"] == straight_opt.param_groups[0]["lr"]
    strip = [{k: v for k, v in row.items() if k != "time"} for row in straight_history]
    assert [{k: v for k, v in row.items() if k != "time"} for row in resumed_history] == strip
    assert resumed_cbs[1].best == straight_cbs[1].best and resumed_cbs[1].wait == straight_cbs[1].wait


def test_resume_from_last_epoch_trains_no_more(tmp_path):
    _, _, history, _ = _run(2, 5, tmp_path=tmp_path)
    model, _, again, _ = _run(2, 5, resume_from=tmp_path / "last.safetensors")
    assert len(again) == 2 and again["loss"] == history["loss"]

"""Trainer: the loop learns, switches train/eval, records history, evaluates without gradients."""
import numpy as np
import pytest

import ember as em
from ember import nn, optim
from ember.data import DataLoader, TensorDataset
from ember.train import Callback, Diagnose, History, Trainer


class _Spy(nn.Module):
    """Wraps a model and records (training, grad enabled) at every forward call."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner
        self.calls = []

    def forward(self, x):
        self.calls.append((self.training, em.is_grad_enabled()))
        return self.inner(x)


def test_fit_reduces_loss_and_reaches_high_accuracy(model, sgd, loaders):
    train, dev = loaders
    trainer = Trainer(model, sgd, nn.CrossEntropyLoss())
    history = trainer.fit(train, dev, epochs=8)
    assert isinstance(history, History) and len(history) == 8
    assert history.keys() == ["epoch", "loss", "accuracy", "dev_loss", "dev_accuracy", "lr", "time"]
    assert history["epoch"] == list(range(1, 9))
    assert history["loss"][-1] < 0.5 * history["loss"][0]
    assert history["dev_accuracy"][-1] > 0.9
    assert history["lr"] == [0.1] * 8
    assert trainer.evaluate(dev)["accuracy"] == pytest.approx(history["dev_accuracy"][-1])


def test_train_mode_in_steps_eval_mode_without_grad_in_evaluation(model, sgd, loaders):
    train, dev = loaders
    spy = _Spy(model)
    trainer = Trainer(spy, sgd, nn.CrossEntropyLoss())
    trainer.fit(train, dev, epochs=1)
    n_train, n_dev = len(train), len(dev)
    assert spy.calls[:n_train] == [(True, True)] * n_train
    assert spy.calls[n_train:] == [(False, False)] * n_dev
    spy.eval()
    trainer.evaluate(dev)
    assert spy.training is False  # evaluate restores the mode it found
    spy.train()
    trainer.evaluate(dev)
    assert spy.training is True


def test_evaluate_averages_over_samples_not_batches(model, sgd):
    x = em.randn(10, 2)
    y = em.tensor(np.array([0, 1, 2, 0, 1, 2, 0, 1, 2, 0]))
    trainer = Trainer(model.eval(), sgd, nn.CrossEntropyLoss())
    uneven = trainer.evaluate(DataLoader(TensorDataset(x, y), batch_size=4))  # batches of 4, 4, 2
    with em.no_grad():
        full_loss = nn.CrossEntropyLoss()(model(x), y).item()
        full_acc = float((model(x).numpy().argmax(1) == y.numpy()).mean())
    assert uneven["loss"] == pytest.approx(full_loss, rel=1e-5)
    assert uneven["accuracy"] == pytest.approx(full_acc)


def test_metrics_options(model, sgd, loaders):
    train, _ = loaders

    def zero_one(output, target):
        return 1.0

    assert list(Trainer(model, sgd, nn.CrossEntropyLoss(), metrics=None).fit(train).last) == ["epoch", "loss", "lr",
                                                                                               "time"]
    row = Trainer(model, sgd, nn.CrossEntropyLoss(), metrics={"one": zero_one, "acc": "accuracy"}).fit(train).last
    assert row["one"] == 1.0 and 0 <= row["acc"] <= 1
    assert "zero_one" in Trainer(model, sgd, nn.CrossEntropyLoss(), metrics=[zero_one]).fit(train).last
    with pytest.raises(ValueError, match="unknown metric 'f2'"):
        Trainer(model, sgd, nn.CrossEntropyLoss(), metrics=["f2"])


def test_stop_training_from_a_callback_and_hook_order(model, sgd, loaders):
    train, dev = loaders
    events = []

    class Recorder(Callback):
        def on_train_begin(self, trainer):
            events.append("train_begin")

        def on_epoch_begin(self, trainer, epoch):
            events.append(f"epoch_begin{epoch}")

        def on_batch_begin(self, trainer, batch):
            events.append("batch_begin")

        def on_before_step(self, trainer):
            events.append("before_step")

        def on_batch_end(self, trainer, batch, logs):
            events.append("batch_end")
            if batch == 1:
                trainer.stop_training = True

        def on_epoch_end(self, trainer, epoch, logs):
            events.append(f"epoch_end{epoch}")

        def on_train_end(self, trainer):
            events.append("train_end")

    history = Trainer(model, sgd, nn.CrossEntropyLoss(), callbacks=[Recorder()]).fit(train, dev, epochs=5)
    assert len(history) == 1
    assert events == ["train_begin", "epoch_begin0"] + ["batch_begin", "before_step", "batch_end"] * 2 + [
        "epoch_end0", "train_end"]


def test_callbacks_sorted_by_order_stably(model, sgd):
    class A(Callback):
        order = 5

    class B(Callback):
        pass

    a, b1, b2 = A(), B(), B()
    assert Trainer(model, sgd, nn.CrossEntropyLoss(), callbacks=[a, b1, b2], diagnose=False).callbacks == [b1, b2, a]
    with_diagnosis = Trainer(model, sgd, nn.CrossEntropyLoss(), callbacks=[a, b1, b2]).callbacks
    assert with_diagnosis[:3] == [b1, b2, a] and isinstance(with_diagnosis[3], Diagnose)  # order 30: last
    with pytest.raises(TypeError, match="Callback instances"):
        Trainer(model, sgd, nn.CrossEntropyLoss(), callbacks=[object()])


def test_multi_input_batches_numpy_batches_and_bad_batches(sgd):
    class Add(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(2, 3)

        def forward(self, a, b):
            return self.fc(a + b)

    model = Add()
    trainer = Trainer(model, optim.SGD(model.parameters(), lr=0.1), nn.CrossEntropyLoss())
    x, y = np.ones((4, 2), np.float32), np.array([0, 1, 2, 0])
    history = trainer.fit([(x, x, y)], epochs=2)  # any iterable of tuples; arrays become tensors
    assert len(history) == 2
    with pytest.raises(ValueError, match="a batch must be a tuple .* got a Tensor"):
        trainer.fit([em.ones(4, 2)], epochs=1)
    with pytest.raises(ValueError, match="yielded no batches"):
        trainer.fit([], epochs=1)


def test_predict_and_device(model, sgd, loaders):
    _, dev = loaders
    trainer = Trainer(model, sgd, nn.CrossEntropyLoss(), device="cpu")
    out = trainer.predict(dev)
    assert out.shape == (60, 3) and not out.requires_grad
    with em.no_grad():
        x = dev.dataset.tensors[0]
        np.testing.assert_allclose(out.numpy(), model.eval()(x).numpy(), rtol=1e-6)
    # batches of inputs alone: a lone tensor or a 1-tuple
    np.testing.assert_allclose(trainer.predict([x[:30], (x[30:],)]).numpy(), out.numpy(), rtol=1e-6)
    with pytest.raises(ValueError, match="a tensor or a tuple"):
        trainer.predict([np.ones((2, 2))])


def test_history_access():
    h = History([{"epoch": 1, "loss": 2.0}, {"epoch": 2, "loss": 1.0, "dev_loss": 1.5}])
    assert h["loss"] == [2.0, 1.0] and h["dev_loss"] == [None, 1.5]
    assert h[0] == {"epoch": 1, "loss": 2.0} and h.last["epoch"] == 2
    assert h.keys() == ["epoch", "loss", "dev_loss"] and len(list(h)) == 2
    assert History().last == {}


def test_fit_checks_epochs(model, sgd, loaders):
    train, dev = loaders
    trainer = Trainer(model, sgd, nn.CrossEntropyLoss())
    for bad in (-1, 2.5, "3", True):
        with pytest.raises(ValueError, match=r"Trainer.fit: epochs should be a non-negative integer, got"):
            trainer.fit(train, dev, epochs=bad)
    before = [p.detach().numpy().copy() for p in model.parameters()]
    assert len(trainer.fit(train, dev, epochs=0)) == 0  # zero epochs: a valid run that trains nothing
    for a, p in zip(before, model.parameters(), strict=True):
        np.testing.assert_array_equal(a, p.detach().numpy())
    assert len(trainer.fit(train, dev, epochs=np.int64(1))) == 1

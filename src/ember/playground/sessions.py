"""Training sessions of the 2-D playground: a small network learning one data set in its own thread.

A ``TrainingSession`` owns a data set, an MLP (inputs = the chosen features, ``hidden`` layers of
the chosen activation, one logit out, binary cross-entropy), an optimiser, the ``Trainer`` that
steps them, and a thread. The thread sleeps while paused, trains one epoch (a pass over the
shuffled training points in mini-batches, one ``trainer.step`` each) at a time while running, and
after an epoch — at most every ``frame_interval`` seconds while running — publishes a *frame*: the
decision heat map p(blue | x) over [−6, 6]², the output map of every neuron (features included),
the weights and the train/test losses.
Streams wait for frames with ``wait_frame``; the session stops when its last stream detaches, when
no stream has come for ``idle_timeout`` seconds, or when ``stop`` is called. ``SessionManager``
keeps a bounded number of them.

>>> session = TrainingSession(SessionConfig(dataset="xor", hidden=(4,)))
>>> session.control("step"); session.wait_frame(-1, 5.0)[1] >= 1
True
>>> session.stop()
"""
from __future__ import annotations

import dataclasses
import math
import secrets
import threading
import time

import numpy as np

from ember import nn
from ember.autograd.grad_mode import no_grad
from ember.autograd.tensor import Tensor
from ember.data import DataLoader, TensorDataset
from ember.nn.utils import l1_penalty, l2_penalty
from ember.ops.loss import binary_cross_entropy_with_logits
from ember.optim import SGD, Adam, RMSprop
from ember.playground.datasets2d import DATASETS, FEATURES, features, grid, make_dataset
from ember.playground.encoding import encode_map
from ember.playground.validation import Fields, RequestError
from ember.train.trainer import Trainer

__all__ = ["ACTIVATIONS", "OPTIMIZERS", "SessionConfig", "SessionManager", "TrainingSession", "build_model",
           "parse_config"]

ACTIVATIONS = {"sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "relu": nn.ReLU, "leaky_relu": nn.LeakyReLU,
               "linear": nn.Identity}
OPTIMIZERS = ("sgd", "momentum", "rmsprop", "adam")
REGULARIZATION = ("none", "l1", "l2")
LIMITS = {"layers": 6, "neurons": 16, "batch_size": 512, "points": 1000, "lr": 10.0, "reg_rate": 10.0,
          "dropout": 0.9, "seed": 2**31 - 1}
BOUNDARY_SIZE, NEURON_SIZE = 48, 20
MAX_EPOCHS = 20000  # a session left running pauses itself here


@dataclasses.dataclass(frozen=True)
class SessionConfig:
    """What the page chose: the data, the network and how it learns."""

    dataset: str = "circle"
    noise: float = 0.0
    train_fraction: float = 0.5
    points: int = 400
    seed: int = 0
    features: tuple = ("x1", "x2")
    hidden: tuple = (4, 2)
    activation: str = "tanh"
    lr: float = 0.03
    optimizer: str = "sgd"
    regularization: str = "none"
    reg_rate: float = 0.0
    dropout: float = 0.0
    batch_size: int = 10


def parse_config(body) -> SessionConfig:
    """A ``SessionConfig`` from a request's JSON object; ``RequestError`` (400) naming any bad field.

    Limits: ≤ 6 hidden layers of 1–16 neurons, batch 1–512, 10–1000 points, lr in (0, 10],
    noise in [0, 1], train fraction in [0.1, 0.9], dropout in [0, 0.9], regularisation rate in [0, 10].
    """
    f, d = Fields(body, "session"), SessionConfig()
    config = SessionConfig(
        dataset=f.choice("dataset", DATASETS, d.dataset), noise=f.number("noise", 0.0, 1.0, d.noise),
        train_fraction=f.number("train_fraction", 0.1, 0.9, d.train_fraction),
        points=f.integer("points", 10, LIMITS["points"], d.points), seed=f.integer("seed", 0, LIMITS["seed"], d.seed),
        features=tuple(f.str_list("features", FEATURES, 1, list(d.features))),
        hidden=tuple(f.int_list("hidden", 0, LIMITS["layers"], 1, LIMITS["neurons"], list(d.hidden))),
        activation=f.choice("activation", ACTIVATIONS, d.activation),
        lr=f.number("lr", 0.0, LIMITS["lr"], d.lr, low_open=True),
        optimizer=f.choice("optimizer", OPTIMIZERS, d.optimizer),
        regularization=f.choice("regularization", REGULARIZATION, d.regularization),
        reg_rate=f.number("reg_rate", 0.0, LIMITS["reg_rate"], d.reg_rate),
        dropout=f.number("dropout", 0.0, LIMITS["dropout"], d.dropout),
        batch_size=f.integer("batch_size", 1, LIMITS["batch_size"], d.batch_size))
    f.done()
    return config


# -- the model -------------------------------------------------------------------------------------


def build_model(config: SessionConfig) -> nn.Sequential:
    """Linear(features → h₁) → act [→ Dropout] → … → Linear(h_L → 1), initialised from ``config.seed``.

    Weights and biases are drawn U(−1/√fan_in, 1/√fan_in) — PyTorch's default bounds — from a private
    generator, so sessions in parallel threads never share or reseed the global one.

    >>> build_model(SessionConfig(hidden=(3,)))
    Sequential(
      (0): Linear(in_features=2, out_features=3, bias=True)
      (1): Tanh()
      (2): Linear(in_features=3, out_features=1, bias=True)
    )
    """
    sizes = [len(config.features), *config.hidden]
    layers = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True):
        layers += [nn.Linear(n_in, n_out), ACTIVATIONS[config.activation]()]
        if config.dropout > 0:
            layers.append(nn.Dropout(config.dropout))
    model = nn.Sequential(*layers, nn.Linear(sizes[-1], 1))
    rng = np.random.default_rng(config.seed)
    for module in model.modules():
        if isinstance(module, nn.Linear):
            bound = 1.0 / math.sqrt(module.in_features)
            for p in (module.weight, module.bias):
                p.array[...] = rng.uniform(-bound, bound, p.shape)
    return model


def _optimizer(config: SessionConfig, params):
    if config.optimizer == "adam":
        return Adam(params, lr=config.lr)
    if config.optimizer == "rmsprop":
        return RMSprop(params, lr=config.lr)
    return SGD(params, lr=config.lr, momentum=0.9 if config.optimizer == "momentum" else 0.0)


def _bce(logit: Tensor, y: Tensor) -> Tensor:
    """The mean binary cross-entropy of the logits (N, 1) against the labels (N,) in {0, 1}."""
    return binary_cross_entropy_with_logits(logit.reshape(-1), y)


class _Objective:
    """The training loss of ``model``: L = BCE + λ Σ|W| (``'l1'``) or BCE + λ/2 Σ W² (``'l2'``), over the
    Linear weights (not the biases), λ = ``reg_rate``. The test and train curves show the BCE alone."""

    def __init__(self, config: SessionConfig, model: nn.Module):
        self.regularization, self.rate = config.regularization, config.reg_rate
        self.weights = [m.weight for m in model.modules() if isinstance(m, nn.Linear)]

    def __call__(self, logit: Tensor, y: Tensor) -> Tensor:
        loss = _bce(logit, y)
        if self.regularization == "l1":
            loss = loss + self.rate * l1_penalty(self.weights)
        elif self.regularization == "l2":
            loss = loss + self.rate / 2 * l2_penalty(self.weights)
        return loss


# -- the session -----------------------------------------------------------------------------------


class TrainingSession:
    """One playground run in its own daemon thread; see the module docstring.

    Args:
        config: a ``SessionConfig``.
        frame_interval: the least time between two frames while running (seconds).
        idle_timeout: stop when no stream has been attached for this long (seconds).
    """

    def __init__(self, config: SessionConfig, frame_interval: float = 0.1, idle_timeout: float = 60.0):
        self.config, self.frame_interval, self.idle_timeout = config, frame_interval, idle_timeout
        self.id = secrets.token_hex(8)
        self.data = make_dataset(config.dataset, config.points, config.noise, config.train_fraction, config.seed)
        self._inputs = (features(self.data.x_train, config.features), features(self.data.x_test, config.features))
        self._grids = {n: grid(n) for n in (BOUNDARY_SIZE, NEURON_SIZE)}
        self._grid_inputs = {n: features(g, config.features) for n, g in self._grids.items()}
        self._cond = threading.Condition()
        self.state, self._steps, self._streams, self._last_seen = "paused", 0, 0, time.monotonic()
        # the loader draws each epoch's order from this generator; it lives across resets, as the thread does
        self._loader = DataLoader(TensorDataset(self._inputs[0], self.data.y_train), batch_size=config.batch_size,
                                  shuffle=True, generator=np.random.default_rng(config.seed + 1))
        self.resets, self._frame_number = 0, 0
        self._reset()
        self._thread = threading.Thread(target=self._loop, name=f"playground-{self.id}", daemon=True)
        self._thread.start()

    # -- controls (any thread) ---------------------------------------------------------------------
    def control(self, action: str) -> None:
        """'start', 'pause', 'step' (one epoch, then paused) or 'reset' (new initial weights, paused)."""
        with self._cond:
            if self.state == "stopped":
                raise RequestError("session: this session has stopped; create a new one", 409)
            if action == "start":
                self.state = "running"
            elif action == "pause":
                self.state = "paused"
            elif action == "step":
                self.state, self._steps = "paused", self._steps + 1
            elif action == "reset":
                self.state, self._steps, self._pending_reset = "paused", 0, True
            else:
                raise RequestError(f"session: unknown action {action!r}; choose start, pause, step or reset")
            self._last_seen = time.monotonic()
            self._cond.notify_all()

    def stop(self) -> None:
        """End the thread (idempotent); streams waiting for frames wake up and see ``state == 'stopped'``."""
        with self._cond:
            self.state = "stopped"
            self._cond.notify_all()

    def attach(self) -> None:
        """A stream starts listening."""
        with self._cond:
            self._streams += 1
            self._last_seen = time.monotonic()

    def detach(self) -> None:
        """A stream went away; the last one leaving stops the session (its page is gone)."""
        with self._cond:
            self._streams -= 1
            if self._streams <= 0:
                self.state = "stopped"
            self._cond.notify_all()

    def wait_frame(self, seen: int, timeout: float):
        """Block until a frame newer than number ``seen`` exists, the session stops, or ``timeout`` passes.

        Returns (frame dict, its number, the loss history [[epoch, train, test], ...]); the number equals
        ``seen`` when nothing new came.
        """
        with self._cond:
            self._cond.wait_for(lambda: self._frame_number != seen or self.state == "stopped", timeout)
            return self._frame, self._frame_number, list(self.history)

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the thread to end; True when it has."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    # -- the thread --------------------------------------------------------------------------------
    def _loop(self) -> None:
        try:
            while self._next_action():
                self._epoch()
                self._publish(force=self.state != "running")
        except Exception as error:  # noqa: BLE001 - a failing session must end cleanly, with its reason shown
            with self._cond:
                self.error, self.state = f"{type(error).__name__}: {error}", "stopped"
                self._cond.notify_all()

    def _next_action(self) -> bool:
        """Wait until there is an epoch to run; False when the session ends."""
        with self._cond:
            while True:
                if self._pending_reset:
                    self._reset()
                if self.state == "stopped":
                    return False
                if self._streams == 0 and time.monotonic() - self._last_seen > self.idle_timeout:
                    self.state = "stopped"
                    self._cond.notify_all()
                    return False
                if self.epoch >= MAX_EPOCHS and self.state == "running":
                    self.state = "paused"
                if self.state == "running" or self._steps > 0:
                    self._steps = max(self._steps - 1, 0)
                    return True
                if self._frame["epoch"] != self.epoch:  # paused between two frames: show where it stopped
                    self._frame, self._frame_number = self._make_frame(), self._frame_number + 1
                    self._cond.notify_all()
                self._cond.wait(timeout=min(1.0, self.idle_timeout))

    def _reset(self) -> None:
        """New weights from the seed (and the next seed on later resets), empty history, a first frame."""
        config = self.config
        self.model = build_model(dataclasses.replace(config, seed=config.seed + self.resets))
        self.resets += 1
        self.optimizer = _optimizer(config, self.model.parameters())
        self.trainer = Trainer(self.model, self.optimizer, _Objective(config, self.model), metrics=None,
                               diagnose=False)
        self.epoch, self.history, self._pending_reset, self.error = 0, [], False, None
        self._last_frame_time = 0.0
        self._record_losses()
        self._frame = self._make_frame()
        self._frame_number += 1

    def _epoch(self) -> None:
        self.model.train()
        for batch in self._loader:
            self.trainer.step(batch)
        self.epoch += 1
        self._record_losses()

    def _record_losses(self) -> None:
        self.model.eval()
        with no_grad():
            losses = [float(_bce(self.model(Tensor(x)), Tensor(y)).item()) for x, y in
                      ((self._inputs[0], self.data.y_train), (self._inputs[1], self.data.y_test))]
        self.history.append([self.epoch, *(round(v, 6) if math.isfinite(v) else None for v in losses)])

    def _publish(self, force: bool) -> None:
        now = time.monotonic()
        if not force and now - self._last_frame_time < self.frame_interval:
            time.sleep(0.001)  # let the server threads in between epochs
            return
        frame = self._make_frame()
        with self._cond:
            if self._pending_reset:
                return
            self._frame, self._frame_number, self._last_frame_time = frame, self._frame_number + 1, now
            self._cond.notify_all()

    # -- frames ------------------------------------------------------------------------------------
    def _layer_outputs(self, size: int) -> list[np.ndarray]:
        """The input features and each hidden layer's activations over the size × size grid, then the logit."""
        self.model.eval()
        x = Tensor(self._grid_inputs[size])
        outputs = [x.array]
        with no_grad():
            for module in self.model:
                x = module(x)
                if isinstance(module, tuple(ACTIVATIONS.values())):
                    outputs.append(x.array)
        return outputs + [x.array]

    def _make_frame(self) -> dict:
        logit = self._layer_outputs(BOUNDARY_SIZE)[-1].reshape(BOUNDARY_SIZE, BOUNDARY_SIZE)
        probability = 1.0 / (1.0 + np.exp(-np.clip(logit.astype(np.float64), -60, 60)))
        layers = self._layer_outputs(NEURON_SIZE)[:-1]
        neurons = [[encode_map(a[:, j].reshape(NEURON_SIZE, NEURON_SIZE)) for j in range(a.shape[1])] for a in layers]
        weights = [np.round(m.weight.array.astype(np.float64), 4).tolist() for m in self.model.modules()
                   if isinstance(m, nn.Linear)]
        train_loss, test_loss = self.history[-1][1:]
        return {"epoch": self.epoch, "run": self.resets, "train_loss": train_loss, "test_loss": test_loss,
                "boundary": encode_map(2.0 * probability - 1.0, scale=1.0), "neurons": neurons, "weights": weights}

    def describe(self) -> dict:
        """The session's id, state, configuration and points ([x₁, x₂, label] rows) for the page."""
        d = self.data
        points = {name: np.round(np.column_stack([x, y]).astype(np.float64), 3).tolist()
                  for name, x, y in (("train", d.x_train, d.y_train), ("test", d.x_test, d.y_test))}
        return {"id": self.id, "state": self.state, "config": dataclasses.asdict(self.config), **points}


class SessionManager:
    """At most ``max_sessions`` live training sessions, by id; stopped ones are dropped on the next call."""

    def __init__(self, max_sessions: int = 4, **session_options):
        self.max_sessions, self.session_options = max_sessions, session_options
        self._sessions: dict[str, TrainingSession] = {}
        self._lock = threading.Lock()

    def _prune(self) -> None:
        for key in [k for k, s in self._sessions.items() if s.state == "stopped"]:
            del self._sessions[key]

    def create(self, config: SessionConfig) -> TrainingSession:
        """A new running-thread session; ``RequestError`` 429 when ``max_sessions`` are alive."""
        with self._lock:
            self._prune()
            if len(self._sessions) >= self.max_sessions:
                raise RequestError(f"playground: {self.max_sessions} training sessions are already running; "
                                   "close another tab or wait for one to end", 429)
            session = TrainingSession(config, **self.session_options)
            self._sessions[session.id] = session
            return session

    def get(self, session_id: str) -> TrainingSession:
        """The live session ``session_id``; ``RequestError`` 404 when it is unknown or has stopped."""
        with self._lock:
            self._prune()
            if session_id not in self._sessions:
                raise RequestError(f"playground: no live session {session_id[:40]!r} (it ended or never existed)", 404)
            return self._sessions[session_id]

    def live(self) -> int:
        """How many sessions are alive."""
        with self._lock:
            self._prune()
            return len(self._sessions)

    def stop_all(self) -> None:
        """Stop every session (server shutdown)."""
        with self._lock:
            for session in self._sessions.values():
                session.stop()
            self._sessions.clear()

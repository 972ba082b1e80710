"""ember on the strict stand-in for CuPy (``tests/strict_xp.py``): what a GPU run needs, proved on a CPU.

Training steps run on ``device='cuda'`` with arrays that refuse implicit host conversion and
count host synchronisations; their results equal the CPU's; ember's own bounds checks catch what
the device would wrap silently; checkpoints of device models load on a CPU-only machine.
"""
import numpy as np
import pytest

import ember as em
import strict_xp
from ember import nn


@pytest.fixture
def strict_device():
    previous = strict_xp.install()
    yield strict_xp
    strict_xp.uninstall(previous)


# -- the stand-in behaves as CuPy where CuPy differs from NumPy ------------------------------------------
def test_the_stand_in_refuses_host_operands_and_implicit_conversion(strict_device):
    a = strict_device.asarray(np.arange(4.0))
    with pytest.raises(TypeError, match="Implicit conversion"):
        np.asarray(a)
    with pytest.raises(TypeError, match="NumPy array operand"):
        strict_device.add(a, np.ones(4))
    with pytest.raises(TypeError, match="NumPy array operand"):
        a + np.ones(4)
    with pytest.raises(TypeError, match="Python list"):
        strict_device.exp([1.0, 2.0])
    assert a[strict_device.asarray(np.array([5, -9]))].get().tolist() == [1.0, 3.0]  # wraps, no IndexError
    before = strict_device.SYNCS[0]
    float(a.sum()), bool(a[0] == 0)
    assert strict_device.SYNCS[0] == before + 2


# -- training steps: same numbers as the CPU, few host synchronisations ----------------------------------
def mlp():
    return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4))


def lenet():
    return nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 16, 5), nn.ReLU(),
                         nn.AvgPool2d(2), nn.Flatten(), nn.Linear(16, 4))


def resnet_block():
    from ember.models.resnet import BasicBlock

    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(),
                         BasicBlock(8, 8), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 4))


class LanguageModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.embedding, self.decoder = nn.Embedding(20, 8), nn.Linear(12, 20)
        self.rnn = nn.LSTM(8, 12, batch_first=True)

    def forward(self, tokens):
        return self.decoder(self.rnn(self.embedding(tokens))[0].reshape(-1, 12))


CASES = {
    "mlp": (mlp, lambda rng: rng.standard_normal((6, 8)).astype(np.float32), 4, 6),
    "lenet": (lenet, lambda rng: rng.standard_normal((6, 1, 12, 12)).astype(np.float32), 4, 6),
    "resnet_block": (resnet_block, lambda rng: rng.standard_normal((6, 3, 8, 8)).astype(np.float32), 4, 6),
    "lstm_lm": (LanguageModel, lambda rng: rng.integers(0, 20, (3, 5)), 20, 15),
}
# The host synchronisations of one step, all bounds checks that ember makes because a GPU would not
# raise on an out-of-range index: cross_entropy's targets (every case) and Embedding's ids (the LM).
# Reading the loss is the caller's choice and comes on top.
SYNC_BUDGET = {"mlp": 1, "lenet": 1, "resnet_block": 1, "lstm_lm": 2}


def train_steps(build, x, y, device, steps=2):
    em.manual_seed(0)
    model = build().to(device)
    optimizer = em.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x, y = em.tensor(x, device=device), em.tensor(y, device=device)
    counts = []
    for _ in range(steps):
        before = strict_xp.SYNCS[0]
        loss = nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        counts.append(strict_xp.SYNCS[0] - before)
    return model, counts, loss


@pytest.mark.parametrize("name", list(CASES))
def test_a_training_step_matches_the_cpu_within_the_sync_budget(strict_device, name):
    build, draw, classes, n = CASES[name]
    rng = np.random.default_rng(0)
    x, y = draw(rng), rng.integers(0, classes, n)
    cpu_model, _, cpu_loss = train_steps(build, x, y, "cpu")
    model, syncs, loss = train_steps(build, x, y, "cuda")
    assert isinstance(loss.array, strict_xp.ndarray)
    assert syncs == [SYNC_BUDGET[name]] * len(syncs), f"host synchronisations per step: {syncs}"
    assert loss.item() == pytest.approx(cpu_loss.item(), rel=1e-5)
    for (key, p), q in zip(model.state_dict().items(), cpu_model.state_dict().values(), strict=True):
        np.testing.assert_allclose(em.backend.to_numpy(p.array), q.numpy(), rtol=1e-5, atol=1e-6, err_msg=key)


# -- ember's own bounds checks stand where the device would wrap -----------------------------------------
@pytest.mark.parametrize("call, match", [
    (lambda d: nn.functional.embedding(em.tensor([0, 7], device=d), em.ones(5, 2, device=d)), "out of range|index"),
    (lambda d: nn.functional.cross_entropy(em.ones(2, 3, device=d), em.tensor([0, 3], device=d)), "out of bounds|3"),
    (lambda d: em.gather(em.ones(2, 3, device=d), 1, em.tensor([[0, 5]], device=d)), "out of bounds|index"),
])
def test_bad_indices_raise_on_the_device_as_on_the_cpu(strict_device, call, match):
    for device in ("cpu", "cuda"):
        with pytest.raises((IndexError, RuntimeError, ValueError), match=match):
            call(device)


# -- checkpoints hold host arrays -----------------------------------------------------------------------
def test_a_model_saved_on_the_device_loads_on_a_cpu_only_machine(strict_device, tmp_path):
    model, _, _ = train_steps(mlp, np.ones((6, 8), np.float32), np.arange(6) % 4, "cuda", steps=1)
    em.save(model.state_dict(), tmp_path / "model.pt")
    strict_device.uninstall(None)  # now no GPU module at all
    try:
        loaded = mlp()
        loaded.load_state_dict(em.load(tmp_path / "model.pt", map_location="cpu"))  # as PyTorch asks
        assert all(isinstance(p.array, np.ndarray) for p in loaded.parameters())
        expected = {k: strict_xp.asnumpy(v.array) for k, v in model.state_dict().items()}
        for key, p in loaded.state_dict().items():
            np.testing.assert_array_equal(p.numpy(), expected[key])
    finally:
        strict_xp.install()

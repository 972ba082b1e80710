"""examples/regularization_study.py: the network over-fits, and regularisation lowers its dev error."""

import numpy as np
import pytest

from example_scripts import load_example

REDUCED = ["--train-size", "300", "--epochs", "40", "--hidden", "128"]


@pytest.fixture(scope="module")
def study():
    module = load_example("regularization_study")
    return module


@pytest.fixture(scope="module")
def run(study, tmp_path_factory):
    out = tmp_path_factory.mktemp("regularization")
    return out, study.main([*REDUCED, "--out", str(out)])


def test_prints_a_table_of_every_method_and_writes_the_curves(study, run, capsys):
    out, results = run
    assert list(results) == list(study.METHODS)
    png = out / "dev_loss.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    table = study.table(results).splitlines()
    assert table[0].split()[:3] == ["method", "train", "err"] and len(table) == 1 + len(study.METHODS)
    for line, (method, (_, train_err, dev_err)) in zip(table[1:], results.items(), strict=True):
        assert line.startswith(method) and f"{train_err:.3f}" in line and f"{dev_err:.3f}" in line


def test_the_unregularised_network_overfits(run):
    history, train_err, dev_err = run[1]["none"]
    assert train_err == 0.0 and dev_err > 0.5  # high variance
    dev_loss = history["dev_loss"]
    assert dev_loss[-1] > 1.5 * min(dev_loss)  # the dev loss turned up again


def test_regularisation_lowers_dev_error(run):
    results = run[1]
    none = results["none"][2]
    assert min(results["L2"][2], results["dropout"][2]) <= none - 0.01
    assert results["augmentation"][2] <= none - 0.01
    for method in ("L2", "L1", "dropout", "augmentation"):  # each trades training fit for a smaller gap
        _, train_err, dev_err = results[method]
        assert train_err > results["none"][1] and dev_err - train_err < none


def test_early_stopping_stops_at_the_dev_loss_minimum(run):
    history, _, _ = run[1]["early stopping"]
    epochs = len(history)
    assert epochs < 40
    dev_loss = history["dev_loss"]
    assert int(np.argmin(dev_loss)) == epochs - 6  # patience 5: five epochs without improvement after the best


def test_shift_and_noise_moves_each_signal_within_bounds(study):
    import ember as em

    x = np.tile(np.arange(40, dtype=np.float32), (64, 1))
    batch = [(em.tensor(row), em.tensor(0)) for row in x]
    shifted, y = study.shift_and_noise(batch, np.random.default_rng(0), shift=3, sigma=0.0)
    offsets = shifted.numpy()[:, 20] - 20
    assert set(np.unique(offsets)) <= set(range(-3, 4)) and len(np.unique(offsets)) > 3
    np.testing.assert_array_equal(shifted.numpy()[:, 10:30], x[:, 10:30] + offsets[:, None])
    assert y.shape == (64,)

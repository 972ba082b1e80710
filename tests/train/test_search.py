"""Search spaces sample the right distributions and zoom within bounds; random search finds known optima."""
import csv
import io
import math
import multiprocessing
import operator
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from ember import nn, optim
from ember.data import DataLoader, TensorDataset
from ember.train import Callback, Trainer
from ember.train.search import (
    BabysitLR,
    Choice,
    IntUniform,
    LogUniform,
    OneMinusLogUniform,
    RandomSearch,
    SearchResults,
    Uniform,
)

N = 20000
CHI2_999 = {2: 13.82, 3: 16.27, 4: 18.47}  # 99.9 % quantiles of chi-square with k degrees of freedom


def chi2(counts, expected):
    counts, expected = np.asarray(counts, float), np.asarray(expected, float)
    return float(((counts - expected) ** 2 / expected).sum())


def draws(space, n=N, seed=0):
    rng = np.random.default_rng(seed)
    return [space.sample(rng) for _ in range(n)]


# -- spaces ----------------------------------------------------------------------------------------


def decade_counts(values, low_exp, high_exp):
    return np.histogram(np.log10(values), bins=np.arange(low_exp, high_exp + 1))[0]


def test_log_uniform_puts_equal_mass_in_every_decade():
    values = draws(LogUniform(1e-4, 1.0))
    assert all(isinstance(v, float) and 1e-4 <= v <= 1.0 for v in values)
    assert chi2(decade_counts(values, -4, 0), [N / 4] * 4) < CHI2_999[3]
    # the same test rejects a uniform draw on the same range (90 % of it in the top decade)
    uniform = draws(Uniform(1e-4, 1.0))
    assert chi2(decade_counts(uniform, -4, 0), [N / 4] * 4) > 1000


def test_one_minus_log_uniform_spaces_beta_through_one_minus_beta():
    values = np.array(draws(OneMinusLogUniform(0.9, 0.999)))
    assert values.min() >= 0.9 and values.max() <= 0.999
    # 1-β in [1e-3, 1e-1]: half of the betas in [0.9, 0.99], half in [0.99, 0.999]
    counts = np.histogram(np.log10(1 - values), bins=np.linspace(-3, -1, 5))[0]
    assert chi2(counts, [N / 4] * 4) < CHI2_999[3]
    assert abs(np.mean(values < 0.99) - 0.5) < 0.02
    # a plain log-uniform β would put almost all of them below 0.99
    plain = np.array(draws(LogUniform(0.9, 0.999)))
    assert np.mean(plain < 0.99) > 0.85


def test_int_uniform_includes_both_ends():
    values = draws(IntUniform(1, 4), n=8000)
    assert all(type(v) is int for v in values)
    counts = [values.count(k) for k in range(1, 5)]
    assert set(values) == {1, 2, 3, 4}
    assert chi2(counts, [2000] * 4) < CHI2_999[3]
    assert draws(IntUniform(7, 7), n=5) == [7] * 5


def test_choice_frequencies_and_identity():
    options = ["relu", "tanh", {"name": "elu"}]
    values = draws(Choice(options), n=9000)
    counts = [sum(v == o for v in values) for o in options]
    assert chi2(counts, [3000] * 3) < CHI2_999[2]
    assert any(v is options[2] for v in values)  # the option object itself, not a copy


@pytest.mark.parametrize("space", [Uniform(-2.0, 3.0), LogUniform(1e-5, 1.0), OneMinusLogUniform(0.5, 0.9999),
                                   IntUniform(-3, 12)])
def test_narrowing_stays_within_the_original_bounds_and_keeps_the_centres(space):
    rng = np.random.default_rng(1)
    current = space
    for _ in range(6):
        centres = [current.sample(rng) for _ in range(3)]
        zoomed = current.narrow(centres, factor=float(rng.uniform(0, 1)))
        assert type(zoomed) is type(space)
        assert space.low <= zoomed.low <= zoomed.high <= space.high
        assert current.low <= zoomed.low and zoomed.high <= current.high
        assert all(zoomed.low <= c <= zoomed.high for c in centres)
        current = zoomed
    assert (current.high - current.low) < (space.high - space.low)


def test_narrowing_works_on_each_space_scale():
    lr = LogUniform(1e-4, 1.0).narrow([1e-2], factor=0.5)  # one decade either side on a 4-decade range
    np.testing.assert_allclose([lr.low, lr.high], [1e-3, 1e-1])
    beta = OneMinusLogUniform(0.9, 0.999).narrow([0.99], factor=0.5)  # log10(1-β) in [-2.5, -1.5]
    np.testing.assert_allclose([beta.low, beta.high], [1 - 10 ** -1.5, 1 - 10 ** -2.5])
    assert Uniform(0.0, 1.0).narrow([0.1, 0.3], factor=0.2) == Uniform(0.0, 0.4)
    assert Uniform(0.0, 1.0).narrow([0.95], factor=0.5) == Uniform(0.7, 1.0)  # clipped at the top
    assert IntUniform(1, 10).narrow([5], factor=0.25) == IntUniform(3, 7)
    assert Choice([16, 32, 64, 128]).narrow([128, 32, 32]) == Choice([32, 128])


def test_spaces_reject_bad_arguments():
    with pytest.raises(ValueError, match="LogUniform: low must be > 0"):
        LogUniform(0.0, 1.0)
    with pytest.raises(ValueError, match="OneMinusLogUniform: high must be < 1"):
        OneMinusLogUniform(0.9, 1.0)
    with pytest.raises(ValueError, match="low <= high"):
        Uniform(2.0, 1.0)
    with pytest.raises(ValueError, match="IntUniform"):
        IntUniform(1.5, 3)
    with pytest.raises(ValueError, match="Choice: needs at least one option"):
        Choice([])
    with pytest.raises(ValueError, match="factor must lie in"):
        Uniform(0, 1).narrow([0.5], factor=2.0)
    with pytest.raises(ValueError, match="none of"):
        Choice([1, 2]).narrow([3])


# -- the search ------------------------------------------------------------------------------------


def bowl(params):
    """A quadratic bowl in log10(lr) (best at 10^-2.5) and in the momentum's log10(1-β) (best at 1-β = 0.02)."""
    return -(math.log10(params["lr"]) + 2.5) ** 2 - (math.log10(1 - params["beta"]) - math.log10(0.02)) ** 2


def bowl_with_choice(params):
    return bowl(params) - {16: 1.0, 64: 0.0, 256: 2.0}[params["batch_size"]]


SPACE = {"lr": LogUniform(1e-6, 1.0), "beta": OneMinusLogUniform(0.5, 0.9999), "batch_size": Choice([16, 64, 256])}


CONTINUOUS = {"lr": SPACE["lr"], "beta": SPACE["beta"]}


@pytest.mark.parametrize("seed", range(4))
def test_random_search_finds_the_bowl_optimum_and_zooming_improves(seed):
    results = RandomSearch(bowl, CONTINUOUS, trials=15, seed=seed, zoom_rounds=2, zoom_top=3).run()
    assert len(results) == 45 and [t["round"] for t in results.trials] == [0] * 15 + [1] * 15 + [2] * 15
    best = results.best["params"]
    assert abs(math.log10(best["lr"]) + 2.5) < 0.4
    assert abs(math.log10(1 - best["beta"]) - math.log10(0.02)) < 0.4
    coarse = [t["score"] for t in results.trials if t["round"] == 0]
    zoomed = [t["score"] for t in results.trials if t["round"] == 2]
    assert results.best["score"] > max(coarse)
    assert np.mean(zoomed) > np.mean(coarse) + 1.0
    # every round sampled inside the region it was given, and the regions shrank
    for round_, space in enumerate(results.round_spaces):
        lrs = [t["params"]["lr"] for t in results.trials if t["round"] == round_]
        assert all(space["lr"].low <= v <= space["lr"].high for v in lrs)
    widths = [math.log10(s["lr"].high / s["lr"].low) for s in results.round_spaces]
    assert widths[0] > widths[1] > widths[2]


def test_zooming_beats_coarse_only_search_with_the_same_budget():
    zoomed = [RandomSearch(bowl, CONTINUOUS, trials=15, seed=s, zoom_rounds=2).run().best["score"] for s in range(8)]
    coarse = [RandomSearch(bowl, CONTINUOUS, trials=45, seed=s, zoom_rounds=0).run().best["score"] for s in range(8)]
    assert np.mean(zoomed) > np.mean(coarse) + 0.1


def test_zoomed_rounds_keep_only_the_choices_of_the_best_trials():
    results = RandomSearch(bowl_with_choice, SPACE, trials=10, seed=0, zoom_rounds=1, zoom_top=3).run()
    coarse = SearchResults([t for t in results.trials if t["round"] == 0], "max", SPACE)
    kept = {t["params"]["batch_size"] for t in coarse.top(3)}
    assert len(kept) < 3  # the test needs a choice that was dropped
    assert set(results.round_spaces[1]["batch_size"].options) == kept
    assert {t["params"]["batch_size"] for t in results.trials if t["round"] == 1} <= kept


def test_mode_min_and_nan_scores_rank_last():
    def loss(params):
        return float("nan") if params["lr"] > 0.1 else (math.log10(params["lr"]) + 3) ** 2

    results = RandomSearch(loss, {"lr": LogUniform(1e-5, 1.0)}, trials=20, seed=0, zoom_rounds=1, mode="min").run()
    assert abs(math.log10(results.best["params"]["lr"]) + 3) < 0.3
    ranked = results.top()
    assert math.isnan(ranked[-1]["score"]) and not math.isnan(ranked[0]["score"])
    assert all(not math.isnan(t["score"]) for t in results.top(3))


def test_search_is_reproducible_under_a_seed():
    first = RandomSearch(bowl, SPACE, trials=5, seed=3).run()
    again = RandomSearch(bowl, SPACE, trials=5, seed=3).run()
    other = RandomSearch(bowl, SPACE, trials=5, seed=4).run()
    assert [t["params"] for t in first.trials] == [t["params"] for t in again.trials]
    assert [t["params"] for t in first.trials] != [t["params"] for t in other.trials]


def test_parallel_trials_give_the_same_results_as_serial():
    serial = RandomSearch(bowl_with_choice, SPACE, trials=6, seed=7, zoom_rounds=1, n_jobs=1).run()
    parallel = RandomSearch(bowl_with_choice, SPACE, trials=6, seed=7, zoom_rounds=1, n_jobs=2).run()
    keys = ("trial", "round", "params", "score")
    assert [{k: t[k] for k in keys} for t in parallel.trials] == [{k: t[k] for k in keys} for t in serial.trials]


def test_a_given_executor_runs_the_trials():
    # a stdlib objective: worker processes unpickle it without importing this test module
    objective, space = operator.itemgetter("x"), {"x": Uniform(-1.0, 1.0), **SPACE}
    serial = RandomSearch(objective, space, trials=4, seed=2, zoom_rounds=1).run()
    with ThreadPoolExecutor(2) as threads, multiprocessing.Pool(2) as pool:
        for executor in (threads, pool):
            given = RandomSearch(objective, space, trials=4, seed=2, zoom_rounds=1, executor=executor).run()
            assert [(t["params"], t["score"]) for t in given.trials] == \
                [(t["params"], t["score"]) for t in serial.trials]


def test_parallel_needs_a_picklable_objective():
    with pytest.raises(TypeError, match="must be picklable"):
        RandomSearch(lambda p: 0.0, {"x": Uniform(0, 1)}, trials=2, n_jobs=2).run()


def test_search_rejects_bad_arguments():
    with pytest.raises(TypeError, match=r"space\['lr'\] must be"):
        RandomSearch(bowl, {"lr": (1e-4, 1e-1)})
    with pytest.raises(ValueError, match="mode must be"):
        RandomSearch(bowl, SPACE, mode="best")
    with pytest.raises(ValueError, match="trials >= 1"):
        RandomSearch(bowl, SPACE, trials=0)


def test_log_reports_every_trial():
    lines = []
    RandomSearch(bowl, SPACE, trials=3, seed=0, zoom_rounds=1, log=lines.append).run()
    assert len(lines) == 6 and lines[0].startswith("trial   0  round 0  score") and "lr=" in lines[0]


# -- results ---------------------------------------------------------------------------------------


@pytest.fixture
def results():
    return RandomSearch(bowl_with_choice, SPACE, trials=6, seed=0, zoom_rounds=1).run()


def test_results_csv_round_trips(results, tmp_path):
    path = results.to_csv(tmp_path / "out" / "results.csv")
    rows = list(csv.DictReader(path.open()))
    assert list(rows[0]) == ["trial", "round", "score", "seconds", "lr", "beta", "batch_size"]
    assert len(rows) == len(results) == 12
    for row, trial in zip(rows, results.trials, strict=True):
        assert int(row["trial"]) == trial["trial"] and int(row["round"]) == trial["round"]
        assert float(row["score"]) == trial["score"] and float(row["lr"]) == trial["params"]["lr"]
        assert int(row["batch_size"]) == trial["params"]["batch_size"]


def test_results_plot_writes_png_with_log_axes(results, tmp_path):
    path = tmp_path / "plots" / "search.png"
    fig = results.plot(path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_xlabel() for ax in axes] == ["lr", "1 - beta", "batch_size"]
    assert [ax.get_xscale() for ax in axes] == ["log", "log", "linear"]
    assert [t.get_text() for t in axes[2].get_xticklabels()] == ["16", "64", "256"]


def test_results_table_and_best(results):
    table = results.table(3).splitlines()
    assert table[0].split() == ["rank", "trial", "round", "score", "lr", "beta", "batch_size", "seconds"]
    assert len(table) == 4
    assert int(table[1].split()[1]) == results.best["trial"]
    assert results.best_params == results.top(1)[0]["params"]
    assert max(t["score"] for t in results.trials) == results.best["score"]
    assert "12 trials" in repr(results)
    with pytest.raises(ValueError, match="no trials"):
        _ = SearchResults([], "max", SPACE).best


# -- babysitting ------------------------------------------------------------------------------------


class WriteLR(Callback):
    """Plays the person at the keyboard: writes a new learning rate into the file after epoch 2."""

    def __init__(self, path, text):
        self.path, self.text = path, text

    def on_epoch_end(self, trainer, epoch, logs):
        if epoch == 1:
            self.path.write_text(self.text)


def babysat_run(tmp_path, text):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(60, 2)).astype(np.float32), rng.integers(0, 3, 60)
    model = nn.Linear(2, 3)
    path, out = tmp_path / "lr.txt", io.StringIO()
    trainer = Trainer(model, optim.SGD(model.parameters(), lr=0.1), nn.CrossEntropyLoss(),
                      callbacks=[BabysitLR(path, file=out), WriteLR(path, text)])
    history = trainer.fit(DataLoader(TensorDataset(x, y), batch_size=20), epochs=4)
    return history["lr"], out.getvalue()


def test_babysit_lr_changes_the_learning_rate_mid_run(tmp_path):
    lrs, printed = babysat_run(tmp_path, "0.025\n")
    assert lrs == [0.1, 0.1, 0.025, 0.025]
    assert printed.count("learning rate set to 0.025") == 1 and "epoch 3" in printed


def test_babysit_lr_ignores_a_bad_file(tmp_path):
    lrs, printed = babysat_run(tmp_path, "3e-4x")
    assert lrs == [0.1] * 4
    assert "ignoring" in printed

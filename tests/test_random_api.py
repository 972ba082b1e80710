"""Random numbers with PyTorch's API: Generator objects, seeding and state, and the samplers
(randint, randperm, normal, bernoulli, poisson, multinomial) — their signatures, dtypes and errors
against PyTorch, their distributions against the exact probabilities."""
import numpy as np
import pytest
import torch
from tests.torch_parity import to_numpy

import ember as em
from ember import random as em_random


def _draws(fn):
    """The values of two calls of ``fn(generator)`` with generators seeded alike, and one seeded otherwise."""
    return [to_numpy(fn(em.Generator().manual_seed(s))) for s in (7, 7, 8)]


# -- Generator ---------------------------------------------------------------------------------------
def test_generator_reseeds_and_reports_its_seed_like_torch():
    g, t = em.Generator(), torch.Generator()
    assert g.initial_seed() == t.initial_seed() and repr(g.device) == repr(t.device)
    assert g.manual_seed(5) is g and g.initial_seed() == 5
    assert g.manual_seed(-1).initial_seed() == torch.Generator().manual_seed(-1).initial_seed()
    s = g.seed()
    assert g.initial_seed() == s and 0 <= s < 2**64


def test_generator_state_round_trips():
    g = em.Generator().manual_seed(0)
    state = g.get_state()
    first = em.randn(5, generator=g)
    assert g.set_state(state) is g
    assert np.array_equal(em.randn(5, generator=g).numpy(), first.numpy())


def test_a_private_generator_leaves_the_global_one_alone():
    em.manual_seed(1)
    expected = em.randn(3).numpy()
    em.manual_seed(1)
    em.randn(10, generator=em.Generator().manual_seed(3))
    assert np.array_equal(em.randn(3).numpy(), expected)


@pytest.mark.parametrize("sample", [
    lambda g: em.rand(4, generator=g), lambda g: em.randn(2, 3, generator=g),
    lambda g: em.randint(0, 100, (6,), generator=g), lambda g: em.randperm(10, generator=g),
    lambda g: em.normal(0.0, 1.0, (4,), generator=g), lambda g: em.normal(em.zeros(4), 2.0, generator=g),
    lambda g: em.bernoulli(em.full((20,), 0.5), generator=g), lambda g: em.poisson(em.full((8,), 3.0), generator=g),
    lambda g: em.multinomial(em.ones(2, 50), 5, generator=g),
    lambda g: em.multinomial(em.ones(2, 50), 5, replacement=True, generator=g),
    lambda g: em.rand_like(em.zeros(3), generator=g), lambda g: em.randint_like(em.zeros(9), 50, generator=g),
], ids=lambda f: "")
def test_every_sampler_takes_a_generator(sample):
    a, b, c = _draws(sample)
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_generator_serves_code_written_for_a_numpy_generator():
    g = em.Generator().manual_seed(0)
    assert sorted(g.permutation(5).tolist()) == [0, 1, 2, 3, 4]
    w = em.empty(3, 4)
    em.nn.init.normal_(w, generator=em.Generator().manual_seed(2))
    w2 = em.empty(3, 4)
    em.nn.init.normal_(w2, generator=em.Generator().manual_seed(2))
    assert np.array_equal(w.numpy(), w2.numpy())


def test_dataloader_and_random_split_take_a_generator():
    data = em.data.TensorDataset(em.arange(20))

    def order(seed):
        loader = em.data.DataLoader(data, batch_size=20, shuffle=True, generator=em.Generator().manual_seed(seed))
        return next(iter(loader))[0].numpy().tolist()

    assert order(0) == order(0) and order(0) != order(1) and sorted(order(0)) == list(range(20))
    parts = em.data.random_split(data, [15, 5], generator=em.Generator().manual_seed(42))
    again = em.data.random_split(data, [15, 5], generator=em.Generator().manual_seed(42))
    assert list(parts[1].indices) == list(again[1].indices)


# -- the global generator ----------------------------------------------------------------------------
def test_manual_seed_returns_the_default_generator_like_torch():
    g = em.manual_seed(11)
    assert isinstance(g, em.Generator) and g is em.default_generator
    assert isinstance(torch.manual_seed(11), torch.Generator)
    assert em.initial_seed() == 11 and em.random.initial_seed() == 11


def test_seed_reseeds_from_the_os():
    s = em.seed()
    assert em.initial_seed() == s
    assert em.seed() != s  # two 63-bit draws from the OS coincide with probability 2^-63


def test_rng_state_round_trips_and_fork_rng_restores_it():
    state = em.get_rng_state()
    first = em.rand(4).numpy()
    em.set_rng_state(state)
    assert np.array_equal(em.rand(4).numpy(), first)
    before = em.get_rng_state()
    with em.random.fork_rng():
        em.randn(100)
    assert em.get_rng_state() == before


# -- randint, randperm -------------------------------------------------------------------------------
@pytest.mark.parametrize("args,kwargs", [
    ((10, (3,)), {}), ((3, 10, (2, 4)), {}), ((0, 5), {"size": (6,)}), ((7,), {"size": [2, 2]}),
    ((2, 9, (5,)), {"dtype": "float32"}), ((-4, 4, (3, 3)), {"dtype": "int32"}),
], ids=str)
def test_randint_signatures_shapes_and_dtypes_match_torch(args, kwargs):
    ek = {k: getattr(em, v) if k == "dtype" else v for k, v in kwargs.items()}
    tk = {k: getattr(torch, v) if k == "dtype" else v for k, v in kwargs.items()}
    ours, theirs = em.randint(*args, **ek), torch.randint(*args, **tk)
    assert ours.shape == tuple(theirs.shape) and ours.dtype == to_numpy(theirs).dtype
    low, high = (0, args[0]) if len(args) == 1 or isinstance(args[1], tuple) else args[:2]
    assert ours.numpy().min() >= low and ours.numpy().max() < high


def test_randint_covers_its_range_uniformly():
    counts = np.bincount(em.randint(3, 8, (50000,)).numpy() - 3, minlength=5)
    assert counts.size == 5 and np.abs(counts / 50000 - 0.2).max() < 0.01


def test_randint_errors_like_torch():
    with pytest.raises(RuntimeError):
        torch.randint(5, 2, (3,))
    with pytest.raises(RuntimeError, match="low < high"):
        em.randint(5, 2, (3,))
    with pytest.raises(TypeError):
        em.randint(5)


def test_randperm_is_a_permutation():
    p = em.randperm(100)
    assert p.dtype == np.int64 and sorted(p.numpy().tolist()) == list(range(100))
    assert em.randperm(4, dtype=em.int32).dtype == np.int32


# -- normal, bernoulli, poisson ----------------------------------------------------------------------
@pytest.mark.parametrize("make", [
    lambda m: m.normal(2.0, 3.0, (4, 5)), lambda m: m.normal(m.zeros(3, 1), 1.0),
    lambda m: m.normal(0.0, m.ones(5)), lambda m: m.normal(m.zeros(2, 3), m.ones(2, 3)),
    lambda m: m.normal(m.zeros(3, dtype=m.float64), 2.0), lambda m: m.normal(0.0, 1.0, size=(3,)),
], ids=lambda f: "")
def test_normal_overloads_match_torch_in_shape_and_dtype(make):
    ours, theirs = make(em), make(torch)
    assert ours.shape == tuple(theirs.shape) and ours.dtype == to_numpy(theirs).dtype


def test_normal_has_the_asked_moments():
    x = em.normal(em.full((200000,), 2.0), 3.0).numpy()
    assert abs(x.mean() - 2.0) < 0.03 and abs(x.std() - 3.0) < 0.03
    with pytest.raises(RuntimeError, match="std >= 0"):
        em.normal(0.0, -1.0, (2,))
    with pytest.raises(TypeError, match="size"):
        em.normal(0.0, 1.0)


def test_bernoulli_draws_with_the_given_probabilities():
    p = em.tensor([0.0, 0.25, 1.0]).expand(100000, 3)
    draws = em.bernoulli(p)
    assert draws.dtype == np.float32 and set(np.unique(draws.numpy())) <= {0.0, 1.0}
    np.testing.assert_allclose(draws.numpy().mean(axis=0), [0.0, 0.25, 1.0], atol=0.01)
    assert abs(em.bernoulli(em.zeros(100000, dtype=em.float64), 0.7).numpy().mean() - 0.7) < 0.01
    with pytest.raises(RuntimeError, match=r"\[0, 1\]"):
        em.bernoulli(em.tensor([1.5]))


def test_poisson_has_the_rate_as_mean_and_the_input_dtype():
    x = em.poisson(em.full((100000,), 4.0))
    assert x.dtype == to_numpy(torch.poisson(torch.full((2,), 4.0))).dtype
    assert abs(x.numpy().mean() - 4.0) < 0.05 and abs(x.numpy().var() - 4.0) < 0.1


# -- multinomial -------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape,k,replacement", [((5,), 3, False), ((5,), 8, True), ((4, 6), 6, False),
                                                 ((4, 6), 10, True), ((3, 1000), 1, False), ((2, 700), 3, True)])
def test_multinomial_shapes_and_dtype_match_torch(shape, k, replacement):
    ours = em.multinomial(em.rand(*shape), k, replacement)
    theirs = torch.multinomial(torch.rand(*shape), k, replacement)
    assert ours.shape == tuple(theirs.shape) and ours.dtype == to_numpy(theirs).dtype


def _frequencies(samples, n):
    return np.bincount(samples.ravel(), minlength=n) / samples.size


@pytest.mark.parametrize("n,k", [(5, 1), (5, 4), (1000, 1), (1000, 20), (300, 300)])
def test_multinomial_with_replacement_follows_the_weights(n, k):
    """Both the two-level search (few draws per row) and the full CDF (many) sample the weights."""
    w = np.random.default_rng(0).random(n) ** 4
    w[::3] = 0.0  # zero-weight categories are never drawn
    rows = min(200000 // k, 4_000_000 // n)
    samples = em.multinomial(em.tensor(np.tile(w, (rows, 1))), k, replacement=True).numpy()
    freq = _frequencies(samples, n)
    assert freq[::3].sum() == 0
    expected = w / w.sum()
    assert np.abs(freq - expected).max() < 5 * np.sqrt(expected.max() / samples.size) + 1e-9


def test_multinomial_without_replacement_draws_distinct_categories_in_sequential_order():
    w = np.array([0.1, 0.2, 0.3, 0.4])
    samples = em.multinomial(em.tensor(np.tile(w, (100000, 1))), 2).numpy()
    assert (samples[:, 0] != samples[:, 1]).all()
    np.testing.assert_allclose(_frequencies(samples[:, 0], 4), w, atol=0.006)
    # The second draw comes from the renormalised rest: P(second = j) = Σ_i w_i · w_j / (1 − w_i).
    second = np.array([sum(w[i] * w[j] / (1 - w[i]) for i in range(4) if i != j) for j in range(4)])
    np.testing.assert_allclose(_frequencies(samples[:, 1], 4), second, atol=0.006)


def test_multinomial_without_replacement_of_all_categories_is_a_permutation():
    samples = em.multinomial(em.ones(50, 7), 7).numpy()
    assert (np.sort(samples, axis=1) == np.arange(7)).all()


def test_multinomial_1d_and_unnormalised_weights():
    assert em.multinomial(em.tensor([0.0, 5.0, 0.0]), 4, replacement=True).numpy().tolist() == [1, 1, 1, 1]
    assert em.multinomial(em.tensor([0.0, 0.0, 3.0]), 1).numpy().tolist() == [2]


@pytest.mark.parametrize("weights,k,replacement", [
    ([1.0, -1.0, 0.0], 1, False), ([0.0, 0.0], 1, True), ([1.0, float("nan")], 1, True),
    ([1.0, float("inf")], 1, False), ([1.0, 1.0], 3, False), ([1.0, 1.0], 0, True),
])
def test_multinomial_rejects_what_torch_rejects(weights, k, replacement):
    with pytest.raises(RuntimeError):
        torch.multinomial(torch.tensor(weights), k, replacement)
    with pytest.raises(RuntimeError):
        em.multinomial(em.tensor(weights), k, replacement)


def test_multinomial_out_and_the_generator_argument_checks():
    out = em.zeros(3, dtype=em.int64)
    assert em.multinomial(em.ones(4), 3, out=out) is out and len(set(out.numpy().tolist())) == 3
    assert em_random.numpy_generator(None) is em_random.generator()
    with pytest.raises(TypeError, match="Generator"):
        em.rand(2, generator=42)


def test_multinomial_few_draws_from_many_categories_follow_the_weights():
    """Few draws per row from a long row take the two-level inverse CDF, short last block included."""
    n = 3 * 256 + 7
    weights = np.ones(n)
    weights[-1], weights[300] = 200.0, 100.0  # in the ragged last block, and in a middle one
    rows = em.tensor(np.tile(weights, (400, 1)))
    draws = em.multinomial(rows, 5, replacement=True, generator=em.Generator().manual_seed(0)).numpy().ravel()
    assert draws.min() >= 0 and draws.max() < n
    p = weights / weights.sum()
    for category in (n - 1, 300, 0):
        expected = p[category] * draws.size
        assert abs((draws == category).sum() - expected) < 5 * np.sqrt(expected) + 3, category

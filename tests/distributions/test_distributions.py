"""ember.distributions against torch.distributions on the same float64 parameters: log_prob, entropy,
moments and KL values and their gradients; sample shapes and dtypes; empirical means; the
reparameterised draws' gradients given the same ε; validation errors; and two tiny trainings
(REINFORCE with Categorical, a reparameterised Normal)."""
import numpy as np
import pytest
import torch
import torch.distributions as TD

import ember as em
import ember.distributions as D
from ember.testing import gradcheck
from torch_parity import assert_close, to_numpy

RNG = np.random.default_rng(1)


def _spd(n, batch=()):
    a = RNG.standard_normal(batch + (n, n))
    return a @ np.swapaxes(a, -1, -2) + n * np.eye(n)


def _tril(n, batch=()):
    L = np.tril(RNG.standard_normal(batch + (n, n)), -1)
    return L + np.eye(n) * RNG.uniform(0.5, 1.5, batch + (n,))[..., None]


def _pos(*shape, low=0.5, high=2.0):
    return RNG.uniform(low, high, shape)


def _probs(*shape):
    p = RNG.uniform(0.1, 1.0, shape)
    return p / p.sum(-1, keepdims=True)


# name: (constructor for either package, parameters, a value to score, moments to compare)
CASES = {
    "normal": (lambda M, p: M.Normal(p["loc"], p["scale"]),
               {"loc": RNG.standard_normal(3), "scale": _pos(3)}, RNG.standard_normal((4, 3)),
               ("mean", "mode", "variance", "stddev")),
    "normal_broadcast": (lambda M, p: M.Normal(p["loc"], p["scale"]),
                         {"loc": RNG.standard_normal((2, 1)), "scale": _pos(3)}, RNG.standard_normal((2, 3)),
                         ("mean", "variance")),
    "bernoulli_probs": (lambda M, p: M.Bernoulli(probs=p["probs"]), {"probs": RNG.uniform(0.1, 0.9, 4)},
                        RNG.integers(0, 2, (5, 4)).astype(float), ("mean", "variance", "mode")),
    "bernoulli_logits": (lambda M, p: M.Bernoulli(logits=p["logits"]), {"logits": 3 * RNG.standard_normal(4)},
                         RNG.integers(0, 2, (5, 4)).astype(float), ("mean", "variance", "probs")),
    "categorical_probs": (lambda M, p: M.Categorical(probs=p["probs"]), {"probs": 3 * _probs(2, 5)},
                          RNG.integers(0, 5, (7, 2)), ("probs", "logits")),
    "categorical_logits": (lambda M, p: M.Categorical(logits=p["logits"]), {"logits": RNG.standard_normal((2, 5))},
                           RNG.integers(0, 5, (7, 2)), ("probs", "logits")),
    "one_hot_categorical": (lambda M, p: M.OneHotCategorical(logits=p["logits"]), {"logits": RNG.standard_normal(4)},
                            np.eye(4)[RNG.integers(0, 4, 6)], ("mean", "variance")),
    "multinomial": (lambda M, p: M.Multinomial(6, probs=p["probs"]), {"probs": _probs(2, 4)},
                    RNG.multinomial(6, [0.25] * 4, (3, 2)).astype(float), ("mean", "variance")),
    "uniform": (lambda M, p: M.Uniform(p["low"], p["high"]), {"low": -_pos(3), "high": _pos(3)},
                RNG.uniform(-0.4, 0.4, (4, 3)), ("mean", "variance", "stddev")),
    "exponential": (lambda M, p: M.Exponential(p["rate"]), {"rate": _pos(3)}, _pos(4, 3), ("mean", "variance")),
    "laplace": (lambda M, p: M.Laplace(p["loc"], p["scale"]), {"loc": RNG.standard_normal(3), "scale": _pos(3)},
                RNG.standard_normal((4, 3)), ("mean", "variance", "stddev")),
    "gamma": (lambda M, p: M.Gamma(p["concentration"], p["rate"]),
              {"concentration": _pos(3, high=4.0), "rate": _pos(3)}, _pos(4, 3), ("mean", "variance")),
    "beta": (lambda M, p: M.Beta(p["a"], p["b"]), {"a": _pos(3, high=4.0), "b": _pos(3, high=4.0)},
             RNG.uniform(0.05, 0.95, (4, 3)), ("mean", "variance")),
    "poisson": (lambda M, p: M.Poisson(p["rate"]), {"rate": _pos(3, high=5.0)},
                RNG.integers(0, 6, (4, 3)).astype(float), ("mean", "variance")),
    "mvn_scale_tril": (lambda M, p: M.MultivariateNormal(p["loc"], scale_tril=p["L"]),
                       {"loc": RNG.standard_normal((2, 3)), "L": _tril(3)}, RNG.standard_normal((4, 2, 3)),
                       ("mean", "variance", "covariance_matrix", "precision_matrix")),
    "mvn_covariance": (lambda M, p: M.MultivariateNormal(p["loc"], covariance_matrix=p["cov"]),
                       {"loc": RNG.standard_normal(3), "cov": _spd(3, (2,))}, RNG.standard_normal((4, 2, 3)),
                       ("variance", "scale_tril", "precision_matrix")),
    "mvn_precision": (lambda M, p: M.MultivariateNormal(p["loc"], precision_matrix=p["prec"]),
                      {"loc": RNG.standard_normal(3), "prec": _spd(3)}, RNG.standard_normal((4, 3)),
                      ("variance", "scale_tril", "covariance_matrix")),
    "independent_normal": (lambda M, p: M.Independent(M.Normal(p["loc"], p["scale"]), 1),
                           {"loc": RNG.standard_normal((2, 3)), "scale": _pos(2, 3)}, RNG.standard_normal((4, 2, 3)),
                           ("mean", "variance")),
}

def _pair(name):
    """(ember distribution, torch distribution, ember params, torch params) on the same float64 values."""
    make, params, _, _ = CASES[name]
    ep = {k: em.tensor(v, dtype=em.float64, requires_grad=True) for k, v in params.items()}
    tp = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in params.items()}
    return make(D, ep), make(TD, tp), ep, tp


def _value(name, package):
    value = CASES[name][2]
    if package == "ember":
        return em.tensor(value, dtype=em.int64 if value.dtype.kind == "i" else em.float64)
    return torch.tensor(value, dtype=torch.int64 if value.dtype.kind == "i" else torch.float64)


@pytest.mark.parametrize("name", CASES)
def test_log_prob_entropy_and_moments_match_torch(name):
    ed, td, _, _ = _pair(name)
    assert ed.batch_shape == tuple(td.batch_shape) and ed.event_shape == tuple(td.event_shape)
    assert_close(ed.log_prob(_value(name, "ember")), td.log_prob(_value(name, "torch")), name="log_prob")
    if name == "poisson":  # neither framework has a closed form
        for d in (ed, td):
            with pytest.raises(NotImplementedError):
                d.entropy()
    else:
        assert_close(ed.entropy(), td.entropy(), name="entropy")
    for moment in CASES[name][3]:
        assert_close(getattr(ed, moment), getattr(td, moment), name=moment)


@pytest.mark.parametrize("name", CASES)
def test_gradients_of_log_prob_and_entropy_match_torch(name):
    ed, td, ep, tp = _pair(name)
    e_lp, t_lp = ed.log_prob(_value(name, "ember")), td.log_prob(_value(name, "torch"))
    w = RNG.standard_normal(tuple(t_lp.shape))
    v = RNG.standard_normal(tuple(td.batch_shape))
    e_h, t_h = (ed.entropy(), td.entropy()) if name != "poisson" else (em.tensor(0.0), torch.tensor(0.0))
    ((e_lp * em.tensor(w)).sum() + (e_h * em.tensor(v)).sum()).backward()
    ((t_lp * torch.tensor(w)).sum() + (t_h * torch.tensor(v)).sum()).backward()
    for k in ep:
        assert_close(ep[k].grad, tp[k].grad, name=f"d/d{k}")


@pytest.mark.parametrize("name", CASES)
def test_sample_shapes_and_dtypes_match_torch(name):
    ed, td, _, _ = _pair(name)
    e, t = ed.sample((2, 3)), td.sample((2, 3))
    assert e.shape == tuple(t.shape) and np.dtype(e.dtype) == to_numpy(t).dtype
    assert not e.requires_grad
    assert ed.has_rsample == td.has_rsample or name in ("gamma", "beta")  # ember: no implicit reparameterisation
    if ed.has_rsample:
        r = ed.rsample((5,))
        assert r.shape == tuple(td.rsample((5,)).shape) and r.requires_grad
    assert ed.sample().shape == tuple(td.sample().shape)


@pytest.mark.parametrize("name", [n for n in CASES if n not in ("categorical_probs", "categorical_logits")])
def test_empirical_means_of_20k_samples(name):
    ed, _, _, _ = _pair(name)
    x = ed.sample((20000,)).numpy()
    mean, std = ed.mean.detach().numpy(), ed.variance.detach().numpy() ** 0.5
    np.testing.assert_array_less(np.abs(x.mean(0) - mean), 5 * std / np.sqrt(20000) + 1e-9)


def test_categorical_frequencies_of_20k_samples():
    probs = np.array([[0.1, 0.0, 0.6, 0.3], [0.25, 0.25, 0.25, 0.25]])
    x = D.Categorical(probs=em.tensor(probs)).sample((20000,)).numpy()
    assert x.dtype == np.int64 and x.shape == (20000, 2)
    freq = np.stack([(x == k).mean(0) for k in range(4)], -1)
    np.testing.assert_allclose(freq, probs, atol=0.015)
    assert not (x[:, 0] == 1).any()  # a category of probability 0 is never drawn


def test_sampling_follows_the_global_seed():
    d = D.Normal(em.zeros(3), em.ones(3))
    em.manual_seed(5)
    a = d.sample((4,))
    em.manual_seed(5)
    assert np.array_equal(a.numpy(), d.sample((4,)).numpy())


# -- the reparameterised draws: the same ε through both frameworks' formulas ------------------------------


def _rsample_parity(ed, ep, torch_formula):
    x = ed.rsample((6,))
    w = RNG.standard_normal(x.shape)
    (x * em.tensor(w)).sum().backward()
    tx, tp = torch_formula(x.detach().numpy())
    assert_close(x, tx, name="rsample")
    (tx * torch.tensor(w)).sum().backward()
    for k in ep:
        assert_close(ep[k].grad, tp[k].grad, name=f"d rsample/d{k}")


def test_normal_rsample_is_loc_plus_scale_eps_with_torch_gradients():
    ed, _, ep, tp = _pair("normal_broadcast")
    loc, scale = ep["loc"].detach().numpy(), ep["scale"].detach().numpy()
    _rsample_parity(ed, ep, lambda x: (tp["loc"] + torch.tensor((x - loc) / scale) * tp["scale"], tp))


@pytest.mark.parametrize("name", ["mvn_scale_tril", "mvn_covariance", "mvn_precision"])
def test_multivariate_normal_rsample_gradients_reach_every_parameter(name):
    ed, td, ep, tp = _pair(name)
    L = ed._unbroadcasted_scale_tril.detach().numpy()
    loc = ed.loc.detach().numpy()

    def torch_formula(x):
        eps = np.linalg.solve(L, (x - loc)[..., None])
        return td.loc + (td._unbroadcasted_scale_tril @ torch.tensor(eps)).squeeze(-1), tp

    _rsample_parity(ed, ep, torch_formula)


def test_uniform_laplace_exponential_rsample_gradients():
    ed, _, ep, tp = _pair("uniform")
    low, high = ep["low"].detach().numpy(), ep["high"].detach().numpy()
    _rsample_parity(ed, ep, lambda x: (tp["low"] + torch.tensor((x - low) / (high - low)) * (tp["high"] - tp["low"]),
                                       tp))
    ed, _, ep, tp = _pair("exponential")
    rate = ep["rate"].detach().numpy()
    _rsample_parity(ed, ep, lambda x: (torch.tensor(x * rate) / tp["rate"], tp))
    ed, _, ep, tp = _pair("laplace")
    loc, scale = ep["loc"].detach().numpy(), ep["scale"].detach().numpy()
    _rsample_parity(ed, ep, lambda x: (tp["loc"] + torch.tensor((x - loc) / scale) * tp["scale"], tp))


# -- KL divergences ------------------------------------------------------------------------------------------

KL_CASES = {
    "normal": lambda M, p, q: (M.Normal(p["a"], p["b"]), M.Normal(q["a"], q["b"])),
    "categorical": lambda M, p, q: (M.Categorical(logits=p["a"]), M.Categorical(probs=q["p"])),
    "one_hot": lambda M, p, q: (M.OneHotCategorical(logits=p["a"]), M.OneHotCategorical(probs=q["p"])),
    "bernoulli": lambda M, p, q: (M.Bernoulli(logits=p["a"]), M.Bernoulli(probs=q["u"])),
    "uniform": lambda M, p, q: (M.Uniform(p["a"] - 3, p["a"] - 1), M.Uniform(q["a"] - 4, q["a"] + 2 * q["b"])),
    "mvn": lambda M, p, q: (M.MultivariateNormal(p["v"], scale_tril=p["L"]),
                            M.MultivariateNormal(q["v"], covariance_matrix=q["S"])),
    "exponential": lambda M, p, q: (M.Exponential(p["b"]), M.Exponential(q["b"])),
    "laplace": lambda M, p, q: (M.Laplace(p["a"], p["b"]), M.Laplace(q["a"], q["b"])),
    "poisson": lambda M, p, q: (M.Poisson(p["b"]), M.Poisson(q["b"])),
    "gamma": lambda M, p, q: (M.Gamma(p["b"], p["b"] ** 2), M.Gamma(q["b"] * 2, q["b"])),
    "beta": lambda M, p, q: (M.Beta(p["b"], p["b"] + 1), M.Beta(q["b"] * 2, q["b"])),
    "independent": lambda M, p, q: (M.Independent(M.Normal(p["a"], p["b"]), 1),
                                    M.Independent(M.Normal(q["a"], q["b"]), 1)),
}


def _kl_params():
    return {"a": RNG.standard_normal((2, 4)), "b": _pos(2, 4), "p": _probs(2, 4), "u": RNG.uniform(0.1, 0.9, (2, 4)),
            "v": RNG.standard_normal((2, 3)), "L": _tril(3, (2,)), "S": _spd(3)}


@pytest.mark.parametrize("name", KL_CASES)
def test_kl_divergence_and_its_gradients_match_torch(name):
    p, q = _kl_params(), _kl_params()
    tensors = {}
    for package, M, make in (("ember", D, lambda v: em.tensor(v, requires_grad=True)),
                             ("torch", TD, lambda v: torch.tensor(v, requires_grad=True))):
        tp, tq = {k: make(v) for k, v in p.items()}, {k: make(v) for k, v in q.items()}
        kl = D.kl_divergence(*KL_CASES[name](M, tp, tq)) if package == "ember" else \
            TD.kl_divergence(*KL_CASES[name](M, tp, tq))
        tensors[package] = (kl, tp, tq)
    (ek, ep, eq), (tk, tp, tq) = tensors["ember"], tensors["torch"]
    assert_close(ek, tk, name="kl")
    w = RNG.standard_normal(tuple(tk.shape))
    finite = np.isfinite(to_numpy(tk))
    (ek * em.tensor(np.where(finite, w, 0.0))).sum().backward()
    (tk * torch.tensor(np.where(finite, w, 0.0))).sum().backward()
    for ours, theirs in ((ep, tp), (eq, tq)):
        for k in ours:
            if theirs[k].grad is not None:
                assert_close(ours[k].grad, theirs[k].grad, name=f"{name}: d kl/d{k}")


def test_kl_limits_at_zero_probabilities_and_disjoint_supports():
    for M in (D, TD):
        pkg = em if M is D else torch
        cat = M.kl_divergence(M.Categorical(probs=pkg.tensor([0.5, 0.5, 0.0])),
                              M.Categorical(probs=pkg.tensor([0.0, 0.5, 0.5])))
        ber = M.kl_divergence(M.Bernoulli(probs=pkg.tensor([0.0, 1.0, 0.5])),
                              M.Bernoulli(probs=pkg.tensor([0.5, 0.5, 0.0])))
        uni = M.kl_divergence(M.Uniform(0.0, 2.0), M.Uniform(1.0, 3.0))
        assert np.isinf(to_numpy(cat)) and np.isinf(to_numpy(uni))
        np.testing.assert_allclose(to_numpy(ber)[:2], np.log(2), rtol=1e-6)
        assert np.isinf(to_numpy(ber)[2])


def test_register_kl_dispatches_to_the_most_specific_pair():
    class Wide(D.Normal):
        pass

    with pytest.raises(NotImplementedError, match="No KL"):
        D.kl_divergence(D.Normal(0.0, 1.0), D.Laplace(0.0, 1.0))
    assert float(D.kl_divergence(Wide(0.0, 1.0), D.Normal(1.0, 1.0))) == pytest.approx(0.5)  # falls back to Normal's

    @D.register_kl(Wide, D.Normal)
    def _wide(p, q):
        return em.tensor(42.0)

    assert float(D.kl_divergence(Wide(0.0, 1.0), D.Normal(1.0, 1.0))) == 42.0
    assert float(D.kl_divergence(D.Normal(0.0, 1.0), D.Normal(1.0, 1.0))) == pytest.approx(0.5)
    with pytest.raises(TypeError):
        D.register_kl(int, D.Normal)


# -- validation -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("build", [
    lambda M, t: M.Normal(t([0.0]), t([-1.0])),
    lambda M, t: M.Bernoulli(probs=t([1.5])),
    lambda M, t: M.Categorical(probs=t([0.5, -0.5, 1.0])),
    lambda M, t: M.Categorical(probs=t([0.5]), logits=t([0.0])),
    lambda M, t: M.Uniform(t([1.0]), t([0.0])),
    lambda M, t: M.Exponential(t([0.0])),
    lambda M, t: M.MultivariateNormal(t([0.0, 0.0]), covariance_matrix=t([[1.0, 2.0], [2.0, 1.0]])),
    lambda M, t: M.MultivariateNormal(t([0.0, 0.0]), scale_tril=t([[1.0, 1.0], [0.0, 1.0]])),
    lambda M, t: M.Bernoulli(probs=t([0.5])).log_prob(t([0.5])),
    lambda M, t: M.Categorical(probs=t([0.5, 0.5])).log_prob(t([2.0])),
    lambda M, t: M.Uniform(t([0.0]), t([1.0])).log_prob(t([2.0])),
    lambda M, t: M.Poisson(t([1.0])).log_prob(t([1.5])),
    lambda M, t: M.Normal(t([0.0, 1.0]), t([1.0, 1.0])).log_prob(t([0.0, 1.0, 2.0])),
    lambda M, t: M.MultivariateNormal(t([0.0, 0.0]), scale_tril=t([[1.0, 0.0], [0.0, 1.0]])).log_prob(t([0.0])),
    lambda M, t: M.Normal(t([0.0]), t([1.0])).log_prob(0.5),
])
def test_invalid_arguments_raise_value_error_as_in_torch(build):
    with pytest.raises(ValueError):
        build(TD, lambda v: torch.tensor(v, dtype=torch.float64))
    with pytest.raises(ValueError):
        build(D, lambda v: em.tensor(v, dtype=em.float64))


def test_validation_can_be_switched_off():
    d = D.Normal(em.tensor([0.0]), em.tensor([-1.0]), validate_args=False)
    assert np.isnan(d.log_prob(em.tensor([0.0])).numpy()).all()
    D.Distribution.set_default_validate_args(False)
    try:
        D.Bernoulli(probs=em.tensor([1.5]))
    finally:
        D.Distribution.set_default_validate_args(True)
    with pytest.raises(ValueError):
        D.Bernoulli(probs=em.tensor([1.5]))


# -- shapes: expand, Independent, enumerate_support ----------------------------------------------------------


@pytest.mark.parametrize("name", ["normal", "bernoulli_logits", "categorical_logits", "mvn_scale_tril",
                                  "independent_normal", "multinomial", "uniform"])
def test_expand_matches_torch(name):
    ed, td, _, _ = _pair(name)
    shape = (5,) + tuple(td.batch_shape)
    ex, tx = ed.expand(shape), td.expand(shape)
    assert ex.batch_shape == tuple(tx.batch_shape) and ex.event_shape == tuple(tx.event_shape)
    assert ex.sample((2,)).shape == tuple(tx.sample((2,)).shape)
    if hasattr(tx, "param_shape"):
        assert ex.param_shape == tuple(tx.param_shape)
    e_value, t_value = _value(name, "ember").unsqueeze(1), _value(name, "torch").unsqueeze(1)  # (n, 1, *batch)
    assert_close(ex.log_prob(e_value), tx.log_prob(t_value), name="log_prob")


def test_independent_reinterprets_batch_dims_and_enumerate_support():
    base = D.Normal(em.zeros(4, 3), em.ones(4, 3))
    d = D.Independent(base, 2)
    assert (d.batch_shape, d.event_shape, d.log_prob(em.zeros(4, 3)).shape) == ((), (4, 3), ())
    with pytest.raises(ValueError):
        D.Independent(base, 3)
    e = D.Bernoulli(probs=em.tensor([0.2, 0.7])).enumerate_support()
    t = TD.Bernoulli(probs=torch.tensor([0.2, 0.7])).enumerate_support()
    assert_close(e, t)
    e = D.Categorical(logits=em.zeros(2, 3)).enumerate_support(expand=False)
    assert_close(e, TD.Categorical(logits=torch.zeros(2, 3)).enumerate_support(expand=False))


def test_numbers_take_the_default_dtype_and_scalar_batch_shape():
    d, t = D.Normal(0.0, 1.0), TD.Normal(0.0, 1.0)
    assert d.batch_shape == () and d.sample().dtype == em.float32 and d.sample((3,)).shape == (3,)
    assert_close(d.log_prob(em.tensor(0.5)), t.log_prob(torch.tensor(0.5)))
    assert D.Bernoulli(0.3).sample((4,)).shape == (4,)
    assert D.Poisson(2.0).batch_shape == ()


def test_multivariate_normal_log_prob_gradcheck():
    loc = em.tensor(RNG.standard_normal(3), requires_grad=True)
    cov = em.tensor(RNG.standard_normal((3, 3)), requires_grad=True)
    x = em.tensor(RNG.standard_normal((4, 3)))

    def log_prob(m, c):
        sigma = c @ c.mT + 3 * em.eye(3, dtype=em.float64)
        return D.MultivariateNormal(m, covariance_matrix=sigma, validate_args=False).log_prob(x)

    assert gradcheck(log_prob, [loc, cov])


# -- training through the distributions ----------------------------------------------------------------------


def test_reinforce_with_categorical_learns_the_rewarded_action():
    logits = em.zeros(4, requires_grad=True)
    opt = em.optim.SGD([logits], lr=0.5)
    reward = em.tensor([0.0, 0.0, 1.0, 0.0])
    for _ in range(60):
        dist = D.Categorical(logits=logits)
        action = dist.sample((16,))
        advantage = reward[action] - 0.25
        loss = -(dist.log_prob(action) * advantage).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert D.Categorical(logits=logits).probs.detach().numpy()[2] > 0.8


def test_reparameterised_normal_moves_towards_the_target():
    mu = em.zeros(2, requires_grad=True)
    log_std = em.zeros(2, requires_grad=True)
    opt = em.optim.Adam([mu, log_std], lr=0.05)
    for _ in range(200):
        q = D.Normal(mu, log_std.exp())
        z = q.rsample((32,))
        loss = ((z - 3.0) ** 2).mean() + 0.1 * D.kl_divergence(q, D.Normal(0.0, 1.0)).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
    # the minimiser of E(z − 3)² + 0.1·KL(q ‖ N(0, 1)) over μ: 2(μ − 3) + 0.1μ = 0
    np.testing.assert_allclose(mu.detach().numpy(), 6.0 / 2.1 * np.ones(2), atol=0.2)


def test_log_prob_gradient_at_unit_concentration_matches_torch():
    # xlogy(a − 1, v) at a = 1 has ∂/∂a = ln v, not 0: Beta and Gamma densities at concentration 1
    for make in (lambda lib, a, b: lib.distributions.Beta(a, b), lambda lib, a, b: lib.distributions.Gamma(a, b)):
        grads = []
        for lib in (em, torch):
            a = lib.tensor([1.0, 2.5], dtype=lib.float64, requires_grad=True)
            b = lib.tensor([2.0, 1.0], dtype=lib.float64, requires_grad=True)
            make(lib, a, b).log_prob(lib.tensor([0.3, 0.6], dtype=lib.float64)).sum().backward()
            grads.append((a.grad, b.grad))
        for ours, theirs in zip(*grads, strict=True):
            assert_close(ours, theirs)


def test_pytorchs_one_class_import_paths():
    from ember.distributions.categorical import Categorical
    from ember.distributions.multinomial import Multinomial
    from ember.distributions.normal import Normal

    assert (Normal, Categorical, Multinomial) == (D.Normal, D.Categorical, D.Multinomial)
    assert em.distributions.one_hot_categorical.OneHotCategorical is D.OneHotCategorical

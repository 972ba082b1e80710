"""ember.nn.init: gains and fans against torch.nn.init, distribution statistics, seeding."""
import math

import numpy as np
import pytest
import torch

import ember as em
from ember import nn
from ember.nn import init


@pytest.mark.parametrize("nonlinearity,param", [
    ("linear", None), ("conv2d", None), ("sigmoid", None), ("tanh", None), ("relu", None), ("leaky_relu", None),
    ("leaky_relu", 0.2), ("leaky_relu", math.sqrt(5)), ("selu", None),
])
def test_calculate_gain_matches_torch(nonlinearity, param):
    assert init.calculate_gain(nonlinearity, param) == pytest.approx(torch.nn.init.calculate_gain(nonlinearity, param))


def test_calculate_gain_rejects_unknown():
    with pytest.raises(ValueError, match="swish"):
        init.calculate_gain("swish")
    with pytest.raises(ValueError, match="negative_slope"):
        init.calculate_gain("leaky_relu", "steep")


@pytest.mark.parametrize("shape", [(7, 3), (16, 3, 5, 5), (8, 2, 3), (4, 1, 2, 3, 3), (6, 0)])
def test_fans_match_torch(shape):
    ours = init.calculate_fan_in_and_fan_out(em.empty(*shape))
    assert ours == torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))
    assert init._calculate_fan_in_and_fan_out is init.calculate_fan_in_and_fan_out


def test_grouped_conv_weight_fan_in_uses_in_over_groups():
    # a Conv2d(8, 16, 3, groups=4) weight is (16, 8/4, 3, 3): fan_in = 2·9
    assert init.calculate_fan_in_and_fan_out(em.empty(16, 2, 3, 3)) == (18, 144)


def test_fans_need_two_dimensions():
    with pytest.raises(ValueError, match=r"at least 2 dimensions.*\(5,\)"):
        init.calculate_fan_in_and_fan_out(em.empty(5))


BIG = (400, 500)  # fan_in 500, fan_out 400: 200 000 draws, std estimated to ~0.3 %


@pytest.mark.parametrize("fill,std", [
    (lambda t: init.normal_(t, 0.0, 0.3), 0.3),
    (lambda t: init.uniform_(t, -0.5, 0.5), 1 / math.sqrt(12)),
    (lambda t: init.xavier_uniform_(t), math.sqrt(2 / 900)),
    (lambda t: init.xavier_normal_(t, gain=5 / 3), 5 / 3 * math.sqrt(2 / 900)),
    (lambda t: init.kaiming_uniform_(t, nonlinearity="relu"), math.sqrt(2 / 500)),
    (lambda t: init.kaiming_normal_(t, nonlinearity="relu"), math.sqrt(2 / 500)),
    (lambda t: init.kaiming_normal_(t, mode="fan_out", nonlinearity="relu"), math.sqrt(2 / 400)),
    (lambda t: init.kaiming_normal_(t, a=0.2), math.sqrt(2 / (1 + 0.04) / 500)),
    (lambda t: init.kaiming_uniform_(t, a=math.sqrt(5)), 1 / math.sqrt(3 * 500)),
    (lambda t: init.lecun_normal_(t), math.sqrt(1 / 500)),
    (lambda t: init.lecun_uniform_(t), math.sqrt(1 / 500)),
    (lambda t: init.trunc_normal_(t, std=0.02, a=-0.04, b=0.04), 0.02 * 0.8796),  # std of N(0,1) cut at ±2
])
def test_random_initialisers_have_the_right_std(fill, std):
    t = fill(em.empty(*BIG))
    values = t.numpy()
    assert abs(values.mean()) < 4 * std / math.sqrt(values.size)
    assert values.std() == pytest.approx(std, rel=0.015)


@pytest.mark.parametrize("fill,bound", [
    (lambda t: init.xavier_uniform_(t, gain=2.0), 2 * math.sqrt(6 / 900)),
    (lambda t: init.kaiming_uniform_(t, mode="fan_out"), math.sqrt(6 / 400)),  # a=0: gain √2
    (lambda t: init.uniform_(t, -0.1, 0.1), 0.1),
    (lambda t: init.trunc_normal_(t, mean=1.0, a=0.5, b=1.5), None),
])
def test_uniform_initialisers_fill_their_interval(fill, bound):
    values = fill(em.empty(*BIG)).numpy()
    if bound is None:  # trunc_normal_'s bounds are absolute
        assert values.min() >= 0.5 and values.max() <= 1.5
        return
    assert np.abs(values).max() <= bound
    assert np.abs(values).max() > 0.99 * bound


def test_conv_weight_kaiming_uses_receptive_field():
    w = init.kaiming_normal_(em.empty(64, 32, 3, 3), nonlinearity="relu")
    assert w.numpy().std() == pytest.approx(math.sqrt(2 / (32 * 9)), rel=0.02)


@pytest.mark.parametrize("dtype", [em.float32, em.float64])
def test_init_keeps_dtype_and_returns_the_same_tensor(dtype):
    t = em.empty(3, 4, dtype=dtype)
    assert init.xavier_normal_(t) is t
    assert t.dtype == dtype


def test_manual_seed_fixes_initialisation():
    em.manual_seed(123)
    a = nn.Linear(5, 4)
    em.manual_seed(123)
    b = nn.Linear(5, 4)
    np.testing.assert_array_equal(a.weight.detach().numpy(), b.weight.detach().numpy())
    np.testing.assert_array_equal(a.bias.detach().numpy(), b.bias.detach().numpy())
    c = nn.Linear(5, 4)
    assert not np.array_equal(a.weight.detach().numpy(), c.weight.detach().numpy())


def test_explicit_generator_does_not_touch_the_global_stream():
    state = em.get_rng_state()
    init.normal_(em.empty(10), generator=np.random.default_rng(5))
    assert em.get_rng_state() == state
    a = init.normal_(em.empty(10), generator=np.random.default_rng(5)).numpy()
    b = init.normal_(em.empty(10), generator=np.random.default_rng(5)).numpy()
    np.testing.assert_array_equal(a, b)


def test_init_on_a_parameter_records_no_graph():
    p = nn.Parameter(em.zeros(3, 3))
    init.kaiming_uniform_(p)
    assert p.is_leaf and p.requires_grad and p.grad is None


@pytest.mark.parametrize("name,args", [("zeros_", ()), ("ones_", ()), ("constant_", (2.5,)), ("eye_", ())])
def test_deterministic_fills_match_torch(name, args):
    ours = getattr(init, name)(em.empty(3, 5), *args).numpy()
    np.testing.assert_array_equal(ours, getattr(torch.nn.init, name)(torch.empty(3, 5), *args).numpy())


@pytest.mark.parametrize("shape,groups", [((4, 4, 3, 3), 1), ((6, 2, 3), 2), ((4, 6, 3, 3), 1), ((2, 3, 1, 3, 3), 1)])
def test_dirac_matches_torch(shape, groups):
    ours = init.dirac_(em.empty(*shape), groups).numpy()
    np.testing.assert_array_equal(ours, torch.nn.init.dirac_(torch.empty(shape), groups).numpy())


@pytest.mark.parametrize("shape", [(6, 4), (4, 6), (5, 2, 3, 3), (8, 8)])
def test_orthogonal_rows_or_columns_are_orthonormal(shape):
    w = init.orthogonal_(em.empty(*shape, dtype=em.float64), gain=2.0).numpy().reshape(shape[0], -1)
    gram = w @ w.T if w.shape[0] <= w.shape[1] else w.T @ w
    np.testing.assert_allclose(gram, 4 * np.eye(gram.shape[0]), atol=1e-10)


def test_orthogonal_is_not_deterministic_across_draws():
    a = init.orthogonal_(em.empty(4, 4)).numpy()
    b = init.orthogonal_(em.empty(4, 4)).numpy()
    assert not np.allclose(a, b)


def test_bad_arguments_raise_clear_errors():
    with pytest.raises(ValueError, match="mode"):
        init.kaiming_normal_(em.empty(3, 3), mode="fan_avg")
    with pytest.raises(ValueError, match="eye_"):
        init.eye_(em.empty(2, 2, 2))
    with pytest.raises(ValueError, match="orthogonal_"):
        init.orthogonal_(em.empty(3))
    with pytest.raises(ValueError, match="dirac_"):
        init.dirac_(em.empty(3, 3))
    with pytest.raises(ValueError, match="trunc_normal_"):
        init.trunc_normal_(em.empty(3), a=1.0, b=-1.0)


def test_zero_element_tensor_is_a_no_op():
    t = em.empty(0, 4)
    assert init.kaiming_uniform_(t).shape == (0, 4)
    assert init.xavier_normal_(em.empty(3, 0)).shape == (3, 0)

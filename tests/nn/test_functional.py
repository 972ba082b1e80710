"""ember.nn.functional against torch.nn.functional: names, signatures, values and gradients."""
import inspect
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import ember as em
import ember.nn.functional as F
from ember.testing import gradcheck

ACTIVATIONS = [
    ("relu", {}), ("relu6", {}), ("leaky_relu", {"negative_slope": 0.2}), ("elu", {"alpha": 0.7}),
    ("hardtanh", {"min_val": -0.5, "max_val": 0.8}), ("sigmoid", {}), ("logsigmoid", {}), ("tanh", {}),
    ("gelu", {}), ("gelu", {"approximate": "tanh"}), ("softplus", {"beta": 2.0, "threshold": 5.0}), ("silu", {}),
    ("softmax", {"dim": 1}), ("log_softmax", {"dim": 0}), ("softmin", {"dim": -1}),
]


def _input(dtype=np.float64, shape=(4, 5)):
    x = np.random.default_rng(1).standard_normal(shape) * 3
    x[np.abs(x) < 1e-2] = 0.5  # keep away from the kinks at 0
    x[np.abs(np.abs(x) - 0.5) < 1e-2] = 0.3  # and from hardtanh's corners
    x[np.abs(x - 0.8) < 1e-2] = 0.3
    x[np.abs(x - 6) < 1e-2] = 5.0
    return x.astype(dtype)


@pytest.mark.parametrize("dtype,tol", [(np.float32, 1e-5), (np.float64, 1e-10)])
@pytest.mark.parametrize("name,kwargs", ACTIVATIONS)
def test_activation_matches_torch(name, kwargs, dtype, tol):
    data = _input(dtype)
    upstream = np.random.default_rng(2).standard_normal(data.shape).astype(dtype)
    x = em.tensor(data, requires_grad=True)
    y = getattr(F, name)(x, **kwargs)
    y.backward(em.tensor(upstream))
    tx = torch.tensor(data, requires_grad=True)
    ty = getattr(TF, name)(tx, **kwargs)
    ty.backward(torch.tensor(upstream))
    assert y.dtype == dtype
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=tol, atol=tol)
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=tol, atol=tol)


@pytest.mark.parametrize("name,kwargs", [a for a in ACTIVATIONS if a[0] in ("relu6", "logsigmoid", "softmin")])
def test_composed_activations_gradcheck(name, kwargs):
    x = em.tensor(_input(shape=(3, 4)), requires_grad=True)
    assert gradcheck(lambda t: getattr(F, name)(t, **kwargs), [x])


@pytest.mark.parametrize("name", [
    "relu", "relu6", "leaky_relu", "elu", "hardtanh", "silu", "softmax", "log_softmax", "softmin", "dropout",
    "dropout2d", "cross_entropy", "nll_loss", "mse_loss", "l1_loss", "binary_cross_entropy",
    "binary_cross_entropy_with_logits", "pad",
])
def test_signature_matches_torch(name):
    ours = [(p.name, p.default) for p in inspect.signature(getattr(F, name)).parameters.values()]
    theirs = [(p.name, p.default) for p in inspect.signature(getattr(TF, name)).parameters.values()]
    assert ours == theirs


def test_every_name_in_all_exists_and_has_a_docstring():
    for name in F.__all__:
        assert getattr(F, name).__doc__, name


def test_softmax_implicit_dim_follows_torch_with_a_warning():
    data = _input(np.float32, (2, 3, 4))
    with pytest.warns(UserWarning, match="implicit dim"):
        y = F.softmax(em.tensor(data))
    with pytest.warns(UserWarning):
        expected = TF.softmax(torch.tensor(data), dim=None, _stacklevel=3)
    np.testing.assert_allclose(y.numpy(), expected.numpy(), rtol=1e-6)


def test_softmax_dtype_argument_casts_first():
    y = F.log_softmax(em.randn(3, 4), dim=1, dtype=em.float64)
    assert y.dtype == np.float64


def test_linear_matches_torch():
    x, w, b = (np.random.default_rng(i).standard_normal(s) for i, s in enumerate([(2, 3, 4), (5, 4), (5,)]))
    y = F.linear(em.tensor(x), em.tensor(w), em.tensor(b))
    np.testing.assert_allclose(y.numpy(), TF.linear(*map(torch.tensor, (x, w, b))).numpy(), rtol=1e-12)


def test_pad_and_one_hot_match_torch():
    x = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(F.pad(em.tensor(x), (1, 2)).numpy(), TF.pad(torch.tensor(x), (1, 2)).numpy())
    np.testing.assert_array_equal(F.pad(em.tensor(x), (1, 1, 1, 0), value=7.0).numpy(),
                                  TF.pad(torch.tensor(x), (1, 1, 1, 0), value=7.0).numpy())
    labels = np.array([0, 2, 1])
    np.testing.assert_array_equal(F.one_hot(em.tensor(labels), 4).numpy(),
                                  TF.one_hot(torch.tensor(labels), 4).numpy())


def test_dropout_functional_training_flag():
    x = em.ones(2000)
    assert F.dropout(x, 0.3, training=False) is x
    y = F.dropout(x, 0.3).numpy()
    assert set(np.unique(y)) <= {0.0, np.float32(1 / 0.7)}
    assert abs((y == 0).mean() - 0.3) < 0.05


@pytest.mark.parametrize("size_average,reduce,expected", [
    (False, None, "sum"), (True, False, "none"), (None, False, "none"), (True, True, "mean"),
])
def test_legacy_reduction_arguments(size_average, reduce, expected):
    x, y = np.random.default_rng(0).standard_normal((2, 3, 4))
    with pytest.warns(UserWarning, match="deprecated"):
        ours = F.mse_loss(em.tensor(x), em.tensor(y), size_average, reduce)
    theirs = TF.mse_loss(torch.tensor(x), torch.tensor(y), reduction=expected)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12)


def test_default_reduction_does_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        F.cross_entropy(em.randn(3, 4), em.tensor([0, 1, 2]))


@pytest.mark.parametrize("name", ["mse_loss", "l1_loss"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_elementwise_weighted_regression_losses(name, reduction):
    rng = np.random.default_rng(3)
    x, y, w = rng.standard_normal((3, 4, 5))
    xe = em.tensor(x, requires_grad=True)
    ours = getattr(F, name)(xe, em.tensor(y), reduction=reduction, weight=em.tensor(w))
    xt = torch.tensor(x, requires_grad=True)
    theirs = getattr(TF, name)(xt, torch.tensor(y), reduction=reduction, weight=torch.tensor(w))
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=1e-10)
    ours.sum().backward()
    theirs.sum().backward()
    np.testing.assert_allclose(xe.grad.numpy(), xt.grad.numpy(), rtol=1e-10)


def test_weighted_loss_rejects_bad_arguments():
    with pytest.raises(ValueError, match="mse_loss.*reduction"):
        F.mse_loss(em.zeros(3), em.zeros(3), reduction="avg", weight=em.ones(3))
    with pytest.raises(ValueError, match=r"l1_loss: weight shape \(2,\)"):
        F.l1_loss(em.zeros(3), em.zeros(3), weight=em.ones(2))

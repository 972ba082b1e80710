"""The further activations (SELU … RReLU, PReLU, GLU, Softmax2d, gumbel_softmax) against PyTorch."""
import inspect

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import ember as em
import ember.nn.functional as F
from ember import nn
from ember.testing import gradcheck
from torch_parity import check_module, check_op

TOL = {np.float32: 1e-5, np.float64: 1e-10}
# PyTorch's hardsigmoid/hardswish kernels take 1/6 (and 1/3) as float literals, in float64 too: their
# gradients are off by ~3e-8 relative; ember's use the exact constants (gradcheck checks them).
LOOSE = ("hardsigmoid", "hardswish")
KINKS = (0.0, 0.3, 0.4, 0.5, -0.3, -0.4, -0.5, 3.0, -3.0, 0.2, 6.0)


def _data(*shape, seed=0, scale=2.5):
    x = np.random.default_rng(seed).standard_normal(shape) * scale
    for kink in KINKS:  # keep away from every kink of the functions below
        x[np.abs(x - kink) < 2e-2] = kink + 0.07
    return x


FUNCTIONS = [
    ("selu", {}), ("celu", {}), ("celu", {"alpha": 0.5}), ("mish", {}), ("hardswish", {}), ("hardsigmoid", {}),
    ("softsign", {}), ("tanhshrink", {}), ("hardshrink", {}), ("hardshrink", {"lambd": 0.3}), ("softshrink", {}),
    ("softshrink", {"lambd": 0.4}), ("threshold", {"threshold": 0.2, "value": -1.5}), ("glu", {}),
    ("glu", {"dim": 0}), ("logsigmoid", {}), ("rrelu", {}), ("rrelu", {"lower": 0.1, "upper": 0.3}),
    ("relu6", {}), ("gelu", {"approximate": "tanh"}), ("silu", {}), ("softmin", {"dim": 1}),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,kwargs", FUNCTIONS)
def test_functional_matches_torch(name, kwargs, dtype):
    tol = 1e-7 if name in LOOSE else TOL[dtype]
    check_op(lambda x: getattr(F, name)(x, **kwargs), lambda x: getattr(TF, name)(x, **kwargs), [_data(4, 6)],
             dtype=dtype, rtol=max(tol, TOL[dtype]), atol=max(tol, TOL[dtype]))


@pytest.mark.parametrize("name,kwargs", FUNCTIONS)
def test_functional_gradcheck(name, kwargs):
    x = em.tensor(_data(4, 6), dtype=em.float64, requires_grad=True)
    assert gradcheck(lambda t: getattr(F, name)(t, **kwargs), [x])


@pytest.mark.parametrize("name", ["selu", "celu", "mish", "hardswish", "hardsigmoid", "threshold", "rrelu", "relu6",
                                  "silu", "glu", "softsign", "tanhshrink", "gumbel_softmax"])
def test_signature_matches_torch(name):
    ours = [(p.name, p.default) for p in inspect.signature(getattr(F, name)).parameters.values()]
    theirs = [(p.name, p.default) for p in inspect.signature(getattr(TF, name)).parameters.values()]
    assert ours == theirs


@pytest.mark.parametrize("name", ["selu", "celu", "mish", "hardswish", "hardsigmoid", "rrelu", "relu6", "silu"])
def test_inplace_flag_is_accepted_and_computed_out_of_place(name):
    x = em.tensor(_data(3, 4))
    before = x.numpy().copy()
    y = getattr(F, name)(x, inplace=True)
    np.testing.assert_array_equal(x.numpy(), before)
    np.testing.assert_allclose(y.numpy(), getattr(TF, name)(torch.tensor(before)).numpy(), rtol=1e-6, atol=1e-7)


def test_threshold_inplace_and_shrink_defaults():
    x = em.tensor(_data(3, 4))
    np.testing.assert_allclose(F.threshold(x, 0.1, 20.0, inplace=True).numpy(),
                               TF.threshold(torch.tensor(x.numpy()), 0.1, 20.0).numpy())
    with pytest.raises(ValueError, match="lambda must be greater or equal to 0"):
        F.softshrink(x, -0.1)


# -- PReLU ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("num,shape", [(1, (4, 3, 5, 5)), (3, (4, 3, 5, 5)), (3, (4, 3)), (1, (7,)), (3, (2, 3, 6))])
def test_prelu_module_matches_torch(num, shape, dtype):
    theirs = torch.nn.PReLU(num, init=0.1).to(torch.float64 if dtype == np.float64 else torch.float32)
    with torch.no_grad():
        theirs.weight.copy_(torch.linspace(0.05, 0.4, num))
    ours = nn.PReLU(num, dtype=dtype)
    assert repr(ours) == repr(theirs) and list(ours.state_dict()) == list(theirs.state_dict()) == ["weight"]
    check_module(ours, theirs, _data(*shape).astype(dtype), rtol=TOL[dtype], atol=TOL[dtype])


def test_prelu_init_gradcheck_and_errors():
    ours = nn.PReLU(2, init=0.3)
    np.testing.assert_array_equal(ours.weight.detach().numpy(), np.float32([0.3, 0.3]))
    x = em.tensor(_data(3, 2, 4), dtype=em.float64, requires_grad=True)
    w = em.tensor([0.2, -0.5], dtype=em.float64, requires_grad=True)
    assert gradcheck(F.prelu, [x, w])
    with pytest.raises(RuntimeError, match="Mismatch of parameter numbers and input channel size"):
        F.prelu(em.randn(2, 3), em.ones(2))
    with pytest.raises(RuntimeError, match="channel size = 1"):  # as PyTorch: a 1-D input has no channels
        F.prelu(em.randn(5), em.ones(5))


# -- the modules ------------------------------------------------------------------------------------
MODULES = [
    ("SELU", (), {}), ("SELU", (), {"inplace": True}), ("CELU", (), {}), ("CELU", (2.0,), {}),
    ("CELU", (0.5, True), {}), ("Mish", (), {}), ("Mish", (True,), {}), ("Hardswish", (), {}),
    ("Hardswish", (), {"inplace": True}), ("Hardsigmoid", (), {}), ("Hardsigmoid", (True,), {}), ("Softsign", (), {}),
    ("Softmin", (1,), {}), ("Softmin", (), {"dim": 0}), ("GLU", (), {}), ("GLU", (0,), {}),
    ("Threshold", (0.2, 20.0), {}), ("Threshold", (0.2, 20), {"inplace": True}), ("LogSigmoid", (), {}),
    ("Tanhshrink", (), {}), ("Hardshrink", (), {}), ("Hardshrink", (0.3,), {}), ("Softshrink", (), {}),
    ("Softshrink", (0.4,), {}), ("ReLU6", (), {"inplace": True}), ("SiLU", (), {"inplace": True}),
    ("ELU", (), {"inplace": True}), ("LeakyReLU", (0.1, True), {}), ("Hardtanh", (), {"inplace": True}),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,args,kwargs", MODULES)
def test_modules_match_torch(name, args, kwargs, dtype):
    ours, theirs = getattr(nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)
    assert repr(ours) == repr(theirs)
    if getattr(theirs, "inplace", False):  # torch's in-place kernels cannot run on a leaf requiring grad
        theirs.inplace = False
    theirs.to(torch.float64 if dtype == np.float64 else torch.float32)
    tol = max(1e-7, TOL[dtype]) if name.lower() in LOOSE else TOL[dtype]
    check_module(ours, theirs, _data(4, 6).astype(dtype), rtol=tol, atol=tol)


@pytest.mark.parametrize("name,args,kwargs", MODULES)
def test_modules_gradcheck(name, args, kwargs):
    x = em.tensor(_data(2, 4), dtype=em.float64, requires_grad=True)
    assert gradcheck(getattr(nn, name)(*args, **kwargs), [x])


def test_softmax2d_matches_torch_and_rejects_other_ranks():
    for shape in [(2, 3, 4, 5), (3, 4, 5)]:
        assert repr(nn.Softmax2d()) == repr(torch.nn.Softmax2d())
        check_module(nn.Softmax2d(), torch.nn.Softmax2d(), _data(*shape), rtol=1e-10, atol=1e-12)
    with pytest.raises(ValueError, match="Softmax2d: expected input to be 3D or 4D, got 2D instead"):
        nn.Softmax2d()(em.randn(3, 4))


def test_glu_needs_an_even_dimension():
    with pytest.raises(RuntimeError, match="Halving dimension must be even, but dimension 1 is size 5"):
        F.glu(em.randn(2, 5))


# -- RReLU: random slopes in training, their mean in evaluation -------------------------------------------
def test_rrelu_train_draws_slopes_and_uses_them_as_the_derivative():
    x = em.tensor(_data(200, 50), requires_grad=True)
    layer = nn.RReLU(0.1, 0.3)
    assert repr(layer) == repr(torch.nn.RReLU(0.1, 0.3))
    y = layer(x)
    y.sum().backward()
    data, out, grad = x.detach().numpy(), y.detach().numpy(), x.grad.numpy()
    negative = data < 0
    slopes = out[negative] / data[negative]
    assert slopes.min() >= 0.1 and slopes.max() <= 0.3 and abs(slopes.mean() - 0.2) < 0.01
    assert slopes.std() > 0.05  # a fresh slope per element, not one shared
    np.testing.assert_array_equal(out[~negative], data[~negative])
    np.testing.assert_allclose(grad[negative], slopes, rtol=1e-6)
    np.testing.assert_array_equal(grad[~negative], 1.0)
    em.manual_seed(4)
    a = layer(x).detach().numpy()
    em.manual_seed(4)
    np.testing.assert_array_equal(a, layer(x).detach().numpy())


def test_rrelu_eval_matches_torch():
    check_module(nn.RReLU(0.1, 0.3).eval(), torch.nn.RReLU(0.1, 0.3).eval(), _data(5, 4), rtol=1e-10, atol=1e-12)


# -- gumbel_softmax -------------------------------------------------------------------------------
def test_gumbel_softmax_soft_samples_are_distributions_and_seeded():
    logits = em.tensor(_data(6, 5))
    em.manual_seed(1)
    y = F.gumbel_softmax(logits, tau=0.5)
    np.testing.assert_allclose(y.numpy().sum(axis=-1), 1.0, rtol=1e-12)
    em.manual_seed(1)
    np.testing.assert_array_equal(F.gumbel_softmax(logits, tau=0.5).numpy(), y.numpy())


def test_gumbel_softmax_hard_is_one_hot_with_the_soft_gradient():
    logits = em.tensor(_data(4, 5), requires_grad=True)
    upstream = np.random.default_rng(3).standard_normal((4, 5))
    em.manual_seed(2)
    y = F.gumbel_softmax(logits, tau=0.7, hard=True, dim=1)
    y.backward(em.tensor(upstream))
    hard_grad = logits.grad.numpy().copy()
    assert set(np.unique(y.detach().numpy())) <= {0.0, 1.0}
    np.testing.assert_array_equal(y.detach().numpy().sum(axis=1), 1.0)
    logits.grad = None
    em.manual_seed(2)  # the same noise: the soft sample of the same draw
    soft = F.gumbel_softmax(logits, tau=0.7, dim=1)
    soft.backward(em.tensor(upstream))
    np.testing.assert_allclose(hard_grad, logits.grad.numpy(), rtol=1e-12)
    np.testing.assert_array_equal(y.detach().numpy().argmax(1), soft.detach().numpy().argmax(1))


def test_gumbel_softmax_hard_samples_follow_the_softmax():
    logits = np.log(np.array([0.1, 0.2, 0.3, 0.4]))
    samples = F.gumbel_softmax(em.tensor(np.tile(logits, (20000, 1))), hard=True).numpy()
    np.testing.assert_allclose(samples.mean(axis=0), [0.1, 0.2, 0.3, 0.4], atol=0.015)

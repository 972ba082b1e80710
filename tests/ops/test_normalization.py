"""Normalisation ops against PyTorch, finite differences and their composition from primitives."""
import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import ember as em
import ember.nn.functional as F
from ember.ops.normalization import Normalize, batch_norm, group_norm, instance_norm, layer_norm
from ember.testing import gradcheck, gradgradcheck
from torch_parity import Const, assert_close, check_op, check_second_order, make_inputs, to_torch

DTYPES = [np.float32, np.float64]


def _rand(*shape, seed=0, dtype=np.float64):
    return (np.random.default_rng(seed).standard_normal(shape) * 2 + 0.5).astype(dtype)


def _affine(C, which, seed=1):
    """(weight, bias) arrays or None, for which in {'both', 'weight', 'bias', 'none'}."""
    w, b = _rand(*C, seed=seed), _rand(*C, seed=seed + 1)
    return (w if which in ("both", "weight") else None), (b if which in ("both", "bias") else None)


def _stats(C, dtype, seed=3):
    mean = _rand(C, seed=seed, dtype=dtype)
    var = (np.random.default_rng(seed + 1).random(C) + 0.5).astype(dtype)
    return mean, var


# -- batch norm --------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(8, 3), (4, 3, 7), (4, 3, 5, 6), (2, 3, 2, 3, 4)])
@pytest.mark.parametrize("which", ["both", "weight", "bias", "none"])
def test_batch_norm_training_matches_torch_with_running_stats(dtype, shape, which):
    C = shape[1]
    mean, var = _stats(C, dtype)
    ours_rm, ours_rv = em.tensor(mean), em.tensor(var)
    theirs_rm, theirs_rv = to_torch(mean), to_torch(var)
    w, b = _affine((C,), which)
    check_op(lambda x, w, b: batch_norm(x, ours_rm, ours_rv, w, b, True, 0.3, 1e-3),
             lambda x, w, b: TF.batch_norm(x, theirs_rm, theirs_rv, w, b, True, 0.3, 1e-3),
             [_rand(*shape), w, b], dtype=dtype)
    assert_close(ours_rm, theirs_rm, name="running_mean")
    assert_close(ours_rv, theirs_rv, name="running_var")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(8, 3), (4, 3, 7), (4, 3, 5, 6)])
@pytest.mark.parametrize("which", ["both", "weight", "bias", "none"])
def test_batch_norm_eval_matches_torch(dtype, shape, which):
    mean, var = _stats(shape[1], dtype)
    w, b = _affine((shape[1],), which)
    check_op(lambda x, m, v, w, b: batch_norm(x, m, v, w, b, False, 0.1, 1e-4),
             lambda x, m, v, w, b: TF.batch_norm(x, m, v, w, b, False, 0.1, 1e-4),
             [_rand(*shape), Const(mean), Const(var), w, b], dtype=dtype)


def test_batch_norm_training_without_running_stats_matches_torch():
    check_op(lambda x, w, b: batch_norm(x, None, None, w, b, training=True),
             lambda x, w, b: TF.batch_norm(x, None, None, w, b, training=True),
             [_rand(5, 4, 3, 3), _rand(4, seed=1), _rand(4, seed=2)])


def test_batch_norm_consecutive_updates_match_torch():
    ours_rm, ours_rv = em.zeros(3), em.ones(3)
    theirs_rm, theirs_rv = torch.zeros(3), torch.ones(3)
    for step in range(4):
        x = _rand(6, 3, 4, 4, seed=step, dtype=np.float32) * (step + 1)
        batch_norm(em.tensor(x), ours_rm, ours_rv, training=True, momentum=0.2)
        TF.batch_norm(to_torch(x), theirs_rm, theirs_rv, training=True, momentum=0.2)
        assert_close(ours_rm, theirs_rm, name=f"running_mean after step {step}")
        assert_close(ours_rv, theirs_rv, name=f"running_var after step {step}")


def test_batch_norm_running_var_is_unbiased_and_batch_var_biased():
    x = _rand(4, 2, 3)
    rm, rv = em.zeros(2, dtype=em.float64), em.zeros(2, dtype=em.float64)
    y = batch_norm(em.tensor(x), rm, rv, training=True, momentum=1.0, eps=0.0)
    assert_close(rm, x.mean(axis=(0, 2)))
    assert_close(rv, x.var(axis=(0, 2), ddof=1))
    expected = (x - x.mean(axis=(0, 2), keepdims=True)) / x.std(axis=(0, 2), keepdims=True)
    assert_close(y, expected)


@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_gradcheck(training):
    mean, var = _stats(3, np.float64)
    inputs = [em.tensor(a, requires_grad=True) for a in (_rand(4, 3, 2, 3), _rand(3, seed=1), _rand(3, seed=2))]
    assert gradcheck(lambda x, w, b: batch_norm(x, em.tensor(mean), em.tensor(var), w, b, training), inputs)


@pytest.mark.parametrize("op", ["batch_norm", "layer_norm", "group_norm"])
def test_parameter_gradients_without_input_gradient_match_torch(op):
    ours = {"batch_norm": lambda x, w, b: batch_norm(x, None, None, w, b, True),
            "layer_norm": lambda x, w, b: layer_norm(x, 4, w, b), "group_norm": lambda x, w, b: group_norm(x, 2, w, b)}
    theirs = {"batch_norm": lambda x, w, b: TF.batch_norm(x, None, None, w, b, True),
              "layer_norm": lambda x, w, b: TF.layer_norm(x, (4,), w, b),
              "group_norm": lambda x, w, b: TF.group_norm(x, 2, w, b)}
    check_op(ours[op], theirs[op], [Const(_rand(3, 4, 4)), _rand(4, seed=1), _rand(4, seed=2)])


def test_gradient_of_a_sum_is_zero_for_the_input():
    x = em.tensor(_rand(4, 3, 2), requires_grad=True)
    batch_norm(x, None, None, training=True).sum().backward()
    assert_close(x.grad, np.zeros(x.shape), atol=1e-12)


def test_batch_norm_float32_stays_float32():
    x = em.tensor(_rand(4, 3, 5, 5, dtype=np.float32), requires_grad=True)
    w = em.ones(3, requires_grad=True)
    y = batch_norm(x, em.zeros(3), em.ones(3), w, None, training=True)
    y.backward(em.ones_like(y))
    assert y.dtype == x.grad.dtype == w.grad.dtype == np.float32


# -- layer, group and instance norm ---------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape, normalized", [((6, 5), 5), ((3, 4, 5), (5,)), ((2, 3, 4, 5), (4, 5)),
                                               ((4, 5), (4, 5))])
@pytest.mark.parametrize("which", ["both", "weight", "bias", "none"])
def test_layer_norm_matches_torch(dtype, shape, normalized, which):
    normalized_shape = (normalized,) if isinstance(normalized, int) else normalized
    w, b = _affine(normalized_shape, which)
    check_op(lambda x, w, b: layer_norm(x, normalized, w, b, 1e-3),
             lambda x, w, b: TF.layer_norm(x, normalized_shape, w, b, 1e-3),
             [_rand(*shape), w, b], dtype=dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape, groups", [((4, 6, 5, 5), 3), ((2, 6, 7), 2), ((3, 4), 2), ((2, 6, 3, 3), 1),
                                           ((2, 6, 3, 3), 6)])
@pytest.mark.parametrize("which", ["both", "weight", "none"])
def test_group_norm_matches_torch(dtype, shape, groups, which):
    w, b = _affine((shape[1],), which)
    check_op(lambda x, w, b: group_norm(x, groups, w, b, 1e-4),
             lambda x, w, b: TF.group_norm(x, groups, w, b, 1e-4),
             [_rand(*shape), w, b], dtype=dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(4, 3, 5, 6), (2, 3, 7)])
@pytest.mark.parametrize("which", ["both", "none"])
def test_instance_norm_matches_torch_and_updates_running_stats(dtype, shape, which):
    mean, var = _stats(shape[1], dtype)
    ours_rm, ours_rv = em.tensor(mean), em.tensor(var)
    theirs_rm, theirs_rv = to_torch(mean), to_torch(var)
    w, b = _affine((shape[1],), which)
    check_op(lambda x, w, b: instance_norm(x, ours_rm, ours_rv, w, b, True, 0.3, 1e-3),
             lambda x, w, b: TF.instance_norm(x, theirs_rm, theirs_rv, w, b, True, 0.3, 1e-3),
             [_rand(*shape), w, b], dtype=dtype)
    assert_close(ours_rm, theirs_rm, name="running_mean")
    assert_close(ours_rv, theirs_rv, name="running_var")


@pytest.mark.parametrize("dtype", DTYPES)
def test_instance_norm_with_running_stats_matches_torch(dtype):
    mean, var = _stats(3, dtype)
    check_op(lambda x, m, v, w, b: instance_norm(x, m, v, w, b, use_input_stats=False),
             lambda x, m, v, w, b: TF.instance_norm(x, m, v, w, b, use_input_stats=False),
             [_rand(2, 3, 4, 4), Const(mean), Const(var), _rand(3, seed=1), _rand(3, seed=2)], dtype=dtype)


def test_layer_group_instance_norm_gradcheck():
    x = em.tensor(_rand(2, 4, 3, 2), requires_grad=True)
    w4, b4 = (em.tensor(_rand(4, seed=s), requires_grad=True) for s in (1, 2))
    w32, b32 = (em.tensor(_rand(3, 2, seed=s), requires_grad=True) for s in (3, 4))
    assert gradcheck(lambda x, w, b: layer_norm(x, (3, 2), w, b), [x, w32, b32])
    assert gradcheck(lambda x, w, b: group_norm(x, 2, w, b), [x, w4, b4])
    assert gradcheck(lambda x, w, b: instance_norm(x, weight=w, bias=b), [x, w4, b4])
    mean, var = _stats(4, np.float64)
    assert gradcheck(lambda x, w, b: instance_norm(x, em.tensor(mean), em.tensor(var), w, b, False), [x, w4, b4])
    assert gradcheck(lambda x: layer_norm(x, 2), [x])  # no affine: x̂ itself is returned


# -- the fused op equals its composition ----------------------------------------------------------


def _composed(x, axes, w, b, eps):
    """γ(x − mean)/√(var + ε) + β from primitive ops (var biased)."""
    xhat = (x - x.mean(axis=axes, keepdims=True)) / (x.var(axis=axes, keepdims=True, unbiased=False) + eps).sqrt()
    return xhat * w + b


def _fused_vs_composed(fused, composed, arrays):
    results = []
    for fn in (fused, composed):
        xs = [em.tensor(a, requires_grad=True) for a in arrays]
        y = fn(*xs)
        y.backward(em.tensor(np.random.default_rng(9).standard_normal(y.shape)))
        results.append([y] + [x.grad for x in xs])
    for k, (a, b) in enumerate(zip(*results, strict=True)):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-9, atol=1e-11, err_msg=f"item {k}")


def test_fused_batch_norm_equals_composition():
    _fused_vs_composed(lambda x, w, b: batch_norm(x, None, None, w, b, True, eps=1e-3),
                       lambda x, w, b: _composed(x, (0, 2, 3), w.reshape(1, 3, 1, 1), b.reshape(1, 3, 1, 1), 1e-3),
                       [_rand(4, 3, 5, 2), _rand(3, seed=1), _rand(3, seed=2)])


def test_fused_layer_norm_equals_composition():
    _fused_vs_composed(lambda x, w, b: layer_norm(x, (4, 5), w, b),
                       lambda x, w, b: _composed(x, (2, 3), w, b, 1e-5),
                       [_rand(2, 3, 4, 5), _rand(4, 5, seed=1), _rand(4, 5, seed=2)])


def test_fused_group_norm_equals_composition():
    def composed(x, w, b):
        y = _composed(x.reshape(2, 3, 2, 5), (2, 3), 1.0, 0.0, 1e-5).reshape(2, 6, 5)
        return y * w.reshape(1, 6, 1) + b.reshape(1, 6, 1)

    _fused_vs_composed(lambda x, w, b: group_norm(x, 3, w, b), composed,
                       [_rand(2, 6, 5), _rand(6, seed=1), _rand(6, seed=2)])


def test_fused_instance_norm_equals_composition():
    _fused_vs_composed(lambda x, w, b: instance_norm(x, weight=w, bias=b),
                       lambda x, w, b: _composed(x, (2, 3), w.reshape(1, 3, 1, 1), b.reshape(1, 3, 1, 1), 1e-5),
                       [_rand(2, 3, 4, 3), _rand(3, seed=1), _rand(3, seed=2)])


def test_eval_batch_norm_equals_per_channel_affine_map():
    x, mean, var, w, b = _rand(4, 3, 2, 2), *_stats(3, np.float64), _rand(3, seed=1), _rand(3, seed=2)
    y = batch_norm(em.tensor(x), em.tensor(mean), em.tensor(var), em.tensor(w), em.tensor(b), training=False)
    scale = (w / np.sqrt(var + 1e-5))[:, None, None]
    assert_close(y, x * scale + (b - mean * w / np.sqrt(var + 1e-5))[:, None, None])


def test_normalize_keeps_only_xhat_of_full_size():
    x = em.tensor(_rand(4, 3, 5, 5, dtype=np.float32), requires_grad=True)
    y = batch_norm(x, None, None, em.ones(3, requires_grad=True), em.zeros(3, requires_grad=True), True)
    fn = y.creator
    assert isinstance(fn, Normalize)
    full = [a for a in fn.saved if a is not None and a.size == x.array.size]
    assert len(full) == 1 and full[0].dtype == np.float32


def test_returned_xhat_modified_in_place_is_caught():
    x = em.tensor(_rand(4, 5), requires_grad=True)
    y = layer_norm(x, 5)
    with em.no_grad():
        y.add_(1.0)
    with pytest.raises(RuntimeError, match="modified in place"):
        y.sum().backward()


# -- second derivatives -------------------------------------------------------------------------------
# Against PyTorch's (float64, the upstream gradient differentiated too) and finite differences of
# the first derivatives; the fused Normalize gets them by differentiating its composed twin.
SECOND_ORDER = [
    ("batch_norm_train", lambda x, w, b: batch_norm(x, None, None, w, b, True, eps=1e-3),
     lambda x, w, b: TF.batch_norm(x, None, None, w, b, True, eps=1e-3), [_rand(3, 2, 2, 3), _rand(2, seed=1),
                                                                         _rand(2, seed=2)]),
    ("batch_norm_train_2d_no_affine", lambda x: batch_norm(x, None, None, training=True),
     lambda x: TF.batch_norm(x, None, None, training=True), [_rand(6, 3)]),
    ("batch_norm_eval", lambda x, m, v, w, b: batch_norm(x, m, v, w, b, False),
     lambda x, m, v, w, b: TF.batch_norm(x, m, v, w, b, False),
     [_rand(4, 3, 2), Const(_stats(3, np.float64)[0]), Const(_stats(3, np.float64)[1]), _rand(3, seed=1),
      _rand(3, seed=2)]),
    ("layer_norm", lambda x, w, b: layer_norm(x, (4,), w, b), lambda x, w, b: TF.layer_norm(x, (4,), w, b),
     [_rand(2, 3, 4), _rand(4, seed=1), _rand(4, seed=2)]),
    ("layer_norm_2d_weight_only", lambda x, w: layer_norm(x, (3, 2), w), lambda x, w: TF.layer_norm(x, (3, 2), w),
     [_rand(2, 3, 2), _rand(3, 2, seed=1)]),
    ("group_norm", lambda x, w, b: group_norm(x, 2, w, b), lambda x, w, b: TF.group_norm(x, 2, w, b),
     [_rand(2, 4, 3), _rand(4, seed=1), _rand(4, seed=2)]),
    ("instance_norm", lambda x, w, b: instance_norm(x, weight=w, bias=b),
     lambda x, w, b: TF.instance_norm(x, weight=w, bias=b), [_rand(2, 3, 4), _rand(3, seed=1), _rand(3, seed=2)]),
    ("instance_norm_running_stats", lambda x, m, v: instance_norm(x, m, v, use_input_stats=False),
     lambda x, m, v: TF.instance_norm(x, m, v, use_input_stats=False),
     [_rand(2, 3, 4), Const(_stats(3, np.float64)[0]), Const(_stats(3, np.float64)[1])]),
    ("rms_norm", lambda x, w: F.rms_norm(x, (4,), w, 1e-5), lambda x, w: TF.rms_norm(x, (4,), w, 1e-5),
     [_rand(3, 4), _rand(4, seed=1)]),
    ("local_response_norm", lambda x: F.local_response_norm(x, 3, alpha=0.1), lambda x: TF.local_response_norm(
        x, 3, alpha=0.1), [_rand(2, 4, 3)]),
]


@pytest.mark.parametrize("ours, theirs, inputs", [r[1:] for r in SECOND_ORDER], ids=[r[0] for r in SECOND_ORDER])
def test_second_derivatives_match_torch_and_finite_differences(ours, theirs, inputs):
    check_second_order(ours, theirs, inputs)
    assert gradgradcheck(ours, make_inputs(inputs, dtype=np.float64)[0])


def test_normalize_composed_twin_equals_the_fused_forward():
    x, w, b = (em.tensor(a, requires_grad=True) for a in (_rand(3, 4, 2), _rand(4, seed=1), _rand(4, seed=2)))
    y = group_norm(x, 2, w, b)
    assert_close(y.creator.composed(x, w, b), y, rtol=1e-12, atol=1e-12)


def test_layer_norm_third_derivative_by_finite_differences():
    """The second derivative is itself differentiable: gradcheck of x ↦ ∂‖∂(Σy³)/∂x‖²/∂x.
    (PyTorch's fused layer_norm has no correct third derivative to compare with.)"""
    def second(x):
        with em.enable_grad():  # gradcheck's finite differences run without recording
            y = layer_norm(x, 5)
            (g,) = em.autograd.grad((y * y * y).sum(), [x], create_graph=True)
            return em.autograd.grad((g * g).sum(), [x], create_graph=True)[0]

    assert gradcheck(second, [em.tensor(_rand(2, 5), requires_grad=True)])


# -- errors ---------------------------------------------------------------------------------------------


def test_batch_norm_errors():
    x = em.randn(4, 3, 5)
    with pytest.raises(ValueError, match=r"batch_norm: expected more than 1 value per channel.*\(1, 3\)"):
        batch_norm(em.randn(1, 3), None, None, training=True)
    with pytest.raises(ValueError, match=r"batch_norm: running_mean must have shape \(3,\).*\(4,\)"):
        batch_norm(x, em.zeros(4), em.ones(3), training=True)
    with pytest.raises(ValueError, match=r"batch_norm: weight must have shape \(3,\)"):
        batch_norm(x, None, None, em.ones(2), training=True)
    with pytest.raises(ValueError, match="batch_norm: running_mean and running_var are required"):
        batch_norm(x, None, None, training=False)
    with pytest.raises(ValueError, match=r"batch_norm: expected input of shape \(N, C, \*\), got \(3,\)"):
        batch_norm(em.randn(3), None, None, training=True)
    with pytest.raises(TypeError, match="batch_norm: input dtype float64 differs from the weight's float32"):
        batch_norm(em.randn(4, 3, dtype=em.float64), None, None, em.ones(3), training=True)


def test_layer_group_instance_norm_errors():
    with pytest.raises(ValueError, match=r"layer_norm: given normalized_shape=\(4,\), expected input of shape "
                                         r"\(\*, 4\), got \(2, 5\)"):
        layer_norm(em.randn(2, 5), 4)
    with pytest.raises(ValueError, match=r"layer_norm: weight must have shape \(5,\)"):
        layer_norm(em.randn(2, 5), 5, em.ones(4))
    with pytest.raises(ValueError, match=r"group_norm: the number of channels 6 .* divisible by num_groups=4"):
        group_norm(em.randn(2, 6, 3), 4)
    with pytest.raises(ValueError, match=r"instance_norm: expected more than 1 spatial element.*\(2, 3, 1, 1\)"):
        instance_norm(em.randn(2, 3, 1, 1))

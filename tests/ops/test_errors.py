"""Bad input gets a clear error naming the op and the shapes or values at fault."""
import re

import numpy as np
import pytest

import ember as em


def test_cross_entropy_target_shape_and_range():
    x = em.randn(4, 3)
    with pytest.raises(ValueError, match=r"cross_entropy.*\(4, 3\).*\(4,\).*\(5,\)"):
        em.cross_entropy(x, em.tensor([0, 1, 2, 0, 1]))
    with pytest.raises(IndexError, match=r"cross_entropy: target 3 is out of bounds for 3 classes"):
        em.cross_entropy(x, em.tensor([0, 1, 3, 0]))
    with pytest.raises(ValueError, match=r"probability targets of its own shape, got float32 targets of shape"):
        em.cross_entropy(x, em.rand(4, 2))
    with pytest.raises(ValueError, match="reduction.*'avg'"):
        em.cross_entropy(x, em.tensor([0, 1, 2, 0]), reduction="avg")
    with pytest.raises(ValueError, match="label_smoothing.*1.5"):
        em.cross_entropy(x, em.tensor([0, 1, 2, 0]), label_smoothing=1.5)


def test_nll_loss_names_itself():
    with pytest.raises(ValueError, match="nll_loss"):
        em.nll_loss(em.randn(4, 3), em.tensor([0, 1]))
    with pytest.raises(IndexError, match="nll_loss: target -1 is out of bounds for 3 classes"):
        em.nll_loss(em.randn(4, 3), em.tensor([0, 1, -1, 2]))


@pytest.mark.parametrize("loss", [em.cross_entropy, em.nll_loss])
@pytest.mark.parametrize("shape", [(5,), (3, 1), (2,), ()])
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_class_weight_must_hold_one_weight_per_class(loss, shape, smoothing):
    """As PyTorch: "weight tensor should be defined either for all 3 classes or no classes"."""
    kwargs = {"label_smoothing": smoothing} if loss is em.cross_entropy else {}
    with pytest.raises(RuntimeError, match=rf"{loss.__name__}: weight should be defined either for all 3 classes "
                                           rf"or no classes, got a weight of shape {re.escape(str(shape))}"):
        loss(em.randn(4, 3), em.tensor([0, 1, 2, 1]), weight=em.ones(*shape), **kwargs)


def test_cross_entropy_checks_the_weight_with_probability_targets_too():
    with pytest.raises(RuntimeError, match=r"weight.*all 3 classes.*\(5,\)"):
        em.cross_entropy(em.randn(4, 3), em.softmax(em.randn(4, 3), 1), weight=em.ones(5))


def test_an_ignore_index_outside_the_classes_is_allowed_and_ignored():
    x, t = em.randn(4, 3), em.tensor([0, 5, 2, 5])
    expected = em.cross_entropy(x[[0, 2]], t[[0, 2]])
    assert em.cross_entropy(x, t, ignore_index=5).item() == pytest.approx(expected.item())


@pytest.mark.parametrize("loss", [em.cross_entropy, em.nll_loss])
def test_classification_losses_need_floating_point_input(loss):
    with pytest.raises(TypeError, match=rf"{loss.__name__}: input must be floating point.*int64"):
        loss(em.ones(4, 3, dtype=em.int64), em.tensor([0, 1, 2, 1]))


def test_class_index_targets_must_be_integers():
    with pytest.raises(ValueError, match=r"cross_entropy: .*integer class-index targets of shape \(4,\).*float32"):
        em.cross_entropy(em.randn(4, 3), em.tensor([0.0, 1.0, 2.0, 1.0]))


def test_regression_losses_need_a_floating_point_operand():
    assert em.mse_loss(em.zeros(2, 3), em.ones(2, 3, dtype=em.int64)).item() == pytest.approx(1.0)  # as PyTorch
    with pytest.raises(TypeError, match="mse_loss: needs floating-point input or target, got int64 and int64"):
        em.mse_loss(em.ones(2, 3, dtype=em.int64), em.ones(2, 3, dtype=em.int64))


@pytest.mark.parametrize("loss", [em.binary_cross_entropy, em.binary_cross_entropy_with_logits])
def test_binary_losses_need_floating_point_targets(loss):
    with pytest.raises(TypeError, match=rf"{loss.__name__}: input and target must be floating point.*int64"):
        loss(em.full((2, 3), 0.5), em.ones(2, 3, dtype=em.int64))


@pytest.mark.parametrize("arg", ["weight", "pos_weight"])
@pytest.mark.parametrize("shape", [(2,), (4,), (2, 3, 1)])
def test_binary_weights_must_broadcast_to_the_input(arg, shape):
    with pytest.raises(ValueError, match=rf"binary_cross_entropy_with_logits: {arg} of shape "
                                         rf"{re.escape(str(shape))} does not broadcast to the input shape \(4, 3\)"):
        em.binary_cross_entropy_with_logits(em.randn(4, 3), em.rand(4, 3), **{arg: em.ones(*shape)})
    if arg == "weight":
        with pytest.raises(ValueError, match=r"binary_cross_entropy: weight of shape"):
            em.binary_cross_entropy(em.rand(4, 3), em.rand(4, 3), weight=em.ones(*shape))


@pytest.mark.parametrize("arg, shape", [("pos_weight", (3,)), ("pos_weight", (4, 1)), ("weight", (3,))])
def test_binary_weights_that_broadcast_are_accepted(arg, shape):
    loss = em.binary_cross_entropy_with_logits(em.randn(4, 3), em.rand(4, 3), **{arg: em.ones(*shape)})
    assert np.isfinite(loss.item())


ELEMENTWISE_LOSSES = [em.mse_loss, em.l1_loss, em.binary_cross_entropy, em.binary_cross_entropy_with_logits]


@pytest.mark.parametrize("loss", ELEMENTWISE_LOSSES)
def test_elementwise_losses_check_shapes(loss):
    with pytest.raises(ValueError, match=rf"{loss.__name__}.*\(3, 4\).*\(4, 3\)"):
        loss(em.rand(3, 4), em.rand(4, 3))


def test_bce_rejects_values_outside_0_1():
    with pytest.raises(ValueError, match="binary_cross_entropy.*logits"):
        em.binary_cross_entropy(em.tensor([1.5, 0.2]), em.tensor([1.0, 0.0]))


def test_shape_op_errors_name_the_op():
    x = em.ones(2, 3)
    with pytest.raises(ValueError, match=r"permute.*\(2, 3\)"):
        x.permute(0, 0)
    with pytest.raises(ValueError, match=r"split.*\[1, 1\].*3"):
        em.split(x, [1, 1], dim=1)
    with pytest.raises(ValueError, match=r"stack.*\(2, 3\).*\(3, 2\)|stack.*\(3, 2\).*\(2, 3\)"):
        em.stack([x, em.ones(3, 2)])
    with pytest.raises(ValueError, match=r"Concat.*\(2, 3\) and \(2, 2\)"):
        em.concat([x, em.ones(2, 2)], dim=0)
    with pytest.raises(IndexError, match="dimension 2 is out of range.*2 dimensions"):
        x.sum(axis=2)
    with pytest.raises(ValueError, match="pad.*constant, reflect"):
        em.pad(x, (1, 1), mode="mirror")
    with pytest.raises(ValueError, match="pad.*even"):
        em.pad(x, (1, 1, 1))


def test_matmul_rejects_scalars_and_mixed_dtypes():
    with pytest.raises(ValueError, match="matmul.*at least 1 dimension"):
        em.matmul(em.tensor(2.0), em.ones(3))
    with pytest.raises(TypeError, match="matmul.*float32.*float64"):
        em.ones(2, 2) @ em.ones(2, 2, dtype=em.float64)


def test_clip_needs_a_bound_and_gelu_a_known_mode():
    with pytest.raises(ValueError, match="clip"):
        em.clip(em.ones(2))
    with pytest.raises(ValueError, match="gelu.*'fast'"):
        em.gelu(em.ones(2), approximate="fast")


def test_maximum_with_python_scalar_keeps_dtype():
    x = em.tensor(np.array([-1.0, 2.0], dtype=np.float32), requires_grad=True)
    y = em.maximum(x, 0.0)
    assert y.dtype == np.float32
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 1.0])

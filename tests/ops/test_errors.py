"""Bad input gets a clear error naming the op and the shapes or values at fault."""
import numpy as np
import pytest

import ember as em


def test_cross_entropy_target_shape_and_range():
    x = em.randn(4, 3)
    with pytest.raises(ValueError, match=r"cross_entropy.*\(4, 3\).*\(4,\).*\(5,\)"):
        em.cross_entropy(x, em.tensor([0, 1, 2, 0, 1]))
    with pytest.raises(IndexError, match=r"cross_entropy.*\[0, 3\)"):
        em.cross_entropy(x, em.tensor([0, 1, 3, 0]))
    with pytest.raises(ValueError, match=r"probability targets.*\(4, 3\)"):
        em.cross_entropy(x, em.rand(4, 2))
    with pytest.raises(ValueError, match="reduction.*'avg'"):
        em.cross_entropy(x, em.tensor([0, 1, 2, 0]), reduction="avg")
    with pytest.raises(ValueError, match="label_smoothing.*1.5"):
        em.cross_entropy(x, em.tensor([0, 1, 2, 0]), label_smoothing=1.5)


def test_nll_loss_names_itself():
    with pytest.raises(ValueError, match="nll_loss"):
        em.nll_loss(em.randn(4, 3), em.tensor([0, 1]))


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

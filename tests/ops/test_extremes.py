"""max/min with ties, against PyTorch: along one dim the gradient goes to the index max returns
(the first extreme); over all elements, and for amax/amin, tied extremes share it equally."""
import numpy as np
import pytest
import torch

import ember as em
from torch_parity import check_op

TIED = np.array([[1.0, 3.0, 3.0, -2.0], [2.0, 2.0, 0.0, 2.0], [-1.0, -1.0, -1.0, -1.0]])


@pytest.mark.parametrize("name", ["max", "min"])
@pytest.mark.parametrize("dim, keepdim", [(0, False), (1, False), (1, True), (-1, True)])
def test_max_along_a_dim_sends_the_gradient_to_one_index(name, dim, keepdim):
    check_op(lambda x: getattr(x, name)(dim=dim, keepdim=keepdim), lambda x: getattr(x, name)(dim=dim, keepdim=keepdim),
             [TIED])  # (values, indices) in both
    check_op(lambda x: getattr(em, name)(x, dim, keepdim), lambda x: getattr(torch, name)(x, dim, keepdim), [TIED])


@pytest.mark.parametrize("name", ["max", "min"])
def test_max_over_all_elements_shares_the_gradient_among_ties(name):
    check_op(lambda x: getattr(x, name)(), lambda x: getattr(x, name)(), [TIED])


@pytest.mark.parametrize("name", ["amax", "amin"])
@pytest.mark.parametrize("dim", [0, 1, (0, 1), None])
def test_amax_shares_the_gradient_among_ties(name, dim):
    torch_dim = () if dim is None else dim
    check_op(lambda x: getattr(x, name)(dim=dim), lambda x: getattr(x, name)(dim=torch_dim), [TIED])


def test_one_index_gets_the_whole_gradient():
    x = em.tensor([[5.0, 5.0, 1.0]], requires_grad=True)
    x.max(dim=1).values.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[1.0, 0.0, 0.0]])


def test_max_along_a_dim_is_a_named_tuple_and_max_of_two_tensors_is_maximum():
    x = em.tensor([[1.0, 5.0], [7.0, 2.0]])
    values, indices = x.max(dim=1)
    assert x.max(1).values is not None and x.min(1).indices.tolist() == [0, 1]
    np.testing.assert_array_equal(values.numpy(), [5.0, 7.0])
    assert indices.dtype == np.int64 and indices.tolist() == [1, 0]
    np.testing.assert_array_equal(em.max(x, em.full((2, 2), 3.0)).numpy(), [[3.0, 5.0], [7.0, 3.0]])


def test_a_one_element_tensor_formats_as_its_number():
    assert f"{em.tensor(0.123456):.4f}" == "0.1235" and f"{em.tensor([2.5]):>6.2f}" == "  2.50"
    with pytest.raises(TypeError, match="unsupported format string"):
        f"{em.ones(2):.2f}"

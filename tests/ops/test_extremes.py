"""max/min with ties, against PyTorch: along one dim the gradient goes to the index max returns
(the first extreme); over all elements, and for amax/amin, tied extremes share it equally."""
import numpy as np
import pytest
import torch

import ember as em
from torch_parity import check_op

TIED = np.array([[1.0, 3.0, 3.0, -2.0], [2.0, 2.0, 0.0, 2.0], [-1.0, -1.0, -1.0, -1.0]])


def _values(out):
    return out.values if isinstance(out, tuple) else out  # torch's max(dim) returns (values, indices)


@pytest.mark.parametrize("name", ["max", "min"])
@pytest.mark.parametrize("dim, keepdim", [(0, False), (1, False), (1, True), (-1, True)])
def test_max_along_a_dim_sends_the_gradient_to_one_index(name, dim, keepdim):
    check_op(lambda x: getattr(x, name)(dim=dim, keepdim=keepdim),
             lambda x: _values(getattr(x, name)(dim=dim, keepdim=keepdim)), [TIED])
    check_op(lambda x: getattr(em, name)(x, dim, keepdim), lambda x: _values(getattr(torch, name)(x, dim, keepdim)),
             [TIED])


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
    x.max(dim=1).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[1.0, 0.0, 0.0]])

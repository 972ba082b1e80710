"""Layout ops (triangles, diagonals, flips, rolls, repeats, moved dims, stacking, meshgrid) against
PyTorch and finite differences."""
import numpy as np
import pytest
import torch
from op_cases import fixed_tests

import ember as em
from torch_parity import assert_close

RNG = np.random.default_rng(2)


def randn(*shape):
    return RNG.standard_normal(shape)


def same(fn):
    """One expression that works on both libraries' tensors."""
    return fn, fn


CASES = [
    ("tril", *same(lambda x: x.tril()), [randn(4, 5)]),
    ("tril_offset_batched", lambda x: em.tril(x, -1), lambda x: torch.tril(x, -1), [randn(2, 3, 4)]),
    ("triu", lambda x: em.triu(x), lambda x: torch.triu(x), [randn(4, 3)]),
    ("triu_offset", *same(lambda x: x.triu(diagonal=2)), [randn(3, 5)]),
    ("diag_of_vector", lambda x: em.diag(x), lambda x: torch.diag(x), [randn(4)]),
    ("diag_of_vector_offset", *same(lambda x: x.diag(-2)), [randn(3)]),
    ("diag_of_matrix", lambda x: em.diag(x, 1), lambda x: torch.diag(x, 1), [randn(3, 4)]),
    ("diagonal", lambda x: em.diagonal(x), lambda x: torch.diagonal(x), [randn(4, 3)]),
    ("diagonal_3d", lambda x: em.diagonal(x, -1, 2, 0), lambda x: torch.diagonal(x, -1, 2, 0), [randn(3, 2, 4)]),
    ("diagonal_method", *same(lambda x: x.diagonal(offset=1, dim1=1, dim2=2)), [randn(2, 3, 4)]),
    ("trace", lambda x: em.trace(x), lambda x: torch.trace(x), [randn(3, 4)]),
    ("flip", lambda x: em.flip(x, [0, 2]), lambda x: torch.flip(x, [0, 2]), [randn(2, 3, 4)]),
    ("flip_method_varargs", *same(lambda x: x.flip(-1)), [randn(3, 4)]),
    ("fliplr", lambda x: em.fliplr(x), lambda x: torch.fliplr(x), [randn(3, 4)]),
    ("flipud", *same(lambda x: x.flipud()), [randn(3, 4)]),
    ("roll_flat", lambda x: em.roll(x, 2), lambda x: torch.roll(x, 2), [randn(3, 4)]),
    ("roll_dim", lambda x: em.roll(x, -1, 1), lambda x: torch.roll(x, -1, 1), [randn(3, 4)]),
    ("roll_dims", *same(lambda x: x.roll((1, 3), (0, 1))), [randn(3, 4)]),
    ("narrow", lambda x: em.narrow(x, 1, 1, 2), lambda x: torch.narrow(x, 1, 1, 2), [randn(3, 4)]),
    ("narrow_negative_start", *same(lambda x: x.narrow(0, -2, 2)), [randn(3, 4)]),
    ("unbind", lambda x: em.unbind(x, 1), lambda x: torch.unbind(x, 1), [randn(2, 3, 2)]),
    ("unbind_method", *same(lambda x: x.unbind()), [randn(3, 2)]),
    ("t", lambda x: em.t(x), lambda x: torch.t(x), [randn(3, 4)]),
    ("t_vector", *same(lambda x: x.t() * 1), [randn(3)]),
    ("mT", *same(lambda x: x.mT), [randn(2, 3, 4)]),
    ("T", *same(lambda x: x.T), [randn(3, 4)]),
    ("repeat", *same(lambda x: x.repeat(2, 1, 3)), [randn(2, 3)]),
    ("repeat_tuple", *same(lambda x: x.repeat((2, 2))), [randn(2, 3)]),
    ("tile_fewer_dims", lambda x: em.tile(x, (2,)), lambda x: torch.tile(x, (2,)), [randn(2, 3)]),
    ("tile_more_dims", *same(lambda x: x.tile(2, 1, 2)), [randn(3)]),
    ("repeat_interleave_int", lambda x: em.repeat_interleave(x, 2), lambda x: torch.repeat_interleave(x, 2),
     [randn(2, 3)]),
    ("repeat_interleave_dim", *same(lambda x: x.repeat_interleave(3, dim=1)), [randn(2, 3)]),
    ("repeat_interleave_tensor", lambda x, r: em.repeat_interleave(x, r, 0),
     lambda x, r: torch.repeat_interleave(x, r, 0), [randn(4, 2), np.array([2, 0, 1, 3])]),
    ("repeat_interleave_tensor_flat", lambda x, r: x.repeat_interleave(r), lambda x, r: x.repeat_interleave(r),
     [randn(2, 2), np.array([1, 3, 0, 2])]),
    ("unflatten", lambda x: em.unflatten(x, 1, (2, -1)), lambda x: torch.unflatten(x, 1, (2, -1)), [randn(3, 6)]),
    ("movedim", lambda x: em.movedim(x, 0, -1), lambda x: torch.movedim(x, 0, -1), [randn(2, 3, 4)]),
    ("movedim_tuples", lambda x: em.movedim(x, (0, 3), (2, 0)), lambda x: torch.movedim(x, (0, 3), (2, 0)),
     [randn(2, 3, 4, 5)]),
    ("moveaxis", lambda x: em.moveaxis(x, 1, 0), lambda x: torch.moveaxis(x, 1, 0), [randn(2, 3, 4)]),
    ("swapaxes", lambda x: em.swapaxes(x, 0, 2), lambda x: torch.swapaxes(x, 0, 2), [randn(2, 3, 4)]),
    ("swapdims_method", *same(lambda x: x.swapdims(0, 1)), [randn(2, 3)]),
    ("hstack", lambda a, b: em.hstack([a, b]), lambda a, b: torch.hstack([a, b]), [randn(2, 3), randn(2, 1)]),
    ("hstack_1d", lambda a, b: em.hstack([a, b]), lambda a, b: torch.hstack([a, b]), [randn(3), randn(2)]),
    ("vstack", lambda a, b: em.vstack([a, b]), lambda a, b: torch.vstack([a, b]), [randn(3), randn(2, 3)]),
    ("dstack", lambda a, b: em.dstack([a, b]), lambda a, b: torch.dstack([a, b]), [randn(2, 3), randn(2, 3, 2)]),
    ("column_stack", lambda a, b: em.column_stack([a, b]), lambda a, b: torch.column_stack([a, b]),
     [randn(3), randn(3, 2)]),
    ("broadcast_tensors", lambda a, b: em.broadcast_tensors(a, b), lambda a, b: torch.broadcast_tensors(a, b),
     [randn(3, 1), randn(4)]),
    ("meshgrid_ij", lambda a, b, c: em.meshgrid(a, b, c, indexing="ij"),
     lambda a, b, c: torch.meshgrid(a, b, c, indexing="ij"), [randn(2), randn(3), randn(4)]),
    ("meshgrid_xy", lambda a, b, c: em.meshgrid([a, b, c], indexing="xy"),
     lambda a, b, c: torch.meshgrid([a, b, c], indexing="xy"), [randn(2), randn(3), randn(4)]),
    ("atleast_3d", lambda a, b, c: em.atleast_3d(a, b, c), lambda a, b, c: torch.atleast_3d(a, b, c),
     [randn(3), randn(2, 3), randn(1, 2, 3, 1)]),
    ("atleast_2d", lambda a: em.atleast_2d(a), lambda a: torch.atleast_2d(a), [randn(3)]),
]
for k in (-1, 0, 1, 2, 3, 5):
    CASES.append((f"rot90_{k}", lambda x, k=k: em.rot90(x, k), lambda x, k=k: torch.rot90(x, k), [randn(2, 3)]))
CASES.append(("rot90_dims", lambda x: em.rot90(x, 1, (2, 0)), lambda x: torch.rot90(x, 1, (2, 0)), [randn(2, 3, 4)]))
CASES += [
    ("cartesian_prod", lambda a, b: em.cartesian_prod(a, b), lambda a, b: torch.cartesian_prod(a, b),
     [randn(3), randn(2)]),
    ("block_diag", lambda a, b, c: em.block_diag(a, b, c), lambda a, b, c: torch.block_diag(a, b, c),
     [randn(2, 3), randn(3), randn(1, 1)]),
    ("select", lambda x: em.select(x, 1, -1), lambda x: torch.select(x, 1, -1), [randn(2, 3, 4)]),
    ("select_method", *same(lambda x: x.select(0, 1)), [randn(3, 4)]),
    ("take", lambda x: em.take(x, em.tensor([0, 5, 5])), lambda x: torch.take(x, torch.tensor([0, 5, 5])),
     [randn(2, 3)]),
    ("take_method", lambda x: x.take(em.tensor([[1, 2]])), lambda x: x.take(torch.tensor([[1, 2]])), [randn(4)]),
    ("tensor_split_sections", lambda x: em.tensor_split(x, 3, dim=1), lambda x: torch.tensor_split(x, 3, dim=1),
     [randn(2, 7)]),
    ("tensor_split_indices", *same(lambda x: x.tensor_split([1, 4])), [randn(6, 2)]),
    ("unfold_windows", *same(lambda x: x.unfold(1, 3, 2)), [randn(2, 7, 2)]),
    ("unfold_overlapping", *same(lambda x: x.unfold(0, 2, 1)), [randn(5)]),
    ("kron", lambda a, b: em.kron(a, b), lambda a, b: torch.kron(a, b), [randn(2, 3), randn(3, 2)]),
    ("kron_ranks", *same(lambda a, b: a.kron(b)), [randn(2), randn(2, 3)]),
    ("diag_embed", lambda x: em.diag_embed(x), lambda x: torch.diag_embed(x), [randn(2, 3)]),
    ("diag_embed_offset_dims", lambda x: em.diag_embed(x, -1, 0, 2), lambda x: torch.diag_embed(x, -1, 0, 2),
     [randn(2, 3)]),
    ("diag_embed_above", lambda x: em.diag_embed(x, 2), lambda x: torch.diag_embed(x, 2), [randn(3)]),
    ("combinations", lambda x: em.combinations(x, 2), lambda x: torch.combinations(x, 2), [randn(4)]),
    ("combinations_replacement", lambda x: em.combinations(x, 3, with_replacement=True),
     lambda x: torch.combinations(x, 3, with_replacement=True), [randn(3)]),
    ("ravel", lambda x: em.ravel(x), lambda x: torch.ravel(x), [randn(2, 3)]),
    ("concatenate_axis", lambda a, b: em.concatenate([a, b], axis=1), lambda a, b: torch.concatenate([a, b], axis=1),
     [randn(2, 3), randn(2, 1)]),
]
test_against_torch, test_gradcheck, test_second_order_against_torch, test_gradgradcheck = fixed_tests(CASES)


# -- shapes, aliases, errors ------------------------------------------------------------------
def test_flip_and_roll_return_copies_like_torch():
    x = em.tensor([1.0, 2.0, 3.0])
    y = em.flip(x, [0])
    y[0] = 9.0
    assert x.tolist() == [1.0, 2.0, 3.0]


def test_repeat_interleave_of_counts_alone():
    assert_close(em.repeat_interleave(em.tensor([2, 0, 3])), torch.repeat_interleave(torch.tensor([2, 0, 3])))


def test_meshgrid_default_is_ij():
    xs, ys = em.meshgrid(em.arange(3), em.arange(2))
    assert xs.shape == (3, 2) and ys.shape == (3, 2)


def test_broadcast_shapes():
    assert em.broadcast_shapes((3, 1), (4,), 1) == tuple(torch.broadcast_shapes((3, 1), (4,), 1))


def test_t_refuses_more_than_two_dims():
    with pytest.raises(RuntimeError, match="at most 2 dims"):
        em.t(em.zeros(2, 3, 4))


def test_repeat_needs_every_dim():
    with pytest.raises(RuntimeError, match="at least 2"):
        em.zeros(2, 3).repeat(2)


def test_diagonal_needs_two_different_dims():
    with pytest.raises(RuntimeError, match="cannot be the same"):
        em.diagonal(em.zeros(3, 3), 0, 1, 1)


def test_narrow_out_of_range():
    with pytest.raises(IndexError, match="exceeds dimension 0"):
        em.narrow(em.zeros(3), 0, 2, 2)


def test_unbind_gradient_with_unused_slices():
    x = em.tensor(randn(3, 2), requires_grad=True)
    a, _, c = x.unbind()
    (a * 2 + c).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [[2.0, 2.0], [0.0, 0.0], [1.0, 1.0]])


def test_row_stack_is_vstack():
    a, b = randn(3), randn(3)
    assert_close(em.row_stack([em.tensor(a), em.tensor(b)]), torch.vstack([torch.tensor(a), torch.tensor(b)]))


def _third_derivative(module, fn, x):
    (g,) = module.autograd.grad((fn(x) ** 3).sum(), [x], create_graph=True)
    (h,) = module.autograd.grad((g * g).sum(), [x], create_graph=True)
    return module.autograd.grad((h * h).sum(), [x])[0]


THIRD_ORDER = {
    "diagonal": lambda m, x: m.diagonal(x, 1, 0, 2),
    "diag_of_vector": lambda m, x: m.diag(x[0, 0], -1),
    "tril": lambda m, x: m.tril(x, -1),
    "roll": lambda m, x: m.roll(x, (1, -2), (0, 2)),
    "tile": lambda m, x: m.tile(x, (2, 1, 3)),
    "repeat_interleave_tensor": lambda m, x: m.repeat_interleave(x, m.tensor([2, 0, 1]), dim=1),
    "unbind": lambda m, x: m.unbind(x, 2)[1] * m.unbind(x, 2)[3],
    "rot90": lambda m, x: m.rot90(x, 1, (1, 2)),
}


@pytest.mark.parametrize("name", list(THIRD_ORDER))
def test_third_derivatives_match_torch(name):
    """Each op's gradient is itself an op with a gradient (an adjoint pair), so the orders go on."""
    x = randn(2, 3, 4)
    ours = _third_derivative(em, lambda t: THIRD_ORDER[name](em, t), em.tensor(x, requires_grad=True))
    theirs = _third_derivative(torch, lambda t: THIRD_ORDER[name](torch, t), torch.tensor(x, requires_grad=True))
    assert_close(ours, theirs)


def test_new_layout_ops_refuse_bad_arguments():
    with pytest.raises(IndexError, match="select"):
        em.select(em.ones(2, 3), 1, 3)
    with pytest.raises(RuntimeError, match="number of sections must be larger than 0"):
        em.tensor_split(em.ones(4), 0)
    with pytest.raises(RuntimeError, match="maximum size for tensor at dimension 0 is 3 but size is 4"):
        em.ones(3).unfold(0, 4, 1)
    with pytest.raises(RuntimeError, match="2 or fewer dimensions"):
        em.block_diag(em.ones(1, 1, 1))
    with pytest.raises(RuntimeError, match="expect a 1D vector"):
        em.combinations(em.ones(2, 2))

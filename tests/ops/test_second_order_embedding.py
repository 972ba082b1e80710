"""Second derivatives of the embedding lookups and of ``F.pad``'s modes: against PyTorch's (float64,
``create_graph=True`` in both, the upstream gradient differentiated too) and against finite
differences of the first derivatives (``gradgradcheck``).

Each op is linear in its differentiable input, so its own Hessian is zero: the rows also run it
under a nonlinearity (x² or tanh), whose second derivative must pass back through the op's
adjoint, and the third-order tests check that the adjoint pairs keep going.
"""
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import ember as em
import ember.nn.functional as F
from ember.testing import gradgradcheck
from torch_parity import assert_close, check_second_order, make_inputs


def _normal(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def check_twice(ours, theirs, inputs, finite_diff=True):
    check_second_order(ours, theirs, inputs)
    if finite_diff:
        assert gradgradcheck(ours, make_inputs(inputs, dtype=np.float64)[0])


def squared(fn):
    return lambda *args: fn(*args) ** 2


# -- embedding lookups ----------------------------------------------------------------------------------
IDS = np.array([[1, 0, 3, 1], [4, 1, 0, 0]])  # repeated ids (1 and 0) and padding_idx 0 among them

def torch_embedding(ids, W, padding_idx=None, scale_grad_by_freq=False):
    """PyTorch's embedding, with ``scale_grad_by_freq`` composed as y·s + (y·(1 − s)).detach(),
    s = 1/count: the same values and first derivatives, and second derivatives that keep the 1/count
    (PyTorch's own double backward of the scaled embedding leaves it out)."""
    y = TF.embedding(ids, W, padding_idx=padding_idx)
    if not scale_grad_by_freq:
        return y
    s = 1.0 / torch.bincount(ids.reshape(-1), minlength=W.shape[0])[ids][..., None].to(W.dtype)
    return y * s + (y * (1 - s)).detach()


EMBEDDINGS = [
    ("plain", {}),
    ("padding_idx", {"padding_idx": 0}),
    ("negative_padding_idx", {"padding_idx": -2}),
    ("scale_grad_by_freq", {"scale_grad_by_freq": True}),
    ("scale_and_padding", {"scale_grad_by_freq": True, "padding_idx": 1}),
]


@pytest.mark.parametrize("kwargs", [row[1] for row in EMBEDDINGS], ids=[row[0] for row in EMBEDDINGS])
@pytest.mark.parametrize("wrap", [lambda f: f, squared], ids=["linear", "squared"])
def test_embedding_second_derivatives(kwargs, wrap):
    ours = wrap(lambda ids, W: F.embedding(ids, W, **kwargs))
    theirs = wrap(lambda ids, W: torch_embedding(ids, W, **kwargs))
    # the scaled gradient is by design not W's derivative: under x² no finite difference matches it
    exact = wrap is not squared or "scale_grad_by_freq" not in kwargs
    check_twice(ours, theirs, [IDS, _normal(5, 3)], finite_diff=exact)


def test_pytorch_double_backward_of_the_scaled_embedding_drops_the_scale():
    """Why the rows above compose PyTorch's scaled embedding: ∂gW/∂u must carry 1/count."""
    W, u = torch.zeros(2, 1, dtype=torch.float64, requires_grad=True), torch.ones(3, 1, requires_grad=True)
    (gW,) = torch.autograd.grad(TF.embedding(torch.tensor([1, 1, 1]), W, scale_grad_by_freq=True), [W],
                                u.to(torch.float64), create_graph=True)
    assert gW[1].item() == 1.0 and torch.autograd.grad(gW.sum(), [u])[0].flatten().tolist() == [1.0, 1.0, 1.0]
    Wm, um = em.zeros(2, 1, dtype=em.float64, requires_grad=True), em.ones(3, 1, dtype=em.float64, requires_grad=True)
    (gW,) = em.autograd.grad(F.embedding(em.tensor([1, 1, 1]), Wm, scale_grad_by_freq=True), [Wm], um,
                             create_graph=True)
    assert gW[1].item() == 1.0
    assert_close(em.autograd.grad(gW.sum(), [um])[0], np.full((3, 1), 1 / 3))


def torch_bag(ids, W, offsets=None, mode="mean", per_sample_weights=None, include_last_offset=False,
              padding_idx=None):
    """``embedding_bag`` composed from PyTorch's lookup and reductions (PyTorch does not differentiate
    its fused ``embedding_bag`` twice)."""
    if ids.ndim == 2:
        ids, offsets = ids.reshape(-1), torch.arange(0, ids.numel(), ids.shape[1])
    bounds = offsets.tolist() + ([] if include_last_offset else [len(ids)])
    rows = TF.embedding(ids, W)
    if per_sample_weights is not None:
        rows = rows * per_sample_weights[:, None]
    bags = []
    for start, end in zip(bounds[:-1], bounds[1:], strict=True):
        bag = rows[start:end][ids[start:end] != (-1 if padding_idx is None else padding_idx)]
        if len(bag) == 0:
            bags.append(W.new_zeros(W.shape[1]))
        else:
            bags.append({"sum": bag.sum(0), "mean": bag.mean(0), "max": bag.max(0).values}[mode])
    return torch.stack(bags)


BAGS = [
    ("sum_2d", {"mode": "sum"}, [IDS, _normal(5, 3)]),
    ("mean_2d_padding", {"mode": "mean", "padding_idx": 0}, [IDS, _normal(5, 3)]),
    ("max_offsets", {"mode": "max"}, [np.array([2, 0, 4, 4, 1, 3]), _normal(5, 3), np.array([0, 2, 2, 5])]),
    ("mean_offsets_last", {"mode": "mean", "include_last_offset": True},
     [np.array([2, 0, 4, 4, 1, 3]), _normal(5, 3), np.array([0, 2, 5, 6])]),
]


@pytest.mark.parametrize("kwargs, inputs", [row[1:] for row in BAGS], ids=[row[0] for row in BAGS])
def test_embedding_bag_second_derivatives(kwargs, inputs):
    wrap = squared if kwargs["mode"] != "max" else lambda f: f  # max picks rows: keep its ties away
    check_twice(wrap(lambda ids, W, *offsets: F.embedding_bag(ids, W, *offsets, **kwargs)),
                wrap(lambda ids, W, *offsets: torch_bag(ids, W, *offsets, **kwargs)), inputs)


def test_embedding_bag_per_sample_weights_second_derivatives():
    """Σ w_i E[x_i]: bilinear in (w, E), so the mixed second derivatives are not zero."""
    inputs = [np.array([2, 0, 4, 4, 1]), _normal(5, 3), np.array([0, 3]), _normal(5, seed=1)]
    check_twice(lambda ids, W, offsets, w: F.embedding_bag(ids, W, offsets, mode="sum", per_sample_weights=w),
                lambda ids, W, offsets, w: torch_bag(ids, W, offsets, mode="sum", per_sample_weights=w), inputs)


def test_embedding_gradient_is_a_row_scatter_whose_gradient_is_the_lookup():
    """∂/∂u of ⟨v, ∂⟨u, E[x]⟩/∂E⟩ = v[x] with row padding_idx zeroed: the lookup again."""
    W = em.tensor(_normal(5, 3), requires_grad=True)
    u = em.tensor(_normal(2, 4, 3, seed=1), requires_grad=True)
    (gW,) = em.autograd.grad(F.embedding(em.tensor(IDS), W, padding_idx=0), [W], u, create_graph=True)
    v = _normal(5, 3, seed=2)
    (gu,) = em.autograd.grad((gW * em.tensor(v)).sum(), [u])
    assert_close(gu, np.where((IDS == 0)[..., None], 0.0, v[IDS]))


# -- F.pad ------------------------------------------------------------------------------------------------
PADS = [
    ("constant", (1, 2), "constant", (2, 3)),
    ("constant_crop", (-1, 2, 1, -1), "constant", (2, 3, 4)),
    ("reflect_1d", (2, 1), "reflect", (2, 4)),
    ("reflect_2d", (1, 2, 2, 1), "reflect", (1, 2, 3, 4)),
    ("replicate_1d", (3, 1), "replicate", (2, 2, 3)),
    ("replicate_3d", (1, 1, 0, 2, 2, 1), "replicate", (1, 2, 2, 3, 2)),
    ("circular_1d", (2, 3), "circular", (1, 2, 4)),
    ("circular_2d", (1, 2, 3, 0), "circular", (2, 3, 4)),
]


@pytest.mark.parametrize("pad, mode, shape", [row[1:] for row in PADS], ids=[row[0] for row in PADS])
@pytest.mark.parametrize("wrap", [lambda f: f, squared], ids=["linear", "squared"])
def test_pad_second_derivatives(pad, mode, shape, wrap):
    check_twice(wrap(lambda x: F.pad(x, pad, mode=mode)), wrap(lambda x: TF.pad(x, pad, mode=mode)),
                [_normal(*shape)])


def test_pad_then_tanh_weighted_by_a_second_input():
    """tanh(pad(x)) ⊙ y: second derivatives mix the padded borders of x with y."""
    check_twice(lambda x, y: F.pad(x, (2, 1), mode="reflect").tanh() * y,
                lambda x, y: TF.pad(x, (2, 1), mode="reflect").tanh() * y, [_normal(2, 4), _normal(2, 7, seed=1)])


# -- every order -------------------------------------------------------------------------------------------
def _third_derivatives(module, fn, x):
    """∂/∂x of Σ (∂/∂x of Σ (∂/∂x Σ fn(x)³)²)): three nested gradients, each with a graph."""
    (g,) = module.autograd.grad((fn(x) ** 3).sum(), [x], create_graph=True)
    (h,) = module.autograd.grad((g * g).sum(), [x], create_graph=True)
    return module.autograd.grad((h * h).sum(), [x])[0]


THIRD_ORDER = {
    "embedding": lambda m, W: m.embedding(m.tensor([2, 0, 4, 4, 1, 0]), W, padding_idx=4),
    "pad_reflect": lambda m, W: m.pad(W, (2, 1), mode="reflect"),
    "pad_circular": lambda m, W: m.pad(W[None], (1, 2), mode="circular"),
    "embedding_bag_max": lambda m, W: m.embedding_bag(m.tensor([2, 0, 4, 4, 1, 0]), W, m.tensor([0, 2, 2]), mode="max"),
    "embedding_bag_mean": lambda m, W: m.embedding_bag(m.tensor([2, 0, 4, 4, 1, 0]), W, m.tensor([0, 2, 2])),
}
EMBER = SimpleNamespace(tensor=em.tensor, embedding=F.embedding, embedding_bag=F.embedding_bag, pad=F.pad)
TORCH = SimpleNamespace(tensor=torch.tensor, embedding=TF.embedding, embedding_bag=torch_bag, pad=TF.pad)


@pytest.mark.parametrize("name", list(THIRD_ORDER))
def test_third_derivatives_match_torch(name):
    W = _normal(5, 3)
    ours = _third_derivatives(em, lambda t: THIRD_ORDER[name](EMBER, t), em.tensor(W, requires_grad=True))
    theirs = _third_derivatives(torch, lambda t: THIRD_ORDER[name](TORCH, t), torch.tensor(W, requires_grad=True))
    assert_close(ours, theirs)

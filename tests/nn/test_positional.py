"""Positional encodings: the sinusoid's formula, shapes in both layouts, length errors,
the learned table against PyTorch."""
import math

import numpy as np
import pytest
import torch

import ember as em
from ember import nn
from ember.autograd.tensor import Tensor
from torch_parity import assert_close

RNG = np.random.default_rng(0)


def test_sinusoid_values_follow_the_formula():
    d, max_len = 8, 50
    pe = nn.SinusoidalPositionalEncoding(d, max_len=max_len).pe.numpy()
    assert pe.shape == (max_len, d)
    for pos in (0, 1, 7, 49):
        for i in range(d // 2):
            angle = pos / 10000 ** (2 * i / d)
            assert pe[pos, 2 * i] == pytest.approx(math.sin(angle), abs=1e-6)
            assert pe[pos, 2 * i + 1] == pytest.approx(math.cos(angle), abs=1e-6)


def test_sinusoid_matches_the_pytorch_tutorial_table():
    d, max_len = 16, 30  # the table of PyTorch's Transformer tutorial, computed in torch
    position = torch.arange(max_len).unsqueeze(1)
    div_term = torch.exp(torch.arange(0, d, 2) * (-math.log(10000.0) / d))
    expected = torch.zeros(max_len, d)
    expected[:, 0::2] = torch.sin(position * div_term)
    expected[:, 1::2] = torch.cos(position * div_term)
    assert_close(nn.SinusoidalPositionalEncoding(d, max_len).pe, expected, atol=1e-5)


def test_odd_width_keeps_every_sine():
    pe = nn.SinusoidalPositionalEncoding(5, max_len=4).pe.numpy()
    assert pe.shape == (4, 5)
    assert pe[3, 4] == pytest.approx(math.sin(3 / 10000 ** (4 / 5)), abs=1e-6)


@pytest.mark.parametrize("batch_first", [True, False])
def test_sinusoid_adds_to_the_input_in_both_layouts(batch_first):
    x = RNG.standard_normal((3, 7, 6) if batch_first else (7, 3, 6)).astype(np.float32)
    layer = nn.SinusoidalPositionalEncoding(6, max_len=10, batch_first=batch_first)
    y = layer(Tensor(x))
    assert y.shape == x.shape
    table = layer.pe.numpy()[:7]
    expected = x + (table[None] if batch_first else table[:, None])
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-6)


def test_sinusoid_table_is_a_non_persistent_buffer_and_passes_gradients():
    layer = nn.SinusoidalPositionalEncoding(4, max_len=8)
    assert "pe" in dict(layer.named_buffers()) and layer.state_dict() == {} and not list(layer.parameters())
    x = Tensor(RNG.standard_normal((2, 5, 4)), requires_grad=True)
    upstream = RNG.standard_normal((2, 5, 4))
    layer(x).backward(Tensor(upstream))
    np.testing.assert_allclose(x.grad.numpy(), upstream)


def test_sinusoid_dropout_only_in_training():
    layer = nn.SinusoidalPositionalEncoding(8, dropout=0.5)
    x = em.zeros(4, 10, 8)
    assert (layer(x).numpy() == 0).mean() > 0.2
    layer.eval()
    np.testing.assert_array_equal(layer(x).numpy(), layer.pe.numpy()[None, :10].repeat(4, 0))


@pytest.mark.parametrize("layer, x, name", [
    (nn.SinusoidalPositionalEncoding(4, max_len=6), em.zeros(2, 7, 4), "SinusoidalPositionalEncoding"),
    (nn.SinusoidalPositionalEncoding(4, max_len=6, batch_first=False), em.zeros(9, 2, 4),
     "SinusoidalPositionalEncoding"),
    (nn.LearnedPositionalEmbedding(6, 4), em.zeros(2, 7, 4), "LearnedPositionalEmbedding"),
])
def test_too_long_sequence_names_the_layer_and_both_lengths(layer, x, name):
    length = x.shape[1] if getattr(layer, "batch_first", True) else x.shape[0]
    with pytest.raises(ValueError, match=rf"{name}: the sequence has {length} positions .* max_len=6"):
        layer(x)


def test_wrong_feature_size_is_refused():
    with pytest.raises(ValueError, match="SinusoidalPositionalEncoding: expected input"):
        nn.SinusoidalPositionalEncoding(4)(em.zeros(2, 3, 5))
    with pytest.raises(ValueError, match="LearnedPositionalEmbedding: expected input"):
        nn.LearnedPositionalEmbedding(8, 4)(em.zeros(2, 3, 5))


def test_learned_positions_match_torch_embedding_twin():
    ours = nn.LearnedPositionalEmbedding(10, 6)
    theirs = torch.nn.Embedding(10, 6)
    ours.embedding.load_state_dict({"weight": theirs.weight.detach().numpy()})
    x = RNG.standard_normal((3, 7, 6)).astype(np.float32)
    ex, tx = Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, ty = ours(ex), tx + theirs(torch.arange(7))
    assert_close(y, ty)
    upstream = RNG.standard_normal((3, 7, 6)).astype(np.float32)
    y.backward(Tensor(upstream))
    ty.backward(torch.from_numpy(upstream))
    assert_close(ex.grad, tx.grad)
    assert_close(ours.embedding.weight.grad, theirs.weight.grad, atol=1e-5)
    assert list(ours.state_dict()) == ["embedding.weight"]

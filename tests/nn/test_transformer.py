"""Transformer layers and stacks against PyTorch's twins: state dicts, outputs, input and parameter gradients."""
import numpy as np
import pytest
import torch

import ember as em
from ember import nn
from ember.autograd.tensor import Tensor
from ember.nn.modules.transformer import Transformer as TransformerFromModules
from torch_parity import assert_close, check_module, copy_weights, to_torch

# PyTorch warns when a bool key-padding mask meets a float attention mask (ember merges them silently),
# and when its encoder cannot use nested tensors (ember has none)
pytestmark = [pytest.mark.filterwarnings("ignore:Support for mismatched"),
              pytest.mark.filterwarnings("ignore:enable_nested_tensor is True")]
RNG = np.random.default_rng(0)
E, H, FF, N, L, S = 8, 2, 16, 2, 4, 5


def _pair(name, *args, dtype=np.float64, **kwargs):
    """An ember layer and its PyTorch twin, built with the same arguments, in eval mode (dropout off)."""
    torch.manual_seed(0)
    theirs = getattr(torch.nn, name)(*args, **kwargs).to(getattr(torch, np.dtype(dtype).name)).eval()
    ours = getattr(nn, name)(*args, **kwargs, dtype=dtype).eval()
    return ours, theirs


def _seq(length, batch_first, unbatched=False, dtype=np.float64):
    shape = (length, E) if unbatched else (N, length, E) if batch_first else (length, N, E)
    return RNG.standard_normal(shape).astype(dtype)


def _as_torch(value):
    return torch.from_numpy(value) if isinstance(value, np.ndarray) else to_torch(value) \
        if isinstance(value, Tensor) else value


def check_twins(ours, theirs, inputs, masks=None, rtol=None, atol=None):
    """Load the twin's state dict, run both on the same inputs and masks, backpropagate one random
    upstream gradient, and compare the output, every input gradient and every parameter gradient."""
    copy_weights(ours, theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    masks = masks or {}
    xs = [Tensor(x.copy(), requires_grad=True) for x in inputs]
    txs = [to_torch(x, requires_grad=True) for x in inputs]
    y = ours(*xs, **masks)
    ty = theirs(*txs, **{k: _as_torch(v) for k, v in masks.items()})
    assert_close(y, ty, rtol, atol, name="output")
    g = RNG.standard_normal(ty.shape).astype(inputs[0].dtype)
    y.backward(Tensor(g))
    ty.backward(torch.from_numpy(g))
    for k, (x, tx) in enumerate(zip(xs, txs, strict=True)):
        assert_close(x.grad, tx.grad, rtol, atol, name=f"gradient of input {k}")
    theirs_params = dict(theirs.named_parameters())
    ours_params = dict(ours.named_parameters())
    assert ours_params.keys() == theirs_params.keys()
    for name, p in ours_params.items():
        assert_close(p.grad, theirs_params[name].grad, rtol, atol, name=f"gradient of {name}")


def _padding(length, batch_first=True, unbatched=False):
    mask = np.zeros((N, length), bool)
    mask[0, length - 2:] = True
    return mask[1] if unbatched else mask


def _masks(kind, length, batch_first, prefix="src", unbatched=False):
    """The mask arguments of one kind for a self-attention over ``length`` positions."""
    causal = np.triu(np.ones((length, length), bool), 1)
    name = "src_mask" if prefix == "src" else f"{prefix}_mask"
    kpm = f"{prefix}_key_padding_mask"
    if kind == "causal_float":
        return {name: np.where(causal, -np.inf, 0.0)}
    if kind == "causal_bool":
        return {name: causal}
    if kind == "padding":
        return {kpm: _padding(length, batch_first, unbatched)}
    if kind == "both":
        return {name: np.where(causal, -np.inf, 0.0), kpm: _padding(length, batch_first, unbatched)}
    if kind == "is_causal":
        return {name: causal, "is_causal" if prefix == "src" else f"{prefix}_is_causal": True}
    return {}


MASK_KINDS = ["none", "causal_float", "causal_bool", "padding", "both", "is_causal"]


# -- the layers ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("masks", MASK_KINDS)
@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
def test_encoder_layer_matches_torch(batch_first, norm_first, masks):
    ours, theirs = _pair("TransformerEncoderLayer", E, H, FF, batch_first=batch_first, norm_first=norm_first)
    check_twins(ours, theirs, [_seq(L, batch_first)], _masks(masks, L, batch_first))


def test_encoder_layer_through_check_module():
    ours, theirs = _pair("TransformerEncoderLayer", E, H, FF, batch_first=True)
    check_module(ours, theirs, _seq(L, True))


@pytest.mark.parametrize("activation", ["gelu", "callable", "module"])
def test_encoder_layer_activations_match_torch(activation):
    acts = {"gelu": ("gelu", "gelu"), "callable": (em.nn.functional.silu, torch.nn.functional.silu),
            "module": (nn.Tanh(), torch.nn.Tanh())}[activation]
    torch.manual_seed(0)
    theirs = torch.nn.TransformerEncoderLayer(E, H, FF, activation=acts[1], norm_first=True).double().eval()
    ours = nn.TransformerEncoderLayer(E, H, FF, activation=acts[0], norm_first=True, dtype=np.float64).eval()
    check_twins(ours, theirs, [_seq(L, False)])


def test_encoder_layer_without_bias_and_unbatched_match_torch():
    ours, theirs = _pair("TransformerEncoderLayer", E, H, FF, bias=False)
    assert "norm1.bias" not in ours.state_dict() and "linear1.bias" not in ours.state_dict()
    check_twins(ours, theirs, [_seq(L, False)])
    ours, theirs = _pair("TransformerEncoderLayer", E, H, FF)
    check_twins(ours, theirs, [_seq(L, False, unbatched=True)], _masks("both", L, False, unbatched=True))


@pytest.mark.parametrize("masks", ["none", "causal_float", "both", "is_causal", "memory"])
@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
def test_decoder_layer_matches_torch(batch_first, norm_first, masks):
    ours, theirs = _pair("TransformerDecoderLayer", E, H, FF, batch_first=batch_first, norm_first=norm_first)
    kwargs = _masks(masks, L, batch_first, prefix="tgt")
    if masks == "memory":
        memory_mask = RNG.random((L, S)) > 0.7
        memory_mask[:, 0] = False
        kwargs = {"memory_mask": memory_mask, "memory_key_padding_mask": _padding(S)}
    check_twins(ours, theirs, [_seq(L, batch_first), _seq(S, batch_first)], kwargs)


def test_per_head_masks_match_torch():
    """A 3-d mask (N·nhead, L, S) gives each batch element and head its own pattern."""
    ours, theirs = _pair("TransformerDecoderLayer", E, H, FF, batch_first=True)
    memory_mask = RNG.random((N * H, L, S)) > 0.6
    memory_mask[..., 1] = False
    tgt_mask = RNG.standard_normal((N * H, L, L))
    check_twins(ours, theirs, [_seq(L, True), _seq(S, True)], {"tgt_mask": tgt_mask, "memory_mask": memory_mask})


# -- the stacks and the whole Transformer -----------------------------------------------------------
@pytest.mark.parametrize("masks", ["none", "causal_float", "both"])
@pytest.mark.parametrize("norm_first", [False, True])
def test_encoder_stack_matches_torch(norm_first, masks):
    torch.manual_seed(0)
    t_layer = torch.nn.TransformerEncoderLayer(E, H, FF, batch_first=True, norm_first=norm_first)
    theirs = torch.nn.TransformerEncoder(t_layer, 3, norm=torch.nn.LayerNorm(E), enable_nested_tensor=False)
    theirs = theirs.double().eval()
    layer = nn.TransformerEncoderLayer(E, H, FF, batch_first=True, norm_first=norm_first, dtype=np.float64)
    ours = nn.TransformerEncoder(layer, 3, norm=nn.LayerNorm(E, dtype=np.float64), enable_nested_tensor=False).eval()
    assert ours.layers[0] is not ours.layers[1] and ours.layers[0].linear1.weight is not ours.layers[1].linear1.weight
    kwargs = _masks(masks, L, True)
    kwargs = {"mask" if k == "src_mask" else k: v for k, v in kwargs.items()}
    check_twins(ours, theirs, [_seq(L, True)], kwargs)


def test_encoder_stack_with_nested_tensor_default_matches_torch():
    """PyTorch's default enable_nested_tensor=True: outputs agree with its (padded) result."""
    torch.manual_seed(0)
    theirs = torch.nn.TransformerEncoder(torch.nn.TransformerEncoderLayer(E, H, FF, batch_first=True), 2).double()
    ours = nn.TransformerEncoder(nn.TransformerEncoderLayer(E, H, FF, batch_first=True, dtype=np.float64), 2)
    check_twins(ours.eval(), theirs.eval(), [_seq(L, True)], {"src_key_padding_mask": _padding(L)})


@pytest.mark.parametrize("norm_first", [False, True])
def test_decoder_stack_matches_torch(norm_first):
    torch.manual_seed(0)
    t_layer = torch.nn.TransformerDecoderLayer(E, H, FF, norm_first=norm_first)
    theirs = torch.nn.TransformerDecoder(t_layer, 2, norm=torch.nn.LayerNorm(E)).double().eval()
    layer = nn.TransformerDecoderLayer(E, H, FF, norm_first=norm_first, dtype=np.float64)
    ours = nn.TransformerDecoder(layer, 2, norm=nn.LayerNorm(E, dtype=np.float64)).eval()
    mask = nn.Transformer.generate_square_subsequent_mask(L, dtype=np.float64)
    check_twins(ours, theirs, [_seq(L, False), _seq(S, False)],
                {"tgt_mask": mask, "tgt_key_padding_mask": _padding(L), "memory_key_padding_mask": _padding(S)})


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
def test_transformer_matches_torch_with_every_mask(batch_first, norm_first):
    ours, theirs = _pair("Transformer", d_model=E, nhead=H, num_encoder_layers=2, num_decoder_layers=2,
                         dim_feedforward=FF, batch_first=batch_first, norm_first=norm_first)
    memory_mask = RNG.random((L, S)) > 0.7
    memory_mask[:, 0] = False
    masks = {"src_mask": RNG.standard_normal((S, S)),
             "tgt_mask": nn.Transformer.generate_square_subsequent_mask(L, dtype=np.float64),
             "memory_mask": memory_mask, "src_key_padding_mask": _padding(S),
             "tgt_key_padding_mask": _padding(L), "memory_key_padding_mask": _padding(S)}
    check_twins(ours, theirs, [_seq(S, batch_first), _seq(L, batch_first)], masks)


def test_transformer_causal_hints_and_float32_match_torch():
    ours, theirs = _pair("Transformer", E, H, 1, 1, FF, dtype=np.float32, activation="gelu")
    causal = np.triu(np.ones((L, L), bool), 1)
    check_twins(ours, theirs, [_seq(S, False, dtype=np.float32), _seq(L, False, dtype=np.float32)],
                {"tgt_mask": causal, "tgt_is_causal": True})


def test_custom_encoder_and_decoder():
    torch.manual_seed(0)
    t_enc = torch.nn.TransformerEncoder(torch.nn.TransformerEncoderLayer(E, H, FF), 1)
    t_dec = torch.nn.TransformerDecoder(torch.nn.TransformerDecoderLayer(E, H, FF), 1)
    theirs = torch.nn.Transformer(E, H, custom_encoder=t_enc, custom_decoder=t_dec).double().eval()
    enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(E, H, FF, dtype=np.float64), 1)
    dec = nn.TransformerDecoder(nn.TransformerDecoderLayer(E, H, FF, dtype=np.float64), 1)
    ours = nn.Transformer(E, H, custom_encoder=enc, custom_decoder=dec).eval()
    assert ours.encoder is enc and ours.decoder is dec
    check_twins(ours, theirs, [_seq(S, False), _seq(L, False)])


# -- construction, masks helper, modes, errors -------------------------------------------------------
def test_defaults_shapes_and_parameter_count_match_torch():
    ours, theirs = nn.Transformer(), torch.nn.Transformer()
    assert (ours.d_model, ours.nhead, ours.batch_first) == (512, 8, False)
    assert {k: tuple(v.shape) for k, v in ours.state_dict().items()} == \
        {k: tuple(v.shape) for k, v in theirs.state_dict().items()}
    layer = ours.encoder.layers[0]
    assert layer.linear1.out_features == 2048 and layer.dropout.p == 0.1 and layer.norm1.eps == 1e-5
    assert layer.activation is em.nn.functional.relu and not layer.norm_first
    bound = np.sqrt(6 / (512 + 2048))  # xavier-uniform on every matrix, as PyTorch
    w = layer.linear1.weight.detach().numpy()
    assert np.abs(w).max() <= bound * (1 + 1e-6) and np.abs(w).max() > 0.9 * bound
    assert TransformerFromModules is nn.Transformer


def test_generate_square_subsequent_mask_matches_torch():
    ours = nn.Transformer.generate_square_subsequent_mask(5)
    theirs = torch.nn.Transformer.generate_square_subsequent_mask(5)
    assert ours.dtype == em.float32
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    assert nn.Transformer.generate_square_subsequent_mask(3, dtype=np.float64).dtype == np.float64


def test_dropout_acts_only_in_training():
    layer = nn.TransformerEncoderLayer(E, H, FF, dropout=0.5)
    x = Tensor(_seq(L, False, dtype=np.float32))
    a, b = layer(x), layer(x)
    assert not np.allclose(a.detach().numpy(), b.detach().numpy())
    layer.eval()
    assert_close(layer(x), layer(x))


def test_bad_arguments_and_masks_raise_errors_naming_the_layer():
    with pytest.raises(ValueError, match="TransformerEncoderLayer: d_model 10 must be a positive multiple of nhead 3"):
        nn.TransformerEncoderLayer(10, 3)
    with pytest.raises(ValueError, match="TransformerDecoderLayer: d_model 10"):
        nn.TransformerDecoderLayer(10, 4)
    with pytest.raises(ValueError, match="TransformerEncoderLayer: d_model 6"):
        nn.Transformer(d_model=6, nhead=4)
    with pytest.raises(RuntimeError, match="activation should be relu/gelu, not tanh"):
        nn.TransformerEncoderLayer(E, H, activation="tanh")
    enc = nn.TransformerEncoderLayer(E, H, FF)
    x = Tensor(_seq(L, False, dtype=np.float32))
    with pytest.raises(ValueError, match=r"TransformerEncoderLayer: src_mask must have shape \(4, 4\) or "
                                         r"\(4, 4, 4\) .* got \(4, 5\)"):
        enc(x, src_mask=np.zeros((L, L + 1), bool))
    with pytest.raises(ValueError, match=r"src_key_padding_mask must have shape \(2, 4\) .* got \(4, 2\)"):
        enc(x, src_key_padding_mask=np.zeros((L, N), bool))
    with pytest.raises(ValueError, match=r"TransformerEncoderLayer: expected inputs .* got \(4, 2, 6\)"):
        enc(Tensor(np.zeros((L, N, 6), np.float32)))
    dec = nn.TransformerDecoderLayer(E, H, FF)
    memory = Tensor(_seq(S, False, dtype=np.float32))
    with pytest.raises(ValueError, match=r"TransformerDecoderLayer: memory_mask must have shape \(4, 5\)"):
        dec(x, memory, memory_mask=np.zeros((L, L), bool))
    with pytest.raises(ValueError, match=r"memory_key_padding_mask must have shape \(2, 5\)"):
        dec(x, memory, memory_key_padding_mask=np.zeros((N, L), bool))
    model = nn.Transformer(E, H, 1, 1, FF)
    with pytest.raises(RuntimeError, match="batch number of src and tgt must be equal"):
        model(Tensor(np.zeros((S, 3, E), np.float32)), x)
    with pytest.raises(RuntimeError, match="feature number of src and tgt must be equal to d_model"):
        model(Tensor(np.zeros((S, N, 6), np.float32)), x)

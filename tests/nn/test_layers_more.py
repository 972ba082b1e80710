"""The further layers against their PyTorch twins: RMSNorm, LocalResponseNorm, Bilinear, EmbeddingBag,
Unflatten, ParameterList/ParameterDict, DataParallel and the dropout variants."""
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import ember as em
import ember.nn.functional as F
from ember import nn
from ember.testing import gradcheck
from torch_parity import check_module, check_op, copy_weights

TOL = {np.float32: 1e-5, np.float64: 1e-10}


def _data(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def _torch_dtype(dtype):
    return torch.float64 if dtype == np.float64 else torch.float32


# -- RMSNorm and LocalResponseNorm ---------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape,normalized", [((4, 6), 6), ((2, 3, 4, 5), (4, 5)), ((3, 5), [5])])
@pytest.mark.parametrize("eps,affine", [(None, True), (1e-3, True), (None, False)])
def test_rms_norm_matches_torch(shape, normalized, eps, affine, dtype):
    theirs = torch.nn.RMSNorm(normalized, eps=eps, elementwise_affine=affine).to(_torch_dtype(dtype))
    if affine:
        with torch.no_grad():
            theirs.weight.copy_(torch.linspace(0.5, 1.5, theirs.weight.numel()).reshape(theirs.weight.shape))
    ours = nn.RMSNorm(normalized, eps=eps, elementwise_affine=affine, dtype=dtype)
    assert repr(ours) == repr(theirs) and list(ours.state_dict()) == list(theirs.state_dict())
    check_module(ours, theirs, (_data(*shape) * 0.1).astype(dtype), rtol=TOL[dtype], atol=TOL[dtype])


def test_rms_norm_functional_gradcheck_and_errors():
    x = em.tensor(_data(3, 4), requires_grad=True)
    w = em.tensor(_data(4, seed=2), requires_grad=True)
    assert gradcheck(lambda a, b: F.rms_norm(a, (4,), b), [x, w])
    check_op(lambda a, b: F.rms_norm(a, [4], b, eps=1e-6), lambda a, b: TF.rms_norm(a, [4], b, eps=1e-6),
             [_data(3, 4), _data(4, seed=2)])
    with pytest.raises(ValueError, match="normalized_shape"):
        F.rms_norm(em.randn(3, 4), (5,))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(2, 7, 5, 4), (3, 6, 8), (2, 5, 3, 2, 2)])
@pytest.mark.parametrize("args", [(5,), (2, 1e-2, 0.5, 2.0), (3, 0.1, 0.75, 1.0)])
def test_local_response_norm_matches_torch(shape, args, dtype):
    ours, theirs = nn.LocalResponseNorm(*args), torch.nn.LocalResponseNorm(*args)
    assert repr(ours) == repr(theirs)
    check_module(ours, theirs, (_data(*shape) * 3).astype(dtype), rtol=TOL[dtype], atol=TOL[dtype])


def test_local_response_norm_gradcheck_and_errors():
    x = em.tensor(_data(2, 6, 3, 3) * 3, requires_grad=True)
    assert gradcheck(lambda a: F.local_response_norm(a, 3, alpha=0.1, k=2.0), [x])
    with pytest.raises(ValueError, match=r"Expected 3D or higher dimensionality input \(got 2 dimensions\)"):
        F.local_response_norm(em.randn(3, 4), 2)


# -- Bilinear ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("lead", [(6,), (2, 3), ()])
def test_bilinear_matches_torch(lead, bias, dtype):
    theirs = torch.nn.Bilinear(5, 4, 3, bias=bias).to(_torch_dtype(dtype))
    ours = nn.Bilinear(5, 4, 3, bias=bias, dtype=dtype)
    assert repr(ours) == repr(theirs) and list(ours.state_dict()) == list(theirs.state_dict())
    copy_weights(ours, theirs)
    check_op(lambda a, b: ours(a, b), lambda a, b: theirs(a, b),
             [_data(*lead, 5).astype(dtype), _data(*lead, 4, seed=1).astype(dtype)], rtol=TOL[dtype],
             atol=TOL[dtype])
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), dict(theirs.named_parameters())[name].grad.numpy(),
                                   rtol=TOL[dtype], atol=TOL[dtype])


def test_bilinear_init_functional_and_gradcheck():
    layer = nn.Bilinear(16, 4, 200)
    bound = 1 / 4.0
    for p in (layer.weight, layer.bias):
        values = p.detach().numpy()
        assert values.min() >= -bound and values.max() <= bound and values.max() > 0.9 * bound
    check_op(F.bilinear, TF.bilinear, [_data(3, 2), _data(3, 4, seed=1), _data(5, 2, 4, seed=2), _data(5, seed=3)])
    args = [em.tensor(_data(3, 2), requires_grad=True), em.tensor(_data(3, 4, seed=1), requires_grad=True),
            em.tensor(_data(5, 2, 4, seed=2), requires_grad=True), em.tensor(_data(5, seed=3), requires_grad=True)]
    assert gradcheck(F.bilinear, args)


# -- EmbeddingBag ---------------------------------------------------------------------------------------
INDICES = np.array([1, 2, 4, 5, 4, 3, 2, 9, 0, 0, 7])
BAG_CASES = [
    ({"mode": "sum"}, INDICES, np.array([0, 4, 4, 8])),  # bag 1 empty
    ({"mode": "mean"}, INDICES, np.array([0, 3, 7])),
    ({"mode": "max"}, INDICES, np.array([0, 2, 2, 5])),
    ({"mode": "mean", "padding_idx": 4}, INDICES, np.array([0, 4, 8])),
    ({"mode": "max", "padding_idx": 0}, INDICES, np.array([0, 4, 8])),
    ({"mode": "sum", "include_last_offset": True}, INDICES, np.array([0, 4, 6, 11])),
    ({"mode": "mean", "include_last_offset": True, "padding_idx": 2}, INDICES, np.array([0, 2, 9, 11])),
    ({"mode": "sum"}, INDICES[:10].reshape(2, 5), None),
    ({"mode": "max"}, INDICES[:10].reshape(5, 2), None),
    ({"mode": "mean", "padding_idx": 0}, INDICES[:10].reshape(2, 5), None),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kwargs,indices,offsets", BAG_CASES)
def test_embedding_bag_matches_torch(kwargs, indices, offsets, dtype):
    theirs = torch.nn.EmbeddingBag(10, 3, **kwargs).to(_torch_dtype(dtype))
    ours = nn.EmbeddingBag(10, 3, **kwargs, dtype=dtype)
    assert repr(ours) == repr(theirs) and list(ours.state_dict()) == list(theirs.state_dict())
    copy_weights(ours, theirs)
    args = [] if offsets is None else [offsets]
    y = ours(em.tensor(indices), *map(em.tensor, args))
    ty = theirs(torch.tensor(indices), *map(torch.tensor, args))
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=TOL[dtype], atol=TOL[dtype])
    upstream = _data(*ty.shape, seed=4).astype(dtype)
    y.backward(em.tensor(upstream))
    ty.backward(torch.tensor(upstream))
    np.testing.assert_allclose(ours.weight.grad.numpy(), theirs.weight.grad.numpy(), rtol=TOL[dtype],
                               atol=TOL[dtype])


@pytest.mark.parametrize("offsets", [np.array([0, 3, 3, 7]), None])
def test_embedding_bag_per_sample_weights_match_torch(offsets):
    indices = INDICES[:10] if offsets is not None else INDICES[:10].reshape(2, 5)
    extra = [] if offsets is None else [offsets]
    check_op(lambda w, psw, idx, *o: F.embedding_bag(idx, w, *o, mode="sum", per_sample_weights=psw),
             lambda w, psw, idx, *o: TF.embedding_bag(idx, w, *o, mode="sum", per_sample_weights=psw),
             [_data(10, 3), _data(*indices.shape, seed=2), indices, *extra])


def test_embedding_bag_gradcheck_and_errors():
    w = em.tensor(_data(10, 3), requires_grad=True)
    psw = em.tensor(_data(8, seed=2), requires_grad=True)
    offsets = em.tensor([0, 3, 3])
    assert gradcheck(lambda a, b: F.embedding_bag(em.tensor(INDICES[:8]), a, offsets, mode="sum",
                                                  per_sample_weights=b), [w, psw])
    for mode in ("mean", "max"):
        assert gradcheck(lambda a, m=mode: F.embedding_bag(em.tensor(INDICES[:8]), a, offsets, mode=m), [w])
    with pytest.raises(NotImplementedError, match="only supported for mode='sum'"):
        F.embedding_bag(em.tensor(INDICES), w, em.tensor([0]), mode="mean", per_sample_weights=em.ones(11))
    with pytest.raises(ValueError, match="offsets has to be None"):
        F.embedding_bag(em.tensor(INDICES[:10].reshape(2, 5)), w, em.tensor([0, 1]))
    with pytest.raises(RuntimeError, match="offsets\\[0\\] has to be 0"):
        F.embedding_bag(em.tensor(INDICES), w, em.tensor([1, 3]))


def test_embedding_bag_from_pretrained_and_padding_init():
    table = _data(5, 2)
    bag = nn.EmbeddingBag.from_pretrained(em.tensor(table), mode="sum")
    assert not bag.weight.requires_grad
    np.testing.assert_allclose(bag(em.tensor([[0, 1]])).numpy(), table[:2].sum(0, keepdims=True))
    assert not nn.EmbeddingBag(6, 3, padding_idx=2).weight.detach().numpy()[2].any()


# -- Unflatten, ParameterList, ParameterDict, DataParallel ----------------------------------------------------
@pytest.mark.parametrize("dim,sizes,shape", [(1, (2, 5), (3, 10)), (-1, [2, -1], (3, 4, 6)), (0, (2, 2), (4, 3))])
def test_unflatten_matches_torch(dim, sizes, shape):
    ours, theirs = nn.Unflatten(dim, sizes), torch.nn.Unflatten(dim, sizes)
    assert repr(ours) == repr(theirs)
    check_module(ours, theirs, _data(*shape))
    with pytest.raises(TypeError, match="unflattened_size must be tuple of ints"):
        nn.Unflatten(1, (2, 2.5))


def _parameter_reprs(text):
    return text.replace("torch.", "ember.").replace("ember.FloatTensor", "ember.float32")


def test_parameter_list_registers_indexes_and_iterates_like_torch():
    arrays = [_data(3, 4), _data(2, seed=1), _data(5, seed=2)]
    ours = nn.ParameterList([nn.Parameter(em.tensor(a, dtype=em.float32)) for a in arrays[:2]])
    theirs = torch.nn.ParameterList([torch.nn.Parameter(torch.tensor(a, dtype=torch.float32)) for a in arrays[:2]])
    ours.append(em.tensor(arrays[2], dtype=em.float32))  # a plain tensor becomes a Parameter
    theirs.append(torch.tensor(arrays[2], dtype=torch.float32))
    assert isinstance(ours[2], nn.Parameter) and ours[2].requires_grad
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["0", "1", "2"]
    assert repr(ours) == _parameter_reprs(repr(theirs))
    assert len(ours) == 3 and ours[-1] is ours[2] and [p.shape for p in ours] == [(3, 4), (2,), (5,)]
    assert len(ours[1:]) == 2 and ours[1:][0] is ours[1]
    ours.load_state_dict({k: v.detach().numpy() * 2 for k, v in theirs.state_dict().items()})
    np.testing.assert_allclose(ours[0].detach().numpy(), arrays[0] * 2, rtol=1e-6)
    ours[0] = nn.Parameter(em.zeros(1))
    assert list(dict(ours.named_parameters())) == ["0", "1", "2"] and ours[0].shape == (1,)
    assert repr(nn.ParameterList()) == repr(torch.nn.ParameterList()) == "ParameterList()"
    with pytest.raises(IndexError, match="index 3 is out of range"):
        ours[3]


def test_parameter_containers_inside_a_module_and_an_optimizer():
    class Holder(nn.Module):
        def __init__(self, lib):
            super().__init__()
            self.scales = lib.ParameterList([lib.Parameter(lib.ones(2)) for _ in range(2)])
            self.extra = lib.ParameterDict({"b": lib.Parameter(lib.zeros(3)), "a": lib.Parameter(lib.ones(1))})

    ours = Holder(type("lib", (), {"ParameterList": nn.ParameterList, "ParameterDict": nn.ParameterDict,
                                   "Parameter": nn.Parameter, "ones": em.ones, "zeros": em.zeros}))
    theirs_names = ["scales.0", "scales.1", "extra.a", "extra.b"]
    assert [n for n, _ in ours.named_parameters()] == theirs_names
    optimizer = em.optim.SGD(ours.parameters(), lr=0.5)
    loss = ours.scales[0].sum() + ours.extra["b"].sum() * 2
    loss.backward()
    optimizer.step()
    np.testing.assert_allclose(ours.scales[0].detach().numpy(), [0.5, 0.5])
    np.testing.assert_allclose(ours.extra["b"].detach().numpy(), [-1.0, -1.0, -1.0])


def test_parameter_dict_keys_order_and_methods_match_torch():
    data = {"weight": _data(2, 2), "bias": _data(2, seed=1)}
    ours = nn.ParameterDict({k: nn.Parameter(em.tensor(v, dtype=em.float32)) for k, v in data.items()})
    theirs = torch.nn.ParameterDict({k: torch.nn.Parameter(torch.tensor(v, dtype=torch.float32))
                                     for k, v in data.items()})
    assert list(ours.keys()) == list(theirs.keys()) == ["bias", "weight"]  # a plain dict is sorted, as PyTorch
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert repr(ours) == _parameter_reprs(repr(theirs))
    ours["gain"] = em.ones(3)  # a tensor becomes a Parameter
    theirs["gain"] = torch.ones(3)
    assert isinstance(ours["gain"], nn.Parameter) and list(ours) == list(theirs)
    assert "gain" in ours and ours.get("missing") is None and len(ours) == 3
    popped = ours.pop("bias")
    theirs.pop("bias")
    assert popped.shape == (2,) and list(ours.state_dict()) == list(theirs.state_dict()) == ["weight", "gain"]
    ordered = nn.ParameterDict([("z", nn.Parameter(em.ones(1))), ("a", nn.Parameter(em.ones(1)))])
    assert list(ordered) == ["z", "a"]
    with pytest.raises(TypeError, match="not a string"):
        ordered[3] = nn.Parameter(em.ones(1))


def test_data_parallel_is_a_transparent_wrapper_with_torchs_keys():
    theirs = torch.nn.DataParallel(torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Tanh()).double())
    ours = nn.DataParallel(nn.Sequential(nn.Linear(4, 3), nn.Tanh()).double())
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["module.0.weight", "module.0.bias"]
    assert repr(ours) == repr(theirs)
    assert isinstance(ours.module, nn.Sequential) and ours.dim == 0
    check_module(ours, theirs, _data(5, 4))
    plain = nn.Sequential(nn.Linear(4, 3), nn.Tanh()).double()
    plain.load_state_dict({k.removeprefix("module."): v for k, v in ours.state_dict().items()})
    with em.no_grad():
        np.testing.assert_allclose(plain(em.tensor(_data(2, 4))).numpy(), ours(em.tensor(_data(2, 4))).numpy())


# -- dropout variants -----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["Dropout1d", "Dropout3d", "AlphaDropout", "FeatureAlphaDropout"])
def test_dropout_reprs_match_torch(name):
    assert repr(getattr(nn, name)()) == repr(getattr(torch.nn, name)())
    assert repr(getattr(nn, name)(0.2, True)) == repr(getattr(torch.nn, name)(0.2, True))


@pytest.mark.parametrize("name,shape,mask_axes", [("Dropout1d", (30, 40, 5), 2), ("Dropout1d", (600, 6), 1),
                                                   ("Dropout2d", (30, 40, 3, 3), 2),
                                                   ("Dropout3d", (20, 30, 2, 2, 2), 2),
                                                   ("Dropout3d", (600, 2, 2, 2), 1)])
def test_channel_dropout_zeroes_whole_channels(name, shape, mask_axes):
    y = getattr(nn, name)(0.4)(em.ones(*shape)).numpy()
    channels = y.reshape(shape[:mask_axes] + (-1,))
    assert np.all(channels.min(axis=-1) == channels.max(axis=-1))
    assert abs((channels[..., 0] == 0).mean() - 0.4) < 0.05
    np.testing.assert_allclose(channels[channels != 0], 1 / 0.6, rtol=1e-6)
    x = em.randn(*shape)
    np.testing.assert_array_equal(getattr(nn, name)(0.4).eval()(x).numpy(), x.numpy())


def test_dropout_rank_rules_follow_torch():
    with pytest.raises(RuntimeError, match="dropout1d: Expected 2D or 3D input, but received a 4D input"):
        nn.Dropout1d()(em.ones(2, 3, 4, 4))
    with pytest.warns(UserWarning, match="dropout2d: Received a 2-D input to dropout2d, which is deprecated"):
        y = nn.Dropout2d(0.5)(em.ones(40, 30)).numpy()
    assert set(np.unique(y)) == {0.0, 2.0} and 0.4 < (y == 0).mean() < 0.6  # the mask is (N, C): element-wise
    assert not np.all((y == 0).all(axis=1) | (y == 2).all(axis=1))
    with pytest.warns(UserWarning, match="dropout2d: Received a 3D input to dropout2d and assuming that channel-wise "
                                         "1D dropout behavior is desired"):
        y = F.dropout2d(em.ones(30, 40, 5)).numpy()
    assert np.all(y.min(axis=2) == y.max(axis=2)) and 0.4 < (y[..., 0] == 0).mean() < 0.6  # (N, C, L) channels
    with pytest.warns(UserWarning, match="dropout3d: Received a 3-D input to dropout3d, which is deprecated"):
        nn.Dropout3d()(em.ones(4, 3, 3))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nn.Dropout2d()(em.ones(2, 3, 4, 4))
        nn.Dropout3d()(em.ones(2, 3, 4, 4))


@pytest.mark.parametrize("feature", [False, True])
@pytest.mark.parametrize("p", [0.2, 0.5])
def test_alpha_dropout_keeps_mean_and_variance(p, feature):
    layer = (nn.FeatureAlphaDropout if feature else nn.AlphaDropout)(p)
    x = em.tensor(_data(400, 300, 2) if feature else _data(400, 600))
    y = layer(x).numpy()
    assert abs(y.mean()) < 0.02 and abs(y.std() - 1) < 0.02
    alpha = 1.7580993408473766
    a = 1 / np.sqrt((alpha**2 * p + 1) * (1 - p))
    dropped = np.isclose(y, a * alpha * (p - 1), rtol=0, atol=1e-12)
    assert abs(dropped.mean() - p) < 0.02
    np.testing.assert_allclose(y[~dropped], a * x.numpy()[~dropped] + a * alpha * p, rtol=1e-12)
    if feature:
        assert np.all(dropped.all(axis=2) | ~dropped.any(axis=2))
    np.testing.assert_array_equal(layer.eval()(x).numpy(), x.numpy())


def test_alpha_dropout_functional_defaults_and_gradient():
    x = em.tensor(_data(50, 20), requires_grad=True)
    assert F.alpha_dropout(x) is x  # training=False by default, as PyTorch
    y = F.alpha_dropout(x, 0.3, training=True)
    y.sum().backward()
    alpha = 1.7580993408473766
    a = 1 / np.sqrt((alpha**2 * 0.3 + 1) * 0.7)
    kept = ~np.isclose(y.detach().numpy(), a * alpha * (0.3 - 1), rtol=0, atol=1e-12)
    np.testing.assert_allclose(x.grad.numpy(), a * kept, rtol=1e-12)
    assert not F.alpha_dropout(em.ones(3), 1.0, training=True).numpy().any()


# -- the F namespace --------------------------------------------------------------------------------------
def test_functional_reexports_match_torch():
    labels = np.array([0, 2, 1, 2])
    np.testing.assert_array_equal(F.one_hot(em.tensor(labels), 4).numpy(), TF.one_hot(torch.tensor(labels), 4).numpy())
    check_op(lambda v: F.normalize(v, dim=1), lambda v: TF.normalize(v, dim=1), [_data(3, 4)])
    check_op(F.pairwise_distance, TF.pairwise_distance, [_data(3, 4), _data(3, 4, seed=1)])


@pytest.mark.parametrize("fn,shape", [(F.dropout1d, (4, 3, 5)), (F.dropout2d, (2, 3, 4, 4)),
                                      (F.dropout3d, (2, 3, 2, 2, 2)), (F.feature_alpha_dropout, (2, 3, 4)),
                                      (F.alpha_dropout, (3, 4))])
def test_dropout_with_p_one_gives_zeros(fn, shape):
    y = fn(em.ones(*shape), 1.0, training=True).numpy()
    assert y.shape == shape and not y.any()

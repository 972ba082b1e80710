"""F.interpolate, Upsample and pixel shuffle against PyTorch (values and gradients) and finite differences."""
import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import ember as em
import ember.nn.functional as F
from ember import nn
from ember.testing import gradcheck
from torch_parity import check_module, check_op

rng = np.random.default_rng(0)
DTYPES = [np.float32, np.float64]

# mode, align_corners, input shape, (size, scale_factor, recompute_scale_factor)
CASES = [
    ("nearest", None, (2, 3, 5, 6), ((7, 9), None, None)),
    ("nearest", None, (2, 3, 5, 6), ((3, 4), None, None)),
    ("nearest", None, (2, 3, 5, 6), (None, 2, None)),
    ("nearest", None, (2, 3, 5, 6), (None, (1.7, 0.6), None)),
    ("nearest", None, (1, 2, 7), (None, 2.5, None)),
    ("nearest", None, (1, 2, 3, 4, 5), ((5, 3, 8), None, None)),
    ("nearest-exact", None, (2, 3, 5, 6), ((8, 4), None, None)),
    ("nearest-exact", None, (2, 3, 5, 6), (None, 1.5, True)),
    ("nearest-exact", None, (1, 2, 7), ((12,), None, None)),
    ("linear", None, (2, 3, 7), (None, 1.5, None)),
    ("linear", True, (2, 3, 7), ((11,), None, None)),
    ("linear", False, (2, 3, 7), ((4,), None, None)),
    ("bilinear", None, (2, 3, 5, 6), (None, 2, None)),
    ("bilinear", False, (2, 3, 5, 6), ((3, 11), None, None)),
    ("bilinear", True, (2, 3, 5, 6), ((9, 4), None, None)),
    ("bilinear", False, (2, 3, 5, 6), (None, (1.7, 0.6), None)),
    ("bilinear", False, (2, 3, 5, 6), (None, (1.7, 0.6), True)),
    ("bilinear", True, (1, 1, 4, 4), ((1, 1), None, None)),
    ("bicubic", None, (2, 3, 5, 6), (None, 2, None)),
    ("bicubic", False, (2, 3, 5, 6), ((3, 11), None, None)),
    ("bicubic", True, (2, 3, 5, 6), ((9, 4), None, None)),
    ("bicubic", False, (1, 2, 6, 6), (None, 0.5, None)),
    ("trilinear", False, (1, 2, 3, 4, 5), ((5, 3, 8), None, None)),
    ("trilinear", True, (1, 2, 3, 4, 5), (None, 2, None)),
    ("area", None, (2, 3, 6, 8), ((3, 3), None, None)),
    ("area", None, (1, 2, 7), ((3,), None, None)),
    ("area", None, (1, 2, 4, 6, 6), ((2, 3, 4), None, None)),
]


def _args(case):
    mode, align_corners, _, (size, scale, recompute) = case
    return dict(size=size, scale_factor=scale, mode=mode, align_corners=align_corners,
                recompute_scale_factor=recompute)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[0]}-{c[1]}-{c[3]}")
def test_interpolate_matches_torch(case, dtype):
    kwargs = _args(case)
    x = rng.standard_normal(case[2])
    check_op(lambda t: F.interpolate(t, **kwargs), lambda t: TF.interpolate(t, **kwargs), [x], dtype=dtype)


@pytest.mark.parametrize("case", CASES[::2], ids=lambda c: f"{c[0]}-{c[1]}-{c[3]}")
def test_interpolate_gradcheck(case):
    kwargs = _args(case)
    x = em.tensor(rng.standard_normal(case[2]), requires_grad=True)
    assert gradcheck(lambda t: F.interpolate(t, **kwargs), [x])


def test_interpolate_errors_follow_torch():
    x = em.randn(1, 2, 4, 4)
    with pytest.raises(ValueError, match="only one of size or scale_factor"):
        F.interpolate(x, size=3, scale_factor=2)
    with pytest.raises(ValueError, match="either size or scale_factor"):
        F.interpolate(x)
    with pytest.raises(ValueError, match="align_corners"):
        F.interpolate(x, scale_factor=2, align_corners=True)
    with pytest.raises(ValueError, match="same number of spatial dimensions"):
        F.interpolate(x, size=(2, 3, 4))
    with pytest.raises(NotImplementedError, match="linear mode needs 3D"):
        F.interpolate(x, scale_factor=2, mode="linear")
    with pytest.raises(NotImplementedError, match="bicubic mode needs 4D"):
        F.interpolate(em.randn(1, 2, 4), scale_factor=2, mode="bicubic")
    with pytest.raises(NotImplementedError, match="mode"):
        F.interpolate(x, scale_factor=2, mode="lanczos")


@pytest.mark.parametrize("ours,theirs,shape", [
    (lambda: nn.Upsample(scale_factor=2), lambda: torch.nn.Upsample(scale_factor=2), (2, 3, 4, 5)),
    (lambda: nn.Upsample(size=(5, 7), mode="bilinear"), lambda: torch.nn.Upsample(size=(5, 7), mode="bilinear"),
     (2, 3, 4, 5)),
    (lambda: nn.Upsample(scale_factor=(2, 3), mode="bicubic", align_corners=True),
     lambda: torch.nn.Upsample(scale_factor=(2, 3), mode="bicubic", align_corners=True), (1, 2, 3, 4)),
    (lambda: nn.Upsample(scale_factor=1.5, mode="linear"), lambda: torch.nn.Upsample(scale_factor=1.5, mode="linear"),
     (2, 3, 6)),
    (lambda: nn.UpsamplingNearest2d(scale_factor=2), lambda: torch.nn.UpsamplingNearest2d(scale_factor=2),
     (2, 3, 4, 5)),
    (lambda: nn.UpsamplingBilinear2d(size=7), lambda: torch.nn.UpsamplingBilinear2d(size=7), (2, 3, 4, 5)),
    (lambda: nn.PixelShuffle(2), lambda: torch.nn.PixelShuffle(2), (2, 8, 3, 4)),
    (lambda: nn.PixelUnshuffle(2), lambda: torch.nn.PixelUnshuffle(2), (2, 3, 4, 6)),
])
def test_resampling_layers_match_torch(ours, theirs, shape):
    ours, theirs = ours(), theirs()
    assert repr(ours) == repr(theirs)
    check_module(ours, theirs, rng.standard_normal(shape))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,r", [((2, 8, 3, 4), 2), ((9, 2, 2), 3), ((2, 3, 4, 5, 6), 1), ((1, 2, 18, 2, 3), 3)])
def test_pixel_shuffle_matches_torch_and_unshuffle_inverts_it(shape, r, dtype):
    x = rng.standard_normal(shape)
    y = check_op(lambda t: F.pixel_shuffle(t, r), lambda t: TF.pixel_shuffle(t, r), [x], dtype=dtype)[0]
    check_op(lambda t: F.pixel_unshuffle(t, r), lambda t: TF.pixel_unshuffle(t, r), [y.detach().numpy()], dtype=dtype)
    np.testing.assert_array_equal(F.pixel_unshuffle(y, r).detach().numpy(), x.astype(dtype))


def test_pixel_shuffle_gradcheck_and_errors():
    assert gradcheck(lambda t: F.pixel_shuffle(t, 2), [em.randn(2, 8, 3, 2, dtype=em.float64, requires_grad=True)])
    assert gradcheck(lambda t: F.pixel_unshuffle(t, 2), [em.randn(2, 1, 4, 6, dtype=em.float64, requires_grad=True)])
    with pytest.raises(RuntimeError, match="divisible by the square"):
        F.pixel_shuffle(em.randn(1, 6, 2, 2), 2)
    with pytest.raises(RuntimeError, match="divisible by downscale_factor"):
        F.pixel_unshuffle(em.randn(1, 1, 3, 4), 2)
    with pytest.raises(RuntimeError, match="at least 3 dimensions"):
        F.pixel_shuffle(em.randn(4, 4), 2)

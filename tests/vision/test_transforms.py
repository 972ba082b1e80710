"""Augmentation transforms: seeding, identities at zero strength, known answers, references, vectorisation, errors."""
import numpy as np
import pytest
import scipy.ndimage as ndi
import torch

import ember as em
from ember.vision import transforms as T

RANDOM = {
    "hflip": lambda s: T.RandomHorizontalFlip(seed=s),
    "vflip": lambda s: T.RandomVerticalFlip(seed=s),
    "crop": lambda s: T.RandomCrop(12, padding=2, padding_mode="reflect", seed=s),
    "rotation": lambda s: T.RandomRotation(30, interpolation="bilinear", seed=s),
    "affine": lambda s: T.RandomAffine(15, translate=(0.1, 0.2), scale=(0.8, 1.2), shear=(-5, 5, -3, 3), seed=s),
    "elastic": lambda s: T.ElasticTransform(alpha=20.0, sigma=3.0, seed=s),
    "channel_shift": lambda s: T.RandomChannelShift((0.1, 0.2, 0.3), p=0.7, seed=s),
    "pca": lambda s: T.PCAColorAugmentation(0.5, seed=s),
    "erasing": lambda s: T.RandomErasing(p=0.8, value="random", seed=s),
}


def _batch(N=6, C=3, H=16, W=16, dtype=np.float64, seed=0):
    return np.random.default_rng(seed).random((N, C, H, W)).astype(dtype)


def _row(params, i):
    return {k: v[i:i + 1] for k, v in params.items()}


# -- seeding and the calling convention ----------------------------------------------------------
@pytest.mark.parametrize("name", RANDOM)
def test_same_seed_same_output_different_seeds_differ(name):
    x = _batch()
    a, b, c = RANDOM[name](0), RANDOM[name](0), RANDOM[name](1)
    first, second = a(x), a(x)
    assert np.array_equal(first, b(x)) and np.array_equal(second, b(x))  # call after call
    assert not np.array_equal(first, c(x))
    assert not np.array_equal(first, second)  # a fresh draw each call
    assert np.array_equal(RANDOM[name](None)(x, rng=5), RANDOM[name](7)(x, rng=np.random.default_rng(5)))


@pytest.mark.parametrize("name", RANDOM)
def test_global_generator_when_unseeded(name):
    x = _batch()
    em.manual_seed(3)
    first = RANDOM[name](None)(x)
    em.manual_seed(3)
    assert np.array_equal(first, RANDOM[name](None)(x))


def test_compose_is_deterministic_under_a_seed():
    x = _batch()

    def pipeline(seed):
        return T.Compose([T.RandomCrop(14, padding=1), T.RandomHorizontalFlip(), T.RandomRotation(10),
                          T.RandomChannelShift(0.1), T.RandomErasing(), T.Normalize(0.5, 0.25)], seed=seed)

    a, b = pipeline(0), pipeline(0)
    for _ in range(2):
        assert np.array_equal(a(x), b(x))
    assert not np.array_equal(pipeline(0)(x), pipeline(1)(x))
    assert "RandomCrop" in repr(a) and "Normalize" in repr(a)


def test_compose_passes_one_generator_down():
    x = _batch()
    flip, shift = T.RandomHorizontalFlip(seed=9), T.RandomChannelShift(0.2, seed=9)  # own seeds are bypassed
    rng = np.random.default_rng(4)
    expected = T.RandomChannelShift(0.2)(T.RandomHorizontalFlip()(x, rng), rng)
    assert np.array_equal(T.Compose([flip, shift])(x, rng=4), expected)


@pytest.mark.parametrize("name", RANDOM)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_shapes_and_dtypes_kept_for_batches_images_and_tensors(name, dtype):
    x = _batch(dtype=dtype)
    t = RANDOM[name](0)
    size = (12, 12) if name == "crop" else (16, 16)
    y = t(x)
    assert y.shape == (6, 3, *size) and y.dtype == dtype and isinstance(y, np.ndarray)
    image = t(x[0])
    assert image.shape == (3, *size) and image.dtype == dtype
    out = t(em.tensor(x))
    assert isinstance(out, em.Tensor) and out.shape == (6, 3, *size) and out.dtype == dtype


def test_tensor_and_array_give_the_same_values():
    x = _batch()
    assert np.array_equal(T.RandomRotation(20, seed=0)(em.tensor(x)).numpy(), T.RandomRotation(20, seed=0)(x))


# -- identities ----------------------------------------------------------------------------------
ZERO_STRENGTH = [
    T.RandomHorizontalFlip(p=0), T.RandomVerticalFlip(p=0),
    T.RandomRotation(0), T.RandomRotation(0, interpolation="bilinear", fill=5),
    T.RandomAffine(0), T.RandomAffine((0, 0), translate=(0, 0), scale=(1, 1), shear=0, interpolation="bilinear"),
    T.ElasticTransform(alpha=0.0, sigma=2.0), T.RandomChannelShift(0.0), T.RandomChannelShift(0.5, p=0),
    T.PCAColorAugmentation(std=0.0), T.RandomErasing(p=0), T.RandomApply([T.RandomRotation(40)], p=0),
    T.RandomCrop(16),
]


@pytest.mark.parametrize("t", ZERO_STRENGTH, ids=repr)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_zero_strength_is_the_identity(t, dtype):
    x = _batch(dtype=dtype) * 10 - 5
    y = t(x, rng=0)
    assert y.dtype == dtype and np.array_equal(y, x)


# -- flips and crops -----------------------------------------------------------------------------
@pytest.mark.parametrize("cls, axis", [(T.RandomHorizontalFlip, -1), (T.RandomVerticalFlip, -2)])
def test_flips_equal_np_flip_for_the_chosen_images(cls, axis):
    x = _batch(N=16)
    t = cls(p=0.5)
    params = t.get_params(x, np.random.default_rng(0))
    chosen = params["flip"]
    assert 0 < chosen.sum() < 16
    y = t.apply(x, params)
    assert np.array_equal(y[chosen], np.flip(x[chosen], axis)) and np.array_equal(y[~chosen], x[~chosen])
    assert np.array_equal(cls(p=1.0)(x), np.flip(x, axis))


@pytest.mark.parametrize("padding, pads", [(2, ((2, 2), (2, 2))), ((1, 3), ((3, 3), (1, 1))),
                                           ((1, 2, 3, 4), ((2, 4), (1, 3)))])
@pytest.mark.parametrize("mode", ["constant", "edge", "reflect", "symmetric"])
def test_crop_with_padding_equals_the_slice_of_the_padded_image(padding, pads, mode):
    x = _batch(N=8, H=10, W=12)
    t = T.RandomCrop((9, 11), padding=padding, fill=0.25, padding_mode=mode)
    params = t.get_params(x, np.random.default_rng(1))
    y = t.apply(x, params)
    extra = {"constant_values": 0.25} if mode == "constant" else {}
    padded = np.pad(x, ((0, 0), (0, 0), *pads), mode=mode, **extra)
    for n, (i, j) in enumerate(zip(params["top"], params["left"], strict=True)):
        assert np.array_equal(y[n], padded[n, :, i:i + 9, j:j + 11])
    assert len(set(params["top"])) > 1 and len(set(params["left"])) > 1


def test_crop_offsets_cover_the_range_and_fill_per_channel():
    x = _batch(N=200, H=6, W=6)
    t = T.RandomCrop(6, padding=2, fill=(1.0, 2.0, 3.0))
    params = t.get_params(x, np.random.default_rng(0))
    assert set(params["top"]) == set(range(5)) and set(params["left"]) == set(range(5))
    corner = t.apply(x[:1], {"top": np.array([0]), "left": np.array([0])})
    assert np.array_equal(corner[0, :, 0, 0], [1.0, 2.0, 3.0]) and np.array_equal(corner[0, :, 2:, 2:], x[0, :, :4, :4])


def test_crop_pad_if_needed_pads_both_sides_by_the_shortfall():
    x = _batch(N=3, H=5, W=8)
    t = T.RandomCrop((7, 8), pad_if_needed=True)
    assert t.pad(x).shape == (3, 3, 9, 8)
    assert np.array_equal(t.pad(x)[:, :, 2:7], x)
    assert t(x, rng=0).shape == (3, 3, 7, 8)


# -- warps ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("angle, k", [(90, 1), (-90, -1), (180, 2)])
@pytest.mark.parametrize("mode", ["nearest", "bilinear"])
def test_rotation_by_quarter_turns_equals_rot90(angle, k, mode):
    x = _batch(N=2, H=9, W=9)
    y = T.RandomRotation((angle, angle), interpolation=mode)(x, rng=0)
    expected = np.rot90(x, k, axes=(-2, -1))
    if mode == "nearest":
        assert np.array_equal(y, expected)
    else:
        np.testing.assert_allclose(y[..., 1:-1, 1:-1], expected[..., 1:-1, 1:-1], atol=1e-12)


def test_positive_angle_turns_counter_clockwise():
    image = np.zeros((1, 1, 9, 9))
    image[0, 0, 4, 6:] = 1  # a bar pointing right from the centre
    y = T.RandomRotation((90, 90))(image, rng=0)
    assert y[0, 0, :3, 4].all() and y.sum() == 3  # now points up


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_small_rotation_of_a_constant_image_stays_constant_inside(dtype):
    x = np.full((4, 3, 32, 32), 0.7, dtype)
    y = T.RandomRotation((2, 6), interpolation="bilinear", seed=0)(x)
    np.testing.assert_allclose(y[..., 4:-4, 4:-4], 0.7, rtol=1e-6)
    assert (y[..., 0, :] < 0.7).any()  # the corners read the zero fill


def test_affine_translation_is_a_shift_with_fill():
    x = _batch(N=1, H=8, W=8)
    t = T.RandomAffine(0, fill=-1.0)
    params = {"angle": np.zeros(1), "translate": np.array([[2.0, 1.0]]), "scale": np.ones(1), "shear": np.zeros((1, 2))}
    y = t.apply(x, params)
    assert np.array_equal(y[:, :, 1:, 2:], x[:, :, :-1, :-2])
    assert (y[:, :, 0] == -1).all() and (y[:, :, :, :2] == -1).all()


def test_inverse_affine_matrix_inverts_the_forward_map():
    rng = np.random.default_rng(0)
    N = 5
    angle, t, s, shear = rng.uniform(-90, 90, N), rng.normal(0, 3, (N, 2)), rng.uniform(0.5, 2, N), \
        rng.uniform(-30, 30, (N, 2))
    c = np.array([3.5, 2.0])
    M = T.inverse_affine_matrix(angle, t, s, shear, c)
    for n in range(N):
        th, (kx, ky) = np.deg2rad(angle[n]), np.tan(np.deg2rad(shear[n]))
        R = np.array([[np.cos(th), np.sin(th)], [-np.sin(th), np.cos(th)]])
        A = s[n] * R @ np.array([[1, 0], [ky, 1]]) @ np.array([[1, kx], [0, 1]])
        p_in = rng.normal(size=2)
        p_out = A @ (p_in - c) + c + t[n]
        np.testing.assert_allclose(M[n, :, :2] @ p_out + M[n, :, 2], p_in, atol=1e-12)


def test_positive_x_shear_moves_lower_rows_right():
    image = np.zeros((1, 1, 11, 11))
    image[0, 0, :, 5] = 1  # a vertical line through the centre
    params = {"angle": np.zeros(1), "translate": np.zeros((1, 2)), "scale": np.ones(1),
              "shear": np.array([[45.0, 0.0]])}
    y = T.RandomAffine(0).apply(image, params)[0, 0]
    assert y[10, 10] == 1 and y[0, 0] == 1 and y[5, 5] == 1 and y.sum() == 11


@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_grid_sample_matches_pytorch(mode, dtype):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 2, 7, 9)).astype(dtype)
    grid = np.stack([rng.uniform(-2, 10, (3, 5, 6)), rng.uniform(-2, 8, (3, 5, 6))], 1)
    y = T.grid_sample(x, grid, mode)
    normalised = np.stack([2 * grid[:, 0] / 8 - 1, 2 * grid[:, 1] / 6 - 1], -1)
    expected = torch.nn.functional.grid_sample(torch.from_numpy(x), torch.from_numpy(normalised.astype(dtype)),
                                               mode=mode, padding_mode="zeros", align_corners=True).numpy()
    assert y.dtype == dtype
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5 if dtype == np.float32 else 1e-12)


def test_grid_sample_fill_is_the_weight_outside_times_fill():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 3, 5, 5))
    grid = rng.uniform(-1.5, 5.5, (2, 2, 4, 4))
    outside = 1 - T.grid_sample(np.ones_like(x), grid)
    fill = np.array([1.0, -2.0, 3.0])
    np.testing.assert_allclose(T.grid_sample(x, grid, fill=fill),
                               T.grid_sample(x, grid) + outside * fill[None, :, None, None], atol=1e-12)


def test_gaussian_blur_matches_scipy():
    noise = np.random.default_rng(0).uniform(-1, 1, (2, 2, 13, 17))
    for sigma in (0.7, 2.0, 5.0):
        expected = ndi.gaussian_filter(noise, sigma, mode="reflect", truncate=4.0, axes=(2, 3))
        np.testing.assert_allclose(T.gaussian_blur(noise, sigma), expected, atol=1e-12)


def test_elastic_field_is_alpha_times_the_smoothed_noise_and_nearest_only_moves_pixels():
    x = _batch(N=3, H=20, W=20)
    t = T.ElasticTransform(alpha=8.0, sigma=2.0, interpolation="nearest", fill=-1)
    params = t.get_params(x, np.random.default_rng(0))
    noise = np.random.default_rng(0).uniform(-1, 1, (3, 2, 20, 20))
    np.testing.assert_allclose(params["displacement"], 8.0 * ndi.gaussian_filter(noise, 2.0, axes=(2, 3)), atol=1e-12)
    y = t.apply(x, params)
    assert np.isin(y, np.append(x, -1)).all() and not np.array_equal(y, x)


# -- colour --------------------------------------------------------------------------------------
def test_channel_shift_adds_one_bounded_offset_per_image_and_channel():
    x = _batch(N=50)
    y = T.RandomChannelShift((0.0, 0.1, 0.3), seed=0)(x)
    shift = y - x
    np.testing.assert_allclose(shift, shift[..., :1, :1] * np.ones_like(x), atol=1e-15)
    offsets = shift[:, :, 0, 0]
    assert (offsets[:, 0] == 0).all() and np.abs(offsets[:, 1]).max() <= 0.1 and np.abs(offsets[:, 2]).max() <= 0.3
    assert np.abs(offsets[:, 2]).max() > 0.2 and len(np.unique(offsets[:, 1])) == 50


def test_pca_basis_is_the_eigendecomposition_of_the_colour_covariance():
    x = _batch(N=4) @ np.eye(16)
    x[:, 1] += 0.5 * x[:, 0]
    eigvals, eigvecs = T.pca_color_basis(x)
    cov = np.cov(x.transpose(1, 0, 2, 3).reshape(3, -1))
    np.testing.assert_allclose(eigvecs @ np.diag(eigvals) @ eigvecs.T, cov, atol=1e-12)
    np.testing.assert_allclose(eigvecs.T @ eigvecs, np.eye(3), atol=1e-12)
    assert (np.diff(eigvals) <= 0).all()
    fitted = T.PCAColorAugmentation.fit(x, std=0.2)
    np.testing.assert_allclose(fitted.eigvals, eigvals) and np.testing.assert_allclose(fitted.eigvecs, eigvecs)


def test_pca_shift_is_sum_alpha_lambda_p_and_lies_in_the_span():
    x = _batch(N=5)
    q = np.linalg.qr(np.random.default_rng(2).normal(size=(3, 3)))[0]
    t = T.PCAColorAugmentation(std=0.3, eigvals=[0.5, 0.2], eigvecs=q[:, :2])
    params = t.get_params(x, np.random.default_rng(0))
    shift = t.apply(x, params) - x
    for n in range(5):
        expected = sum(params["alpha"][n, k] * [0.5, 0.2][k] * q[:, k] for k in range(2))
        np.testing.assert_allclose(shift[n], expected[:, None, None] * np.ones((3, 16, 16)), atol=1e-14)
    np.testing.assert_allclose(np.einsum("nchw,c->nhw", shift, q[:, 2]), 0, atol=1e-14)
    assert np.abs(shift).max() > 1e-3


# -- erasing -------------------------------------------------------------------------------------
def test_erasing_rectangles_follow_scale_ratio_and_p():
    H = W = 40
    x = _batch(N=400, H=H, W=W) + 1  # nothing is 0 before erasing
    t = T.RandomErasing(p=0.5, scale=(0.05, 0.2), ratio=(0.5, 2.0))
    params = t.get_params(x, np.random.default_rng(0))
    y = t.apply(x, params)
    erased = (y == 0).all(1)  # (N, H, W)
    hit = erased.any((1, 2))
    assert np.array_equal(hit, params["erase"]) and 0.4 < hit.mean() < 0.6
    h, w = params["h"][hit], params["w"][hit]
    assert np.array_equal(erased[hit].sum((1, 2)), h * w)
    rows, cols = erased[hit].any(2), erased[hit].any(1)  # a solid h × w rectangle
    assert np.array_equal(rows.sum(1), h) and np.array_equal(cols.sum(1), w)
    slack = (h + w) / 2 + 1  # from rounding h and w
    assert (h * w >= 0.05 * H * W - slack).all() and (h * w <= 0.2 * H * W + slack).all()
    assert ((h - 0.5) / (w + 0.5) <= 2.0).all() and ((h + 0.5) / (w - 0.5) >= 0.5).all()
    assert np.array_equal(y[~erased[:, None].repeat(3, 1)], x[~erased[:, None].repeat(3, 1)])


def test_erasing_without_a_valid_attempt_leaves_the_image_and_values_per_channel():
    x = _batch(N=5)
    assert np.array_equal(T.RandomErasing(p=1, scale=(1, 1), ratio=(1, 1))(x, rng=0), x)  # h = H is never valid
    y = T.RandomErasing(p=1, scale=(0.2, 0.2), ratio=(1, 1), value=(7, 8, 9))(x, rng=0)
    changed = y != x
    assert changed.any() and np.array_equal(np.unique(y[changed]), [7, 8, 9])


# -- conversion and normalisation ----------------------------------------------------------------
def test_normalize_matches_the_formula():
    x = _batch(dtype=np.float32)
    mean, std = (0.1, 0.2, 0.3), (0.5, 0.25, 2.0)
    y = T.Normalize(mean, std)(x)
    expected = (x - np.float32(mean)[:, None, None]) / np.float32(std)[:, None, None]
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, expected, rtol=1e-6)


def test_to_float_scales_integers_and_moves_channels():
    photo = np.random.default_rng(0).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    y = T.ToFloat(channels_last=True)(photo)
    assert y.shape == (3, 5, 7) and y.dtype == np.float32
    np.testing.assert_allclose(y, photo.transpose(2, 0, 1) / np.float32(255))
    assert T.ToFloat(np.float64)(photo.astype(np.float32)).dtype == np.float64


def test_integer_batches_flip_and_crop_but_must_be_converted_to_warp():
    x = np.arange(2 * 3 * 4 * 4, dtype=np.uint8).reshape(2, 3, 4, 4)
    assert T.RandomHorizontalFlip(p=1)(x).dtype == np.uint8 and T.RandomCrop(3)(x, rng=0).dtype == np.uint8
    with pytest.raises(TypeError, match="RandomRotation: expected a floating-point batch, got dtype uint8"):
        T.RandomRotation(10)(x)


def test_random_apply_is_per_image_and_needs_the_same_shape():
    x = _batch(N=20)
    y = T.RandomApply([T.RandomChannelShift(0.5)], p=0.5, seed=0)(x)
    changed = (y != x).any((1, 2, 3))
    assert 0 < changed.sum() < 20
    with pytest.raises(ValueError, match="RandomApply: the transforms changed the batch shape"):
        T.RandomApply(T.RandomCrop(8), p=1)(x)


# -- vectorisation: the batch equals image by image with the same draws -------------------------
@pytest.mark.parametrize("name", RANDOM)
def test_batch_equals_image_by_image_with_the_same_draws(name):
    x = _batch(N=5)
    t = RANDOM[name](0)
    params = t.get_params(x, np.random.default_rng(0))
    y = t.apply(x, params)
    for i in range(len(x)):
        np.testing.assert_array_equal(t.apply(x[i:i + 1], _row(params, i))[0], y[i])


# -- errors --------------------------------------------------------------------------------------
@pytest.mark.parametrize("make, error, message", [
    (lambda: T.RandomHorizontalFlip(p=-0.1), ValueError, r"RandomHorizontalFlip: p must be a probability in \[0, 1\]"),
    (lambda: T.RandomErasing(p=1.5), ValueError, "RandomErasing: p must be"),
    (lambda: T.RandomRotation(-5), ValueError, "RandomRotation: degrees must be non-negative"),
    (lambda: T.RandomRotation(5, interpolation="cubic"), ValueError, "RandomRotation: interpolation must be one of"),
    (lambda: T.RandomCrop(0), ValueError, "RandomCrop: size must be a positive int"),
    (lambda: T.RandomCrop(4, padding_mode="wrap"), ValueError, "RandomCrop: padding_mode must be one of"),
    (lambda: T.RandomCrop(4, padding=(1, 2, 3)), ValueError, "RandomCrop: padding must be"),
    (lambda: T.RandomAffine(0, translate=(0.5, 2)), ValueError, "RandomAffine: translate must be"),
    (lambda: T.RandomAffine(0, scale=(0, 1)), ValueError, "RandomAffine: scale values must be positive"),
    (lambda: T.ElasticTransform(sigma=0), ValueError, "ElasticTransform: need alpha ≥ 0 and sigma > 0"),
    (lambda: T.Normalize((0.5,), (0.0,)), ValueError, "Normalize: std must be non-zero"),
    (lambda: T.PCAColorAugmentation(eigvals=[1.0]), ValueError, "PCAColorAugmentation: give both"),
    (lambda: T.RandomErasing(scale=(0.5, 0.1)), ValueError, "RandomErasing: scale must be a pair"),
])
def test_bad_arguments_name_the_transform(make, error, message):
    with pytest.raises(error, match=message):
        make()


@pytest.mark.parametrize("t, x, message", [
    (T.RandomCrop(20), _batch(), r"RandomCrop: crop size \(20, 20\) is larger than the image \(16, 16\)"),
    (T.RandomCrop(24, padding=2), _batch(), r"larger than the padded image \(20, 20\)"),
    (T.Normalize((0.5, 0.5), (1, 1)), _batch(), "Normalize: mean has 2 and std 2 values but the batch has 3 channels"),
    (T.RandomChannelShift((0.1, 0.2)), _batch(), "RandomChannelShift: max_shift has 2 values but the batch has 3"),
    (T.RandomRotation(5, fill=(1, 2)), _batch(), "RandomRotation: fill has 2 values but the batch has 3 channels"),
    (T.PCAColorAugmentation(eigvals=[1], eigvecs=[[1], [0]]), _batch(), "eigvecs have 2 rows but the batch has 3"),
    (T.RandomHorizontalFlip(), np.zeros((4, 4)), r"RandomHorizontalFlip: expected an \(N, C, H, W\) batch or a "
                                                  r"\(C, H, W\) image, got shape \(4, 4\)"),
])
def test_bad_inputs_name_the_transform_and_shape(t, x, message):
    with pytest.raises(ValueError, match=message):
        t(x, rng=0)

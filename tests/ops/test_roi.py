"""RoIPool and RoIAlign against a literal loop transcription of torchvision's CPU kernels, finite
differences and hand-made known answers (torchvision itself is not an available oracle)."""
import math

import numpy as np
import pytest

import ember as em
from ember.ops.roi import roi_align, roi_pool
from ember.testing import gradcheck, gradgradcheck
from torch_parity import assert_close

rng = np.random.default_rng(0)
FLT_MAX = float(np.finfo(np.float32).max)


# -- the references: torchvision's roi_pool_kernel.cpp and roi_align_kernel.cpp, loop for loop ----------------


def c_round(v):
    return int(math.copysign(math.floor(abs(float(v)) + 0.5), float(v)))


def ref_roi_pool(x, rois, out, scale, gy):
    """Output and input gradient (for upstream gy) of torchvision's RoIPool."""
    T = x.dtype.type
    N, C, H, W = x.shape
    oh, ow = out
    y, gx = np.zeros((len(rois), C, oh, ow), x.dtype), np.zeros_like(x)
    for n, r in enumerate(rois):
        b = int(r[0])
        sw, sh, ew, eh = (c_round(T(v) * T(scale)) for v in r[1:])
        bin_h, bin_w = T(max(eh - sh + 1, 1)) / T(oh), T(max(ew - sw + 1, 1)) / T(ow)
        for ph in range(oh):
            for pw in range(ow):
                hs = min(max(int(math.floor(T(ph) * bin_h)) + sh, 0), H)
                he = min(max(int(math.ceil(T(ph + 1) * bin_h)) + sh, 0), H)
                ws = min(max(int(math.floor(T(pw) * bin_w)) + sw, 0), W)
                we = min(max(int(math.ceil(T(pw + 1) * bin_w)) + sw, 0), W)
                empty = he <= hs or we <= ws
                for c in range(C):
                    best, arg = (0.0 if empty else -FLT_MAX), None
                    for h in range(hs, he):
                        for w in range(ws, we):
                            if x[b, c, h, w] > best:
                                best, arg = x[b, c, h, w], (h, w)
                    y[n, c, ph, pw] = best
                    if arg is not None:
                        gx[b, c, arg[0], arg[1]] += gy[n, c, ph, pw]
    return y, gx


def bilinear(H, W, y, x):
    """torchvision's bilinear_interpolate(_gradient): [(row, col, weight)] of one sample, [] if off the map."""
    if y < -1.0 or y > H or x < -1.0 or x > W:
        return []
    y, x = max(y, 0), max(x, 0)
    y_low, x_low = int(y), int(x)
    if y_low >= H - 1:
        y_high = y_low = H - 1
        y = y_low
    else:
        y_high = y_low + 1
    if x_low >= W - 1:
        x_high = x_low = W - 1
        x = x_low
    else:
        x_high = x_low + 1
    ly, lx = y - y_low, x - x_low
    hy, hx = 1 - ly, 1 - lx
    return [(y_low, x_low, hy * hx), (y_low, x_high, hy * lx), (y_high, x_low, ly * hx), (y_high, x_high, ly * lx)]


def ref_roi_align(x, rois, out, scale, sampling_ratio, aligned, gy):
    """Output and input gradient (for upstream gy) of torchvision's RoIAlign."""
    T = x.dtype.type
    N, C, H, W = x.shape
    oh, ow = out
    y, gx = np.zeros((len(rois), C, oh, ow), x.dtype), np.zeros_like(x)
    for n, r in enumerate(rois):
        b = int(r[0])
        offset = T(0.5) if aligned else T(0)
        sw, sh, ew, eh = (T(v) * T(scale) - offset for v in r[1:])
        rw, rh = ew - sw, eh - sh
        if not aligned:
            rw, rh = max(rw, T(1)), max(rh, T(1))
        bin_h, bin_w = rh / T(oh), rw / T(ow)
        gh = sampling_ratio if sampling_ratio > 0 else int(math.ceil(rh / T(oh)))
        gw = sampling_ratio if sampling_ratio > 0 else int(math.ceil(rw / T(ow)))
        count = max(gh * gw, 1)
        for ph in range(oh):
            for pw in range(ow):
                for iy in range(gh):
                    yy = sh + T(ph) * bin_h + T(iy + 0.5) * bin_h / T(gh)
                    for ix in range(gw):
                        xx = sw + T(pw) * bin_w + T(ix + 0.5) * bin_w / T(gw)
                        for row, col, w in bilinear(H, W, yy, xx):
                            y[n, :, ph, pw] += w * x[b, :, row, col] / count
                            gx[b, :, row, col] += w * gy[n, :, ph, pw] / count
    return y, gx


# -- inputs -------------------------------------------------------------------------------------------------


def random_rois(K, N, H, W, scale=1.0):
    """Boxes in input coordinates: partly outside the map, tiny (< 1 pixel), large and reversed ones."""
    x1 = rng.uniform(-3, W + 1, K) / scale
    y1 = rng.uniform(-3, H + 1, K) / scale
    w = rng.choice([rng.uniform(0.05, 0.9), rng.uniform(1, W), rng.uniform(W, 2 * W), -rng.uniform(0.1, 2)], K) / scale
    h = rng.uniform(-0.5, H, K) / scale
    return np.stack([rng.integers(0, N, K), x1, y1, x1 + w, y1 + h], axis=1)


def distinct(shape):
    return (rng.permutation(int(np.prod(shape))).reshape(shape) * 0.37 - 5.0).astype(np.float64)


CASES = [  # (N, C, H, W), K, output_size, spatial_scale
    ((2, 3, 9, 11), 12, (3, 3), 1.0),
    ((1, 2, 8, 8), 10, 2, 0.5),
    ((3, 2, 7, 10), 12, (4, 2), 1.0),
    ((2, 1, 12, 6), 8, (1, 5), 0.25),
]


def run(op, x, rois, *args):
    xt = em.tensor(x, requires_grad=True)
    y = op(xt, em.tensor(rois), *args)
    gy = rng.standard_normal(y.shape).astype(x.dtype)
    y.backward(em.tensor(gy))
    return y, xt.grad, gy


# -- RoIPool ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape,K,out,scale", CASES)
def test_roi_pool_matches_the_loop_reference(shape, K, out, scale, dtype):
    x = distinct(shape).astype(dtype)
    rois = random_rois(K, shape[0], *shape[2:], scale).astype(dtype)
    y, gx, gy = run(roi_pool, x, rois, out, scale)
    size = out if isinstance(out, tuple) else (out, out)
    ry, rgx = ref_roi_pool(x, rois, size, scale, gy)
    assert_close(y, ry, name="output")
    assert_close(gx, rgx, name="input gradient")


def test_roi_pool_sends_ties_to_the_first_maximum():
    x = np.maximum(rng.integers(-1, 2, size=(1, 2, 6, 6)), 0).astype(np.float64)
    rois = random_rois(6, 1, 6, 6)
    y, gx, gy = run(roi_pool, x, rois, 2)
    ry, rgx = ref_roi_pool(x, rois, (2, 2), 1.0, gy)
    assert_close(y, ry)
    assert_close(gx, rgx)


def test_roi_pool_on_an_arange_image():
    x = em.arange(36, dtype=em.float32).reshape(1, 1, 6, 6)
    y = roi_pool(x, em.tensor([[0.0, 0, 0, 5, 5], [0, 0, 0, 2, 1]]), 2)
    # RoI 0: bins of 3 × 3 pixels; RoI 1: 2 rows × 3 columns, bins ⌊·⌋/⌈·⌉ → columns [0, 2), [1, 3)
    np.testing.assert_array_equal(y.numpy()[0, 0], [[14, 17], [32, 35]])
    np.testing.assert_array_equal(y.numpy()[1, 0], [[1, 2], [7, 8]])


def test_roi_pool_rounds_halves_away_from_zero():
    x = em.arange(36, dtype=em.float64).reshape(1, 1, 6, 6)
    # C's round: 0.5 → 1 and 2.5 → 3 (NumPy's round would give 0 and 2, a max of 14)
    y = roi_pool(x, em.tensor([[0.0, 0.5, 0.5, 2.5, 2.5]]), 1)
    assert y.item() == 21.0


def test_roi_pool_empty_bins_give_zero_and_no_gradient():
    x = em.tensor(distinct((1, 2, 5, 5)), requires_grad=True)
    y = roi_pool(x, em.tensor([[0.0, 7, 7, 9, 9], [0, -6, 0, -3, 4]]), 3)
    y.sum().backward()
    assert not y.detach().numpy().any() and not x.grad.numpy().any()


def test_roi_pool_bins_of_minus_infinity_give_minus_flt_max_as_torchvision():
    # torchvision's running maximum starts at −FLT_MAX and keeps only strictly greater values
    x = distinct((1, 1, 4, 4))
    x[0, 0, :2, :2] = -np.inf
    y, gx, gy = run(roi_pool, x, np.array([[0.0, 0, 0, 3, 3]]), 2)
    ry, rgx = ref_roi_pool(x, np.array([[0.0, 0, 0, 3, 3]]), (2, 2), 1.0, gy)
    assert y.detach().numpy()[0, 0, 0, 0] == -FLT_MAX
    assert_close(y, ry)
    assert_close(gx, rgx)


def test_roi_pool_gradcheck():
    x = em.tensor(distinct((2, 2, 7, 8)), requires_grad=True)
    rois = em.tensor([[0.0, 1, 1, 6, 5], [1, -2, 2, 4, 9], [1, 3.4, 0.2, 3.6, 0.7]])
    assert gradcheck(lambda t: roi_pool(t, rois, (3, 2), 1.0), [x])


# -- RoIAlign -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("aligned", [False, True])
@pytest.mark.parametrize("sampling_ratio", [0, 2, -1])
@pytest.mark.parametrize("shape,K,out,scale", CASES)
def test_roi_align_matches_the_loop_reference(shape, K, out, scale, sampling_ratio, aligned):
    x = rng.standard_normal(shape)
    rois = random_rois(K, shape[0], *shape[2:], scale)
    y, gx, gy = run(roi_align, x, rois, out, scale, sampling_ratio, aligned)
    size = out if isinstance(out, tuple) else (out, out)
    ry, rgx = ref_roi_align(x, rois, size, scale, sampling_ratio, aligned, gy)
    assert_close(y, ry, name="output")
    assert_close(gx, rgx, name="input gradient")


@pytest.mark.parametrize("aligned", [False, True])
def test_roi_align_float32_matches_the_reference(aligned):
    x = rng.standard_normal((2, 3, 9, 10)).astype(np.float32)
    rois = random_rois(10, 2, 9, 10).astype(np.float32)
    y, gx, gy = run(roi_align, x, rois, (3, 4), 1.0, 0, aligned)
    ry, rgx = ref_roi_align(x, rois, (3, 4), 1.0, 0, aligned, gy)
    assert y.dtype == np.float32 and gx.dtype == np.float32
    assert_close(y, ry, rtol=1e-4, atol=1e-5)
    assert_close(gx, rgx, rtol=1e-4, atol=1e-5)


def test_roi_align_reproduces_a_linear_ramp_at_bin_centres():
    # bilinear interpolation is exact on f(y, x) = 2y + 3x + 1, and each bin's samples are symmetric
    # about its centre: the output is f at the bin centres (shifted by −½ with aligned=True)
    yy, xx = np.mgrid[0:10, 0:10]
    x = em.tensor((2 * yy + 3 * xx + 1)[None, None].astype(np.float64))
    box = em.tensor([[0.0, 2, 3, 6, 7]])
    y = roi_align(x, box, 2, 1.0, 2)
    np.testing.assert_allclose(y.numpy()[0, 0], [[2 * 4 + 3 * 3 + 1, 2 * 4 + 3 * 5 + 1],
                                                 [2 * 6 + 3 * 3 + 1, 2 * 6 + 3 * 5 + 1]])
    shifted = roi_align(x, box, 2, 1.0, 2, aligned=True)
    np.testing.assert_allclose(shifted.numpy(), y.numpy() - 2 * 0.5 - 3 * 0.5)


def test_roi_align_samples_beyond_one_pixel_outside_read_zero():
    # x samples at −3.5, −2.5, −1.5, −0.5: only −0.5 lies in [−1, W] and it reads column 0
    x = em.ones(1, 1, 4, 4, dtype=em.float64)
    y = roi_align(x, em.tensor([[0.0, -4, 0, 0, 4]]), 1, 1.0, 4)
    assert y.item() == pytest.approx(0.25)


def test_roi_align_adaptive_grid_is_ceil_of_bin_size():
    # a 5-pixel-wide RoI on 2 bins gives ⌈2.5⌉ = 3 samples per bin; sampling_ratio=3 must agree
    x = em.tensor(rng.standard_normal((1, 2, 8, 8)))
    box = em.tensor([[0.0, 0.3, 1.1, 5.3, 6.1]])
    assert_close(roi_align(x, box, 2, 1.0, 0), roi_align(x, box, 2, 1.0, 3))
    assert not np.allclose(roi_align(x, box, 2, 1.0, 0).numpy(), roi_align(x, box, 2, 1.0, 2).numpy())


def test_roi_align_gradcheck():
    x = em.tensor(rng.standard_normal((2, 2, 6, 7)), requires_grad=True)
    rois = em.tensor([[0.0, 0.3, 1.2, 5.1, 4.4], [1, -1.5, 2, 3.3, 7.5], [0, 2.2, 2.6, 2.4, 2.9]])
    assert gradcheck(lambda t: roi_align(t, rois, (3, 2), 1.0, 0, True), [x])
    assert gradcheck(lambda t: roi_align(t, rois, 2, 0.5, 2, False), [x])


# -- second derivatives: both ops are linear in x, their vjps the adjoint ops ----------------------------------

ROI_OPS = {
    "roi_pool": lambda t: roi_pool(t, em.tensor([[0.0, 1, 1, 6, 5], [1, -2, 2, 4, 9], [1, 3.4, 0.2, 3.6, 0.7]]),
                                   (3, 2), 1.0),
    "roi_align": lambda t: roi_align(t, em.tensor([[0.0, 0.3, 1.2, 5.1, 4.4], [1, -1.5, 2, 3.3, 7.5]]), (3, 2),
                                     1.0, 0, True),
}


@pytest.mark.parametrize("name", sorted(ROI_OPS))
def test_gradgradcheck(name):
    x = em.tensor(distinct((2, 2, 7, 8)), requires_grad=True)
    assert gradgradcheck(ROI_OPS[name], [x])


@pytest.mark.parametrize("name", sorted(ROI_OPS))
def test_gradient_of_the_gradient_is_the_op_again(name):
    """g = Aᵀu (A the Jacobian at x), so ∂⟨v, g⟩/∂u = A v, ∂/∂x = 0, and one more derivative
    gives Aᵀ back (every order). A v is a central difference: exact for a map linear near x."""
    op = ROI_OPS[name]
    x = em.tensor(distinct((2, 2, 7, 8)), requires_grad=True)
    y = op(x)
    u = em.tensor(rng.standard_normal(y.shape), requires_grad=True)
    (g,) = em.autograd.grad(y, [x], u, create_graph=True)
    v = em.tensor(rng.standard_normal(x.shape), requires_grad=True)
    gu, gx = em.autograd.grad((g * v).sum(), [u, x], create_graph=True, allow_unused=True)
    assert gx is None or not np.any(gx.detach().numpy())
    step = 1e-4 * v.detach()
    assert_close(gu, (op(x.detach() + step) - op(x.detach() - step)) / 2e-4, rtol=1e-6, atol=1e-8)
    w = rng.standard_normal(y.shape)
    (gv,) = em.autograd.grad((gu * em.tensor(w)).sum(), [v])
    assert_close(gv, em.autograd.grad(op(x), [x], em.tensor(w))[0])


# -- boxes, shapes and errors -------------------------------------------------------------------------------


@pytest.mark.parametrize("op", [roi_pool, roi_align])
def test_a_list_of_boxes_per_image_equals_the_k5_form(op):
    x = em.tensor(rng.standard_normal((2, 3, 8, 8)))
    per_image = [np.array([[0.0, 0, 4, 4], [1, 2, 7, 5]]), em.tensor([[2.0, 1, 6, 6]])]
    rois = np.array([[0.0, 0, 0, 4, 4], [0, 1, 2, 7, 5], [1, 2, 1, 6, 6]])
    assert_close(op(x, per_image, 3), op(x, rois, 3))


@pytest.mark.parametrize("op", [roi_pool, roi_align])
def test_no_boxes_give_an_empty_output_and_a_zero_gradient(op):
    x = em.randn(1, 3, 5, 5, requires_grad=True)
    y = op(x, np.zeros((0, 5), np.float32), (2, 3))
    assert y.shape == (0, 3, 2, 3)
    y.sum().backward()
    assert x.grad.shape == x.shape and not x.grad.numpy().any()


@pytest.mark.parametrize("op", [roi_pool, roi_align])
def test_bad_arguments_are_named(op):
    name = op.__name__
    x = em.randn(2, 3, 5, 5)
    with pytest.raises(ValueError, match=rf"{name}: boxes must be a \(K, 5\).*\(3, 4\)"):
        op(x, np.zeros((3, 4)), 2)
    with pytest.raises(ValueError, match=rf"{name}: a list of boxes.*\(2, 5\)"):
        op(x, [np.zeros((2, 5))], 2)
    with pytest.raises(ValueError, match=rf"{name}: box batch indices must lie in \[0, 2\)"):
        op(x, np.array([[2.0, 0, 0, 1, 1]]), 2)
    with pytest.raises(ValueError, match=rf"{name}: expected input of shape \(N, C, H, W\), got \(3, 5, 5\)"):
        op(em.randn(3, 5, 5), np.zeros((1, 5)), 2)
    with pytest.raises(ValueError, match=rf"{name}: output_size must be positive"):
        op(x, np.zeros((1, 5)), (0, 2))

"""Data augmentation on image batches: flips, crops, rotations, affine and elastic warps, colour shifts, erasing.

Every transform takes an (N, C, H, W) batch, or one (C, H, W) image, as a NumPy/CuPy array or an
ember Tensor, and returns the same kind (a Tensor comes back detached: augmentation is not
differentiated). Each image gets its own random draw, and the whole batch is transformed at once,
with no Python loop over images or pixels.

Randomness. A random transform draws from a ``numpy.random.Generator``: the one passed as
``t(x, rng=...)``, else its own (``seed=`` in the constructor), else ember's global generator (so
``em.manual_seed`` fixes it). ``Compose([...], seed=0)`` hands one generator down its chain, so a
whole pipeline repeats exactly under a seed. A call is two steps, exposed for testing and reuse:
``params = t.get_params(x, rng)`` makes every per-image draw (arrays whose first axis is N), then
``t.apply(x, params)`` transforms deterministically. Zero strength (``p=0``, ``degrees=0``,
``alpha=0``, ``max_shift=0``, ``std=0``) returns the images unchanged, bit for bit.

The deterministic step is ``ember.vision.functional``: ``apply`` draws nothing and calls its batched
functions (``crop``, ``rotate``, ``affine``, ``erase`` ...), where the pixel geometry and the angle
convention are set out. The warping helpers ``inverse_affine_matrix``, ``affine_grid``,
``grid_sample``, ``gaussian_blur`` and ``pca_color_basis`` live there and are re-exported here.

>>> from ember.vision import transforms as T
>>> augment = T.Compose([T.RandomCrop(32, padding=4), T.RandomHorizontalFlip(),
...                      T.Normalize((0.49, 0.48, 0.45), (0.25, 0.24, 0.26))], seed=0)
>>> augment(images).shape                     # images: (N, 3, 32, 32) float32
(N, 3, 32, 32)
"""
from __future__ import annotations

import numbers

import numpy as np

from ember import random as _random
from ember.backend import get_array_module as xp_of
from ember.vision import functional as F
from ember.vision.functional import (
    INTERPOLATIONS,
    PADDING_MODES,
    _as_batch,
    _choice,
    _per_channel,
    affine_grid,
    gaussian_blur,
    grid_sample,
    inverse_affine_matrix,
    pca_color_basis,
)

__all__ = ["Compose", "ElasticTransform", "Normalize", "PCAColorAugmentation", "RandomAffine", "RandomApply",
           "RandomChannelShift", "RandomCrop", "RandomErasing", "RandomHorizontalFlip", "RandomRotation",
           "RandomVerticalFlip", "ToFloat", "Transform", "affine_grid", "gaussian_blur", "grid_sample",
           "inverse_affine_matrix", "pca_color_basis"]


# -- argument checks -----------------------------------------------------------------------------
def _check_p(p, name: str) -> float:
    if not isinstance(p, numbers.Real) or not 0 <= p <= 1:
        raise ValueError(f"{name}: p must be a probability in [0, 1], got {p!r}")
    return float(p)


def _range(value, name: str, arg: str, symmetric: bool = True) -> tuple[float, float]:
    """A number v ≥ 0 → (−v, v) when symmetric; a pair (lo, hi) with lo ≤ hi as given."""
    if isinstance(value, numbers.Real) and symmetric:
        if value < 0:
            raise ValueError(f"{name}: {arg} must be non-negative when a single number, got {value}")
        return -float(value), float(value)
    if isinstance(value, numbers.Real) or len(value) != 2 or value[0] > value[1]:
        raise ValueError(f"{name}: {arg} must be {'a number or ' if symmetric else ''}a pair (min, max) with "
                         f"min ≤ max, got {value!r}")
    return float(value[0]), float(value[1])


def _size(size, name: str) -> tuple[int, int]:
    h, w = (size, size) if isinstance(size, numbers.Integral) else tuple(size)
    if not (isinstance(h, numbers.Integral) and isinstance(w, numbers.Integral) and h > 0 and w > 0):
        raise ValueError(f"{name}: size must be a positive int or a pair (h, w) of them, got {size!r}")
    return int(h), int(w)


def _generator(rng) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, numbers.Integral):
        return np.random.default_rng(int(rng))
    raise TypeError(f"rng must be a numpy.random.Generator or an int seed, got {type(rng).__name__}")


# -- the protocol: draw, then apply --------------------------------------------------------------
class Transform:
    """Base class: ``t(x, rng=None)`` = ``t.apply(x, t.get_params(x, rng))`` on an (N, C, H, W) batch.

    Subclasses define ``get_params(x, rng) -> dict`` (every random draw, arrays with first axis N;
    deterministic transforms return ``{}``) and ``apply(x, params)`` (vectorised over the batch),
    and set ``requires_float`` when the maths needs a floating-point batch. Applying image n alone
    with ``params`` sliced at n gives row n of the batched result.

    >>> flip = RandomHorizontalFlip(p=0.5, seed=0)
    >>> params = flip.get_params(batch, flip.rng)      # {'flip': array([ True, False, ...])}
    >>> flip.apply(batch, params).shape == batch.shape
    True
    """

    requires_float = False

    def __init__(self, seed=None):
        self.rng = None if seed is None else np.random.default_rng(seed)

    def __call__(self, x, rng=None):
        name = type(self).__name__
        batch, restore = _as_batch(x, name)
        if self.requires_float and batch.dtype.kind != "f":
            raise TypeError(f"{name}: expected a floating-point batch, got dtype {batch.dtype}; convert it first, "
                            "e.g. with ToFloat()")
        return restore(self.apply(batch, self.get_params(batch, self._rng(rng))))

    def _rng(self, rng) -> np.random.Generator:
        if rng is not None:
            return _generator(rng)
        return self.rng if self.rng is not None else _random.generator()

    def get_params(self, x, rng: np.random.Generator) -> dict:
        """Every random draw for the batch ``x`` (none for a deterministic transform)."""
        return {}

    def apply(self, x, params: dict):
        """The transformed batch, given the draws ``params``."""
        raise NotImplementedError

    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.extra_repr()})"


class Compose(Transform):
    """Apply transforms in order, all drawing from one generator: ``Compose([f, g])(x) = g(f(x))``.

    With ``seed`` the pipeline owns a generator, so two pipelines built with the same seed give
    identical batches call after call. Plain callables (no ``rng`` argument) may be mixed in.

    >>> augment = Compose([RandomCrop(28, padding=2), RandomRotation(10)], seed=0)
    >>> y = augment(x)
    """

    def __init__(self, transforms, seed=None):
        super().__init__(seed)
        self.transforms = list(transforms)

    def __call__(self, x, rng=None):
        rng = self._rng(rng)
        for t in self.transforms:
            x = t(x, rng) if isinstance(t, Transform) else t(x)
        return x

    def __repr__(self) -> str:
        return "Compose(\n" + "".join(f"    {t!r},\n" for t in self.transforms) + ")"


class RandomApply(Transform):
    """Apply a list of transforms to each image with probability p (decided per image).

    y[n] = T(x)[n] where chosen[n] else x[n], chosen[n] ~ Bernoulli(p). The transforms run on the
    whole batch and must keep its shape.

    >>> RandomApply([ElasticTransform(alpha=30.0, sigma=4.0)], p=0.3, seed=0)(x)
    """

    def __init__(self, transforms, p: float = 0.5, seed=None):
        super().__init__(seed)
        self.transforms = list(transforms) if isinstance(transforms, (list, tuple)) else [transforms]
        self.p = _check_p(p, "RandomApply")

    def __call__(self, x, rng=None):
        batch, restore = _as_batch(x, "RandomApply")
        rng = self._rng(rng)
        xp = xp_of(batch)
        chosen = xp.asarray(rng.random(len(batch)) < self.p).reshape(-1, 1, 1, 1)
        out = Compose(self.transforms)(batch, rng)
        if out.shape != batch.shape:
            raise ValueError(f"RandomApply: the transforms changed the batch shape {tuple(batch.shape)} to "
                             f"{tuple(out.shape)}; only shape-preserving transforms can be applied per image")
        return restore(xp.where(chosen, out, batch))

    def __repr__(self) -> str:
        return f"RandomApply(p={self.p}, transforms={self.transforms!r})"


def _check_fill(x, fill, name: str):
    """Check a per-channel value against the batch first, so that a bad one is reported by the transform."""
    _per_channel(fill, x.shape[1], x.dtype, xp_of(x), name, "fill")


# -- flips and crops -----------------------------------------------------------------------------
class RandomHorizontalFlip(Transform):
    """Mirror each image left ↔ right with probability p: y[n, c, i, j] = x[n, c, i, W − 1 − j] where chosen.

    >>> RandomHorizontalFlip(p=1.0)(x) == x[..., ::-1]        # every image flipped
    """

    axis = -1

    def __init__(self, p: float = 0.5, seed=None):
        super().__init__(seed)
        self.p = _check_p(p, type(self).__name__)

    def get_params(self, x, rng):
        return {"flip": rng.random(len(x)) < self.p}

    def apply(self, x, params):
        return F.flip(x, self.axis, where=params["flip"])

    def extra_repr(self) -> str:
        return f"p={self.p}"


class RandomVerticalFlip(RandomHorizontalFlip):
    """Mirror each image top ↔ bottom with probability p: y[n, c, i, j] = x[n, c, H − 1 − i, j] where chosen.

    >>> RandomVerticalFlip(p=0.5, seed=0)(x)
    """

    axis = -2


class RandomCrop(Transform):
    """Cut a random size = (h, w) window out of each image, after optional padding (torchvision's arguments).

    y[n, c, i, j] = pad(x)[n, c, top[n] + i, left[n] + j], top[n] ~ U{0..Hp − h}, left[n] ~ U{0..Wp − w}.
    padding: an int (all sides), (left/right, top/bottom) or (left, top, right, bottom);
    pad_if_needed pads both sides of a dimension by its shortfall; padding_mode 'constant' (with
    ``fill``, a number or one per channel), 'edge', 'reflect' or 'symmetric'. All windows are
    gathered with one fancy index.

    >>> RandomCrop(32, padding=4, seed=0)(cifar_batch).shape      # (N, 3, 32, 32) → (N, 3, 32, 32)
    """

    def __init__(self, size, padding=None, pad_if_needed=False, fill=0, padding_mode="constant", seed=None):
        super().__init__(seed)
        self.size = _size(size, "RandomCrop")
        self.padding = _padding(padding)
        self.pad_if_needed, self.fill = bool(pad_if_needed), fill
        self.padding_mode = _choice(padding_mode, PADDING_MODES, "RandomCrop", "padding_mode")

    def _pads(self, H: int, W: int) -> tuple[int, int, int, int]:
        left, top, right, bottom = self.padding
        h, w = self.size
        if self.pad_if_needed:
            dw, dh = max(0, w - (W + left + right)), max(0, h - (H + top + bottom))
            left, top, right, bottom = left + dw, top + dh, right + dw, bottom + dh
        if h > H + top + bottom or w > W + left + right:
            raise ValueError(f"RandomCrop: crop size {self.size} is larger than the {'padded ' * any(self.padding)}"
                             f"image {(H + top + bottom, W + left + right)}; pass padding= or pad_if_needed=True")
        return left, top, right, bottom

    def get_params(self, x, rng):
        H, W = x.shape[-2:]
        left, top, right, bottom = self._pads(H, W)
        h, w = self.size
        N = len(x)
        return {"top": rng.integers(0, H + top + bottom - h + 1, N),
                "left": rng.integers(0, W + left + right - w + 1, N)}

    def pad(self, x):
        """The batch padded as this crop pads it before cutting."""
        if self.padding_mode == "constant":
            _check_fill(x, self.fill, "RandomCrop")
        return F.pad(x, self._pads(*x.shape[-2:]), self.fill, self.padding_mode)

    def apply(self, x, params):
        return F.crop(self.pad(x), params["top"], params["left"], self.size)

    def extra_repr(self) -> str:
        return f"size={self.size}, padding={self.padding}, pad_if_needed={self.pad_if_needed}, " \
               f"fill={self.fill}, padding_mode={self.padding_mode}"


def _padding(padding) -> tuple[int, int, int, int]:
    """torchvision's padding forms → (left, top, right, bottom)."""
    if padding is None:
        return 0, 0, 0, 0
    pads = (padding,) if isinstance(padding, numbers.Integral) else tuple(padding)
    if len(pads) not in (1, 2, 4) or not all(isinstance(p, numbers.Integral) and p >= 0 for p in pads):
        raise ValueError(f"RandomCrop: padding must be a non-negative int or a sequence of 2 or 4 of them, "
                         f"got {padding!r}")
    pads = tuple(int(p) for p in pads)
    return pads * 4 if len(pads) == 1 else pads * 2 if len(pads) == 2 else pads


# -- warps: rotation, affine, elastic ------------------------------------------------------------
class RandomRotation(Transform):
    """Rotate each image about its centre by θ ~ U(degrees) (positive = counter-clockwise, as torchvision).

    Inverse mapping: output pixel p reads the input at c + R(θ)ᵀ (p − c) (``inverse_affine_matrix``),
    by bilinear or nearest interpolation; corners that come from outside read ``fill``.
    degrees: d ≥ 0 for (−d, d), or (min, max). Defaults follow torchvision (nearest); ``expand`` is
    not supported (the output keeps the input's size).

    >>> RandomRotation(15, interpolation="bilinear", seed=0)(x)
    """

    requires_float = True

    def __init__(self, degrees, interpolation="nearest", center=None, fill=0, seed=None):
        super().__init__(seed)
        self.degrees = _range(degrees, "RandomRotation", "degrees")
        self.interpolation = _choice(interpolation, INTERPOLATIONS, "RandomRotation", "interpolation")
        self.center, self.fill = center, fill

    def get_params(self, x, rng):
        return {"angle": rng.uniform(*self.degrees, len(x))}

    def apply(self, x, params):
        _check_fill(x, self.fill, "RandomRotation")
        return F.rotate(x, params["angle"], self.interpolation, self.fill, self.center)

    def extra_repr(self) -> str:
        return f"degrees={list(self.degrees)}, interpolation={self.interpolation}, fill={self.fill}"


class RandomAffine(Transform):
    """A random rotation, translation, scaling and shear about the image centre (torchvision's arguments).

    Per image: θ ~ U(degrees); (tx, ty) = round(U(−a·W, a·W)), round(U(−b·H, b·H)) for
    translate = (a, b); s ~ U(scale); shear_x ~ U(shear) (a number v: (−v, v); a pair; or four
    numbers: x-range then y-range). The forward map p_out − c = s·R(θ)·Sh·(p_in − c) + t is
    inverted and sampled as in ``inverse_affine_matrix``/``grid_sample``. θ is counter-clockwise;
    torchvision's ``affine`` turns clockwise, which draws the same distribution for symmetric ranges.

    >>> RandomAffine(degrees=10, translate=(0.1, 0.1), scale=(0.9, 1.1), shear=5, seed=0)(x)
    """

    requires_float = True

    def __init__(self, degrees, translate=None, scale=None, shear=None, interpolation="nearest", fill=0,
                 center=None, seed=None):
        super().__init__(seed)
        self.degrees = _range(degrees, "RandomAffine", "degrees")
        if translate is not None and (len(translate) != 2 or not all(0 <= t <= 1 for t in translate)):
            raise ValueError(f"RandomAffine: translate must be a pair of fractions in [0, 1], got {translate!r}")
        self.translate = translate
        self.scale = None if scale is None else _range(scale, "RandomAffine", "scale", symmetric=False)
        if self.scale is not None and self.scale[0] <= 0:
            raise ValueError(f"RandomAffine: scale values must be positive, got {scale!r}")
        self.shear = _shear(shear)
        self.interpolation = _choice(interpolation, INTERPOLATIONS, "RandomAffine", "interpolation")
        self.fill, self.center = fill, center

    def get_params(self, x, rng):
        N, (H, W) = len(x), x.shape[-2:]
        a, b = self.translate or (0.0, 0.0)
        translate = np.round(rng.uniform(-1, 1, (N, 2)) * (a * W, b * H))
        scale = rng.uniform(*self.scale, N) if self.scale else np.ones(N)
        shear = np.stack([rng.uniform(*self.shear[:2], N), rng.uniform(*self.shear[2:], N)], 1)
        return {"angle": rng.uniform(*self.degrees, N), "translate": translate, "scale": scale, "shear": shear}

    def apply(self, x, params):
        _check_fill(x, self.fill, "RandomAffine")
        return F.affine(x, params["angle"], params["translate"], params["scale"], params["shear"],
                        self.interpolation, self.fill, self.center)

    def extra_repr(self) -> str:
        return f"degrees={list(self.degrees)}, translate={self.translate}, scale={self.scale}, " \
               f"shear={list(self.shear)}, interpolation={self.interpolation}, fill={self.fill}"


def _shear(shear) -> tuple[float, float, float, float]:
    """torchvision's shear forms → (x_min, x_max, y_min, y_max) in degrees."""
    if shear is None:
        return 0.0, 0.0, 0.0, 0.0
    if not isinstance(shear, numbers.Real) and len(shear) == 4:
        return _range(shear[:2], "RandomAffine", "shear") + _range(shear[2:], "RandomAffine", "shear")
    return _range(shear, "RandomAffine", "shear") + (0.0, 0.0)


class ElasticTransform(Transform):
    """Local elastic warping (Simard, Steinkraus & Platt 2003): each pixel reads the input a smooth random offset away.

    Δ = α · G_σ ∗ U(−1, 1), one field per image and coordinate (``gaussian_blur``), in pixels;
    output pixel p reads the input at p + Δ(p) (``grid_sample``). Small σ gives noisy, large σ
    near-translation fields; α scales them (α = 0 is the identity). The arguments are torchvision's;
    note torchvision moves pixels by α/2 · G_σ ∗ U(−1, 1), Simard's α is used here as written.

    >>> ElasticTransform(alpha=34.0, sigma=4.0, seed=0)(digits)       # Simard's MNIST setting
    """

    requires_float = True

    def __init__(self, alpha: float = 50.0, sigma: float = 5.0, interpolation="bilinear", fill=0, seed=None):
        super().__init__(seed)
        if alpha < 0 or sigma <= 0:
            raise ValueError(f"ElasticTransform: need alpha ≥ 0 and sigma > 0, got alpha={alpha}, sigma={sigma}")
        self.alpha, self.sigma, self.fill = float(alpha), float(sigma), fill
        self.interpolation = _choice(interpolation, INTERPOLATIONS, "ElasticTransform", "interpolation")

    def get_params(self, x, rng):
        xp = xp_of(x)
        noise = xp.asarray(rng.uniform(-1, 1, (len(x), 2, *x.shape[-2:])))
        return {"displacement": self.alpha * gaussian_blur(noise, self.sigma)}

    def apply(self, x, params):
        _check_fill(x, self.fill, "ElasticTransform")
        return F.elastic_transform(x, params["displacement"], self.interpolation, self.fill)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}, sigma={self.sigma}, interpolation={self.interpolation}, fill={self.fill}"


# -- colour --------------------------------------------------------------------------------------
class RandomChannelShift(Transform):
    """Add a random offset to each channel of each image: y[n, c] = x[n, c] + δ[n, c].

    δ[n, c] ~ U(−m_c, m_c) with m = max_shift (a number, or one per channel), applied to image n
    with probability p (otherwise δ[n] = 0). For images in [0, 1], max_shift=0.1 shifts colours by
    up to 10 % of the range.

    >>> RandomChannelShift(0.1, seed=0)(rgb_batch)
    """

    requires_float = True

    def __init__(self, max_shift, p: float = 1.0, seed=None):
        super().__init__(seed)
        self.max_shift = np.asarray(max_shift, np.float64).reshape(-1)
        if self.max_shift.size == 0 or (self.max_shift < 0).any():
            raise ValueError(f"RandomChannelShift: max_shift must be non-negative, got {max_shift!r}")
        self.p = _check_p(p, "RandomChannelShift")

    def get_params(self, x, rng):
        N, C = x.shape[:2]
        if self.max_shift.size not in (1, C):
            raise ValueError(f"RandomChannelShift: max_shift has {self.max_shift.size} values but the batch has "
                             f"{C} channels (shape {tuple(x.shape)})")
        chosen = rng.random(N) < self.p
        return {"shift": rng.uniform(-1, 1, (N, C)) * self.max_shift * chosen[:, None]}

    def apply(self, x, params):
        return F.shift_channels(x, params["shift"])

    def extra_repr(self) -> str:
        return f"max_shift={self.max_shift.tolist()}, p={self.p}"


class PCAColorAugmentation(Transform):
    """AlexNet's "fancy PCA" colour augmentation (Krizhevsky et al. 2012).

    Every pixel of image n is shifted by the same colour Σ_k α[n, k] λ_k p_k = P (α[n] ⊙ λ), with
    λ_k, p_k the eigenvalues and eigenvectors (columns of P) of the pixel-colour covariance and
    α[n, k] ~ N(0, std²). Without eigvals/eigvecs the basis is fitted on each batch; fit it once on
    a dataset with ``PCAColorAugmentation.fit(images)`` (or ``pca_color_basis``). eigvecs may hold
    K ≤ C columns: the shift then stays in their span.

    >>> augment = PCAColorAugmentation.fit(train_images, std=0.1, seed=0)
    >>> y = augment(batch)
    """

    requires_float = True

    def __init__(self, std: float = 0.1, eigvals=None, eigvecs=None, seed=None):
        super().__init__(seed)
        if std < 0:
            raise ValueError(f"PCAColorAugmentation: std must be non-negative, got {std}")
        if (eigvals is None) != (eigvecs is None):
            raise ValueError("PCAColorAugmentation: give both eigvals and eigvecs, or neither (fit on each batch)")
        self.std = float(std)
        self.eigvals = None if eigvals is None else np.asarray(eigvals, np.float64).reshape(-1)
        self.eigvecs = None if eigvecs is None else np.asarray(eigvecs, np.float64)
        if self.eigvecs is not None and (self.eigvecs.ndim != 2 or self.eigvecs.shape[1] != self.eigvals.size):
            raise ValueError(f"PCAColorAugmentation: eigvecs must be (C, K) with K = len(eigvals) = "
                             f"{self.eigvals.size}, got shape {self.eigvecs.shape}")

    @classmethod
    def fit(cls, images, std: float = 0.1, seed=None) -> PCAColorAugmentation:
        """A PCAColorAugmentation with the colour basis of ``images`` (N, C, H, W)."""
        return cls(std, *pca_color_basis(images), seed=seed)

    def get_params(self, x, rng):
        eigvals, eigvecs = pca_color_basis(x) if self.eigvals is None else (self.eigvals, self.eigvecs)
        if eigvecs.shape[0] != x.shape[1]:
            raise ValueError(f"PCAColorAugmentation: eigvecs have {eigvecs.shape[0]} rows but the batch has "
                             f"{x.shape[1]} channels (shape {tuple(x.shape)})")
        alpha = rng.normal(0.0, self.std, (len(x), eigvals.size))
        return {"alpha": alpha, "shift": (alpha * eigvals) @ eigvecs.T}

    def apply(self, x, params):
        return F.shift_channels(x, params["shift"])

    def extra_repr(self) -> str:
        return f"std={self.std}, eigvals={None if self.eigvals is None else self.eigvals.tolist()}"


# -- erasing -------------------------------------------------------------------------------------
class RandomErasing(Transform):
    """Overwrite a random rectangle of each image with probability p (Zhong et al. 2017; torchvision's semantics).

    Per image, up to 10 attempts draw an area fraction s ~ U(scale) and an aspect r = exp(U(log ratio)),
    giving h = round(√(s·H·W·r)), w = round(√(s·H·W/r)); the first with h < H and w < W is placed
    at top ~ U{0..H − h}, left ~ U{0..W − w} (no valid attempt: the image is left alone). The
    rectangle gets ``value``: a number, one per channel, or 'random' (standard normal per pixel).
    The attempts are drawn for all images at once and the rectangles built as broadcast masks.

    >>> RandomErasing(p=0.5, scale=(0.02, 0.33), ratio=(0.3, 3.3), seed=0)(x)
    """

    attempts = 10

    def __init__(self, p: float = 0.5, scale=(0.02, 0.33), ratio=(0.3, 3.3), value=0, seed=None):
        super().__init__(seed)
        self.p = _check_p(p, "RandomErasing")
        self.scale = _range(scale, "RandomErasing", "scale", symmetric=False)
        self.ratio = _range(ratio, "RandomErasing", "ratio", symmetric=False)
        if not 0 <= self.scale[0] <= self.scale[1] <= 1 or self.ratio[0] <= 0:
            raise ValueError(f"RandomErasing: need 0 ≤ scale ≤ 1 and ratio > 0, got scale={scale!r}, ratio={ratio!r}")
        if isinstance(value, str) and value != "random":
            raise ValueError(f"RandomErasing: value must be a number, a sequence or 'random', got {value!r}")
        self.value = value

    def get_params(self, x, rng):
        N, (H, W) = len(x), x.shape[-2:]
        area = H * W * rng.uniform(*self.scale, (N, self.attempts))
        aspect = np.exp(rng.uniform(*np.log(self.ratio), (N, self.attempts)))
        h, w = np.round(np.sqrt(area * aspect)).astype(np.int64), np.round(np.sqrt(area / aspect)).astype(np.int64)
        valid = (h < H) & (w < W)
        first, found = valid.argmax(1), valid.any(1)
        h, w = np.where(found, h[np.arange(N), first], 0), np.where(found, w[np.arange(N), first], 0)
        params = {"erase": (rng.random(N) < self.p) & found, "h": h, "w": w,
                  "top": np.floor(rng.random(N) * (H - h + 1)).astype(np.int64),
                  "left": np.floor(rng.random(N) * (W - w + 1)).astype(np.int64)}
        if self.value == "random":
            params["noise"] = rng.standard_normal(x.shape)
        return params

    def apply(self, x, params):
        xp = xp_of(x)
        if self.value == "random":
            if x.dtype.kind != "f":
                raise TypeError(f"RandomErasing: value='random' needs a floating-point batch, got dtype {x.dtype}")
            value = params["noise"]
        else:
            value = _per_channel(self.value, x.shape[1], x.dtype, xp, "RandomErasing", "value")
        h = xp.where(xp.asarray(params["erase"]), xp.asarray(params["h"]), 0)  # h = 0: the image is kept
        return F.erase(x, params["top"], params["left"], h, params["w"], value)

    def extra_repr(self) -> str:
        return f"p={self.p}, scale={self.scale}, ratio={self.ratio}, value={self.value}"


# -- conversion and normalisation ----------------------------------------------------------------
class ToFloat(Transform):
    """Convert images to floats: integers scaled to [0, 1] by their type's maximum (uint8: x / 255).

    channels_last=True first moves (N, H, W, C) / (H, W, C) images, as image files load, to NCHW.
    Floating input only changes dtype.

    >>> ToFloat(channels_last=True)(photo_uint8_hwc).shape         # (H, W, 3) → (3, H, W) float32
    """

    def __init__(self, dtype=np.float32, channels_last: bool = False):
        super().__init__()
        self.dtype, self.channels_last = np.dtype(dtype), bool(channels_last)
        if self.dtype.kind != "f":
            raise ValueError(f"ToFloat: dtype must be a floating-point type, got {self.dtype}")

    def apply(self, x, params):
        return F.to_float(x, self.dtype, self.channels_last)

    def extra_repr(self) -> str:
        return f"dtype={self.dtype}, channels_last={self.channels_last}"


class Normalize(Transform):
    """Standardise each channel: y[n, c] = (x[n, c] − mean[c]) / std[c] (torchvision's Normalize).

    mean and std hold one value per channel (or one for all); a count that differs from the batch's
    channels, or a zero std, is an error.

    >>> Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))(rgb_batch)
    """

    requires_float = True

    def __init__(self, mean, std):
        super().__init__()
        self.mean = np.asarray(mean, np.float64).reshape(-1)
        self.std = np.asarray(std, np.float64).reshape(-1)
        if (self.std == 0).any():
            raise ValueError(f"Normalize: std must be non-zero (a division by it follows), got {std!r}")

    def apply(self, x, params):
        C = x.shape[1]
        if self.mean.size not in (1, C) or self.std.size not in (1, C):
            raise ValueError(f"Normalize: mean has {self.mean.size} and std {self.std.size} values but the batch has "
                             f"{C} channels (shape {tuple(x.shape)})")
        return F.normalize(x, self.mean, self.std)

    def extra_repr(self) -> str:
        return f"mean={self.mean.tolist()}, std={self.std.tolist()}"

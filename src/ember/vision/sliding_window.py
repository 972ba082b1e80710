"""Convolutional sliding windows (OverFeat): a window classifier run over a whole image in one pass.

A classifier trained on h × w windows — a conv/pool body, ``Flatten``, then ``Linear`` layers — is
already a convolution in disguise. Its first ``Linear`` reads the body's (C, h_f, w_f) feature map
flattened, so it is a ``Conv2d(C, out, (h_f, w_f))`` with the weight reshaped to (out, C, h_f, w_f);
every later ``Linear`` acts on one feature vector, a 1×1 ``Conv2d``. On a larger image the
converted network outputs a grid of predictions (N, classes, G_h, G_w): cell (i, j) is the
classifier's answer for the window whose top-left corner is (i·s_h, j·s_w), s the product of the
body's strides. The windows share all their overlapping convolutions instead of recomputing them.

This is exact when the body has no padding (a padded window would see zeros where, inside the
larger image, it sees its neighbours' pixels) and no ``ceil_mode`` pooling; ``convolutionalize``
refuses such layers. Dropout and BatchNorm behave as in the classifier's current mode (compare in
``eval()``).

>>> classifier = nn.Sequential(nn.Conv2d(1, 8, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(8 * 7 * 7, 10))
>>> detector = convolutionalize(classifier, (1, 16, 16))
>>> detector(em.randn(1, 1, 40, 40)).shape        # windows every window_stride(classifier) = (2, 2) pixels
(1, 10, 13, 13)
"""
from __future__ import annotations

import copy

from ember import nn
from ember.autograd.tensor import Tensor
from ember.backend import get_array_module as xp_of
from ember.ops.conv import conv_output_size, ntuple
from ember.ops.shape import permute, reshape

__all__ = ["convolutionalize", "sliding_window_predictions", "window_stride"]

# layers that act on each position (or each channel) alone, so they are the same on a larger map
POINTWISE = (nn.ReLU, nn.LeakyReLU, nn.Sigmoid, nn.LogSigmoid, nn.Tanh, nn.ELU, nn.GELU, nn.Softplus, nn.SiLU,
             nn.Hardtanh, nn.Identity, nn.Dropout)
BODY = POINTWISE + (nn.Dropout2d, nn.BatchNorm2d)
POOLS = (nn.MaxPool2d, nn.AvgPool2d)


def _layers(model) -> list:
    """The modules of a Sequential in order, nested Sequentials unpacked."""
    if not isinstance(model, nn.Sequential):
        raise TypeError(f"convolutionalize: expected an nn.Sequential (nested Sequentials allowed), got "
                        f"{type(model).__name__}; wrap a custom model's parts, e.g. "
                        "nn.Sequential(net.features, nn.Flatten(), net.classifier)")
    layers = []
    for module in model:
        layers.extend(_layers(module) if isinstance(module, nn.Sequential) else [module])
    return layers


def _split(model):
    """(body, head): the layers before and after the model's one ``Flatten``."""
    layers = _layers(model)
    flats = [i for i, m in enumerate(layers) if isinstance(m, nn.Flatten)]
    if len(flats) != 1:
        raise ValueError(f"convolutionalize: expected one Flatten between the conv body and the Linear head, "
                         f"found {len(flats)}")
    flatten = layers[flats[0]]
    if (flatten.start_dim, flatten.end_dim) != (1, -1):
        raise ValueError(f"convolutionalize: {flatten!r} must flatten dims 1..-1 (C, H, W) to be a convolution")
    return layers[:flats[0]], layers[flats[0] + 1:]


def _zero(padding) -> bool:
    return padding == "valid" or all(p == 0 for p in (padding if isinstance(padding, (tuple, list)) else (padding,)))


def _body_geometry(module, shape):
    """The (C, h, w) map ``module`` makes of a (C, h, w) map, and its stride; errors name the layer."""
    C, *size = shape
    if isinstance(module, nn.Conv2d):
        if not _zero(module.padding):
            raise ValueError(f"convolutionalize: {module!r} pads its input, so windows inside a larger image would "
                             "see their neighbours' pixels, not zeros; only unpadded convolutions are exact")
        if module.in_channels != C:
            raise ValueError(f"convolutionalize: {module!r} expects {module.in_channels} channels, gets {C}")
        channels, kernel, stride, dilation = module.out_channels, module.kernel_size, module.stride, module.dilation
    elif isinstance(module, POOLS):
        if not _zero(module.padding) or module.ceil_mode:
            raise ValueError(f"convolutionalize: {module!r} uses padding or ceil_mode; only unpadded, floor-mode "
                             "pooling is exact")
        channels = C
        kernel, stride = ntuple(module.kernel_size, 2, "kernel_size", "convolutionalize"), \
            ntuple(module.stride, 2, "stride", "convolutionalize")
        dilation = ntuple(getattr(module, "dilation", 1), 2, "dilation", "convolutionalize")
    elif isinstance(module, BODY):
        return (C, *size), (1, 1)
    else:
        raise ValueError(f"convolutionalize: {module!r} is not supported before Flatten (supported: Conv2d, "
                         "MaxPool2d, AvgPool2d, BatchNorm2d, Dropout, Dropout2d and pointwise activations)")
    out = tuple(conv_output_size(n, k, s, (0, 0), d) for n, k, s, d in zip(size, kernel, stride, dilation,
                                                                         strict=True))
    if min(out) < 1:
        raise ValueError(f"convolutionalize: {module!r} does not fit its input map {(C, *size)}")
    return (channels, *out), stride


def _conv_head(head, shape) -> list:
    """The head with each Linear as a Conv2d: the first over the whole (C, h, w) map, the rest 1×1."""
    C, h, w = shape
    layers, features, kernel, first = [], C * h * w, (h, w), True
    for module in head:
        if isinstance(module, nn.Linear):
            if module.in_features != features:
                where = f"the body's {shape} map gives" if first else "it gets"
                raise ValueError(f"convolutionalize: {module!r} expects {module.in_features} features but {where} "
                                 f"{features}")
            layers.append(_as_conv(module, features // (kernel[0] * kernel[1]), kernel))
            features, kernel, first = module.out_features, (1, 1), False
        elif isinstance(module, POINTWISE) or (isinstance(module, nn.Softmax) and module.dim in (None, 1)):
            layers.append(copy.deepcopy(module))
        else:
            raise ValueError(f"convolutionalize: {module!r} is not supported after Flatten (supported: Linear, "
                             "Dropout, pointwise activations, Softmax/LogSoftmax over dim 1)")
    if first:
        raise ValueError("convolutionalize: no Linear after Flatten to turn into a convolution")
    return layers


def _as_conv(linear, in_channels, kernel):
    """A Conv2d computing ``linear`` on each (in_channels, *kernel) patch: W reshaped (out, C, kh, kw)."""
    W = linear.weight
    conv = nn.Conv2d(in_channels, linear.out_features, kernel, bias=linear.bias is not None, dtype=W.dtype,
                     device=W.device)
    conv.weight.array[...] = W.array.reshape(conv.weight.shape)
    if linear.bias is not None:
        conv.bias.array[...] = linear.bias.array
    conv.train(linear.training)
    return conv


def convolutionalize(model, input_shape):
    """An equivalent fully convolutional ``nn.Sequential`` of a window classifier (OverFeat).

    ``model``: an ``nn.Sequential`` (nested ones are unpacked) of unpadded Conv2d / MaxPool2d /
    AvgPool2d layers, BatchNorm2d, Dropout and activations, one ``Flatten``, then Linear layers,
    Dropout and activations (Softmax over dim 1). ``input_shape``: the (C, h, w) windows it
    classifies. The body is copied; the first Linear (out, C·h_f·w_f) becomes a
    Conv2d(C, out, (h_f, w_f)) and each later Linear a 1×1 Conv2d, with the same weights.

    On (N, C, H, W) the result gives (N, classes, ⌊(H − h)/s_h⌋ + 1, ⌊(W − w)/s_w⌋ + 1) scores,
    one per window at stride s = ``window_stride(model)``; on an h × w input it gives the
    classifier's (N, classes, 1, 1). Raises ValueError naming an unsupported layer, or a layer
    that ``input_shape`` does not fit.

    >>> detector = convolutionalize(classifier, (1, 16, 16))
    >>> scores = detector(canvas)                  # (N, classes, G_h, G_w)
    """
    shape = tuple(input_shape)
    if len(shape) != 3 or not all(isinstance(n, int) and n > 0 for n in shape):
        raise ValueError(f"convolutionalize: input_shape must be the windows' (C, h, w), got {input_shape!r}")
    body, head = _split(model)
    for module in body:
        shape, _ = _body_geometry(module, shape)
    return nn.Sequential(*[copy.deepcopy(m) for m in body], *_conv_head(head, shape))


def window_stride(model) -> tuple:
    """(s_h, s_w): how far apart a convolutionalized ``model``'s windows are — the product of its strides.

    >>> window_stride(nn.Sequential(nn.Conv2d(1, 4, 3), nn.MaxPool2d(2), nn.Conv2d(4, 4, 3, stride=2)))
    (4, 4)
    """
    sh = sw = 1
    for module in _layers(model):
        if isinstance(module, nn.Conv2d | nn.MaxPool2d | nn.AvgPool2d):
            h, w = ntuple(module.stride, 2, "stride", "window_stride")
            sh, sw = sh * h, sw * w
    return sh, sw


def sliding_window_predictions(model, image, window, stride):
    """The naive sliding window: crop every window and classify the crops in one batch.

    image (N, C, H, W), a Tensor or an array; window (h, w) and stride (s_h, s_w), ints or
    pairs; ``model`` maps (B, C, h, w) crops to (B, K) scores. Returns (N, K, G_h, G_w) with
    G = ⌊(H − h)/s⌋ + 1: entry [n, :, i, j] scores image n's crop at rows i·s_h.., columns j·s_w...
    The crops are a strided view (``sliding_window_view``), copied once into the batch.

    >>> sliding_window_predictions(classifier, canvas, 16, 4).shape
    (1, 10, 3, 3)
    """
    x = image.array if isinstance(image, Tensor) else image
    (h, w), (sh, sw) = ntuple(window, 2, "window", "sliding_window"), ntuple(stride, 2, "stride", "sliding_window")
    if x.ndim != 4 or h > x.shape[2] or w > x.shape[3] or min(h, w, sh, sw) < 1:
        raise ValueError(f"sliding_window_predictions: image of shape {tuple(x.shape)} (expected (N, C, H, W)) "
                         f"has no {(h, w)} window at stride {(sh, sw)}")
    xp = xp_of(x)
    crops = xp.lib.stride_tricks.sliding_window_view(x, (h, w), axis=(2, 3))[:, :, ::sh, ::sw]
    N, C, Gh, Gw = crops.shape[:4]
    scores = model(Tensor(xp.ascontiguousarray(crops.transpose(0, 2, 3, 1, 4, 5)).reshape(-1, C, h, w)))
    if scores.ndim != 2:
        raise ValueError(f"sliding_window_predictions: the model must give (B, K) scores, got {tuple(scores.shape)}")
    return permute(reshape(scores, (N, Gh, Gw, scores.shape[1])), (0, 3, 1, 2))

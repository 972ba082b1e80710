"""conv2d over chunks of images, columns recomputed in backward, equals the kept-columns path.

Large layers (columns over KEEP_COLUMNS_BELOW_BYTES for the batch) take the chunked path; the
tests' layers are small, so the limits are lowered here to force it, with chunks that do not
divide the batch.
"""
import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import ember as em
from ember.ops import conv
from ember.testing import gradcheck


@pytest.fixture
def chunked(monkeypatch):
    """Every conv2d of the test runs in chunks of two images."""
    def force(column_bytes_per_image):
        monkeypatch.setattr(conv, "KEEP_COLUMNS_BELOW_BYTES", 0)
        monkeypatch.setattr(conv, "COLUMN_CHUNK_BYTES", 2 * column_bytes_per_image)
    return force


def run(x, W, b, **geometry):
    tensors = [em.tensor(a, requires_grad=True) for a in (x, W, b)]
    y = em.nn.functional.conv2d(*tensors, **geometry)
    (y * em.tensor(np.cos(np.arange(y.numel())).reshape(y.shape))).sum().backward()
    return [y.detach().numpy()] + [t.grad.numpy() for t in tensors]


@pytest.mark.parametrize("stride, padding, dilation", [(1, 1, 1), (2, 1, 1), (1, 2, 2), (2, 0, 1), (1, "same", 1)])
def test_chunks_equal_kept_columns_and_torch(chunked, stride, padding, dilation):
    rng = np.random.default_rng(0)
    x, W, b = rng.standard_normal((5, 3, 9, 8)), rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4)
    geometry = dict(stride=stride, padding=padding, dilation=dilation)
    kept = run(x, W, b, **geometry)
    ho, wo = kept[0].shape[2:]
    chunked(3 * 9 * ho * wo * 8)
    fn = conv.Conv2d((stride, stride), ((0, 0), (0, 0)), (dilation, dilation), 1)
    assert fn._images_per_chunk(3 * 9 * ho * wo * 8, 5) == 2  # chunks of 2, 2 and 1 images
    chunks = run(x, W, b, **geometry)
    for a, c in zip(kept, chunks, strict=True):
        np.testing.assert_allclose(c, a, rtol=1e-12, atol=1e-12)
    tx, tW, tb = (torch.tensor(a, requires_grad=True) for a in (x, W, b))
    ty = TF.conv2d(tx, tW, tb, **geometry)
    (ty * torch.cos(torch.arange(ty.numel(), dtype=torch.float64)).reshape(ty.shape)).sum().backward()
    for a, t in zip(chunks, [ty.detach(), tx.grad, tW.grad, tb.grad], strict=True):
        np.testing.assert_allclose(a, t.numpy(), rtol=1e-10, atol=1e-10)


def test_chunked_gradcheck_and_partial_gradients(chunked):
    chunked(1)  # one image per chunk
    rng = np.random.default_rng(1)
    x = em.tensor(rng.standard_normal((3, 2, 5, 5)), requires_grad=True)
    W = em.tensor(rng.standard_normal((3, 2, 3, 3)), requires_grad=True)
    assert gradcheck(lambda x, W: em.nn.functional.conv2d(x, W, padding=1), [x, W])
    x.grad = None
    frozen = em.tensor(W.detach().numpy())  # only the input's gradient
    em.nn.functional.conv2d(x, frozen, padding=1).sum().backward()
    tx = torch.tensor(x.detach().numpy(), requires_grad=True)
    TF.conv2d(tx, torch.tensor(frozen.numpy()), padding=1).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-12)
    assert frozen.grad is None
    fixed = em.tensor(x.detach().numpy())  # only the weight's gradient
    W.grad = None
    em.nn.functional.conv2d(fixed, W, padding=1).sum().backward()
    tW = torch.tensor(W.detach().numpy(), requires_grad=True)
    TF.conv2d(torch.tensor(fixed.numpy()), tW, padding=1).sum().backward()
    np.testing.assert_allclose(W.grad.numpy(), tW.grad.numpy(), rtol=1e-12)


def test_only_large_ungrouped_layers_are_chunked():
    fn = conv.Conv2d((1, 1), ((1, 1), (1, 1)), (1, 1), 1)
    per_image = 64 * 9 * 32 * 32 * 4  # a ResNet-18 64-channel layer: 2.25 MiB of columns per image
    assert fn._images_per_chunk(per_image, 32) == conv.COLUMN_CHUNK_BYTES // per_image  # 72 MiB in all
    assert fn._images_per_chunk(per_image, 8) == 8  # 18 MiB: kept
    grouped = conv.Conv2d((1, 1), ((1, 1), (1, 1)), (1, 1), 2)
    assert grouped._images_per_chunk(per_image, 32) == 32


def test_inference_chunks_above_one_chunk_of_columns(monkeypatch):
    """Without autograd nothing is recomputed, so a layer over COLUMN_CHUNK_BYTES (not only over
    KEEP_COLUMNS_BELOW_BYTES) runs in chunks; the outputs are those of the recording path."""
    rng = np.random.default_rng(2)
    x, W = em.tensor(rng.standard_normal((5, 2, 6, 6))), em.tensor(rng.standard_normal((3, 2, 3, 3)))
    recorded = em.nn.functional.conv2d(x, W, padding=1).numpy()
    per_image = 2 * 9 * 36 * 8
    monkeypatch.setattr(conv, "COLUMN_CHUNK_BYTES", 2 * per_image)
    fn = conv.Conv2d((1, 1), ((1, 1), (1, 1)), (1, 1), 1)
    assert fn._images_per_chunk(per_image, 5, backward=True) == 5  # kept: far below 32 MiB
    assert fn._images_per_chunk(per_image, 5, backward=False) == 2
    with em.no_grad():
        inferred = em.nn.functional.conv2d(x, W, padding=1).numpy()
    np.testing.assert_allclose(inferred, recorded, rtol=1e-12, atol=1e-12)

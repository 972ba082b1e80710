"""Convolutional sliding windows: the convolutionalized classifier equals classifying every crop."""
from collections import OrderedDict

import numpy as np
import pytest

import ember as em
from ember import nn
from ember.vision.sliding_window import convolutionalize, sliding_window_predictions, window_stride
from example_scripts import load_example
from torch_parity import assert_close

rng = np.random.default_rng(0)


def lenet_like(dtype=em.float32):
    """conv → relu → maxpool → conv → relu → maxpool → flatten → linear → relu → linear on 16×16 windows."""
    return nn.Sequential(
        nn.Conv2d(1, 6, 3, dtype=dtype), nn.ReLU(), nn.MaxPool2d(2),  # 16 → 14 → 7
        nn.Conv2d(6, 16, 3, dtype=dtype), nn.ReLU(), nn.MaxPool2d(2),  # 7 → 5 → 2 (a row dropped)
        nn.Flatten(), nn.Linear(16 * 2 * 2, 32, dtype=dtype), nn.ReLU(), nn.Linear(32, 10, dtype=dtype),
    )


def crops_one_by_one(model, image, window, stride):
    """The obvious loop: classify image[:, :, i·s : i·s + h, j·s : j·s + w] for every window."""
    (h, w), (sh, sw) = window, stride
    H, W = image.shape[2:]
    rows = []
    for top in range(0, H - h + 1, sh):
        rows.append([model(em.tensor(image[:, :, top:top + h, left:left + w])).detach().numpy()
                     for left in range(0, W - w + 1, sw)])
    return np.array(rows).transpose(2, 3, 0, 1)  # (Gh, Gw, N, K) → (N, K, Gh, Gw)


@pytest.mark.parametrize("dtype,tol", [(em.float32, 1e-5), (em.float64, 1e-10)])
def test_convolutionalized_lenet_equals_classifying_every_crop(dtype, tol):
    model = lenet_like(dtype)
    image = rng.standard_normal((2, 1, 24, 24)).astype(dtype)
    detector = convolutionalize(model, (1, 16, 16))
    assert window_stride(model) == (4, 4)
    scores = detector(em.tensor(image)).detach().numpy()
    assert scores.shape == (2, 10, 3, 3) and scores.dtype == dtype
    naive = sliding_window_predictions(model, image, 16, 4).detach().numpy()
    np.testing.assert_allclose(scores, naive, rtol=tol, atol=tol)
    np.testing.assert_allclose(naive, crops_one_by_one(model, image, (16, 16), (4, 4)), rtol=tol, atol=tol)


def test_linears_become_a_whole_map_conv_then_1x1_convs_with_the_same_weights():
    model = lenet_like(em.float64)
    detector = convolutionalize(model, (1, 16, 16))
    first, last = detector[6], detector[8]
    assert isinstance(first, nn.Conv2d) and first.weight.shape == (32, 16, 2, 2)
    assert isinstance(last, nn.Conv2d) and last.weight.shape == (10, 32, 1, 1)
    assert_close(first.weight.detach().numpy().reshape(32, -1), model[7].weight.detach().numpy())
    assert_close(last.bias, model[9].bias)
    with em.no_grad():
        model[0].weight.array[...] = 0  # the detector holds copies, not the classifier's own layers
    assert detector[0].weight.detach().numpy().any()


def test_on_one_window_it_is_the_classifier():
    model = lenet_like(em.float64)
    x = em.tensor(rng.standard_normal((5, 1, 16, 16)))
    assert_close(convolutionalize(model, (1, 16, 16))(x)[:, :, 0, 0], model(x))


def test_nested_sequentials_strides_pools_norms_and_non_square_windows():
    body = nn.Sequential(OrderedDict(
        conv=nn.Conv2d(3, 4, (3, 2), stride=(1, 2), dtype=em.float64), bn=nn.BatchNorm2d(4, dtype=em.float64),
        act=nn.Tanh(), pool=nn.AvgPool2d(2), drop=nn.Dropout2d(0.3),
    ))
    head = nn.Sequential(nn.Dropout(0.5), nn.Linear(4 * 5 * 2, 12, dtype=em.float64), nn.LeakyReLU(0.1),
                         nn.Linear(12, 3, dtype=em.float64), nn.LogSoftmax(dim=1))
    model = nn.Sequential(body, nn.Sequential(nn.Flatten(), head))
    model.train()
    model(em.tensor(rng.standard_normal((8, 3, 12, 9))))  # give BatchNorm running statistics
    model.eval()
    image = rng.standard_normal((1, 3, 21, 23))
    assert window_stride(model) == (2, 4)
    detector = convolutionalize(model, (3, 12, 9))
    scores = detector(em.tensor(image)).detach().numpy()
    assert scores.shape == (1, 3, 5, 4)
    np.testing.assert_allclose(scores, crops_one_by_one(model, image, (12, 9), (2, 4)), rtol=1e-10, atol=1e-10)


def test_unsupported_layers_and_shapes_are_named():
    linear_head = [nn.Flatten(), nn.Linear(8 * 6 * 6, 2)]
    with pytest.raises(ValueError, match=r"Conv2d\(1, 8.*padding.*pads its input"):
        convolutionalize(nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), *linear_head), (1, 6, 6))
    with pytest.raises(ValueError, match="MaxPool2d.*ceil_mode"):
        convolutionalize(nn.Sequential(nn.MaxPool2d(2, ceil_mode=True), nn.Flatten(), nn.Linear(9, 2)), (1, 6, 6))
    with pytest.raises(ValueError, match="AdaptiveAvgPool2d.*not supported before Flatten"):
        convolutionalize(nn.Sequential(nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Linear(4, 2)), (1, 6, 6))
    with pytest.raises(ValueError, match="BatchNorm1d.*not supported after Flatten"):
        convolutionalize(nn.Sequential(nn.Flatten(), nn.BatchNorm1d(36), nn.Linear(36, 2)), (1, 6, 6))
    with pytest.raises(ValueError, match="expected one Flatten.*found 0"):
        convolutionalize(nn.Sequential(nn.Conv2d(1, 2, 3)), (1, 6, 6))
    with pytest.raises(ValueError, match="no Linear after Flatten"):
        convolutionalize(nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten()), (1, 6, 6))
    with pytest.raises(TypeError, match="expected an nn.Sequential"):
        convolutionalize(em.models.lenet.LeNet5(), (1, 32, 32))


def test_an_input_shape_that_does_not_fit_is_named():
    model = lenet_like()
    with pytest.raises(ValueError, match=r"Linear\(in_features=64.*expects 64 features but the body's \(16, 3, 3\) "
                                         r"map gives 144"):
        convolutionalize(model, (1, 20, 20))
    with pytest.raises(ValueError, match=r"Conv2d\(6, 16.*does not fit its input map \(6, 2, 2\)"):
        convolutionalize(model, (1, 6, 6))
    with pytest.raises(ValueError, match=r"Conv2d\(1, 6.*expects 1 channels, gets 3"):
        convolutionalize(model, (3, 16, 16))
    with pytest.raises(ValueError, match=r"input_shape must be the windows' \(C, h, w\)"):
        convolutionalize(model, (16, 16))
    with pytest.raises(ValueError, match=r"image of shape \(1, 1, 12, 30\).*no \(16, 16\) window"):
        sliding_window_predictions(model, np.zeros((1, 1, 12, 30), np.float32), 16, 4)


def test_the_converted_model_trains_like_any_model():
    detector = convolutionalize(lenet_like(), (1, 16, 16))
    detector(em.randn(2, 1, 24, 24)).sum().backward()
    assert all(p.grad is not None and p.grad.shape == p.shape for p in detector.parameters())


# -- the example ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def example():
    module = load_example("sliding_windows")
    return module


def test_example_finds_the_digit_and_writes_the_score_map(example, tmp_path):
    result = example.main(tmp_path / "out", steps=250)
    assert result["path"] == tmp_path / "out" / "sliding_windows.png" and result["path"].exists()
    assert result["window_accuracy"] > 0.75
    assert result["found"] == result["digit"]
    assert max(abs(a - b) for a, b in zip(result["found_at"], result["placed_at"], strict=True)) <= 2


def test_example_untrained_classifier_is_at_chance(example):
    assert example.train_classifier(steps=0)[1] < 0.4

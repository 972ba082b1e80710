"""RoIPool and RoIAlign layers: torchvision's constructor and repr, the functional ops underneath,
gradients to the feature map, errors naming the layer."""
import numpy as np
import pytest

import ember as em
from ember.nn.roi import RoIAlign, RoIPool
from ember.ops.roi import roi_align, roi_pool
from torch_parity import assert_close

rng = np.random.default_rng(0)


def test_reprs_match_torchvision():
    # torchvision.ops.RoIPool/RoIAlign.__repr__ print the arguments as given
    assert repr(RoIPool(7, 0.0625)) == "RoIPool(output_size=7, spatial_scale=0.0625)"
    assert repr(RoIAlign((7, 5), 0.25, 2)) == \
        "RoIAlign(output_size=(7, 5), spatial_scale=0.25, sampling_ratio=2, aligned=False)"
    assert repr(RoIAlign(3, 1.0, -1, aligned=True)) == \
        "RoIAlign(output_size=3, spatial_scale=1.0, sampling_ratio=-1, aligned=True)"


def test_layers_have_no_state():
    for layer in (RoIPool(2, 1.0), RoIAlign(2, 1.0, 0)):
        assert list(layer.parameters()) == [] and dict(layer.state_dict()) == {}
        layer.load_state_dict({})


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_layers_run_the_functional_ops(dtype):
    x = em.tensor(rng.standard_normal((2, 3, 10, 12)).astype(dtype))
    rois = [em.tensor([[1.0, 2, 17, 13], [-3, 0, 6, 30]], dtype=dtype), em.tensor([[4.0, 4, 5, 5]], dtype=dtype)]
    pool, align = RoIPool((3, 2), 0.5), RoIAlign(4, 0.5, 0, aligned=True)
    assert pool(x, rois).dtype == dtype
    assert_close(pool(x, rois), roi_pool(x, rois, (3, 2), 0.5))
    assert_close(align(x, rois), roi_align(x, rois, 4, 0.5, 0, True))
    assert align(x, rois).shape == (3, 3, 4, 4)


def test_roi_pool_layer_known_answer_and_gradient():
    x = em.arange(36, dtype=em.float64).reshape(1, 1, 6, 6).requires_grad_()
    y = RoIPool(2, 0.5)(x, em.tensor([[0.0, 0, 0, 10, 10]]))  # → pixels 0..5: 3 × 3 bins
    np.testing.assert_array_equal(y.detach().numpy()[0, 0], [[14, 17], [32, 35]])
    y.sum().backward()
    grad = np.zeros((6, 6))
    grad[[2, 2, 5, 5], [2, 5, 2, 5]] = 1
    np.testing.assert_array_equal(x.grad.numpy()[0, 0], grad)


def test_roi_align_layer_averages_a_constant_map():
    x = em.full((1, 2, 8, 8), 3.0, dtype=em.float64, requires_grad=True)
    y = RoIAlign(2, 1.0, 2)(x, em.tensor([[0.0, 1, 1, 6, 6]]))
    assert_close(y, np.full((1, 2, 2, 2), 3.0))
    y.sum().backward()
    assert x.grad.numpy().sum() == pytest.approx(8.0)  # each of the 8 outputs spreads a weight of 1


def test_bad_arguments_name_the_layer():
    with pytest.raises(ValueError, match="RoIPool: output_size must be positive"):
        RoIPool(0, 1.0)
    with pytest.raises(ValueError, match="RoIAlign: output_size must be an int or a tuple of 2 ints"):
        RoIAlign((2, 2, 2), 1.0, 0)
    with pytest.raises(ValueError, match=r"RoIAlign\(output_size=2.*on input of shape \(3, 8, 8\)"):
        RoIAlign(2, 1.0, 0)(em.randn(3, 8, 8), em.tensor([[0.0, 1, 1, 4, 4]]))
    with pytest.raises(ValueError, match=r"RoIPool\(output_size=2.*boxes must be a \(K, 5\)"):
        RoIPool(2, 1.0)(em.randn(1, 3, 8, 8), em.tensor([[1.0, 1, 4, 4]]))

"""The PCA projection of word vectors and its labelled scatter plot."""
import numpy as np
import pytest
from matplotlib.image import imread

from ember.viz.embeddings import pca_2d, plot_embeddings


def test_pca_finds_the_plane_of_largest_variance():
    rng = np.random.default_rng(0)
    plane = rng.standard_normal((50, 2)) * [10.0, 3.0]
    basis = np.linalg.qr(rng.standard_normal((6, 6)))[0][:, :2]
    X = plane @ basis.T + 0.01 * rng.standard_normal((50, 6)) + 5.0
    points = pca_2d(X)
    # an orthogonal map of the planted plane: the pairwise distances survive the projection
    distances = np.linalg.norm(points[:, None] - points[None], axis=-1)
    planted = np.linalg.norm(plane[:, None] - plane[None], axis=-1)
    np.testing.assert_allclose(distances, planted, atol=0.1)
    assert points[:, 0].var() > points[:, 1].var()
    np.testing.assert_allclose(points.mean(axis=0), 0, atol=1e-9)
    np.testing.assert_array_equal(pca_2d(X), points)  # sign fixed: repeatable


def test_plot_embeddings_writes_a_labelled_png(tmp_path):
    vectors = {w: np.random.default_rng(i).standard_normal(8).astype(np.float32)
               for i, w in enumerate(["king", "queen", "man", "woman", "son"])}
    fig = plot_embeddings(vectors, list(vectors), tmp_path / "words.png", title="test")
    labels = sorted(t.get_text() for t in fig.axes[0].texts)
    assert labels == sorted(vectors)
    image = imread(tmp_path / "words.png")
    assert image.shape[0] > 100 and image.std() > 0
    with pytest.raises(KeyError, match="no vectors for \\['prince'\\]"):
        plot_embeddings(vectors, ["king", "prince"])
    with pytest.raises(ValueError, match="at least two vectors"):
        pca_2d(np.ones((1, 3)))

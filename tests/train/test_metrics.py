"""Metrics against known answers and scikit-learn."""
import numpy as np
import pytest
from sklearn.metrics import confusion_matrix as sk_confusion_matrix
from sklearn.metrics import top_k_accuracy_score

import ember as em
from ember.train import accuracy, confusion_matrix, get_metric, top_k_accuracy


def test_accuracy_known_answers():
    scores = em.tensor([[2.0, 1.0, 0.0], [0.0, 3.0, 1.0], [0.0, 0.0, 5.0], [1.0, 0.0, 0.0]])
    assert accuracy(scores, em.tensor([0, 1, 2, 2])) == 0.75
    assert accuracy(scores.numpy(), np.array([1, 1, 1, 1])) == 0.25
    assert accuracy([[2.0, 1.0], [0.0, 3.0]], [0, 0]) == 0.5  # plain lists too
    # (N, C, L) scores with (N, L) targets: per-position classes
    seq = np.zeros((1, 2, 3))
    seq[0, 1, [0, 2]] = 1.0
    assert accuracy(seq, np.array([[1, 0, 1]])) == 1.0
    # binary: one logit per sample, threshold 0 (or 0.5 for probabilities)
    assert accuracy(np.array([-1.0, 2.0, 0.3]), np.array([0, 1, 0])) == pytest.approx(2 / 3)
    assert accuracy(np.array([0.2, 0.9, 0.3]), np.array([0.0, 1.0, 0.0]), threshold=0.5) == 1.0


def test_accuracy_errors():
    with pytest.raises(ValueError, match=r"output of shape \(2, 3\) does not fit target of shape \(3,\)"):
        accuracy(np.zeros((2, 3)), np.zeros(3, dtype=np.int64))
    with pytest.raises(ValueError, match="empty batch"):
        accuracy(np.zeros((0, 3)), np.zeros(0, dtype=np.int64))


def test_top_k_and_confusion_matrix_match_sklearn():
    rng = np.random.default_rng(0)
    scores, y = rng.normal(size=(200, 6)), rng.integers(0, 6, 200)
    for k in (1, 2, 5):
        assert top_k_accuracy(scores, y, k=k) == pytest.approx(top_k_accuracy_score(y, scores, k=k, labels=range(6)))
    np.testing.assert_array_equal(confusion_matrix(scores, y), sk_confusion_matrix(y, scores.argmax(1)))
    np.testing.assert_array_equal(confusion_matrix(np.array([0, 1]), np.array([0, 0]), num_classes=3),
                                  [[1, 1, 0], [0, 0, 0], [0, 0, 0]])


def test_get_metric():
    assert get_metric("accuracy") is accuracy and get_metric(len) is len
    with pytest.raises(ValueError, match="unknown metric"):
        get_metric("nope")

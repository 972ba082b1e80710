"""Evaluation metrics on model outputs: accuracy, top-k accuracy, confusion matrix.

Each metric takes ``(output, target)`` — tensors or arrays, on any device — and returns a
Python float (the mean over the batch), so the ``Trainer`` can average them over an epoch
weighted by batch size. ``get_metric(name)`` resolves the names a ``Trainer`` accepts.
"""
from __future__ import annotations

import numpy as np

from ember.backend import to_numpy

__all__ = ["accuracy", "confusion_matrix", "get_metric", "top_k_accuracy"]


def _predicted_classes(output: np.ndarray, target: np.ndarray, threshold: float) -> np.ndarray:
    if output.ndim == target.ndim + 1 and output.shape[:1] + output.shape[2:] == target.shape:
        return output.argmax(axis=1)
    if output.shape == target.shape:  # one logit (or probability) per sample: binary labels
        return (output > threshold).astype(target.dtype)
    raise ValueError(f"accuracy: output of shape {output.shape} does not fit target of shape {target.shape}; "
                     "expected (N, C, ...) scores with (N, ...) class indices, or equal shapes for binary labels")


def accuracy(output, target, threshold: float = 0.0) -> float:
    """Fraction of correct predictions: mean(argmax_c output[:, c] == target).

    ``output`` holds class scores (N, C) or (N, C, d1, ...) with integer ``target`` of shape
    (N,) or (N, d1, ...); or one score per sample, same shape as a 0/1 ``target``, counted as
    class 1 when above ``threshold`` (0 for logits; pass 0.5 for probabilities).

    >>> accuracy(em.tensor([[2.0, 1.0], [0.0, 3.0]]), em.tensor([0, 0]))
    0.5
    """
    output, target = to_numpy(output), to_numpy(target)
    if target.size == 0:
        raise ValueError("accuracy: empty batch")
    return float((_predicted_classes(output, target, threshold) == target).mean())


def top_k_accuracy(output, target, k: int = 5) -> float:
    """Fraction of samples whose true class is among the ``k`` highest scores of ``output`` (N, C).

    >>> top_k_accuracy(em.tensor([[3.0, 2.0, 1.0]]), em.tensor([1]), k=2)
    1.0
    """
    output, target = to_numpy(output), to_numpy(target)
    if output.ndim != 2 or target.shape != output.shape[:1]:
        raise ValueError(f"top_k_accuracy: expects (N, C) scores and (N,) targets, got {output.shape} and "
                         f"{target.shape}")
    k = min(k, output.shape[1])
    top = np.argpartition(-output, k - 1, axis=1)[:, :k]
    return float((top == target[:, None]).any(axis=1).mean())


def confusion_matrix(output, target, num_classes: int | None = None) -> np.ndarray:
    """Counts M[i, j] of samples of true class i predicted as class j (int64, C × C).

    ``output`` may be class scores (N, C) or predicted class indices (N,).

    >>> confusion_matrix(np.array([0, 1, 1]), np.array([0, 0, 1]))
    array([[1, 1],
           [0, 1]])
    """
    output, target = to_numpy(output), to_numpy(target).astype(np.int64).reshape(-1)
    pred = (output.argmax(axis=1) if output.ndim == 2 else output).astype(np.int64).reshape(-1)
    if pred.shape != target.shape:
        raise ValueError(f"confusion_matrix: {pred.shape[0]} predictions for {target.shape[0]} targets")
    C = int(num_classes if num_classes is not None else max(pred.max(initial=-1), target.max(initial=-1)) + 1)
    return np.bincount(target * C + pred, minlength=C * C).reshape(C, C)


_METRICS = {"accuracy": accuracy, "acc": accuracy, "top5_accuracy": top_k_accuracy}


def get_metric(metric):
    """A metric function from its name (``'accuracy'``, ``'top5_accuracy'``) or the callable itself."""
    if callable(metric):
        return metric
    if metric not in _METRICS:
        raise ValueError(f"unknown metric {metric!r}; known: {sorted(_METRICS)} (or pass a callable)")
    return _METRICS[metric]

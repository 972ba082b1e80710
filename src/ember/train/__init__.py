"""Practice: data splits and normalisation, the ``Trainer`` loop and its callbacks, metrics,
and checkpoints that resume training exactly.

>>> from ember.train import Trainer, ProgressBar, EarlyStopping, train_dev_test_split, Normalizer
"""
from ember.train.callbacks import (
    Callback,
    CSVLogger,
    EarlyStopping,
    GradientClipping,
    JSONLLogger,
    LRSchedulerCallback,
    ModelCheckpoint,
    PlotCurves,
    ProgressBar,
    TerminateOnNaN,
)
from ember.train.checkpoint import load_checkpoint, save_checkpoint
from ember.train.metrics import accuracy, confusion_matrix, get_metric, top_k_accuracy
from ember.train.splits import Normalizer, train_dev_test_split
from ember.train.trainer import History, Trainer

__all__ = [
    "CSVLogger", "Callback", "EarlyStopping", "GradientClipping", "History", "JSONLLogger", "LRSchedulerCallback",
    "ModelCheckpoint", "Normalizer", "PlotCurves", "ProgressBar", "TerminateOnNaN", "Trainer", "accuracy",
    "confusion_matrix", "get_metric", "load_checkpoint", "save_checkpoint", "top_k_accuracy",
    "train_dev_test_split",
]

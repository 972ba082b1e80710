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
from ember.train.diagnosis import Diagnose, Diagnosis, diagnose
from ember.train.metrics import accuracy, confusion_matrix, get_metric, top_k_accuracy
from ember.train.multitask import MultiTaskLoss, masked_bce_with_logits
from ember.train.search import (
    BabysitLR,
    Choice,
    IntUniform,
    LogUniform,
    OneMinusLogUniform,
    RandomSearch,
    SearchResults,
    Uniform,
)
from ember.train.splits import Normalizer, train_dev_test_split
from ember.train.tensorboard import (
    TensorBoardLogger,
    attention_image,
    feature_map_grid,
    filter_grid,
    log_attention,
    log_embeddings,
    log_images,
    log_text,
    make_grid,
    summary_writer,
)
from ember.train.trainer import History, Trainer

__all__ = [
    "BabysitLR", "CSVLogger", "Callback", "Choice", "Diagnose", "Diagnosis", "EarlyStopping", "GradientClipping",
    "History", "IntUniform", "JSONLLogger", "LRSchedulerCallback", "LogUniform", "ModelCheckpoint", "MultiTaskLoss",
    "Normalizer", "OneMinusLogUniform", "PlotCurves", "ProgressBar", "RandomSearch", "SearchResults",
    "TensorBoardLogger", "TerminateOnNaN", "Trainer", "Uniform", "accuracy", "attention_image", "confusion_matrix",
    "diagnose", "feature_map_grid", "filter_grid", "get_metric", "load_checkpoint", "log_attention", "log_embeddings",
    "log_images", "log_text", "make_grid", "masked_bce_with_logits", "save_checkpoint", "summary_writer",
    "top_k_accuracy", "train_dev_test_split",
]

"""TensorBoard logging: a ``Trainer`` callback and helpers that write what ``tensorboard --logdir runs`` shows.

``TensorBoardLogger`` writes, under its ``log_dir``:

* scalars — each epoch's row of the history under the Trainer's own names (``loss``,
  ``accuracy``, ``dev_loss``, ``dev_accuracy``, ``lr``, ``time``, ``epoch``) and, with
  ``batch_every``, each batch's loss and metrics as ``batch/loss``, ``batch/accuracy``;
* histograms of every parameter (``parameters/<name>``) and of its gradient
  (``gradients/<name>``, as the optimizer receives it) every ``histogram_every`` epochs;
* images — filter grids, feature maps, anything a callable returns — and text samples
  (a language model's output) after each epoch;
* the model's computation graph, as Graphviz DOT text (see ``TensorBoardLogger``).

Every summary is stamped with the trainer's ``global_step`` (optimisation steps so far), so
batch and epoch curves share one axis and a resumed run hides what the interrupted run wrote
after its checkpoint. The standalone helpers ``log_images``, ``log_attention``, ``log_text`` and
``log_embeddings`` (the projector: word vectors with their labels) take a writer, a
``TensorBoardLogger`` or a log directory and need no Trainer.

Events are written by tensorboardX, an optional extra: ``pip install 'ember[tensorboard]'``.

>>> logger = TensorBoardLogger("runs/mlp", images={"filters": lambda m: filter_grid(m.conv1)})
>>> Trainer(model, opt, nn.CrossEntropyLoss(), callbacks=[logger]).fit(train_loader, dev_loader, epochs=5)
"""
from __future__ import annotations

import os
import sys
import uuid
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from ember import backend
from ember.autograd.grad_mode import enable_grad, no_grad
from ember.autograd.tensor import Tensor
from ember.train.callbacks import Callback
from ember.viz.grids import attention_image, feature_map_grid, filter_grid, make_grid

__all__ = [
    "TensorBoardLogger", "attention_image", "feature_map_grid", "filter_grid", "log_attention", "log_embeddings",
    "log_images", "log_text", "make_grid", "summary_writer",
]

_INSTALL = "pip install 'ember[tensorboard]'"


# -- the event writer ----------------------------------------------------------------------------


def _tensorboardx():
    """The tensorboardX package, imported on first use; ImportError naming the extra when it is missing."""
    # NOTE: tensorboardX's writer imports torch, when installed, only to accept torch tensors. ember hands
    # it NumPy arrays, so torch is hidden for that one import (a None entry makes `import torch` fail):
    # ember never loads PyTorch, and the writer imports in a fraction of a second.
    hide = "torch" not in sys.modules
    if hide:
        sys.modules["torch"] = None
    try:
        import tensorboardX
    except ImportError as error:
        raise ImportError(f"TensorBoard logging needs tensorboardX, an optional extra: {_INSTALL}") from error
    finally:
        if hide and sys.modules.get("torch", False) is None:
            del sys.modules["torch"]
    return tensorboardX


def summary_writer(log_dir, flush_secs: int = 30, purge_step: int | None = None):
    """A tensorboardX ``SummaryWriter`` writing a new event file under ``log_dir`` (created).

    Each writer gets a file name of its own (tensorboardX names files by the second, so two
    writers opened in the same second would otherwise truncate one another). ``purge_step``:
    TensorBoard hides the events of this directory at that step or later (a resumed run).

    >>> writer = summary_writer("runs/exp1")
    >>> writer.add_scalar("loss", 0.25, global_step=10); writer.close()
    """
    tbx = _tensorboardx()
    return tbx.SummaryWriter(str(log_dir), flush_secs=flush_secs, purge_step=purge_step,
                             filename_suffix=f".{uuid.uuid4().hex[:8]}")


@contextmanager
def _writer_for(target, who: str):
    """The writer behind ``target``: a writer as is, a logger's writer, or one opened (and closed) on a directory."""
    if isinstance(target, (str, os.PathLike)):
        writer = summary_writer(target)
        try:
            yield writer
        finally:
            writer.close()
    elif isinstance(target, TensorBoardLogger):
        yield target.writer
    elif hasattr(target, "add_image") and hasattr(target, "add_scalar"):
        yield target
    else:
        raise TypeError(f"{who}: expected a SummaryWriter, a TensorBoardLogger or a log directory, "
                        f"got {type(target).__name__}")


# -- images as arrays ----------------------------------------------------------------------------
# The pictures themselves (make_grid, filter_grid, feature_map_grid, attention_image) are made by
# ember.viz.grids and re-exported from here; this module only turns arrays into TensorBoard images.


def _image_and_format(image, who: str) -> tuple[np.ndarray, str]:
    """An image as tensorboardX takes it: (H, W) 'HW', (C, H, W) 'CHW' (C in 1, 3, 4), a batch tiled by make_grid."""
    a = backend.as_numpy(image)
    if a.ndim == 4:
        a = make_grid(a)
    if a.dtype.kind == "f":
        a = np.clip(a, 0.0, 1.0)  # tensorboardX casts 255·x to uint8, which would wrap values outside [0, 1]
    if a.ndim == 2:
        return a, "HW"
    if a.ndim == 3 and a.shape[0] in (1, 3, 4):
        return a, "CHW"
    raise ValueError(f"{who}: expected an image (H, W) or (C, H, W) with C in 1, 3, 4, or a batch (B, C, H, W); "
                     f"got shape {a.shape}")


# -- standalone logging --------------------------------------------------------------------------


def log_images(writer_or_logdir, images: dict, step: int = 0) -> None:
    """Write images, ``{tag: image}``, to TensorBoard's Images tab at ``step``.

    An image is (H, W) grey, (C, H, W) with C = 1, 3 (RGB) or 4 (RGBA), or a batch
    (B, C, H, W) tiled by ``make_grid``: floats in [0, 1] (clipped) or uint8 in [0, 255].

    >>> log_images("runs/exp1", {"conv1/filters": filter_grid(model.conv1)}, step=0)
    """
    with _writer_for(writer_or_logdir, "log_images") as writer:
        for tag, image in images.items():
            a, dataformats = _image_and_format(image, f"log_images({tag!r})")
            writer.add_image(tag, a, global_step=step, dataformats=dataformats)


def log_attention(writer_or_logdir, weights, input_tokens=None, output_tokens=None, step: int = 0,
                  tag: str = "attention") -> np.ndarray:
    """Write the heat map of attention ``weights`` (T_out, T_in) as image ``tag`` (see ``attention_image``).

    Returns the image (3, H, W) uint8.

    >>> outputs, attention = translator.decode(["25 Dec 2023"])
    >>> log_attention("runs/dates", attention[0], list("25 Dec 2023"), list(outputs[0]) + ["<eos>"])
    """
    image = attention_image(weights, input_tokens, output_tokens)
    with _writer_for(writer_or_logdir, "log_attention") as writer:
        writer.add_image(tag, image, global_step=step, dataformats="CHW")
    return image


def log_embeddings(writer_or_logdir, vectors, labels=None, tag: str = "embedding", step: int = 0) -> Path:
    """Write vectors and their labels for TensorBoard's embedding projector (PCA, t-SNE, UMAP, nearest neighbours).

    Args:
        vectors: (N, D) — an array, a Tensor, an ``nn.Embedding`` (its weight) or a
            ``KeyedVectors`` (whose words are the default labels).
        labels: N strings (tabs and newlines become spaces), or ``None``.

    Writes ``<log_dir>/<step:05d>/<tag>/tensors.tsv`` (and ``metadata.tsv`` with labels) and
    adds the entry to ``<log_dir>/projector_config.pbtxt``. Returns that directory. An
    existing one is an error: choose another ``tag`` or ``step``.

    >>> log_embeddings("runs/w2v", model.wv, tag="word2vec")
    """
    if labels is None and hasattr(vectors, "index_to_key"):
        labels = vectors.index_to_key
    matrix = backend.as_numpy(getattr(vectors, "vectors", getattr(vectors, "weight", vectors)))
    if matrix.ndim != 2:
        raise ValueError(f"log_embeddings: expected vectors (N, D), got shape {matrix.shape}")
    if labels is not None and len(labels) != len(matrix):
        raise ValueError(f"log_embeddings: {len(labels)} labels for {len(matrix)} vectors")
    labels = None if labels is None else [" ".join(str(x).split("\t")).replace("\n", " ") for x in labels]
    with _writer_for(writer_or_logdir, "log_embeddings") as writer:
        where = Path(writer.logdir) / f"{step:05d}" / _encode_tag(tag)
        if where.exists():
            raise FileExistsError(f"log_embeddings: {where} exists; use another tag or step, or a fresh log_dir")
        writer.add_embedding(matrix, metadata=labels, global_step=step, tag=tag)
        writer.flush()
    return where


def _encode_tag(tag: str) -> str:
    """The directory name tensorboardX gives an embedding ``tag`` (``%``, ``/`` and ``\\`` percent-encoded)."""
    return "".join(f"%{ord(c):02x}" if c in "%/\\" else c for c in tag)


def log_text(writer_or_logdir, text: str, tag: str = "text", step: int = 0) -> None:
    """Write ``text`` to TensorBoard's Text tab (as ``<tag>/text_summary``) at ``step``, verbatim.

    TensorBoard renders text as Markdown; wrapping it in a code block keeps line breaks,
    spaces and characters such as ``*`` as they are (a language model's sample, DOT text).

    >>> log_text("runs/charlm", "".join(vocab.decode(model.sample(prefix, 200))), tag="sample", step=100)
    """
    with _writer_for(writer_or_logdir, "log_text") as writer:
        writer.add_text(tag, "```\n" + str(text) + "\n```", global_step=step)


# -- the callback --------------------------------------------------------------------------------


class TensorBoardLogger(Callback):
    """Log a training run for TensorBoard: scalars, weight and gradient histograms, images, text, the graph.

    Args:
        log_dir: the run's directory (``tensorboard --logdir runs`` compares the runs under ``runs/``).
        histogram_every: histograms of every parameter and its gradient each this many epochs
            (0: none). The gradients are those of the epoch's last batch, taken after backward
            and after any ``GradientClipping`` — what the optimizer steps with.
        images: ``{tag: fn(model) -> image}``, or ``fn(model) -> {tag: image}``, called after
            every epoch in eval mode without gradients; images as ``log_images`` takes them,
            e.g. ``filter_grid(model.conv1)`` or ``feature_map_grid(model, "conv1", x)``.
        text_samples: ``fn(model) -> str`` (tag ``sample``) or ``{tag: fn(model) -> str}``,
            called like ``images``, e.g. a language model's sample.
        graph_input: an input batch for the model graph: at the start of training the model
            runs on it once (eval mode, no effect on training) and the autograd graph of its
            output is logged as Graphviz DOT text (``ember.viz.graph``), under the Text tab
            as ``graph``. TensorBoard's Graphs tab is not filled: tensorboardX builds its
            graphs by tracing a PyTorch model. Render the text with ``dot -Tsvg``.
        batch_every: log the batch loss and metrics (``batch/<name>``) every this many steps (0: never).
        flush_secs: how often the writer flushes to disk; it also flushes after every epoch.

    The writer opens when training begins and closes when it ends (``close()`` for a writer
    reopened afterwards by ``writer`` or a helper). It runs after the LR scheduler and early
    stopping, so their changes to the logs are written.

    >>> logger = TensorBoardLogger("runs/lenet", images={"conv1": lambda m: filter_grid(m.conv1)},
    ...                            graph_input=x_train[:8])
    >>> Trainer(model, opt, loss_fn, callbacks=[logger]).fit(train_loader, dev_loader, epochs=10)
    """

    order = 10
    rank_zero_only = True  # in a distributed run only rank 0 writes event files

    def __init__(self, log_dir="runs/ember", histogram_every: int = 1, images=None, text_samples=None,
                 graph_input=None, batch_every: int = 1, flush_secs: int = 30):
        if histogram_every < 0 or batch_every < 0:
            raise ValueError(f"TensorBoardLogger: histogram_every and batch_every must be >= 0, "
                             f"got {histogram_every}, {batch_every}")
        for name, spec in (("images", images), ("text_samples", text_samples)):
            if spec is not None and not callable(spec) and not isinstance(spec, dict):
                raise TypeError(f"TensorBoardLogger: {name} must be a callable or a dict of callables, "
                                f"got {type(spec).__name__}")
        self.log_dir, self.histogram_every, self.batch_every = Path(log_dir), int(histogram_every), int(batch_every)
        self.images, self.text_samples, self.graph_input = images, text_samples, graph_input
        self.flush_secs = flush_secs
        _tensorboardx()  # fail at construction, not after the first epoch, when the extra is missing
        self._writer, self._grads, self._batch = None, {}, 0

    @property
    def writer(self):
        """The open ``SummaryWriter`` (one is opened on ``log_dir`` if none is)."""
        if self._writer is None:
            self._writer = summary_writer(self.log_dir, self.flush_secs)
        return self._writer

    def close(self) -> None:
        """Flush and close the writer."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    # -- hooks -----------------------------------------------------------------------------------
    def on_train_begin(self, trainer):
        self.close()
        resuming = trainer.start_epoch > 0
        self._writer = summary_writer(self.log_dir, self.flush_secs, trainer.global_step if resuming else None)
        if self.graph_input is not None:
            log_text(self.writer, self._graph_text(trainer.model), "graph", trainer.global_step)

    def on_epoch_begin(self, trainer, epoch):
        self._grads = {}

    def on_batch_begin(self, trainer, batch):
        self._batch = batch

    def on_before_step(self, trainer):
        last = trainer.num_batches is None or self._batch == trainer.num_batches - 1
        if self._histograms_due(trainer.epoch) and last:
            self._grads = {name: backend.as_numpy(p.grad.array).copy() for name, p in trainer.model.named_parameters()
                           if p.grad is not None}

    def on_batch_end(self, trainer, batch, logs):
        step = trainer.global_step
        if self.batch_every and step % self.batch_every == 0:
            for name, value in logs.items():
                if _is_number(value):
                    self.writer.add_scalar(f"batch/{name}", float(value), step)

    def on_epoch_end(self, trainer, epoch, logs):
        step = trainer.global_step
        for name, value in logs.items():
            if _is_number(value):
                self.writer.add_scalar(name, float(value), step)
        if self._histograms_due(epoch):
            self._log_histograms(trainer.model, step)
        self._log_model_outputs(trainer.model, step)
        self.writer.flush()

    def on_train_end(self, trainer):
        self.close()

    # -- pieces ----------------------------------------------------------------------------------
    def _histograms_due(self, epoch: int) -> bool:
        return self.histogram_every > 0 and (epoch + 1) % self.histogram_every == 0

    def _log_histograms(self, model, step: int) -> None:
        for name, p in model.named_parameters():
            _add_histogram(self.writer, f"parameters/{name}", backend.as_numpy(p.array), step)
            if name in self._grads:
                _add_histogram(self.writer, f"gradients/{name}", self._grads[name], step)
        self._grads = {}

    def _log_model_outputs(self, model, step: int) -> None:
        if self.images is None and self.text_samples is None:
            return
        with _evaluating(model):
            if self.images is not None:
                images = self.images(model) if callable(self.images) else {t: f(model) for t, f in self.images.items()}
                log_images(self.writer, images, step)
            if self.text_samples is not None:
                texts = {"sample": self.text_samples} if callable(self.text_samples) else self.text_samples
                for tag, fn in texts.items():
                    log_text(self.writer, fn(model), tag, step)

    def _graph_text(self, model) -> str:
        from ember.viz.graph import graph

        x = self.graph_input if isinstance(self.graph_input, (tuple, list)) else (self.graph_input,)
        x = [_model_input(model, v) for v in x]
        with _evaluating(model), enable_grad():
            out = model(*x)
        out = next((o for o in out if isinstance(o, Tensor)), None) if isinstance(out, (tuple, list)) else out
        if not isinstance(out, Tensor):
            raise TypeError(f"TensorBoardLogger: graph_input: {type(model).__name__} returned no tensor")
        return graph(out, params=model)


@contextmanager
def _evaluating(model):
    """Eval mode without gradients; the model's mode is restored afterwards."""
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            yield
    finally:
        model.train(was_training)


def _model_input(model, x) -> Tensor:
    """``x`` as a Tensor on the model's device; a floating-point array takes the model's floating-point dtype."""
    from ember.creation import tensor

    p = next((p for p in model.parameters() if p.dtype.kind == "f"), None)
    if not isinstance(x, Tensor):
        x = tensor(x)
        x = x.to(p.dtype) if p is not None and x.dtype.kind == "f" else x
    return x if p is None else x.to(p.device)


def _is_number(value) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def _add_histogram(writer, tag: str, values: np.ndarray, step: int) -> None:
    """A histogram of the finite values (NaN and ±inf cannot be binned); nothing when there are none."""
    values = values.ravel()
    finite = values[np.isfinite(values)]
    if finite.size:
        writer.add_histogram(tag, finite.astype(np.float64), step)

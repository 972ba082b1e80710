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

import math
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


def _array(x) -> np.ndarray:
    """A Tensor, CuPy or NumPy array, or anything array-like, as a NumPy array (device arrays are copied over)."""
    return backend.to_numpy(x.array if isinstance(x, Tensor) else x) if hasattr(x, "shape") else np.asarray(x)


# -- images as arrays ----------------------------------------------------------------------------


def make_grid(tensor, nrow: int = 8, padding: int = 2, normalize: bool = False, value_range=None,
              scale_each: bool = False, pad_value: float = 0.0) -> np.ndarray:
    """Tile a batch of images (B, C, H, W) into one image (C, H', W'), row by row, as torchvision's ``make_grid``.

    With ``x = min(nrow, B)`` tiles per row and ``y = ⌈B / x⌉`` rows, H' = y·(H + padding) + padding
    and W' = x·(W + padding) + padding; the gaps hold ``pad_value``. ``normalize`` maps
    [lo, hi] to [0, 1] after clipping to it: ``value_range=(lo, hi)``, else the batch's min and
    max, or each image's own with ``scale_each``. A (B, H, W) batch is one channel; unlike
    torchvision, a one-channel batch stays one channel.

    >>> make_grid(np.zeros((5, 3, 4, 4)), nrow=4, padding=1).shape
    (3, 11, 21)
    """
    a = _array(tensor)
    a = a[:, None] if a.ndim == 3 else a
    if a.ndim != 4 or a.shape[0] == 0:
        raise ValueError(f"make_grid: expected a non-empty batch (B, C, H, W) or (B, H, W), got shape {a.shape}")
    if normalize:
        a = a.astype(np.result_type(a.dtype, np.float32))
        lo, hi = value_range if value_range is not None else _batch_range(a, scale_each)
        a = (np.clip(a, lo, hi) - lo) / np.maximum(np.asarray(hi) - lo, 1e-5)
    B, C, H, W = a.shape
    cols = min(nrow, B)
    rows, p = math.ceil(B / cols), padding
    cells = np.full((rows * cols, C, H + p, W + p), pad_value, dtype=a.dtype)
    cells[:B, :, p:, p:] = a  # each cell: its tile after a top and left gap
    grid = cells.reshape(rows, cols, C, H + p, W + p).transpose(2, 0, 3, 1, 4).reshape(C, rows * (H + p),
                                                                                     cols * (W + p))
    return np.pad(grid, ((0, 0), (0, p), (0, p)), constant_values=pad_value)


def _batch_range(a, scale_each):
    axes = (1, 2, 3) if scale_each else None
    return a.min(axis=axes, keepdims=True), a.max(axis=axes, keepdims=True)


def _upscale(a: np.ndarray, scale) -> np.ndarray:
    """Repeat every pixel scale×scale times; ``None`` picks the scale that makes a tile about 32 px."""
    scale = max(1, 32 // max(a.shape[-2:])) if scale is None else int(scale)
    return a.repeat(scale, axis=-2).repeat(scale, axis=-1) if scale > 1 else a


def filter_grid(weight, max_filters: int = 64, nrow: int = 8, padding: int = 1, scale: int | None = None,
                pad_value: float = 1.0) -> np.ndarray:
    """The filters of a conv layer as one image (C, H', W') in [0, 1]: a tile per output filter.

    Args:
        weight: a conv layer (its ``weight``), a Tensor or an array (C_out, C_in, kh, kw); a
            Conv1d's (C_out, C_in, k) gives 1×k strips.
        max_filters: the first filters only. ``nrow``, ``padding``, ``pad_value``: as in ``make_grid``.
        scale: repeat each weight scale×scale pixels (default: tiles of about 32 px).

    C_in = 3 gives RGB tiles (a first layer on colour images); otherwise a filter is averaged
    over its inputs into one grey tile (C = 1). Each filter is min-max scaled on its own, as in
    ``ember.viz.plot_filters``: black its most negative weight, white its most positive.

    >>> filter_grid(nn.Conv2d(3, 6, 5), nrow=3).shape          # 6 tiles of 30×30 in 3 columns
    (3, 63, 94)
    """
    from ember.viz.features import conv_weight_array

    w = conv_weight_array(weight, "filter_grid")[:max_filters]
    w = w if w.shape[1] == 3 else w.mean(axis=1, keepdims=True)
    return make_grid(_upscale(w, scale), nrow, padding, normalize=True, scale_each=True, pad_value=pad_value)


def feature_map_grid(model, layer, input, index: int = 0, max_maps: int = 64, nrow: int = 8, padding: int = 1,
                     scale: int | None = None, pad_value: float = 1.0) -> np.ndarray:
    """The feature maps of ``layer`` (a dotted name or the submodule) for sample ``index`` of ``input``,
    as one grey image (1, H', W') in [0, 1]: a tile per channel, each min-max scaled on its own.

    The maps come from ``ember.viz.feature_maps`` (the forward stops after the layer, without
    gradients, in the model's current mode); a Conv1d's (N, C, L) output gives 1×L strips.
    ``max_maps``, ``nrow``, ``padding``, ``scale``, ``pad_value``: as in ``filter_grid``.

    >>> feature_map_grid(lenet, "conv1", images[:1]).shape     # 6 maps of 28×28 in a row
    (1, 30, 175)
    """
    from ember.viz.features import feature_maps

    maps = feature_maps(model, layer, input)
    if not isinstance(maps, Tensor) or maps.ndim not in (3, 4):
        shape = tuple(maps.shape) if isinstance(maps, Tensor) else type(maps).__name__
        raise ValueError(f"feature_map_grid: layer {layer!r} outputs {shape}, not (N, C, H, W) or (N, C, L) maps")
    m = _array(maps.array[index])[:max_maps].astype(np.float64)
    m = m[:, None] if m.ndim == 3 else m[:, None, None, :]
    return make_grid(_upscale(m, scale), nrow, padding, normalize=True, scale_each=True, pad_value=pad_value)


def attention_image(weights, input_tokens=None, output_tokens=None, cmap: str = "viridis",
                    dpi: int = 100) -> np.ndarray:
    """A heat map of attention weights as an RGB image (3, H, W) uint8: rows are output steps,
    columns input tokens, colour the weight on a fixed 0 → 1 scale (``cmap``), tokens on the axes.

    ``weights``: (T_out, T_in), row t the distribution decoder step t puts over the inputs.
    The figure is (1.2 + 0.3·T_in) × (1.0 + 0.3·T_out) inches (at least 3 × 2.5) at ``dpi``.

    >>> attention_image(np.full((2, 4), 0.25), list("abcd"), ["x", "y"]).shape
    (3, 250, 300)
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    a = _attention_weights(weights, input_tokens, output_tokens)
    T_out, T_in = a.shape
    fig = Figure(figsize=(max(3.0, 1.2 + 0.3 * T_in), max(2.5, 1.0 + 0.3 * T_out)), dpi=dpi, layout="constrained")
    ax = fig.add_subplot()
    ax.imshow(a, cmap=cmap, vmin=0.0, vmax=1.0, aspect="auto", interpolation="nearest")
    if input_tokens is not None:
        ax.set_xticks(range(T_in), [str(t) for t in input_tokens], fontsize=7, rotation=90)
    if output_tokens is not None:
        ax.set_yticks(range(T_out), [str(t) for t in output_tokens], fontsize=7)
    ax.set_xlabel("input", fontsize=8)
    ax.set_ylabel("output", fontsize=8)
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return np.ascontiguousarray(np.asarray(canvas.buffer_rgba())[..., :3].transpose(2, 0, 1))


def _attention_weights(weights, input_tokens, output_tokens) -> np.ndarray:
    a = _array(weights).astype(np.float64)
    if a.ndim != 2:
        raise ValueError(f"attention_image: expected weights (T_out, T_in), got shape {a.shape}")
    for tokens, size, side in ((input_tokens, a.shape[1], "input"), (output_tokens, a.shape[0], "output")):
        if tokens is not None and len(tokens) != size:
            raise ValueError(f"attention_image: {len(tokens)} {side} tokens for weights of shape {a.shape}")
    return a


def _image_and_format(image, who: str) -> tuple[np.ndarray, str]:
    """An image as tensorboardX takes it: (H, W) 'HW', (C, H, W) 'CHW' (C in 1, 3, 4), a batch tiled by make_grid."""
    a = _array(image)
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
    matrix = _array(getattr(vectors, "vectors", getattr(vectors, "weight", vectors)))
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
            self._grads = {name: _array(p.grad.array).copy() for name, p in trainer.model.named_parameters()
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
            _add_histogram(self.writer, f"parameters/{name}", _array(p.array), step)
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

"""``ember demo`` and ``ember train``: a registered model trained on a built-in dataset, end to end.

The recipe of both (``train_classifier``): load the data by name (``ember.data.datasets.load``),
split it 70/10/20 stratified and normalise with the training part's μ, σ (``split_and_normalize``),
build the model from the registry (``ember.models.build``), then configure an
``ember.train.Trainer``: Adam, a cosine learning-rate schedule annealed to 0 over the run,
cross-entropy with label smoothing, and the writing callbacks (progress bar, CSV and JSONL
logs, curves, best checkpoint). Under ``mpiexec`` the Trainer runs data-parallel and rank 0
alone prints and writes. The test part is evaluated once, at the end.

``ember train charlm`` is the character language model instead (``train_char_lm``): an LSTM
trained by truncated backpropagation through time on a text, printing a sample every epoch.

    ember demo --epochs 30 --seed 0 --out runs/demo
    ember train mlp --data mnist1d --hidden 256 128 --dropout 0.1 --epochs 30
"""
from __future__ import annotations

import inspect
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

import ember as em
from ember import models, nn, optim, viz
from ember.apps.arguments import existing_file, non_negative_int, positive_float, positive_int, probability
from ember.data import DataLoader, TensorDataset, datasets
from ember.distributed import get_world_size, is_main_process, launched_by_mpi
from ember.text import char_corpus, evaluate_perplexity, fit_language_model
from ember.train import (
    CSVLogger,
    JSONLLogger,
    LRSchedulerCallback,
    ModelCheckpoint,
    Normalizer,
    PlotCurves,
    ProgressBar,
    Trainer,
    train_dev_test_split,
)

__all__ = ["add_demo_arguments", "add_train_arguments", "classifier_trainer", "demo", "split_and_normalize", "train",
           "train_char_lm", "train_classifier"]


# -- options ------------------------------------------------------------------------------------


def _add_training_options(p, epochs: int, out: str, batch_size: int = 64, label_smoothing: float = 0.0) -> None:
    p.add_argument("--epochs", type=positive_int, default=epochs, help=f"training epochs (default {epochs})")
    p.add_argument("--batch-size", type=positive_int, default=batch_size,
                   help=f"mini-batch size (default {batch_size})")
    p.add_argument("--label-smoothing", type=probability, default=label_smoothing,
                   help=f"cross-entropy label smoothing (default {label_smoothing})")
    p.add_argument("--lr", type=positive_float, default=2e-3, help="Adam learning rate (default 2e-3)")
    p.add_argument("--seed", type=non_negative_int, default=0,
                   help="seed of the split, initialisation, shuffling, dropout")
    p.add_argument("--out", default=out, help=f"output directory for curves, logs, checkpoints (default {out})")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (still prints per-epoch metrics)")


def add_demo_arguments(parser) -> None:
    """The options of ``ember demo`` on an argparse parser (its images are resized to 32×32)."""
    _add_training_options(parser, epochs=30, out="runs/demo", batch_size=32, label_smoothing=0.1)
    parser.set_defaults(resize=32)


def add_train_arguments(parser) -> None:
    """The options of ``ember train MODEL`` on an argparse parser (``train gpt`` has its own, in ``apps.gpt``)."""
    parser.add_argument("model", help="a name from ember.models.available(), e.g. mlp "
                                      "('ember train gpt --help': the GPT's own options)")
    parser.add_argument("--data", default="digits", choices=("digits", "mnist1d"), help="dataset (default digits)")
    parser.add_argument("--hidden", type=positive_int, nargs="+", default=[256],
                        help="hidden layer sizes (default 256)")
    parser.add_argument("--dropout", type=probability, default=0.2, help="dropout probability (default 0.2)")
    parser.add_argument("--resize", type=positive_int, default=None,
                        help="digits only: resize the 8x8 images to SxS")
    parser.add_argument("--text", type=existing_file, default=None,
                        help="charlm: a text file (default: the KJV Bible when installed)")
    parser.add_argument("--seq-len", type=positive_int, default=100,
                        help="charlm: truncated-BPTT length (default 100)")
    parser.add_argument("--max-chars", type=positive_int, default=None,
                        help="charlm: use only the first N characters")
    _add_training_options(parser, epochs=20, out="runs/train")


# -- entry points -------------------------------------------------------------------------------


def demo(args) -> int:
    """``ember demo``: LeNet-5 on the digits resized to 32×32, trained and evaluated end to end."""
    return train_classifier(args, "digits", lambda n_in, n_out: models.build("lenet5", num_classes=n_out))


def train(args) -> int:
    """``ember train MODEL``: build ``MODEL`` from the registry with the options it accepts, then train.

    The recipe offers the constructor the data's sizes and ``--hidden``/``--dropout`` under the
    names models use (``in_features``, ``out_features``, ``num_classes``, ``hidden``, ``dropout``);
    it passes those the constructor's signature names. An unknown model is exit status 2.
    """
    if args.model.lower() not in models.list():
        print(f"ember train: unknown model {args.model!r}; available: {', '.join(models.list())}", file=sys.stderr)
        return 2
    if args.model.lower() == "charlm":
        return train_char_lm(args)

    def build(n_in, n_out):
        offered = {"in_features": n_in, "out_features": n_out, "num_classes": n_out, "hidden": tuple(args.hidden),
                   "dropout": args.dropout}
        accepted = inspect.signature(models.builder(args.model)).parameters
        return models.build(args.model, **{k: v for k, v in offered.items() if k in accepted})

    return train_classifier(args, args.data, build)


# -- the classifier recipe ----------------------------------------------------------------------


def split_and_normalize(X, y, seed: int) -> list[tuple]:
    """``[(X_train, y_train), (X_dev, y_dev), (X_test, y_test)]``: a 70/10/20 split stratified by ``y``,
    each part standardised ``(x − μ)/σ`` with the training part's μ, σ (per channel for images (N, C, H, W))."""
    splits = train_dev_test_split(X, y, fractions=(0.7, 0.1, 0.2), seed=seed, stratify=y)
    norm = Normalizer(axis=(0, 2, 3) if X.ndim == 4 else 0).fit(splits[0][0])
    return [(norm(a), b) for a, b in splits]


def classifier_trainer(model, lr: float, epochs: int, label_smoothing: float = 0.0, betas=(0.9, 0.999),
                       callbacks=(), **trainer_options) -> Trainer:
    """A ``Trainer`` for ``model`` as ``ember demo`` trains one: Adam (``lr``, ``betas``), the learning rate
    annealed to 0 over ``epochs`` by a cosine, cross-entropy with ``label_smoothing``; then ``callbacks``.
    ``trainer_options`` go to the Trainer (``distributed``, ``diagnose``)."""
    optimizer = optim.Adam(model.parameters(), lr=lr, betas=betas)
    # cosine annealing to 0 over the run: large steps early, then a settled minimum at the end
    schedule = LRSchedulerCallback(optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs))
    loss_fn = nn.CrossEntropyLoss(label_smoothing=label_smoothing)
    return Trainer(model, optimizer, loss_fn, callbacks=[schedule, *callbacks], **trainer_options)


def train_classifier(args, data: str, build_model) -> int:
    """Train ``build_model(n_in, n_out)`` on the built-in dataset ``data`` with the options ``args`` of
    ``ember demo``/``ember train``; write curves, logs, checkpoints and ``summary.json`` under ``args.out``."""
    distributed = launched_by_mpi()  # started by mpiexec/mpirun: data-parallel over its processes
    main = not distributed or is_main_process()  # rank 0 alone prints and writes files
    em.manual_seed(args.seed)
    out = Path(args.out)
    resize = getattr(args, "resize", None) if data == "digits" else None  # --resize: the digits' images only
    X, y = datasets.load(data, resize).tensors
    (X_tr, y_tr), (X_dev, y_dev), (X_te, y_te) = split_and_normalize(X, y, args.seed)
    n_in, n_out = math.prod(X_tr.shape[1:]), int(y.numpy().max()) + 1
    model = build_model(n_in, n_out)
    if main:
        print(f"{data}: {len(y_tr)} train / {len(y_dev)} dev / {len(y_te)} test samples of shape "
              f"{tuple(X_tr.shape[1:])}, {n_out} classes\nmodel: {model!r}"
              + (f"\ndistributed: {get_world_size()} processes, batch size {args.batch_size} each"
                 if distributed else ""))
    trainer = classifier_trainer(model, args.lr, args.epochs, args.label_smoothing,
                                 callbacks=_callbacks(args, out), distributed=distributed)
    started = time.perf_counter()
    trainer.fit(DataLoader(TensorDataset(X_tr, y_tr), batch_size=args.batch_size, shuffle=True, seed=args.seed),
                DataLoader(TensorDataset(X_dev, y_dev), batch_size=512), epochs=args.epochs)
    test = trainer.evaluate(DataLoader(TensorDataset(X_te, y_te), batch_size=512))
    seconds = time.perf_counter() - started
    if main:
        _save_first_filters(model, out / "filters.png")
        _report(out, test, seconds, vars(args))
    return 0


def _callbacks(args, out: Path) -> list:
    return [
        ProgressBar(disable=True if args.no_progress else None),
        CSVLogger(out / "metrics.csv"),
        JSONLLogger(out / "metrics.jsonl"),
        PlotCurves(out / "curves.png"),
        ModelCheckpoint(out, monitor="dev_accuracy"),
    ]


def _save_first_filters(model, path: Path) -> None:
    """A picture of the first convolution's learned filters, when the model has one."""
    first = next((m for m in model.modules() if isinstance(m, (nn.Conv1d, nn.Conv2d))), None)
    if first is not None:
        viz.plot_filters(first, path, title="first-layer filters")
        print(f"wrote {path}")


def _report(out: Path, test: dict, seconds: float, options: dict) -> None:
    options = {k: v for k, v in options.items() if k not in ("func", "command")}
    summary = {"test_loss": test["loss"], "test_accuracy": test["accuracy"], "seconds": seconds, "options": options}
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(f"test loss {test['loss']:.4f}  test accuracy {test['accuracy']:.4f}  ({seconds:.1f}s)")
    print(f"wrote {out / 'curves.png'}, {out / 'metrics.csv'}, {out / 'metrics.jsonl'}, "
          f"{out / 'best.safetensors'}, {out / 'summary.json'}")


# -- the character language model ---------------------------------------------------------------


def train_char_lm(args) -> int:
    """``ember train charlm``: a character LSTM on a text file, printing samples as it trains.

    The first 90 % of the characters train, the last 10 % measure the dev perplexity; writes the
    weights (``charlm.safetensors``) and the vocabulary (``vocab.json``) under ``args.out``.
    """
    em.manual_seed(args.seed)
    try:
        text = datasets.text_corpus(args.text)[: args.max_chars]
    except (FileNotFoundError, RuntimeError) as err:
        print(f"ember train charlm: {err}", file=sys.stderr)
        return 2
    vocab, ids = char_corpus(text)
    split = int(0.9 * len(ids))
    model = models.build("charlm", vocab_size=len(vocab), hidden_size=args.hidden[0])
    print(f"text: {len(ids):,} characters, {len(vocab)} symbols; model: {model!r}")
    rng, prompt = np.random.default_rng(args.seed), vocab.encode(list(text[:1]))

    def report(epoch, record):
        sample = "".join(vocab.decode(model.sample(list(prompt), 200, temperature=0.8, top_k=10, generator=rng)))
        print(f"epoch {epoch}/{args.epochs}  perplexity {record['perplexity']:.2f}  dev perplexity "
              f"{record['dev_perplexity']:.2f}  ({record['seconds']:.1f}s)\n--- sample ---\n{sample}\n")

    started = time.perf_counter()
    fit_language_model(model, ids[:split], ids[split:], epochs=args.epochs, batch_size=args.batch_size,
                       seq_len=args.seq_len, lr=args.lr, on_epoch=report, progress=not args.no_progress)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    em.save(model.state_dict(), out / "charlm.safetensors")
    vocab.save(out / "vocab.json")
    dev = evaluate_perplexity(model, ids[split:], args.batch_size, args.seq_len)
    print(f"dev perplexity {dev:.2f}  ({time.perf_counter() - started:.1f}s); wrote {out / 'charlm.safetensors'}, "
          f"{out / 'vocab.json'}")
    return 0

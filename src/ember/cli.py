"""The ``ember`` command line (also ``python -m ember``).

    ember demo                     train the default model on the bundled digits
    ember train mlp --data digits  train a registered model on a built-in dataset
    ember train gpt --text FILE    a character-level GPT; then ember generate --checkpoint DIR
    mpiexec -n 2 ember train ...   the same, data-parallel on 2 processes (batch size per process)
    ember --help                   every subcommand, one line each

Each subcommand's ``--help`` shows an example. Runs write their curves (PNG), metric logs
(CSV and JSONL) and checkpoints under ``--out`` (``runs/<command>`` by default).
"""
from __future__ import annotations

import argparse
import importlib
import inspect
import json
import math
import sys
import time
from pathlib import Path

from ember.apps.arguments import (
    existing_dir,
    existing_file,
    non_negative_int,
    port_number,
    positive_float,
    positive_int,
    probability,
)

__all__ = ["build_parser", "main"]

# Subcommands that run an app of ember.apps: name → (module, one-line help, example). Each module
# has add_arguments(parser) and run(args).
_APPS = {
    "search": ("ember.apps.search", "random hyper-parameter search on the demo model, coarse to fine",
               "ember search --trials 20 --epochs 3"),
    "word2vec": ("ember.apps.word2vec", "train word vectors on a text corpus, query and plot them",
                 "ember word2vec corpus.txt --epochs 5 --query king --plot king queen man woman"),
    "detect-shapes": ("ember.apps.detect_shapes", "train a YOLO-style detector on synthetic shapes, report mAP",
                      "ember detect-shapes --out runs/detect-shapes"),
    "bench": ("ember.apps.bench", "speed of ember against PyTorch, side by side, one table",
              "ember bench --only mlp cnn --rounds 3"),
    "playground": ("ember.playground", "interactive pages in the browser: playground, convolutions, embeddings",
                   "ember playground --port 8000"),
}
# The argument types of options that an app outside ember.apps declares without one: the CLI sets
# them, so that a bad value stops at parsing like everywhere else (rather than starting a server).
_OPTION_TYPES = {
    "playground": {"--port": port_number, "--max-sessions": positive_int, "--lenet": existing_file,
                   "--vectors": existing_file, "--dates-model": existing_dir},
}


# -- parser -------------------------------------------------------------------------------------


class _CommandListFormatter(argparse.HelpFormatter):
    """Keeps each subcommand and its help on one line (argparse sizes the column without the sub-indent)."""

    def add_argument(self, action):
        super().add_argument(action)
        if isinstance(action, argparse._SubParsersAction):
            longest = max(map(len, action.choices)) + self._current_indent + self._indent_increment
            self._action_max_length = max(self._action_max_length, longest)


def _subparser(subparsers, name: str, help_text: str, example: str) -> argparse.ArgumentParser:
    return subparsers.add_parser(name, help=help_text, description=help_text[0].upper() + help_text[1:] + ".",
                                 epilog=f"example:\n  {example}", formatter_class=argparse.RawDescriptionHelpFormatter)


def _add_training_options(p: argparse.ArgumentParser, epochs: int, out: str, batch_size: int = 64,
                          label_smoothing: float = 0.0) -> None:
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


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = argparse.ArgumentParser(prog="ember", description="ember: deep learning from first principles on NumPy.",
                                     epilog="run 'ember COMMAND --help' for a command's options and an example",
                                     formatter_class=_CommandListFormatter)
    from ember import __version__

    parser.add_argument("--version", action="version", version=f"ember {__version__}")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")

    demo = _subparser(sub, "demo", "train LeNet-5 on 32x32 digits, report accuracy",
                      "ember demo --epochs 30 --seed 0 --out runs/demo")
    _add_training_options(demo, epochs=30, out="runs/demo", batch_size=32, label_smoothing=0.1)
    demo.set_defaults(func=cmd_demo, resize=32)

    train = _subparser(sub, "train", "train a registered model on digits or mnist1d, or a GPT on a text",
                       "ember train mlp --data mnist1d --hidden 256 128 --dropout 0.1 --epochs 30")
    train.add_argument("model", help="a name from ember.models.available(), e.g. mlp "
                                     "('ember train gpt --help': the GPT's own options)")
    train.add_argument("--data", default="digits", choices=("digits", "mnist1d"), help="dataset (default digits)")
    train.add_argument("--hidden", type=positive_int, nargs="+", default=[256],
                       help="hidden layer sizes (default 256)")
    train.add_argument("--dropout", type=probability, default=0.2, help="dropout probability (default 0.2)")
    train.add_argument("--resize", type=positive_int, default=None, help="digits only: resize the 8x8 images to SxS")
    train.add_argument("--text", type=existing_file, default=None,
                       help="charlm: a text file (default: the KJV Bible when installed)")
    train.add_argument("--seq-len", type=positive_int, default=100,
                       help="charlm: truncated-BPTT length (default 100)")
    train.add_argument("--max-chars", type=positive_int, default=None,
                       help="charlm: use only the first N characters")
    _add_training_options(train, epochs=20, out="runs/train")
    train.set_defaults(func=cmd_train)

    summary = _subparser(sub, "summary", "layer shapes, parameters, receptive fields",
                         "ember summary resnet18 --input-shape 1 3 32 32 --kwargs num_classes=10 cifar_stem=True")
    summary.add_argument("model", help="a name from ember.models.available(), e.g. lenet5")
    summary.add_argument("--input-shape", type=positive_int, nargs="+", default=[1, 1, 32, 32],
                         help="input shape with the batch dimension (default 1 1 32 32)")
    summary.add_argument("--kwargs", nargs="*", default=[], metavar="KEY=VALUE",
                         help="constructor arguments, values read as Python literals")
    summary.set_defaults(func=cmd_summary)

    dates = _subparser(sub, "translate-dates", "seq2seq with attention: dates to ISO",
                       "ember translate-dates --epochs 5 --out runs/translate-dates\n"
                       "  ember translate-dates --translate \"3rd of March 2021\"")
    from ember.apps.date_translator import add_arguments as add_date_arguments

    add_date_arguments(dates)
    dates.set_defaults(func=cmd_translate_dates)

    generate = _subparser(sub, "generate", "continue a prompt with a GPT trained by 'ember train gpt'",
                          'ember generate --checkpoint runs/gpt --prompt "In the beginning" --max-new-tokens 300')
    from ember.apps.gpt import add_generate_arguments
    from ember.apps.gpt import generate as generate_text

    add_generate_arguments(generate)
    generate.set_defaults(func=generate_text)

    for name, (module, help_text, example) in _APPS.items():
        app = importlib.import_module(module)
        app.add_arguments(command := _subparser(sub, name, help_text, example))
        _set_types(command, _OPTION_TYPES.get(name, {}))
        command.set_defaults(func=app.run)
    return parser


def _set_types(parser: argparse.ArgumentParser, types: dict) -> None:
    """Give the options of ``parser`` named in ``types`` (option string → argparse type) their type."""
    for action in parser._actions:
        for option in action.option_strings:
            if option in types:
                action.type = types[option]


def main(argv=None) -> int:
    """Entry point of the ``ember`` command: parse ``argv`` and run the subcommand; returns the exit code."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["train"] and len(argv) > 1 and argv[1].lower() == "gpt":
        return _train_gpt(argv[2:])  # iterations and model sizes rather than the epoch trainer's options
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "func"):
        parser.print_help()
        return 0
    return int(args.func(args) or 0)


# -- commands -----------------------------------------------------------------------------------


def _train_gpt(argv) -> int:
    """``ember train gpt``: a character-level GPT on a text file (ember.apps.gpt), with its own options."""
    from ember.apps import gpt

    parser = argparse.ArgumentParser(prog="ember train gpt", description="Train a character-level GPT on a text.",
                                     epilog="example:\n  ember train gpt --text corpus.txt --iters 2000 --out runs/gpt",
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    gpt.add_arguments(parser)
    return int(gpt.run(parser.parse_args(argv)) or 0)


def cmd_demo(args) -> int:
    """``ember demo``: LeNet-5 on the digits resized to 32×32, trained and evaluated end to end."""
    from ember import models

    return _run(args, "digits", lambda n_in, n_out: models.get("lenet5", num_classes=n_out))


def cmd_translate_dates(args) -> int:
    """``ember translate-dates``: train the date translator, or ``--translate TEXT`` with a saved one."""
    from ember.apps.date_translator import main_translate_dates

    return main_translate_dates(args)


def cmd_summary(args) -> int:
    """``ember summary MODEL``: build ``MODEL`` from the registry and print its layer table."""
    import ast

    from ember import models

    if args.model.lower() not in models.available():
        print(f"ember summary: unknown model {args.model!r}; available: {', '.join(models.available())}",
              file=sys.stderr)
        return 2
    try:
        kwargs = {key: ast.literal_eval(value) for key, value in (item.split("=", 1) for item in args.kwargs)}
    except (ValueError, SyntaxError) as err:
        print(f"ember summary: --kwargs expects KEY=VALUE pairs with Python literal values ({err})", file=sys.stderr)
        return 2
    try:
        models.get(args.model, **kwargs).summary(tuple(args.input_shape))
    except (TypeError, ValueError) as err:  # a constructor argument or an input shape the model refuses
        print(f"ember summary: {args.model} with --kwargs {' '.join(args.kwargs) or '(none)'} and --input-shape "
              f"{' '.join(map(str, args.input_shape))}: {err}", file=sys.stderr)
        return 2
    return 0


def cmd_train(args) -> int:
    """``ember train MODEL``: build ``MODEL`` from the registry with the options it accepts, then train."""
    from ember import models

    if args.model.lower() not in models.available():
        print(f"ember train: unknown model {args.model!r}; available: {', '.join(models.available())}",
              file=sys.stderr)
        return 2
    if args.model.lower() == "charlm":
        return _run_char_lm(args)

    def build(n_in, n_out):
        offered = {"in_features": n_in, "out_features": n_out, "num_classes": n_out, "hidden": tuple(args.hidden),
                   "dropout": args.dropout}
        constructor = models._REGISTRY[args.model.lower()]
        accepted = inspect.signature(constructor).parameters
        return models.get(args.model, **{k: v for k, v in offered.items() if k in accepted})

    return _run(args, args.data, build)


def load_data(name: str, resize=None):
    from ember.data import datasets

    dataset = datasets.digits(resize=resize) if name == "digits" else datasets.mnist1d(train=None)
    return dataset.tensors


def _run(args, data: str, build_model) -> int:
    import ember as em
    from ember import nn, optim
    from ember.data import DataLoader, TensorDataset
    from ember.distributed import get_world_size, is_main_process, launched_by_mpi
    from ember.train import LRSchedulerCallback, Normalizer, Trainer, train_dev_test_split

    distributed = launched_by_mpi()  # started by mpiexec/mpirun: data-parallel over its processes
    main = not distributed or is_main_process()  # rank 0 alone prints and writes files
    em.manual_seed(args.seed)
    out = Path(args.out)
    X, y = load_data(data, getattr(args, "resize", None))
    splits = train_dev_test_split(X, y, fractions=(0.7, 0.1, 0.2), seed=args.seed, stratify=y)
    norm = Normalizer(axis=(0, 2, 3) if X.ndim == 4 else 0).fit(splits[0][0])  # per channel for images
    (X_tr, y_tr), (X_dev, y_dev), (X_te, y_te) = [(norm(a), b) for a, b in splits]
    n_in, n_out = math.prod(X_tr.shape[1:]), int(y.numpy().max()) + 1
    model = build_model(n_in, n_out)
    if main:
        print(f"{data}: {len(y_tr)} train / {len(y_dev)} dev / {len(y_te)} test samples of shape "
              f"{tuple(X_tr.shape[1:])}, {n_out} classes\nmodel: {model!r}"
              + (f"\ndistributed: {get_world_size()} processes, batch size {args.batch_size} each"
                 if distributed else ""))
    optimizer = optim.Adam(model.parameters(), lr=args.lr)
    # cosine annealing to 0 over the run: large steps early, then a settled minimum at the end
    schedule = LRSchedulerCallback(optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs))
    loss_fn = nn.CrossEntropyLoss(label_smoothing=args.label_smoothing)
    trainer = Trainer(model, optimizer, loss_fn, callbacks=[schedule, *_callbacks(args, out)],
                      distributed=distributed)
    started = time.perf_counter()
    trainer.fit(DataLoader(TensorDataset(X_tr, y_tr), batch_size=args.batch_size, shuffle=True, seed=args.seed),
                DataLoader(TensorDataset(X_dev, y_dev), batch_size=512), epochs=args.epochs)
    test = trainer.evaluate(DataLoader(TensorDataset(X_te, y_te), batch_size=512))
    seconds = time.perf_counter() - started
    if main:
        _save_first_filters(model, out / "filters.png")
        _report(out, test, seconds, vars(args))
    return 0


def _run_char_lm(args) -> int:
    """``ember train charlm``: a character LSTM on a text file, printing samples as it trains."""
    import numpy as np

    import ember as em
    from ember import models
    from ember.data.datasets import text_corpus
    from ember.text import char_corpus, evaluate_perplexity, fit_language_model

    em.manual_seed(args.seed)
    try:
        text = text_corpus(args.text)[: args.max_chars]
    except (FileNotFoundError, RuntimeError) as err:
        print(f"ember train charlm: {err}", file=sys.stderr)
        return 2
    vocab, ids = char_corpus(text)
    split = int(0.9 * len(ids))
    model = models.get("charlm", vocab_size=len(vocab), hidden_size=args.hidden[0])
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


def _save_first_filters(model, path: Path) -> None:
    """A picture of the first convolution's learned filters, when the model has one."""
    from ember import nn, viz

    first = next((m for m in model.modules() if isinstance(m, (nn.Conv1d, nn.Conv2d))), None)
    if first is not None:
        viz.plot_filters(first, path, title="first-layer filters")
        print(f"wrote {path}")


def _callbacks(args, out: Path) -> list:
    from ember.train import CSVLogger, JSONLLogger, ModelCheckpoint, PlotCurves, ProgressBar

    return [
        ProgressBar(disable=True if args.no_progress else None),
        CSVLogger(out / "metrics.csv"),
        JSONLLogger(out / "metrics.jsonl"),
        PlotCurves(out / "curves.png"),
        ModelCheckpoint(out, monitor="dev_accuracy"),
    ]


def _report(out: Path, test: dict, seconds: float, options: dict) -> None:
    options = {k: v for k, v in options.items() if k not in ("func", "command")}
    summary = {"test_loss": test["loss"], "test_accuracy": test["accuracy"], "seconds": seconds, "options": options}
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(f"test loss {test['loss']:.4f}  test accuracy {test['accuracy']:.4f}  ({seconds:.1f}s)")
    print(f"wrote {out / 'curves.png'}, {out / 'metrics.csv'}, {out / 'metrics.jsonl'}, "
          f"{out / 'best.safetensors'}, {out / 'summary.json'}")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

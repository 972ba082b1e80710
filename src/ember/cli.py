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
import sys

from ember.apps import summary as summary_app
from ember.apps import train as train_app
from ember.apps.arguments import existing_dir, existing_file, port_number, positive_int

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


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = argparse.ArgumentParser(prog="ember", description="ember: deep learning from first principles on NumPy.",
                                     epilog="run 'ember COMMAND --help' for a command's options and an example",
                                     formatter_class=_CommandListFormatter)
    from ember._version import __version__

    parser.add_argument("--version", action="version", version=f"ember {__version__}")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")

    demo = _subparser(sub, "demo", "train LeNet-5 on 32x32 digits, report accuracy",
                      "ember demo --epochs 30 --seed 0 --out runs/demo")
    train_app.add_demo_arguments(demo)
    demo.set_defaults(func=cmd_demo)

    train = _subparser(sub, "train", "train a registered model on digits or mnist1d, or a GPT on a text",
                       "ember train mlp --data mnist1d --hidden 256 128 --dropout 0.1 --epochs 30")
    train_app.add_train_arguments(train)
    train.set_defaults(func=cmd_train)

    summary = _subparser(sub, "summary", "layer shapes, parameters, receptive fields",
                         "ember summary resnet18 --input-shape 1 3 32 32 --kwargs num_classes=10 cifar_stem=True")
    summary_app.add_arguments(summary)
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
    """``ember demo``: LeNet-5 on the digits resized to 32×32 (ember.apps.train)."""
    return train_app.demo(args)


def cmd_train(args) -> int:
    """``ember train MODEL``: a registered model on digits or mnist1d, or the char LM (ember.apps.train)."""
    return train_app.train(args)


def cmd_summary(args) -> int:
    """``ember summary MODEL``: a registered model's layer table (ember.apps.summary)."""
    return summary_app.run(args)


def cmd_translate_dates(args) -> int:
    """``ember translate-dates``: train the date translator, or ``--translate TEXT`` with a saved one."""
    from ember.apps.date_translator import main_translate_dates

    return main_translate_dates(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

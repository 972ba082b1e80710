"""``ember train gpt`` and ``ember generate``: a character-level GPT trained on a text, then sampled.

    ember train gpt --text shakespeare.txt --iters 2000 --out runs/gpt
    ember generate --checkpoint runs/gpt --prompt "In the beginning" --max-new-tokens 300

Training (a ``Trainer`` whose epochs are the evaluation periods, stopped at ``--iters`` steps)
draws random windows of ``--block-size`` characters from the first 90 % of the text, reports
the mean validation loss over ``--eval-batches`` windows of the last 10 % every
``--eval-every`` iterations with a sample, and writes ``gpt.safetensors`` (an ember checkpoint:
model, optimizer, scheduler, and the vocabulary and sizes needed to rebuild the model),
``curves.png``, ``metrics.jsonl`` and ``samples.txt`` to ``--out``. The default text is the King
James Bible (``ember.data.datasets.text_corpus``).

Tokens are characters: no byte-pair tokenizer library (tiktoken, tokenizers, sentencepiece)
is a dependency of ember, and characters need none.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from ember.apps.arguments import (
    existing_dir,
    existing_file,
    non_negative_float,
    non_negative_int,
    positive_float,
    positive_int,
    probability,
)
from ember.train.callbacks import Callback

__all__ = ["CharTokenizer", "add_arguments", "add_generate_arguments", "generate", "run"]

CHECKPOINT = "gpt.safetensors"


class CharTokenizer:
    """Characters ↔ ids: id i is the i-th of the sorted distinct characters of the training text."""

    def __init__(self, chars: str):
        self.chars = "".join(sorted(set(chars)))
        self._ids = {c: i for i, c in enumerate(self.chars)}

    def __len__(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> list[int]:
        unknown = sorted(set(text) - self._ids.keys())
        if unknown:
            raise ValueError(f"characters not in the model's vocabulary: {''.join(unknown)!r}")
        return [self._ids[c] for c in text]

    def decode(self, ids) -> str:
        return "".join(self.chars[int(i)] for i in ids)


# -- arguments ------------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``ember train gpt``."""
    parser.add_argument("--text", type=existing_file, default=None,
                        help="a UTF-8 text file (default: the King James Bible when installed)")
    parser.add_argument("--max-chars", type=positive_int, default=None, help="use only the first N characters")
    parser.add_argument("--iters", type=positive_int, default=5000, help="optimizer steps (default 5000)")
    parser.add_argument("--eval-every", type=positive_int, default=250,
                        help="validate, sample and checkpoint every N iterations (default 250)")
    parser.add_argument("--eval-batches", type=positive_int, default=50,
                        help="validation batches per evaluation (default 50)")
    parser.add_argument("--batch-size", type=positive_int, default=12, help="windows per batch (default 12)")
    parser.add_argument("--block-size", type=positive_int, default=64, help="context length (default 64)")
    parser.add_argument("--n-layer", type=positive_int, default=4, help="Transformer blocks (default 4)")
    parser.add_argument("--n-head", type=positive_int, default=4, help="attention heads (default 4)")
    parser.add_argument("--n-embd", type=positive_int, default=128,
                        help="model width, a multiple of --n-head (default 128)")
    parser.add_argument("--dropout", type=probability, default=0.0, help="dropout probability (default 0)")
    parser.add_argument("--lr", type=positive_float, default=1e-3, help="peak AdamW learning rate (default 1e-3)")
    parser.add_argument("--min-lr", type=non_negative_float, default=1e-4,
                        help="learning rate at the end of the cosine decay (default 1e-4)")
    parser.add_argument("--warmup", type=non_negative_int, default=100,
                        help="linear warm-up iterations (default 100)")
    parser.add_argument("--weight-decay", type=non_negative_float, default=0.1,
                        help="AdamW weight decay on matrices and embeddings (default 0.1)")
    parser.add_argument("--sample-chars", type=non_negative_int, default=200,
                        help="characters of each printed sample, 0 for none (default 200)")
    parser.add_argument("--seed", type=non_negative_int, default=0, help="seed of initialisation and batches")
    parser.add_argument("--out", default="runs/gpt", help="output directory (default runs/gpt)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def add_generate_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``ember generate``."""
    parser.add_argument("--checkpoint", type=existing_dir, required=True,
                        help=f"the --out directory of 'ember train gpt' (holding {CHECKPOINT})")
    parser.add_argument("--prompt", default="\n", help="text to continue (default: a new line)")
    parser.add_argument("--max-new-tokens", type=positive_int, default=500, help="characters to add (default 500)")
    parser.add_argument("--temperature", type=positive_float, default=0.8,
                        help="softmax temperature: lower is more conservative (default 0.8)")
    parser.add_argument("--top-k", type=positive_int, default=None, help="sample among the K likeliest only")
    parser.add_argument("--seed", type=non_negative_int, default=None, help="seed of the sampling")


# -- training -------------------------------------------------------------------------------------


def _batch(data: np.ndarray, batch_size: int, block_size: int, rng: np.random.Generator):
    """``batch_size`` random windows (inputs, next-character targets), each (B, block_size)."""
    import ember as em

    starts = rng.integers(0, len(data) - block_size, batch_size)
    rows = starts[:, None] + np.arange(block_size + 1)  # (B, T+1) indices, no loop over the batch
    windows = data[rows]
    return em.tensor(windows[:, :-1]), em.tensor(windows[:, 1:])


class _Windows:
    """A loader of ``steps`` batches of random windows, drawn from ``rng`` as they are read.

    Each batch is ``(x, y, y)``: the GPT takes the targets as its second input and returns
    ``(logits, loss)`` (``_model_loss`` picks the loss); the last ``y`` is the Trainer's target.
    One pass is one evaluation period, so the Trainer's epochs are the periods.
    """

    def __init__(self, data: np.ndarray, batch_size: int, block_size: int, rng: np.random.Generator, steps: int):
        self.data, self.batch_size, self.block_size, self.rng, self.steps = data, batch_size, block_size, rng, steps

    def __len__(self) -> int:
        return self.steps

    def __iter__(self):
        for _ in range(self.steps):
            x, y = _batch(self.data, self.batch_size, self.block_size, self.rng)
            yield x, y, y


def _model_loss(output, target):
    """The loss the GPT computed itself from the targets it was given: ``model(x, y) -> (logits, loss)``."""
    return output[1]


def _val_loss(model, val: np.ndarray, args) -> float:
    import ember as em

    rng = np.random.default_rng(args.seed + 1)  # the same windows at every evaluation
    model.eval()
    with em.no_grad():
        losses = [model(*_batch(val, args.batch_size, args.block_size, rng))[1].item()
                  for _ in range(args.eval_batches)]
    model.train()
    return float(np.mean(losses))


def _sample(model, tokenizer: CharTokenizer, prompt: str, n: int, temperature=0.8, top_k=None) -> str:
    import ember as em

    was_training = model.training
    model.eval()
    idx = em.tensor(np.asarray([tokenizer.encode(prompt)], dtype=np.int64))
    out = model.generate(idx, n, temperature=temperature, top_k=top_k)
    model.train(was_training)
    return tokenizer.decode(out.numpy()[0])


class _Evaluation(Callback):
    """After each evaluation period (a Trainer epoch): validate, sample, log a row, print it, checkpoint.

    ``history`` holds one row per evaluation, {epoch: iteration, loss, dev_loss, lr, seconds};
    ``checkpoint(history)`` runs after each.
    """

    def __init__(self, val, tokenizer: CharTokenizer, prompt: str, args, out: Path, checkpoint):
        self.val, self.tokenizer, self.prompt, self.args, self.out = val, tokenizer, prompt, args, out
        self.checkpoint, self.history, self._started = checkpoint, [], None

    def on_train_begin(self, trainer):
        (self.out / "metrics.jsonl").write_text("")
        (self.out / "samples.txt").write_text("")
        self._started = time.perf_counter()

    def on_epoch_end(self, trainer, epoch, logs):
        args, it = self.args, trainer.global_step
        row = {"epoch": it, "loss": logs["loss"], "dev_loss": _val_loss(trainer.model, self.val, args),
               "lr": trainer.optimizer.param_groups[0]["lr"], "seconds": round(time.perf_counter() - self._started, 2)}
        self.history.append(row)
        with (self.out / "metrics.jsonl").open("a") as f:
            f.write(json.dumps(row) + "\n")
        sample = _sample(trainer.model, self.tokenizer, self.prompt, args.sample_chars) if args.sample_chars else ""
        with (self.out / "samples.txt").open("a") as f:
            f.write(f"--- iteration {it} ---\n{sample}\n")
        print(f"iter {it}/{args.iters}  loss {row['loss']:.4f}  val loss {row['dev_loss']:.4f}  "
              f"({row['seconds']:.1f}s)" + (f"\n--- sample ---\n{sample}\n" if sample else ""), flush=True)
        self.checkpoint(self.history)


def run(args) -> int:
    """``ember train gpt``: train, validate, sample and checkpoint (see the module docstring)."""
    import ember as em
    from ember import models, optim
    from ember.data.datasets import text_corpus
    from ember.train import LRSchedulerCallback, ProgressBar, Trainer, save_checkpoint

    em.manual_seed(args.seed)
    try:
        text = text_corpus(args.text)[: args.max_chars]
    except (FileNotFoundError, RuntimeError, UnicodeDecodeError) as err:
        print(f"ember train gpt: {err}", file=sys.stderr)
        return 2
    tokenizer = CharTokenizer(text)
    data = np.asarray(tokenizer.encode(text), dtype=np.int64)
    split = int(0.9 * len(data))
    train, val = data[:split], data[split:]
    if len(val) <= args.block_size or args.n_embd % args.n_head:
        print(f"ember train gpt: need more than {args.block_size} validation characters (have {len(val)}: 10% of the "
              f"text) and --n-embd ({args.n_embd}) a multiple of --n-head ({args.n_head})", file=sys.stderr)
        return 2
    config = {"vocab_size": len(tokenizer), "block_size": args.block_size, "n_layer": args.n_layer,
              "n_head": args.n_head, "n_embd": args.n_embd, "dropout": args.dropout}
    model = models.get("gpt", **config)
    optimizer = model.configure_optimizers(args.weight_decay, args.lr, (0.9, 0.99))
    scheduler = optim.warmup_cosine(optimizer, min(args.warmup, args.iters), args.iters, min(args.min_lr, args.lr))
    print(f"text: {len(data):,} characters ({len(train):,} train / {len(val):,} val), {len(tokenizer)} symbols; "
          f"model: {model.get_num_params():,} parameters\n{model!r}", flush=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    def checkpoint(history):  # after every evaluation, so that an interrupted run leaves a usable model
        save_checkpoint(out / CHECKPOINT, model, optimizer, scheduler, config=config, chars=tokenizer.chars,
                        iters=history[-1]["epoch"], history=history)
        _plot(history, out / "curves.png")

    callbacks = [LRSchedulerCallback(scheduler, interval="step"),
                 ProgressBar(disable=True if args.no_progress else None, print_metrics=False),
                 _Evaluation(val, tokenizer, tokenizer.decode(train[:1]), args, out, checkpoint)]
    trainer = Trainer(model, optimizer, _model_loss, callbacks=callbacks, metrics=None, diagnose=False)
    rng = np.random.default_rng(args.seed)
    trainer.fit(_Windows(train, args.batch_size, args.block_size, rng, args.eval_every), max_steps=args.iters)
    print(f"wrote {out / CHECKPOINT}, {out / 'curves.png'}, {out / 'metrics.jsonl'}, {out / 'samples.txt'}")
    return 0


def _plot(history: list[dict], path: Path) -> None:
    from ember.viz import plot_curves

    fig = plot_curves(history, None, metrics=["loss"], title="character-level GPT: cross-entropy (nats)")
    for ax in fig.axes:
        ax.set_xlabel("iteration")
    fig.savefig(path, dpi=100)


# -- generation -----------------------------------------------------------------------------------


def generate(args) -> int:
    """``ember generate``: rebuild the model of a checkpoint directory and print a continuation of --prompt."""
    import ember as em
    from ember import models
    from ember.train import load_checkpoint

    path = Path(args.checkpoint) / CHECKPOINT
    if not path.is_file():
        print(f"ember generate: no {CHECKPOINT} in {args.checkpoint} (write one with 'ember train gpt --out DIR')",
              file=sys.stderr)
        return 2
    extra = load_checkpoint(path, restore_rng=False)
    model = models.get("gpt", **extra["config"])
    load_checkpoint(path, model, restore_rng=False)
    tokenizer = CharTokenizer(extra["chars"])
    if args.seed is not None:
        em.manual_seed(args.seed)
    try:
        text = _sample(model, tokenizer, args.prompt, args.max_new_tokens, args.temperature, args.top_k)
    except ValueError as err:  # a prompt character the model never saw
        print(f"ember generate: --prompt: {err}", file=sys.stderr)
        return 2
    print(text)
    return 0

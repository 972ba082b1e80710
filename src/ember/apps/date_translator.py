"""The date translator: written dates ("3rd of March 2021", "2021年3月3日 星期三") → ISO "2021-03-03".

A character-level attention seq2seq (``ember.text.seq2seq``): a bidirectional GRU reads the
characters of the written date, a GRU decoder with Luong "general" attention writes the ten
characters of the ISO date then ``<eos>``. The data come from ``ember.text.dates`` (faker and
babel, ``pip install 'ember[dates]'``).

The default recipe (``RECIPE``): 30,000 training pairs, 2,000 held-out ones (another seed),
embeddings 32, hidden 64 per direction, batch 64, Adam 3e-3 with cosine decay over the run,
gradient norm clipped at 1, full teacher forcing, 5 epochs. Training batches group dates of
similar length so little time goes to padding. With full teacher forcing the Luong decoder runs
all target steps in one call of the recurrent layer, which is why it is the default.

``--arch transformer`` (``run(arch="transformer")``) trains an encoder–decoder Transformer instead
(``ember.text.TransformerSeq2Seq``: character embeddings plus sinusoidal positions, ``nn.Transformer``
with 2 pre-norm encoder and 2 decoder layers of width 64, 4 heads, feed-forward 128, no dropout,
a key-padding mask over the padded sources and the causal mask over the target). Its recipe
(``TRANSFORMER_RECIPE``) keeps the data, batches, optimiser, schedule, clipping and epochs of the
GRU's; the whole shifted target is one call in training, and decoding caches each decoder
layer's past inputs. Its heatmaps show the last decoder layer's cross-attention, averaged over
the heads. ``--arch gru`` (the model above) stays the default; a saved translator records its
architecture in config.json, so ``--translate`` and ``DateTranslator.load`` need no ``--arch``.

Evaluation: exact match (the whole ISO string right) and character BLEU (``corpus_bleu`` on the
characters) for greedy and beam search; the attention of a few examples is drawn as heatmaps
(input characters × output characters).

The model writes ten characters whatever it is given, so an answer may be no date at all
("3-Mar-2021" → "2021-03-33" from an undertrained model). ``translate_checked`` returns a
``Translation``: the answer, whether it is a real calendar date, and the model's confidence in it.

>>> result = run(out="runs/translate-dates")                       # doctest: +SKIP
>>> translator = DateTranslator.load("runs/translate-dates")       # doctest: +SKIP
>>> translator.translate("3rd of March 2021")                      # doctest: +SKIP
'2021-03-03'
>>> translator.translate_checked("3-Mar-2021")                     # doctest: +SKIP
Translation(text='2021-03-03', valid=True, confidence=0.998)

The translator itself (``DateTranslator``, ``Translation``, ``is_iso_date``, ``evaluate``) lives in
``ember.text.date_translation``; its names are importable from here too.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

import ember as em
from ember.apps import add_recipe_arguments
from ember.apps.arguments import non_empty_text, positive_int, probability
from ember.apps.epoch_log import EpochLog
from ember.optim.adam import Adam
from ember.optim.lr_scheduler import CosineAnnealingLR
from ember.serialization import atomic_write
from ember.text.date_translation import ISO_LENGTH as ISO_LENGTH  # the moved names stay importable from here
from ember.text.date_translation import MAX_LEN as MAX_LEN
from ember.text.date_translation import TRANSFORMER_MAX_LEN as TRANSFORMER_MAX_LEN
from ember.text.date_translation import (
    WEIGHTS_FILE,
    DateTranslator,
    Translation,
    evaluate,
    is_iso_date,
    sequence_cross_entropy,
)
from ember.text.dates import build_char_vocabs, generate_dates
from ember.train.callbacks import GradientClipping, LRSchedulerCallback
from ember.train.trainer import Trainer
from ember.viz.attention import plot_attention

__all__ = ["MIN_CONFIDENCE", "RECIPE", "RECIPES", "TRANSFORMER_RECIPE", "DateTranslator", "Translation",
           "add_arguments", "evaluate", "is_iso_date", "main_translate_dates", "plot_attention", "run", "train"]

RECIPE = {"train_size": 30000, "test_size": 2000, "embed_dim": 32, "hidden_size": 64, "attention": "luong_general",
          "epochs": 5, "batch_size": 64, "lr": 3e-3, "clip": 1.0, "beam_width": 3, "seed": 0}
TRANSFORMER_RECIPE = {**{k: v for k, v in RECIPE.items() if k not in ("embed_dim", "hidden_size", "attention")},
                      "d_model": 64, "nhead": 4, "num_layers": 2, "dim_feedforward": 128, "dropout": 0.0,
                      "positional": "sinusoidal"}
RECIPES = {"gru": RECIPE, "transformer": TRANSFORMER_RECIPE}
_MODEL_KEYS = {"gru": ("embed_dim", "hidden_size", "attention"),
               "transformer": ("d_model", "nhead", "num_layers", "dim_feedforward", "dropout", "positional")}
MIN_CONFIDENCE = 0.5  # below it, the model finds its own answer less likely than not: --translate warns


# -- training ------------------------------------------------------------------------------------
def train(translator: DateTranslator, pairs, epochs: int = 5, batch_size: int = 64, lr: float = 3e-3,
          clip: float = 1.0, seed: int = 0, log=print) -> list[dict]:
    """Fit ``translator`` on (human, iso) pairs: cross-entropy of the 11 target tokens, full teacher forcing.

    Batches of dates of similar lengths (``translator.loader``, its order drawn from ``seed``),
    Adam at ``lr`` with a cosine decay to lr/50 over all the steps, gradient norm clipped at
    ``clip``. Returns one record per epoch: {'epoch', 'loss', 'seconds'}.
    """
    loader = translator.loader(pairs, batch_size, generator=np.random.default_rng(seed))
    optimizer = Adam(translator.model.parameters(), lr=lr)
    schedule = CosineAnnealingLR(optimizer, T_max=max(epochs * len(loader), 1), eta_min=lr / 50)
    epoch_log = EpochLog(log)
    callbacks = [LRSchedulerCallback(schedule, "step"), GradientClipping(max_norm=clip), epoch_log]
    Trainer(translator.model, optimizer, sequence_cross_entropy, callbacks, metrics=None,
            diagnose=False).fit(loader, epochs=epochs)
    translator.model.eval()
    return epoch_log.history


# -- the recipe ----------------------------------------------------------------------------------
def run(out="runs/translate-dates", log=print, arch="gru", **overrides) -> dict:
    """Generate data, train, evaluate greedy and beam, save the model and heatmaps: the whole recipe.

    ``arch`` picks the model and its recipe: ``'gru'`` (``RECIPE``) or ``'transformer'``
    (``TRANSFORMER_RECIPE``). ``overrides`` replace entries of that recipe (e.g. ``epochs=2,
    train_size=2000``) and may add ``families`` (the date format families, default all). Writes
    into ``out``: the saved translator, attention.png, report.json. Returns the report
    (accuracies, BLEU, parameters, times).
    """
    if arch not in RECIPES:
        raise ValueError(f"date_translator.run: arch must be one of {tuple(RECIPES)}, got {arch!r}")
    recipe = RECIPES[arch]
    unknown = set(overrides) - set(recipe) - {"families"}
    if unknown:
        raise ValueError(f"date_translator.run: unknown options {sorted(unknown)} for arch={arch!r}; "
                         f"known: {sorted(recipe)}")
    cfg = {**recipe, "arch": arch, "families": None, **overrides}
    em.manual_seed(cfg["seed"])
    started = time.perf_counter()
    train_pairs = generate_dates(cfg["train_size"], seed=cfg["seed"], families=cfg["families"])
    # another seed for the held-out dates; drop any written form also seen in training
    seen = {h for h, _ in train_pairs}
    test_pairs = [p for p in generate_dates(cfg["test_size"] * 2, seed=cfg["seed"] + 10_000, families=cfg["families"])
                  if p[0] not in seen][:cfg["test_size"]]
    src_vocab, tgt_vocab = build_char_vocabs(train_pairs)
    translator = DateTranslator(src_vocab, tgt_vocab, arch=arch, **{k: cfg[k] for k in _MODEL_KEYS[arch]})
    n_params = sum(p.numel() for p in translator.model.parameters())
    if log:
        log(f"{len(train_pairs)} training / {len(test_pairs)} held-out dates, {len(src_vocab)} input symbols; "
            f"{arch}, {n_params:,} parameters; e.g. {train_pairs[0][0]!r} → {train_pairs[0][1]}")
    history = train(translator, train_pairs, cfg["epochs"], cfg["batch_size"], cfg["lr"], cfg["clip"], cfg["seed"],
                    log)
    train_seconds = time.perf_counter() - started
    greedy = evaluate(translator, test_pairs, beam_width=1)
    beam = evaluate(translator, test_pairs, beam_width=cfg["beam_width"])
    out = Path(out)
    translator.save(out)
    shown = test_pairs[:6]
    plot_attention([h for h, _ in shown], greedy["predictions"][:6], greedy["attention"][:6], out / "attention.png")
    errors = [(h, iso, p) for (h, iso), p in zip(test_pairs, greedy["predictions"], strict=True) if p != iso]
    report = {"recipe": {k: v for k, v in cfg.items()}, "parameters": n_params, "train_seconds": train_seconds,
              "history": history, "test_size": len(test_pairs),
              "greedy": {k: greedy[k] for k in ("exact_match", "bleu", "seconds")},
              f"beam{cfg['beam_width']}": {k: beam[k] for k in ("exact_match", "bleu", "seconds")},
              "greedy_errors": errors[:20]}
    atomic_write(out / "report.json", (json.dumps(report, indent=1, ensure_ascii=False) + "\n").encode())
    if log:
        log(f"training {train_seconds:.1f}s; held-out exact match: greedy {greedy['exact_match']:.2%} "
            f"(char BLEU {greedy['bleu']:.2f}), beam {cfg['beam_width']} {beam['exact_match']:.2%} "
            f"(char BLEU {beam['bleu']:.2f})")
        for h, iso, p in errors[:5]:
            log(f"  wrong: {h!r} → {p} (expected {iso})")
        log(f"wrote {out / WEIGHTS_FILE}, {out / 'attention.png'}, {out / 'report.json'}")
    return report


# -- command line ----------------------------------------------------------------------------------
def add_arguments(parser) -> None:
    """The options of ``ember translate-dates`` on an argparse parser."""
    add_recipe_arguments(parser, RECIPE, "pairs")
    parser.add_argument("--arch", default="gru", choices=tuple(RECIPES),
                        help="the model: 'gru' (bidirectional GRU encoder, GRU decoder with attention; the default) "
                             "or 'transformer' (encoder-decoder Transformer)")
    parser.add_argument("--hidden-size", type=positive_int, default=RECIPE["hidden_size"],
                        help=f"GRU width per direction, --arch gru (default {RECIPE['hidden_size']})")
    parser.add_argument("--attention", default=RECIPE["attention"], choices=("luong_general", "bahdanau"),
                        help=f"attention of the GRU decoder, --arch gru (default {RECIPE['attention']})")
    parser.add_argument("--beam-width", type=positive_int, default=RECIPE["beam_width"],
                        help=f"beam width compared with greedy (default {RECIPE['beam_width']})")
    parser.add_argument("--out", default="runs/translate-dates", help="directory of the saved model, heatmaps, report")
    parser.add_argument("--translate", metavar="TEXT", default=None, type=non_empty_text,
                        help="translate TEXT with the model saved in --out instead of training; prints the ISO date, "
                             "and a warning on stderr when it is no real date or the model is unsure")
    parser.add_argument("--min-confidence", type=probability, default=MIN_CONFIDENCE,
                        help=f"--translate warns below this confidence of the model (default {MIN_CONFIDENCE})")


def _recipe_options(args) -> dict:
    """The options of ``run`` from the command line: the GRU's own ones only for ``--arch gru``."""
    arch = getattr(args, "arch", "gru")
    options = {k: getattr(args, k) for k in ("epochs", "batch_size", "lr", "train_size", "test_size", "beam_width",
                                             "seed")}
    if arch == "gru":
        options.update(hidden_size=args.hidden_size, attention=args.attention)
    return {"arch": arch, **{k: v for k, v in options.items() if v is not None}}


def _doubt(translation: Translation, min_confidence: float) -> str | None:
    """Why ``translation`` should not be trusted, or None."""
    if not translation.valid:
        return f"{translation.text!r} is not a real calendar date (confidence {translation.confidence:.2f})"
    if translation.confidence < min_confidence:
        return (f"the model is unsure of {translation.text!r}: confidence {translation.confidence:.2f} "
                f"< --min-confidence {min_confidence}")
    return None


def main_translate_dates(args) -> int:
    """``ember translate-dates``: train and evaluate the recipe of ``--arch``, or ``--translate TEXT`` with a
    saved model (of either architecture: its config.json says which).

    ``--translate`` prints the ISO answer on stdout and, when it is no real date or its confidence
    is below ``--min-confidence``, a warning on stderr (the exit status stays 0).
    """
    try:
        if args.translate is not None:
            translation = DateTranslator.load(args.out).translate_checked(args.translate, beam_width=args.beam_width)
            print(translation.text)
            doubt = _doubt(translation, getattr(args, "min_confidence", MIN_CONFIDENCE))
            if doubt:
                print(f"ember translate-dates: warning: {doubt}", file=sys.stderr)
            return 0
        run(out=args.out, **_recipe_options(args))
    except (ImportError, FileNotFoundError) as err:
        print(f"ember translate-dates: {err}", file=sys.stderr)
        return 2
    return 0

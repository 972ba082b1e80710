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
"""
from __future__ import annotations

import datetime
import json
import math
import re
import sys
import time
from pathlib import Path
from typing import NamedTuple

import numpy as np

import ember as em
from ember.apps import add_recipe_arguments
from ember.apps.arguments import non_empty_text, positive_int, probability
from ember.autograd.grad_mode import no_grad
from ember.autograd.tensor import Tensor
from ember.nn.utils import clip_grad_norm_
from ember.ops.loss import cross_entropy
from ember.optim.adam import Adam
from ember.optim.lr_scheduler import CosineAnnealingLR
from ember.serialization import atomic_write
from ember.text.bleu import corpus_bleu
from ember.text.dates import build_char_vocabs, generate_dates
from ember.text.decoding import beam_search, greedy_search
from ember.text.seq2seq import Decoder, Encoder, Seq2Seq
from ember.text.transformer_seq2seq import TransformerSeq2Seq
from ember.text.vocab import Vocab
from ember.viz.attention import plot_attention

__all__ = ["MIN_CONFIDENCE", "RECIPE", "RECIPES", "TRANSFORMER_RECIPE", "DateTranslator", "Translation",
           "add_arguments", "evaluate", "is_iso_date", "main_translate_dates", "plot_attention", "run", "train"]

ISO_LENGTH = 10
MAX_LEN = ISO_LENGTH + 1  # the ten characters and <eos>
RECIPE = {"train_size": 30000, "test_size": 2000, "embed_dim": 32, "hidden_size": 64, "attention": "luong_general",
          "epochs": 5, "batch_size": 64, "lr": 3e-3, "clip": 1.0, "beam_width": 3, "seed": 0}
TRANSFORMER_RECIPE = {**{k: v for k, v in RECIPE.items() if k not in ("embed_dim", "hidden_size", "attention")},
                      "d_model": 64, "nhead": 4, "num_layers": 2, "dim_feedforward": 128, "dropout": 0.0,
                      "positional": "sinusoidal"}
RECIPES = {"gru": RECIPE, "transformer": TRANSFORMER_RECIPE}
_MODEL_KEYS = {"gru": ("embed_dim", "hidden_size", "attention"),
               "transformer": ("d_model", "nhead", "num_layers", "dim_feedforward", "dropout", "positional")}
TRANSFORMER_MAX_LEN = 256  # the longest written date the Transformer reads (its positional table)
_WEIGHTS, _CONFIG, _SRC_VOCAB, _TGT_VOCAB = "model.safetensors", "config.json", "src_vocab.json", "tgt_vocab.json"
MIN_CONFIDENCE = 0.5  # below it, the model finds its own answer less likely than not: --translate warns


# -- checked answers -------------------------------------------------------------------------------
class Translation(NamedTuple):
    """A translated date and what to judge it by.

    Fields:
        text: the model's answer, e.g. ``'2021-03-03'``.
        valid: whether ``text`` is a real calendar date written YYYY-MM-DD (``'2021-02-30'`` is not).
        confidence: the model's probability of its whole answer, Π_t p(y_t | y_<t, x) over the
            characters and the final <eos>, in [0, 1]; one hesitant digit is enough to lower it.

    >>> Translation("2021-03-33", valid=False, confidence=0.41).valid
    False
    """

    text: str
    valid: bool
    confidence: float


def is_iso_date(text: str) -> bool:
    """Whether ``text`` is a real calendar date written YYYY-MM-DD.

    >>> is_iso_date("2020-02-29"), is_iso_date("2021-02-29"), is_iso_date("2021-03-33"), is_iso_date("20210303")
    (True, False, False, False)
    """
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        return False
    try:
        datetime.date.fromisoformat(text)
    except ValueError:
        return False
    return True


# -- the model with its vocabularies -----------------------------------------------------------
class DateTranslator:
    """A seq2seq model over characters and its two vocabularies: encode texts, decode, save, load.

    Args:
        src_vocab, tgt_vocab: from ``build_char_vocabs`` (specials <pad> 0, <unk> 1, <bos> 2, <eos> 3).
        arch: ``'gru'`` (a ``Seq2Seq``: bidirectional GRU encoder, GRU decoder with attention) or
            ``'transformer'`` (a ``TransformerSeq2Seq``).
        embed_dim, hidden_size, attention (``'gru'``): embedding size and GRU width (the encoder is
            bidirectional, so its outputs have 2·hidden_size features; the decoder starts from the
            sum of the two directions' last states); ``'luong_general'``, ``'luong_dot'`` (needs
            equal sizes, so not here) or ``'bahdanau'``.
        d_model, nhead, num_layers, dim_feedforward, dropout, positional (``'transformer'``): model
            width, attention heads, layers of the encoder and of the decoder each, feed-forward
            width, dropout, ``'sinusoidal'`` or ``'learned'`` positions.

    >>> src, tgt = build_char_vocabs(generate_dates(1000))             # doctest: +SKIP
    >>> translator = DateTranslator(src, tgt, embed_dim=16, hidden_size=32)   # doctest: +SKIP
    >>> translator.translate("3rd of March 2021")      # untrained: ten arbitrary characters  # doctest: +SKIP
    >>> DateTranslator(src, tgt, arch="transformer", d_model=32, num_layers=1)   # doctest: +SKIP
    """

    def __init__(self, src_vocab: Vocab, tgt_vocab: Vocab, embed_dim: int = 32, hidden_size: int = 64,
                 attention: str = "luong_general", arch: str = "gru", d_model: int = 64, nhead: int = 4,
                 num_layers: int = 2, dim_feedforward: int = 128, dropout: float = 0.0,
                 positional: str = "sinusoidal"):
        if arch not in RECIPES:
            raise ValueError(f"DateTranslator: arch must be one of {tuple(RECIPES)}, got {arch!r}")
        self.src_vocab, self.tgt_vocab = src_vocab, tgt_vocab
        bos, eos = tgt_vocab.bos_index, tgt_vocab.eos_index
        if arch == "transformer":
            self.config = {"arch": arch, "d_model": int(d_model), "nhead": int(nhead), "num_layers": int(num_layers),
                           "dim_feedforward": int(dim_feedforward), "dropout": float(dropout),
                           "positional": positional}
            self.model = TransformerSeq2Seq(len(src_vocab), len(tgt_vocab), d_model, nhead, num_layers, num_layers,
                                            dim_feedforward, dropout, max_len=TRANSFORMER_MAX_LEN,
                                            positional=positional, src_padding_idx=src_vocab.pad_index,
                                            tgt_padding_idx=tgt_vocab.pad_index, bos=bos, eos=eos)
            return
        self.config = {"embed_dim": int(embed_dim), "hidden_size": int(hidden_size), "attention": attention}
        encoder = Encoder(len(src_vocab), embed_dim, hidden_size, cell="gru", bidirectional=True,
                          padding_idx=src_vocab.pad_index)
        decoder = Decoder(len(tgt_vocab), embed_dim, hidden_size, cell="gru", attention=attention,
                          encoder_size=encoder.output_size, padding_idx=tgt_vocab.pad_index)
        self.model = Seq2Seq(encoder, decoder, bos=bos, eos=eos)

    @property
    def arch(self) -> str:
        """``'gru'`` or ``'transformer'``."""
        return self.config.get("arch", "gru")

    # -- tensors -------------------------------------------------------------------------------
    def encode_sources(self, texts) -> tuple[Tensor, Tensor]:
        """Texts → (src (N, S) int64 right-padded with <pad>, lengths (N,) int64); S = the longest text.

        Surrounding whitespace is removed first (the training dates have none).
        """
        texts = [t.strip() for t in texts]
        ids = [self.src_vocab.encode(list(t)) for t in texts]
        lengths = np.array([len(i) for i in ids], dtype=np.int64)
        if lengths.size == 0 or lengths.min() == 0:
            raise ValueError("DateTranslator: expected non-empty texts, got "
                             f"{[t for t in texts if not t] if lengths.size else 'no text'}")
        src = np.full((len(ids), int(lengths.max())), self.src_vocab.pad_index, dtype=np.int64)
        src[np.arange(src.shape[1])[None, :] < lengths[:, None]] = np.concatenate(ids)
        return Tensor(src), Tensor(lengths)

    def encode_targets(self, isos) -> tuple[Tensor, Tensor]:
        """ISO strings → (tgt_in (N, 11) = <bos> + chars, tgt_out (N, 11) = chars + <eos>)."""
        chars = np.stack([self.tgt_vocab.encode(list(s)) for s in isos])
        if chars.shape[1] != ISO_LENGTH:
            raise ValueError(f"DateTranslator: ISO dates have {ISO_LENGTH} characters, got shape {chars.shape}")
        n = len(chars)
        bos = np.full((n, 1), self.tgt_vocab.bos_index, dtype=np.int64)
        eos = np.full((n, 1), self.tgt_vocab.eos_index, dtype=np.int64)
        return Tensor(np.concatenate([bos, chars], 1)), Tensor(np.concatenate([chars, eos], 1))

    # -- decoding ------------------------------------------------------------------------------
    def decode(self, texts, beam_width: int = 1, batch_size: int = 500):
        """Translate texts by greedy (width 1) or beam search: (ISO strings, attention arrays).

        ``attention[i]`` is (output steps incl. <eos>, len(texts[i].strip())): row t is where the
        decoder looked while writing character t.
        """
        outputs, attention, _ = self._search(texts, beam_width, batch_size)
        return outputs, attention

    def _search(self, texts, beam_width: int, batch_size: int = 500):
        """(ISO strings, attention arrays, summed log-probabilities of each answer and its <eos>)."""
        self.model.eval()
        outputs, attention, scores = [], [], []
        with no_grad():
            for start in range(0, len(texts), batch_size):
                chunk = [t.strip() for t in texts[start:start + batch_size]]
                src, lengths = self.encode_sources(chunk)
                step, state = self.model.step_fn(src, lengths)
                bos, eos = self.model.bos, self.model.eos
                if beam_width == 1:
                    result = greedy_search(step, state, bos, eos, max_len=MAX_LEN)
                else:
                    result = beam_search(step, state, bos, eos, beam_width=beam_width, max_len=MAX_LEN)
                outputs += ["".join(self.tgt_vocab.decode(tokens)) for tokens in result.tokens]
                attention += [None if e is None else np.asarray(e)[:, :len(t)] for e, t in zip(result.extras, chunk,
                                                                                             strict=True)]
                scores += result.scores.tolist()
        return outputs, attention, scores

    def translate(self, text, beam_width: int = 1):
        """One written date → its ISO string (a list of texts → a list of strings), unchecked:
        ``translate_checked`` also says whether to trust it.

        >>> DateTranslator.load("runs/translate-dates").translate("3rd of March 2021")  # doctest: +SKIP
        '2021-03-03'
        """
        if isinstance(text, str):
            return self.decode([text], beam_width)[0][0]
        return self.decode(list(text), beam_width)[0]

    def translate_checked(self, text, beam_width: int = 1):
        """One written date → a ``Translation`` (text, valid, confidence); a list of texts → a list of them.

        >>> DateTranslator.load("runs/translate-dates").translate_checked(" 3rd of March 2021 ")  # doctest: +SKIP
        Translation(text='2021-03-03', valid=True, confidence=0.9987)
        """
        texts = [text] if isinstance(text, str) else list(text)
        outputs, _, scores = self._search(texts, beam_width)
        checked = [Translation(out, is_iso_date(out), math.exp(score)) for out, score in zip(outputs, scores,
                                                                                              strict=True)]
        return checked[0] if isinstance(text, str) else checked

    # -- saving --------------------------------------------------------------------------------
    def save(self, directory) -> Path:
        """Write model.safetensors (``ember.save``), config.json and the two vocabularies' JSON into ``directory``."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        em.save(self.model.state_dict(), directory / _WEIGHTS)
        atomic_write(directory / _CONFIG, (json.dumps(self.config, indent=1) + "\n").encode())
        self.src_vocab.save(directory / _SRC_VOCAB)
        self.tgt_vocab.save(directory / _TGT_VOCAB)
        return directory

    @classmethod
    def load(cls, directory) -> DateTranslator:
        """The translator saved by ``save`` in ``directory``."""
        directory = Path(directory)
        missing = [name for name in (_WEIGHTS, _CONFIG, _SRC_VOCAB, _TGT_VOCAB) if not (directory / name).is_file()]
        if missing:
            raise FileNotFoundError(f"DateTranslator.load: {directory} lacks {missing}; train one first with "
                                    "'ember translate-dates --out DIR'")
        config = json.loads((directory / _CONFIG).read_text())
        translator = cls(Vocab.load(directory / _SRC_VOCAB), Vocab.load(directory / _TGT_VOCAB), **config)
        translator.model.load_state_dict(em.load(directory / _WEIGHTS))
        translator.model.eval()
        return translator


# -- training and evaluation -------------------------------------------------------------------
def _length_batches(lengths: np.ndarray, batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Shuffled mini-batches of indices, each of texts of similar length (sorted within pools of 50 batches)."""
    order = rng.permutation(len(lengths))
    pool = 50 * batch_size
    batches = []
    for start in range(0, len(order), pool):
        chunk = order[start:start + pool]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        batches += [chunk[i:i + batch_size] for i in range(0, len(chunk), batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]


def train(translator: DateTranslator, pairs, epochs: int = 5, batch_size: int = 64, lr: float = 3e-3,
          clip: float = 1.0, seed: int = 0, log=print) -> list[dict]:
    """Fit ``translator`` on (human, iso) pairs: cross-entropy of the 11 target tokens, full teacher forcing.

    Adam at ``lr`` with a cosine decay to lr/50 over all the steps, gradient norm clipped at
    ``clip``. Returns one record per epoch: {'epoch', 'loss', 'seconds'}.
    """
    model = translator.model
    texts = [h for h, _ in pairs]
    src_all = [translator.src_vocab.encode(list(t)) for t in texts]
    tgt_in_all, tgt_out_all = (t.array for t in translator.encode_targets([iso for _, iso in pairs]))
    lengths = np.array([len(s) for s in src_all], dtype=np.int64)
    rng = np.random.default_rng(seed)
    steps = epochs * math.ceil(len(pairs) / batch_size)
    optimizer = Adam(model.parameters(), lr=lr)
    schedule = CosineAnnealingLR(optimizer, T_max=max(steps, 1), eta_min=lr / 50)
    pad = translator.src_vocab.pad_index
    history, started = [], time.perf_counter()
    for epoch in range(1, epochs + 1):
        model.train()
        total, count = 0.0, 0
        for index in _length_batches(lengths, batch_size, rng):
            width = int(lengths[index].max())
            src = np.full((len(index), width), pad, dtype=np.int64)
            src[np.arange(width)[None, :] < lengths[index, None]] = np.concatenate([src_all[i] for i in index])
            logits = model(Tensor(src), Tensor(lengths[index]), Tensor(tgt_in_all[index]))
            loss = cross_entropy(logits.reshape(-1, logits.shape[-1]), Tensor(tgt_out_all[index].reshape(-1)))
            optimizer.zero_grad()
            loss.backward()
            clip_grad_norm_(model.parameters(), clip)
            optimizer.step()
            schedule.step()
            total += float(loss.item()) * len(index)
            count += len(index)
        record = {"epoch": epoch, "loss": total / count, "seconds": time.perf_counter() - started}
        history.append(record)
        if log:
            log(f"epoch {epoch}/{epochs}  loss {record['loss']:.4f}  ({record['seconds']:.1f}s)")
    model.eval()
    return history


def evaluate(translator: DateTranslator, pairs, beam_width: int = 1) -> dict:
    """Exact match (fraction of dates fully right) and character BLEU (0–100) on (human, iso) pairs.

    Returns {'exact_match', 'bleu', 'predictions', 'attention', 'seconds'}.
    """
    started = time.perf_counter()
    texts, isos = [h for h, _ in pairs], [iso for _, iso in pairs]
    predictions, attention = translator.decode(texts, beam_width)
    exact = float(np.mean([p == t for p, t in zip(predictions, isos, strict=True)]))
    bleu = corpus_bleu([list(p) for p in predictions], [[list(t)] for t in isos]).score
    return {"exact_match": exact, "bleu": float(bleu), "predictions": predictions, "attention": attention,
            "seconds": time.perf_counter() - started}


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
        log(f"wrote {out / _WEIGHTS}, {out / 'attention.png'}, {out / 'report.json'}")
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

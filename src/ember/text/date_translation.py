"""Translating written dates ("3rd of March 2021", "2021年3月3日 星期三") into ISO "2021-03-03".

``DateTranslator`` holds a character-level seq2seq model and its two vocabularies: it encodes
texts into tensors, decodes by greedy or beam search (``ember.text.decoding``), judges its
answers (``translate_checked``), saves and loads. Two architectures:

- ``'gru'``: ``ember.text.seq2seq.Seq2Seq``, a bidirectional GRU reads the characters of the
  written date and a GRU decoder with Luong "general" (or Bahdanau) attention writes the ten
  characters of the ISO date then ``<eos>``. With full teacher forcing the decoder runs all
  target steps in one call of its recurrent layer.
- ``'transformer'``: ``ember.text.TransformerSeq2Seq`` (character embeddings plus positions,
  pre-norm encoder and decoder layers, a key-padding mask over the padded sources and the
  causal mask over the target); decoding caches each decoder layer's past inputs.

Training data (pairs from ``ember.text.dates.generate_dates``) go through ``translator.loader``:
a ``BucketBatchSampler`` puts dates of similar lengths in one batch, so little time goes to
padding, and ``collate_translations`` pads the sources (``collate_padded``) beside the shifted
targets. The loss of a batch is ``sequence_cross_entropy`` of the logits against ``tgt_out``:

>>> translator = DateTranslator(*build_char_vocabs(pairs))            # doctest: +SKIP
>>> trainer = Trainer(translator.model, optimizer, sequence_cross_entropy, metrics=None)  # doctest: +SKIP
>>> trainer.fit(translator.loader(pairs, batch_size=64), epochs=5)    # doctest: +SKIP
>>> translator.translate_checked("3-Mar-2021")                        # doctest: +SKIP
Translation(text='2021-03-03', valid=True, confidence=0.998)

The model writes ten characters whatever it is given, so an answer may be no date at all
("3-Mar-2021" → "2021-03-33" from an undertrained model): ``translate_checked`` says whether
it is a real calendar date and how confident the model is.
"""
from __future__ import annotations

import datetime
import functools
import json
import math
import re
import time
from pathlib import Path
from typing import NamedTuple

import numpy as np

import ember as em
from ember.autograd.grad_mode import no_grad
from ember.autograd.tensor import Tensor
from ember.data.dataloader import DataLoader
from ember.data.sampler import BucketBatchSampler
from ember.ops.loss import cross_entropy
from ember.serialization import atomic_write
from ember.text.batching import collate_padded
from ember.text.bleu import corpus_bleu
from ember.text.decoding import beam_search, greedy_search
from ember.text.seq2seq import Decoder, Encoder, Seq2Seq
from ember.text.transformer_seq2seq import TransformerSeq2Seq
from ember.text.vocab import Vocab

__all__ = ["ARCHS", "ISO_LENGTH", "DateTranslator", "Translation", "collate_translations", "evaluate",
           "is_iso_date", "sequence_cross_entropy"]

ARCHS = ("gru", "transformer")
ISO_LENGTH = 10
MAX_LEN = ISO_LENGTH + 1  # the ten characters and <eos>
TRANSFORMER_MAX_LEN = 256  # the longest written date the Transformer reads (its positional table)
WEIGHTS_FILE, CONFIG_FILE = "model.safetensors", "config.json"
SRC_VOCAB_FILE, TGT_VOCAB_FILE = "src_vocab.json", "tgt_vocab.json"
_FILES = (WEIGHTS_FILE, CONFIG_FILE, SRC_VOCAB_FILE, TGT_VOCAB_FILE)


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
        if arch not in ARCHS:
            raise ValueError(f"DateTranslator: arch must be one of {ARCHS}, got {arch!r}")
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

    def samples(self, pairs) -> list[tuple]:
        """(human, iso) pairs → training samples ``(source ids, (tgt_in, tgt_out))`` of int64 arrays."""
        tgt_in, tgt_out = (t.numpy() for t in self.encode_targets([iso for _, iso in pairs]))
        return [(self.src_vocab.encode(list(human)), (i, o))
                for (human, _), i, o in zip(pairs, tgt_in, tgt_out, strict=True)]

    def loader(self, pairs, batch_size: int = 64, shuffle: bool = True, generator=None) -> DataLoader:
        """A ``DataLoader`` of training batches ``(src, lengths, tgt_in, tgt_out)`` over (human, iso) pairs.

        A ``BucketBatchSampler`` groups dates of similar lengths (drawing its order from
        ``generator``, default ember's), and ``collate_translations`` pads the sources with <pad>.
        """
        samples = self.samples(pairs)
        sampler = BucketBatchSampler([len(src) for src, _ in samples], batch_size, shuffle=shuffle,
                                     generator=generator)
        collate = functools.partial(collate_translations, padding_value=self.src_vocab.pad_index)
        return DataLoader(samples, batch_sampler=sampler, collate_fn=collate)

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
        em.save(self.model.state_dict(), directory / WEIGHTS_FILE)
        atomic_write(directory / CONFIG_FILE, (json.dumps(self.config, indent=1) + "\n").encode())
        self.src_vocab.save(directory / SRC_VOCAB_FILE)
        self.tgt_vocab.save(directory / TGT_VOCAB_FILE)
        return directory

    @classmethod
    def load(cls, directory) -> DateTranslator:
        """The translator saved by ``save`` in ``directory``."""
        directory = Path(directory)
        missing = [name for name in _FILES if not (directory / name).is_file()]
        if missing:
            raise FileNotFoundError(f"DateTranslator.load: {directory} lacks {missing}; train one first with "
                                    "'ember translate-dates --out DIR'")
        config = json.loads((directory / CONFIG_FILE).read_text())
        translator = cls(Vocab.load(directory / SRC_VOCAB_FILE), Vocab.load(directory / TGT_VOCAB_FILE), **config)
        translator.model.load_state_dict(em.load(directory / WEIGHTS_FILE))
        translator.model.eval()
        return translator


# -- training batches --------------------------------------------------------------------------
def collate_translations(batch, padding_value: int = 0):
    """``collate_fn`` for samples ``(source ids (L_i,), (tgt_in (11,), tgt_out (11,)))``:
    → ``(src (N, max L_i) padded with padding_value, lengths (N,), tgt_in (N, 11), tgt_out (N, 11))``,
    the model's three inputs and the target, as the ``Trainer`` takes a batch.

    >>> src, lengths, tgt_in, tgt_out = collate_translations(translator.samples(pairs[:4]), 0)  # doctest: +SKIP
    """
    src, lengths, (tgt_in, tgt_out) = collate_padded(batch, padding_value=padding_value)
    return src, lengths, tgt_in, tgt_out


def sequence_cross_entropy(logits, target):
    """The mean cross-entropy of every target token: L = −(1/NT) Σ_{n,t} log softmax(z_{n,t})_{y_{n,t}}.

    ``logits`` (N, T, V) (the teacher-forced decoder's outputs), ``target`` (N, T) token ids.
    """
    return cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1))


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

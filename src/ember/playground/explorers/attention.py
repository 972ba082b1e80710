"""The attention page: a date translator's cross-attention and a character GPT's self-attention.

- ``DateModel``: the date translator (``ember.text.date_translation``) saved by ``ember
  translate-dates`` (or quick-trained here, bounded), its translation of a typed date and the
  attention weights α_{t,s} of output step t over input character s.
- ``GPTModel``: a small character GPT (``ember.models.gpt``) trained here in the background
  (~10 s; cached) and the self-attention weights softmax(Q Kᵀ / √d + causal mask) of each of its
  layers and heads over a typed prompt.

Both train by configuring ``ember.train.Trainer``; the GPT's trainer is stepped one batch at a
time, and a callback reports its progress to the page.
"""
from __future__ import annotations

import itertools
import json
import math
import threading
from pathlib import Path

import numpy as np

import ember as em
from ember import nn
from ember.autograd.grad_mode import no_grad
from ember.autograd.tensor import Tensor
from ember.playground.validation import RequestError
from ember.train.callbacks import Callback
from ember.train.trainer import Trainer

__all__ = ["GPT_SIZES", "QUICK_DATES", "DateModel", "GPTModel", "gpt_attention_maps", "gpt_text"]

# -- the date translator's attention ---------------------------------------------------------------------

QUICK_DATES = {"embed_dim": 24, "hidden_size": 48, "batch_size": 64, "lr": 3e-3, "clip": 1.0, "seed": 0}
"""The quick-trained translator: ``ember translate-dates``'s GRU recipe at a smaller width."""


class DateModel:
    """The date translator for the attention page: ``--dates-model DIR``, else a quick-trained one.

    ``quick_train`` trains a small translator (``QUICK_DATES``: hidden 48, ≤ 20,000 pairs, ≤ 5 epochs) in a
    background thread and saves it under ``cache_dir``; a translator quick-trained before is found there.
    """

    HOW_TO = ("no date translator is loaded: train one with 'ember translate-dates --out DIR' and start "
              "'ember playground --dates-model DIR', or quick-train a small one on this page")

    def __init__(self, path=None, cache_dir=None):
        self.path, self.cache_dir = path, cache_dir
        self._translator, self._lock = None, threading.Lock()
        self.training, self.message = False, None
        self._thread = None

    def _quick_dir(self):
        return Path(self.cache_dir) / "dates-quick" if self.cache_dir else None

    def translator(self):
        """The loaded translator, or None (with ``message`` saying why)."""
        from ember.text.date_translation import DateTranslator

        with self._lock:
            if self._translator is None and not self.training:
                for directory in filter(None, (self.path, self._quick_dir())):
                    try:
                        self._translator = DateTranslator.load(directory)
                        self.message = f"loaded from {Path(directory).name}"
                        break
                    except (FileNotFoundError, ValueError, KeyError, OSError) as error:
                        self.message = f"{error}" if directory == self.path else self.message
            return self._translator

    def status(self) -> dict:
        """{'ready', 'training', 'message'} for the page."""
        ready = self.translator() is not None
        return {"ready": ready, "training": self.training,
                "message": self.message if ready or self.training else (self.message or self.HOW_TO)}

    def quick_train(self, train_size: int, epochs: int) -> None:
        """Start training a small translator in the background; RequestError 409 when one is training."""
        try:
            import babel  # noqa: F401 - the date generator needs both
            import faker  # noqa: F401
        except ImportError:
            raise RequestError("dates: quick training needs faker and babel: pip install 'ember[dates]'", 501) from None
        with self._lock:
            if self.training:
                raise RequestError("dates: a translator is already training", 409)
            self.training, self.message = True, f"training on {train_size} dates for {epochs} epoch(s)…"
        out = self._quick_dir() or Path(".") / "runs" / "playground-dates"

        def work():
            try:
                translator = _train_translator(out, train_size, epochs)
                with self._lock:
                    self._translator, self.message = translator, f"quick-trained on {train_size} dates"
            except Exception as error:  # noqa: BLE001 - reported on the page
                with self._lock:
                    self.message = f"quick training failed: {type(error).__name__}: {error}"
            finally:
                self.training = False

        self._thread = threading.Thread(target=work, name="playground-dates", daemon=True)
        self._thread.start()

    def translate(self, text: str) -> dict:
        """The ISO output and the attention weights (output steps incl. <eos> × input characters)."""
        translator = self.translator()
        if translator is None:
            raise RequestError(self.message if self.training else self.HOW_TO, 409)
        text = text.strip()  # as the translator reads it: the attention columns are its characters
        with self._lock:  # one decode at a time: the model is shared
            outputs, attention = translator.decode([text])
        weights = np.asarray(attention[0], dtype=np.float64)
        rows = list(outputs[0]) + ["<eos>"]  # the decoder stops on <eos> or after 11 steps
        return {"text": text, "output": outputs[0], "input_chars": list(text), "output_chars": rows[:len(weights)],
                "attention": np.round(weights, 4).tolist()}


def _train_translator(out, train_size: int, epochs: int):
    """A ``QUICK_DATES`` translator trained on ``train_size`` generated dates for ``epochs``, saved in ``out``.

    Batches of dates of similar lengths, full teacher forcing, ``sequence_cross_entropy``; Adam
    with a cosine decay to lr/50 over all the steps, the gradient norm clipped at ``clip``.
    """
    from ember.optim import Adam
    from ember.optim.lr_scheduler import CosineAnnealingLR
    from ember.text.date_translation import DateTranslator, sequence_cross_entropy
    from ember.text.dates import build_char_vocabs, generate_dates
    from ember.train.callbacks import GradientClipping, LRSchedulerCallback

    r = QUICK_DATES
    em.manual_seed(r["seed"])
    pairs = generate_dates(train_size, seed=r["seed"])
    translator = DateTranslator(*build_char_vocabs(pairs), embed_dim=r["embed_dim"], hidden_size=r["hidden_size"])
    loader = translator.loader(pairs, r["batch_size"], generator=np.random.default_rng(r["seed"]))
    optimizer = Adam(translator.model.parameters(), lr=r["lr"])
    schedule = CosineAnnealingLR(optimizer, T_max=max(epochs * len(loader), 1), eta_min=r["lr"] / 50)
    callbacks = [LRSchedulerCallback(schedule, "step"), GradientClipping(max_norm=r["clip"])]
    Trainer(translator.model, optimizer, sequence_cross_entropy, callbacks, metrics=None, diagnose=False).fit(
        loader, epochs=epochs)
    translator.model.eval()
    translator.save(out)
    return translator


# -- a character GPT's self-attention ---------------------------------------------------------------------

GPT_SIZES = {"n_layer": 2, "n_head": 4, "n_embd": 64, "block_size": 64}
"""The character GPT of the attention page: small enough to train here in seconds."""

_GPT_PASSAGE = (
    "In the beginning God created the heaven and the earth. And the earth was without form, and void; and "
    "darkness was upon the face of the deep. And the Spirit of God moved upon the face of the waters. And God "
    "said, Let there be light: and there was light. And God saw the light, that it was good: and God divided "
    "the light from the darkness. And God called the light Day, and the darkness he called Night. And the "
    "evening and the morning were the first day.")
"""Genesis 1:1-5 (King James Bible): the training text when Debian's ``bible-kjv`` is not installed."""


def gpt_text() -> tuple[str, str]:
    """(text, its name): Genesis 1-3 of the King James Bible, else the built-in passage; whitespace as spaces
    so that every character of the vocabulary can be typed in a one-line field."""
    from ember.data.datasets.text import bible_kjv

    try:
        return " ".join(bible_kjv(reference="gen1:1-gen3:24", timeout=30).split()), "Genesis 1-3 (King James Bible)"
    except (FileNotFoundError, RuntimeError, OSError):
        return _GPT_PASSAGE, "Genesis 1:1-5 (King James Bible, built in)"


def gpt_attention_maps(model, idx) -> np.ndarray:
    """(layers, heads, T, T): every block's causal softmax weights for the tokens ``idx`` (1, T).

    Each block's ``c_attn`` projection of ln_1(x) gives Q, K, V per head; the weights are
    softmax(Q Kᵀ / √d + causal mask) row by row (query t over keys s ≤ t), the ones
    ``F.scaled_dot_product_attention`` applies inside the block; x then goes through the whole block.
    """
    from ember.nn import functional as F

    _, T = idx.shape
    mask = nn.Transformer.generate_square_subsequent_mask(T)  # −inf above the diagonal: no look ahead
    with no_grad():
        x = model.transformer.wte(idx) + model.transformer.wpe(em.arange(T))
        maps = []
        for block in model.transformer.h:
            attn = block.attn
            q, k, _ = (t.view(1, T, attn.n_head, -1).transpose(1, 2)  # (1, heads, T, E/heads)
                       for t in attn.c_attn(block.ln_1(x)).split(attn.n_embd, dim=2))
            maps.append(F.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]) + mask, dim=-1).array[0])
            x = block(x)
    return np.stack([np.asarray(m, dtype=np.float64) for m in maps])


class GPTModel:
    """A character GPT (``GPT_SIZES``) for the attention page, trained here in the background on ``gpt_text``.

    ``train(steps)`` runs AdamW (3e-3, batch 16 windows of ``block_size``) in a thread and caches the
    weights (``gpt-chars.safetensors``, an ``ember.save`` of the state dict) and the vocabulary
    (``gpt-chars.json``) under ``cache_dir``, where a later start finds them. 300 steps take ~10 s.
    """

    NAME = "gpt-chars"

    def __init__(self, cache_dir=None):
        self.cache_dir = Path(cache_dir) if cache_dir else None
        self._model, self.vocab, self._lock = None, None, threading.Lock()
        self.training, self.message, self._thread = False, None, None

    def _files(self):
        return (self.cache_dir / f"{self.NAME}.safetensors", self.cache_dir / f"{self.NAME}.json") \
            if self.cache_dir else (None, None)

    def model(self):
        """The trained GPT, or None; loads a cached one on the first call."""
        from ember.models.gpt import GPT

        weights, meta = self._files()
        with self._lock:
            if self._model is None and not self.training and meta is not None and meta.is_file():
                try:
                    info = json.loads(meta.read_text())
                    model = GPT(len(info["vocab"]), **info["sizes"])
                    model.load_state_dict(em.load(weights))
                    self._model, self.vocab = model.eval(), info["vocab"]
                    self.message = f"loaded from the cache: {info['message']}"
                except (OSError, ValueError, KeyError, TypeError, RuntimeError) as error:
                    self.message = f"the cached GPT could not be loaded ({type(error).__name__}: {error}); train one"
            return self._model

    def status(self) -> dict:
        """{'ready', 'training', 'message', 'vocab', 'block_size', 'layers', 'heads'} for the page."""
        ready = self.model() is not None
        message = self.message if ready or self.training else (self.message or "no GPT yet: train one on this page")
        return {"ready": ready, "training": self.training, "message": message, "vocab": self.vocab if ready else None,
                "block_size": GPT_SIZES["block_size"], "layers": GPT_SIZES["n_layer"], "heads": GPT_SIZES["n_head"]}

    def train(self, steps: int, seed: int = 0) -> None:
        """Start training in the background; RequestError 409 when one is already training."""
        with self._lock:
            if self.training:
                raise RequestError("gpt: a GPT is already training", 409)
            self.training, self.message = True, f"training for {steps} steps…"
        self._thread = threading.Thread(target=self._work, args=(steps, seed), name="playground-gpt", daemon=True)
        self._thread.start()

    def _work(self, steps: int, seed: int) -> None:
        try:
            model, vocab, message = _train_gpt(steps, seed, self._progress)
            self._cache(model, vocab, message)
            with self._lock:
                self._model, self.vocab, self.message = model.eval(), vocab, message
        except Exception as error:  # noqa: BLE001 - reported on the page
            with self._lock:
                self.message = f"training failed: {type(error).__name__}: {error}"
        finally:
            self.training = False

    def _progress(self, step: int, steps: int, loss: float) -> None:
        self.message = f"training: step {step} of {steps}, loss {loss:.3f}…"

    def _cache(self, model, vocab: str, message: str) -> None:
        weights, meta = self._files()
        if weights is None:
            return
        weights.parent.mkdir(parents=True, exist_ok=True)
        em.save(model.state_dict(), weights)
        meta.write_text(json.dumps({"vocab": vocab, "sizes": GPT_SIZES, "message": message}))  # last: marks it whole

    def attention(self, text: str) -> dict:
        """The characters of ``text`` and every layer's and head's attention weights over them (rounded)."""
        model = self.model()
        if model is None:
            raise RequestError(self.message if self.training else "gpt: no GPT yet; train one first", 409)
        block = model.config.block_size
        if len(text) > block:
            raise RequestError(f"gpt/attention: 'text' has {len(text)} characters; at most {block} (the block size)")
        unknown = sorted(set(text) - set(self.vocab))
        if unknown:
            raise RequestError(f"gpt/attention: characters not in the vocabulary: {' '.join(map(repr, unknown))}; "
                               f"use only {self.vocab!r}")
        stoi = {c: i for i, c in enumerate(self.vocab)}
        weights = gpt_attention_maps(model, Tensor(np.array([[stoi[c] for c in text]], dtype=np.int64)))
        return {"tokens": list(text), "weights": np.round(weights, 4).tolist(), "layers": int(weights.shape[0]),
                "heads": int(weights.shape[1])}


def _train_gpt(steps: int, seed: int, progress) -> tuple:
    """A GPT (``GPT_SIZES``) trained for ``steps`` AdamW steps on ``gpt_text``; (model, vocabulary, a summary).

    ``progress(step, steps, loss)`` is called every 10 steps and after the last one.
    """
    from ember.models.gpt import GPT
    from ember.optim import AdamW

    text, name = gpt_text()
    vocab = "".join(sorted(set(text)))
    stoi = {c: i for i, c in enumerate(vocab)}
    data = np.array([stoi[c] for c in text], dtype=np.int64)
    em.manual_seed(seed)
    model = GPT(len(vocab), **GPT_SIZES)
    optimizer = AdamW(model.parameters(), lr=3e-3, weight_decay=0.0)
    trainer = Trainer(model, optimizer, _own_loss, [_Progress(progress, steps)], metrics=None, diagnose=False)
    model.train()
    logs = {"loss": math.nan}
    for batch in itertools.islice(_windows(data, GPT_SIZES["block_size"], seed), steps):
        logs, _ = trainer.step(batch)
    return model, vocab, f"{steps} steps on {name} ({len(text)} characters), final loss {logs['loss']:.3f}"


def _windows(data: np.ndarray, block: int, seed: int):
    """Endless batches of 16 random windows of ``block`` + 1 tokens: (inputs, targets, targets), the targets
    shifted by one. The GPT computes its own loss, so the targets are a model input as well as the target."""
    rng = np.random.default_rng(seed)
    while True:
        windows = data[rng.integers(0, len(data) - block - 1, 16)[:, None] + np.arange(block + 1)]
        yield windows[:, :-1], windows[:, 1:], windows[:, 1:]


def _own_loss(output, target):
    """The loss the GPT returned beside its logits for ``model(idx, targets)``: ℓ = −(1/NT) Σ log p(y_{n,t})."""
    return output[1]


class _Progress(Callback):
    """Calls ``report(step, steps, loss)`` after every ``every``-th optimisation step and after the last."""

    def __init__(self, report, steps: int, every: int = 10):
        self.report, self.steps, self.every = report, steps, every

    def on_batch_end(self, trainer, batch: int, logs: dict) -> None:
        step = trainer.global_step
        if step % self.every == 0 or step == self.steps:
            self.report(step, self.steps, logs["loss"])

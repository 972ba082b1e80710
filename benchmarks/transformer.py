"""Transformer speed and learning: ember's GPT against a PyTorch twin on the KJV characters, side by side.

- the same GPT (n_layer 4, n_head 4, n_embd 128, block 64, dropout 0) in both frameworks, the
  twin starting from ember's weights; AdamW lr 1e-3, batch 12, the same batches in the same order;
- the validation-loss curve of each (mean over ``--eval-batches`` fixed windows every ``--eval-every``
  iterations): equal weights, data and optimiser, so the curves should agree up to float32 rounding;
- training tokens/s of each (steps alternate ember, torch, so that machine noise hits both alike)
  and the ratio ember/torch;
- peak memory of a few training steps in each framework, each in a fresh process (harness.py);
- generation tokens/s within one block: ember with and without its key/value cache, and the twin without one.

    python benchmarks/transformer.py [--iters 2000] [--eval-every 250] [--eval-batches 200] [--text FILE]
"""
from __future__ import annotations

import argparse
import json
import math
import time

import numpy as np
from harness import SETTLE_SECONDS, peak_memory_mib, print_machine

N_LAYER, N_HEAD, N_EMBD, BLOCK, BATCH, LR = 4, 4, 128, 64, 12, 1e-3


# -- the PyTorch twin (nanoGPT's layout and parameter names) ---------------------------------------
def torch_gpt(vocab_size, block_size=BLOCK, n_layer=N_LAYER, n_head=N_HEAD, n_embd=N_EMBD):
    """A PyTorch GPT with the parameter names of ``ember.models.GPT``; forward(idx, targets) → (logits, loss)."""
    import torch
    from torch import nn
    from torch.nn import functional as F

    class Attention(nn.Module):
        def __init__(self):
            super().__init__()
            self.c_attn, self.c_proj = nn.Linear(n_embd, 3 * n_embd), nn.Linear(n_embd, n_embd)

        def forward(self, x):
            B, T, E = x.shape
            q, k, v = (t.view(B, T, n_head, E // n_head).transpose(1, 2) for t in self.c_attn(x).split(E, dim=2))
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            return self.c_proj(y.transpose(1, 2).contiguous().view(B, T, E))

    class MLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.c_fc, self.c_proj = nn.Linear(n_embd, 4 * n_embd), nn.Linear(4 * n_embd, n_embd)

        def forward(self, x):
            return self.c_proj(F.gelu(self.c_fc(x)))

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln_1, self.attn, self.ln_2, self.mlp = nn.LayerNorm(n_embd), Attention(), nn.LayerNorm(n_embd), MLP()

        def forward(self, x):
            x = x + self.attn(self.ln_1(x))
            return x + self.mlp(self.ln_2(x))

    class GPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.transformer = nn.ModuleDict(dict(
                wte=nn.Embedding(vocab_size, n_embd), wpe=nn.Embedding(block_size, n_embd),
                h=nn.ModuleList([Block() for _ in range(n_layer)]), ln_f=nn.LayerNorm(n_embd)))
            self.lm_head = nn.Linear(n_embd, vocab_size, bias=False)
            self.transformer.wte.weight = self.lm_head.weight

        def forward(self, idx, targets=None):
            T = idx.shape[1]
            x = self.transformer.wte(idx) + self.transformer.wpe(torch.arange(T))
            for block in self.transformer.h:
                x = block(x)
            logits = self.lm_head(self.transformer.ln_f(x))
            loss = None if targets is None else F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1))
            return logits, loss

        @torch.no_grad()
        def generate(self, idx, max_new_tokens):
            for _ in range(max_new_tokens):
                logits, _ = self(idx[:, -block_size:])
                idx = torch.cat([idx, torch.multinomial(F.softmax(logits[:, -1], dim=-1), 1)], dim=1)
            return idx

    return GPT()


def build_pair(vocab_size, seed=0):
    """ember's GPT and its PyTorch twin holding the same weights, each with AdamW (decay on ≥ 2-D only)."""
    import torch

    import ember as em
    from ember.models import GPT

    em.manual_seed(seed)
    ours = GPT(vocab_size, BLOCK, n_layer=N_LAYER, n_head=N_HEAD, n_embd=N_EMBD, dropout=0.0)
    twin = torch_gpt(vocab_size)
    twin.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in ours.state_dict().items()})
    params = list(twin.parameters())
    t_opt = torch.optim.AdamW([{"params": [p for p in params if p.dim() >= 2], "weight_decay": 0.1},
                               {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}], lr=LR)
    return (ours, ours.configure_optimizers(0.1, LR, (0.9, 0.999))), (twin, t_opt)


def windows(data, n, rng):
    """``n`` random (inputs, targets) windows of BLOCK characters: int64 arrays (n, BLOCK)."""
    w = data[rng.integers(0, len(data) - BLOCK, n)[:, None] + np.arange(BLOCK + 1)]
    return np.ascontiguousarray(w[:, :-1]), np.ascontiguousarray(w[:, 1:])  # torch's view needs contiguous


def step(name, model, optimizer, x, y) -> float:
    """One training step in framework ``name``; returns the loss."""
    fw, to_tensor = _framework(name)
    _, loss = model(to_tensor(x), to_tensor(y))
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item()


def val_loss(name, model, batches) -> float:
    fw, to_tensor = _framework(name)
    with fw.no_grad():
        return float(np.mean([model(to_tensor(x), to_tensor(y))[1].item() for x, y in batches]))


def _framework(name):
    if name == "ember":
        import ember as fw

        return fw, fw.tensor
    import torch as fw

    return fw, fw.from_numpy


def train_runner(name, vocab_size=80, steps=5):
    """A closure running ``steps`` training steps of ``name``'s model on random batches (for peak memory)."""
    (ours, opt), (twin, t_opt) = build_pair(vocab_size)
    model, optimizer = (ours, opt) if name == "ember" else (twin, t_opt)
    rng = np.random.default_rng(0)
    batches = [(rng.integers(0, vocab_size, (BATCH, BLOCK)), rng.integers(0, vocab_size, (BATCH, BLOCK)))
               for _ in range(steps)]
    return lambda: [step(name, model, optimizer, x, y) for x, y in batches]


# -- the run ---------------------------------------------------------------------------------------
def train_both(data, val, args, vocab_size):
    """Train both side by side on the same batches; returns their val curves and training seconds."""
    (ours, opt), (twin, t_opt) = build_pair(vocab_size, args.seed)
    rng = np.random.default_rng(args.seed)
    val_batches = [windows(val, BATCH, np.random.default_rng(args.seed + 1 + i)) for i in range(args.eval_batches)]
    curves = {"ember": [], "torch": []}
    seconds = {"ember": 0.0, "torch": 0.0}
    runs = {"ember": (ours, opt), "torch": (twin, t_opt)}
    done = 0
    while done < args.iters:  # blocks of eval_every steps on the same batches, A B then B A
        batches = [windows(data, BATCH, rng) for _ in range(min(args.eval_every, args.iters - done))]
        first = ("ember", "torch") if done // args.eval_every % 2 == 0 else ("torch", "ember")
        for name in first:
            time.sleep(SETTLE_SECONDS)  # the other library's idle threads stop spinning first (harness.py)
            start = time.perf_counter()
            for x, y in batches:
                step(name, *runs[name], x, y)
            seconds[name] += time.perf_counter() - start
        done += len(batches)
        for name, (model, _) in runs.items():
            curves[name].append((done, val_loss(name, model, val_batches)))
        print(f"iter {done:5d}  val loss  ember {curves['ember'][-1][1]:.4f}  torch {curves['torch'][-1][1]:.4f}",
              flush=True)
    return curves, seconds, ours, twin


def generation_speed(ours, twin, tokens: int) -> dict:
    """Tokens/s of sampling ``tokens`` characters after a one-character prompt (batch 1)."""
    import torch

    import ember as em

    ours.eval()
    result = {}
    for label, run in (("ember, key/value cache", lambda: ours.generate(em.zeros(1, 1, dtype=em.int64), tokens)),
                       ("ember, no cache", lambda: ours.generate(em.zeros(1, 1, dtype=em.int64), tokens,
                                                                 use_cache=False)),
                       ("torch, no cache", lambda: twin.generate(torch.zeros(1, 1, dtype=torch.int64), tokens))):
        start = time.perf_counter()
        run()
        result[label] = round(tokens / (time.perf_counter() - start), 1)
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iters", type=int, default=2000)
    parser.add_argument("--eval-every", type=int, default=250)
    parser.add_argument("--eval-batches", type=int, default=200)
    parser.add_argument("--gen-tokens", type=int, default=BLOCK - 1,
                        help="tokens per generation-speed run (default block_size - 1: beyond the block the cache "
                             "falls back to cropping and recomputing, as without it)")
    parser.add_argument("--text", default=None, help="a text file instead of the KJV Bible")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="skip the peak-memory subprocesses")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args()
    print_machine(args)
    import torch

    print(f"torch: {torch.__version__}, {torch.get_num_threads()} intra-op threads", flush=True)

    from ember.apps.gpt import CharTokenizer
    from ember.data.datasets import text_corpus

    text = text_corpus(args.text)
    tokenizer = CharTokenizer(text)
    data = np.asarray(tokenizer.encode(text), dtype=np.int64)
    split = int(0.9 * len(data))
    print(f"text: {len(data):,} characters, {len(tokenizer)} symbols; uniform-guess loss ln V = "
          f"{math.log(len(tokenizer)):.3f}", flush=True)
    curves, seconds, ours, twin = train_both(data[:split], data[split:], args, len(tokenizer))
    tokens = args.iters * BATCH * BLOCK
    throughput = {name: round(tokens / s, 1) for name, s in seconds.items()}
    memory = {} if args.quick else {name: peak_memory_mib("transformer", f"train_runner({name!r}, {len(tokenizer)})")
                                    for name in ("ember", "torch")}
    result = {"val_loss": curves, "train_tokens_per_s": throughput,
              "ratio_ember_over_torch": round(throughput["ember"] / throughput["torch"], 3),
              "peak_memory_mib": memory, "generate_tokens_per_s": generation_speed(ours, twin, args.gen_tokens)}
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"\ntraining tokens/s  ember {throughput['ember']:,.0f}  torch {throughput['torch']:,.0f}  "
          f"ember/torch {result['ratio_ember_over_torch']:.2f}x")
    for name, m in memory.items():
        print(f"peak memory {name}: {m['peak_total']} MiB total, {m['growth']} MiB grown while training")
    for label, rate in result["generate_tokens_per_s"].items():
        print(f"generate {label}: {rate:,.0f} tokens/s")


if __name__ == "__main__":
    main()

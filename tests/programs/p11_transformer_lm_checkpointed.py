"""A Transformer language model in pytorch/examples' style on a Markov-chain corpus: gradient checkpointing
through torch.utils.checkpoint, clip_grad_norm_, a manual SGD update, top-k sampling, and the whole model saved
with torch.save and loaded back with torch.load(weights_only=False)."""
import argparse
import json
import math
import os
import tempfile

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint

parser = argparse.ArgumentParser()
parser.add_argument('--epochs', type=int, default=3)
parser.add_argument('--seed', type=int, default=0)
args = parser.parse_args()
torch.manual_seed(args.seed)

VOCAB, BPTT, BATCH = 24, 16, 16
rng = np.random.default_rng(7)
transitions = rng.dirichlet(np.ones(VOCAB) * 0.1, VOCAB)
tokens = [0]
for _ in range(6000):
    tokens.append(rng.choice(VOCAB, p=transitions[tokens[-1]]))
corpus = torch.tensor(tokens, dtype=torch.long)
n_batches = corpus.size(0) // BATCH
data = corpus[:n_batches * BATCH].view(BATCH, -1).t().contiguous()  # (steps, batch)


class PositionalEncoding(nn.Module):
    def __init__(self, d_model, max_len=512):
        super().__init__()
        position = torch.arange(max_len).unsqueeze(1)
        div_term = torch.exp(torch.arange(0, d_model, 2) * (-math.log(10000.0) / d_model))
        pe = torch.zeros(max_len, 1, d_model)
        pe[:, 0, 0::2] = torch.sin(position * div_term)
        pe[:, 0, 1::2] = torch.cos(position * div_term)
        self.register_buffer('pe', pe)

    def forward(self, x):
        return x + self.pe[:x.size(0)]


class TransformerLM(nn.Module):
    def __init__(self, ntoken, d_model=32, nhead=2, d_hid=64, nlayers=2):
        super().__init__()
        self.embed = nn.Embedding(ntoken, d_model)
        self.pos = PositionalEncoding(d_model)
        self.layers = nn.ModuleList([nn.TransformerEncoderLayer(d_model, nhead, d_hid, dropout=0.0)
                                     for _ in range(nlayers)])
        self.head = nn.Linear(d_model, ntoken)
        self.d_model = d_model

    def forward(self, src, mask):
        x = self.pos(self.embed(src) * math.sqrt(self.d_model))
        for layer in self.layers:
            x = checkpoint(layer, x, mask, use_reentrant=False) if self.training else layer(x, mask)
        return self.head(x)


model = TransformerLM(VOCAB)
mask = nn.Transformer.generate_square_subsequent_mask(BPTT)
lr = 0.5
for epoch in range(args.epochs):
    model.train()
    total, count = 0.0, 0
    for i in range(0, data.size(0) - 1 - BPTT, BPTT):
        source, target = data[i:i + BPTT], data[i + 1:i + 1 + BPTT].reshape(-1)
        model.zero_grad()
        output = model(source, mask)
        loss = F.cross_entropy(output.view(-1, VOCAB), target)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 0.5)
        for p in model.parameters():
            p.data.add_(p.grad, alpha=-lr)
        total, count = total + loss.item(), count + 1
    print(f"epoch {epoch}: loss {total / count:.4f}, ppl {math.exp(total / count):.2f}")

path = os.path.join(tempfile.mkdtemp(), 'model.pt')
torch.save(model, path)
model = torch.load(path, weights_only=False)
model.eval()
with torch.no_grad():
    source, target = data[-1 - BPTT:-1], data[-BPTT:].reshape(-1)
    logits = model(source, mask)
    eval_loss = F.cross_entropy(logits.view(-1, VOCAB), target).item()
    accuracy = (logits.view(-1, VOCAB).argmax(dim=1) == target).float().mean().item()
    v, _ = torch.topk(logits[-1], 5)
    last = logits[-1].masked_fill(logits[-1] < v[:, [-1]], -float('inf'))
    sample = torch.multinomial(F.softmax(last, dim=-1), num_samples=1)
assert sample.shape == (BATCH, 1)
print("RESULT " + json.dumps({"loss": eval_loss, "accuracy": accuracy}))

"""Skip-gram word vectors with negative sampling, written directly on embeddings, bmm and logsigmoid."""
import argparse
import json
import random
from collections import Counter

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

parser = argparse.ArgumentParser()
parser.add_argument('--epochs', type=int, default=3)
parser.add_argument('--seed', type=int, default=0)
args = parser.parse_args()
torch.manual_seed(args.seed)
random.seed(0)

groups = [["king", "queen", "prince", "throne", "crown"], ["sheep", "lamb", "flock", "shepherd", "field"],
          ["sea", "ship", "wave", "shore", "sail"]]
corpus = []
for _ in range(600):
    corpus += random.sample(random.choice(groups), 4) + ["and"]
counts = Counter(corpus)
vocab = sorted(counts)
word2idx = {w: i for i, w in enumerate(vocab)}
ids = [word2idx[w] for w in corpus]
window, K, dim = 2, 5, 16

pairs = [(ids[i], ids[j]) for i in range(len(ids)) for j in range(max(0, i - window), min(len(ids), i + window + 1))
         if i != j]
centres = torch.tensor([c for c, _ in pairs])
contexts = torch.tensor([o for _, o in pairs])
noise = torch.tensor(np.array([counts[w] for w in vocab], dtype=np.float64) ** 0.75)
noise = noise / noise.sum()


class SkipGram(nn.Module):
    def __init__(self, vocab_size, emb_dim):
        super().__init__()
        self.u_embeddings = nn.Embedding(vocab_size, emb_dim)
        self.v_embeddings = nn.Embedding(vocab_size, emb_dim)
        initrange = 0.5 / emb_dim
        self.u_embeddings.weight.data.uniform_(-initrange, initrange)
        self.v_embeddings.weight.data.zero_()

    def forward(self, pos_u, pos_v, neg_v):
        emb_u = self.u_embeddings(pos_u)
        emb_v = self.v_embeddings(pos_v)
        score = torch.sum(torch.mul(emb_u, emb_v), dim=1)
        score = F.logsigmoid(torch.clamp(score, max=10, min=-10))
        emb_neg_v = self.v_embeddings(neg_v)
        neg_score = torch.bmm(emb_neg_v, emb_u.unsqueeze(2)).squeeze()
        neg_score = F.logsigmoid(-torch.clamp(neg_score, max=10, min=-10))
        return -(score + torch.sum(neg_score, dim=1)).mean()


model = SkipGram(len(vocab), dim)
optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
for epoch in range(args.epochs):
    perm = torch.randperm(len(centres))
    total = 0.0
    for start in range(0, len(perm), 256):
        batch = perm[start:start + 256]
        neg = torch.multinomial(noise, len(batch) * K, replacement=True).view(len(batch), K)
        loss = model(centres[batch], contexts[batch], neg)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total += loss.item() * len(batch)
    print('epoch {} loss {:.4f}'.format(epoch, total / len(perm)))

emb = F.normalize(model.u_embeddings.weight.detach(), dim=1)
sims = emb @ emb.t()
same = [sims[word2idx[a], word2idx[b]].item() for g in groups for a in g for b in g if a != b]
other = [sims[word2idx[g[0]], word2idx[h[0]]].item() for g in groups for h in groups if g is not h]
print('within-group similarity {:.3f}, across groups {:.3f}'.format(np.mean(same), np.mean(other)))
print("RESULT " + json.dumps({"loss": total / len(perm), "separation": float(np.mean(same) - np.mean(other))}))

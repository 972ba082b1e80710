"""Transfer learning on the digits: reuse a body trained on 0–4 to learn 5–9 from a handful of images.

    python examples/transfer_learning.py [--shots 5] [--pretrain-steps 300] [--steps 200]

1. Pre-train an MLP (body → head) on every training image of the digits 0–4.
2. Freeze the body with ``body.requires_grad_(False)``, replace the head by a fresh
   ``Linear(64, 5)`` and fine-tune only the head on ``--shots`` images of each digit 5–9.
3. For comparison, train the same architecture from scratch on those same few images.

Prints the test accuracy on the digits 5–9 of both, averaged over a few draws of the small set.

What it shows on these 8×8 digits: the frozen body loses to training from scratch (about 0.55
against 0.89 with 5 images per digit). Five source classes teach features made to tell 0–4
apart, not the strokes that separate 5–9, while the raw 64 pixels are nearly linearly
separable already. Transfer pays when task A has far more, and more varied, data than task B
and its low-level features are what B needs — not the case here, and worth measuring first.
"""
import argparse

import numpy as np

import ember as em
from ember import nn
from ember.data.datasets import digits

SOURCE, TARGET = (0, 1, 2, 3, 4), (5, 6, 7, 8, 9)


def make_model(num_classes: int = 5) -> nn.Sequential:
    """body (64 → 128 → 64, ReLU) then a linear head; ``model[0]`` is the body, ``model[1]`` the head."""
    body = nn.Sequential(nn.Flatten(), nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU())
    return nn.Sequential(body, nn.Linear(64, num_classes))


def fit(model, x, y, steps: int, lr: float, rng, batch_size: int = 64) -> None:
    """Adam on the cross-entropy, over random mini-batches; only parameters that require grad are trained."""
    optimizer = em.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)
    for _ in range(steps):
        idx = rng.choice(len(y), min(batch_size, len(y)), replace=False)
        loss = nn.functional.cross_entropy(model(em.tensor(x[idx])), em.tensor(y[idx]))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


def accuracy(model, x, y) -> float:
    with em.no_grad():
        return float((model(em.tensor(x)).numpy().argmax(axis=1) == y).mean())


def subset(images, labels, classes, shots, rng):
    """Images of ``classes`` relabelled 0..len-1; ``shots`` random ones per class (all if None)."""
    picks = [np.flatnonzero(labels == c) for c in classes]
    if shots is not None:
        picks = [rng.choice(p, shots, replace=False) for p in picks]
    idx = np.concatenate(picks)
    return images[idx], np.searchsorted(classes, labels[idx])


def transfer_once(pretrained_body, train, test, shots, steps, lr, rng) -> dict:
    """Fine-tune a fresh head on a frozen copy of the body, and train from scratch, on one small set."""
    x, y = subset(*train, TARGET, shots, rng)
    fine_tuned = make_model()
    fine_tuned[0].load_state_dict(pretrained_body.state_dict())
    fine_tuned[0].requires_grad_(False)  # the frozen body: no gradients, the optimiser never sees it
    frozen = [p.detach().numpy().copy() for p in fine_tuned[0].parameters()]
    fit(fine_tuned, x, y, steps, lr, rng)
    assert all(np.array_equal(p.detach().numpy(), q) for p, q in zip(fine_tuned[0].parameters(), frozen, strict=True))
    scratch = make_model()
    fit(scratch, x, y, steps, lr, rng)
    return {"fine_tuned": accuracy(fine_tuned, *test), "scratch": accuracy(scratch, *test)}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shots", type=int, default=5, help="training images per target digit")
    parser.add_argument("--pretrain-steps", type=int, default=300)
    parser.add_argument("--steps", type=int, default=200, help="training steps on the small target set")
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--draws", type=int, default=3, help="draws of the small set to average over")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    em.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    train = tuple(t.numpy() for t in digits(train=True).tensors)
    test = tuple(t.numpy() for t in digits(train=False).tensors)
    pretrained = make_model()
    fit(pretrained, *subset(*train, SOURCE, None, rng), args.pretrain_steps, args.lr, rng)
    source_accuracy = accuracy(pretrained, *subset(*test, SOURCE, None, rng))
    target_test = subset(*test, TARGET, None, rng)
    runs = [transfer_once(pretrained[0], train, target_test, args.shots, args.steps, args.lr, rng)
            for _ in range(args.draws)]
    result = {key: float(np.mean([r[key] for r in runs])) for key in ("fine_tuned", "scratch")}
    result["source_accuracy"] = source_accuracy
    print(f"pre-trained on digits {SOURCE}: test accuracy {source_accuracy:.3f}")
    print(f"digits {TARGET} from {args.shots} images each (mean of {args.draws} draws):")
    print(f"  frozen pre-trained body + new head  {result['fine_tuned']:.3f}")
    print(f"  same network from scratch           {result['scratch']:.3f}")
    return result


if __name__ == "__main__":
    main()

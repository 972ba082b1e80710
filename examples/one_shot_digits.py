"""One-shot verification on the digits: a triplet-trained encoder recognises digit classes it never saw.

    python examples/one_shot_digits.py [--steps 400] [--mining semi_hard] [--out runs/one_shot_digits]

A shared encoder f (a small CNN) maps each 8×8 image to a unit-length embedding; it is trained
with the FaceNet triplet loss on squared distances, max(‖f(A) − f(P)‖² − ‖f(A) − f(N)‖² + α, 0),
on triplets mined online from batches of P classes × K images, using only the digits 0–6. On
the held-out digits 7, 8, 9 it then decides "same digit or not" for pairs of images by
thresholding d = ‖f(x1) − f(x2)‖², and labels each image from a single example per class
(one-shot).

Seven identities are few for learning what makes two images "the same"; as is done with
Omniglot, each of the 8 rotations and reflections of a training digit counts as a class of its
own, giving 56 identities (the held-out digits are only ever seen upright).

Prints the verification accuracy at the best threshold, the ROC AUC and the one-shot accuracy
for raw pixels, the untrained encoder and the trained one; writes the ROC curve to OUT/roc.png.
"""
import argparse
from pathlib import Path

import numpy as np

import ember as em
from ember import nn
from ember.data.datasets import digits
from ember.ops.metric_loss import normalize, pairwise_distances
from ember.vision.siamese import SiameseNetwork, auc, best_threshold, online_triplet_loss, plot_roc, roc_curve

TRAIN_CLASSES, HELD_OUT_CLASSES = range(7), (7, 8, 9)


class Encoder(nn.Module):
    """conv 3×3 (16) → pool → conv 3×3 (32) → pool → linear D, rescaled to unit length (FaceNet's embedding)."""

    def __init__(self, dim: int = 64, width: int = 16):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(width, 2 * width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(2 * width * 2 * 2, dim))

    def forward(self, x):
        return normalize(self.features(x), dim=1)


class Pixels(nn.Module):
    """The baseline "encoder": the raw pixels as they are."""

    def forward(self, x):
        return x.reshape(x.shape[0], -1)


def orientation_classes(images, labels):
    """Each of the 8 rotations and reflections of every image, as class 8·label + orientation."""
    turned = [np.rot90(images, k, axes=(2, 3)) for k in range(4)]
    views = turned + [t[..., ::-1] for t in turned]
    return (np.ascontiguousarray(np.concatenate(views)),
            np.concatenate([8 * labels + k for k in range(len(views))]))


def class_batches(labels, classes_per_batch: int, per_class: int, rng):
    """Endless index batches: ``per_class`` images of each of ``classes_per_batch`` random classes (P × K)."""
    classes = np.unique(labels)
    members = {c: np.flatnonzero(labels == c) for c in classes}
    while True:
        chosen = rng.choice(classes, classes_per_batch, replace=False)
        yield np.concatenate([rng.choice(members[c], per_class, replace=False) for c in chosen])


def train(net, images, labels, steps: int, mining: str, margin: float, lr: float, seed: int) -> list[float]:
    """Adam on the online triplet loss over batches of 16 classes × 4 images; returns the loss per step."""
    optimizer = em.optim.Adam(net.parameters(), lr=lr)
    batches, losses = class_batches(labels, 16, 4, np.random.default_rng(seed)), []
    for _, idx in zip(range(steps), batches, strict=False):
        loss = online_triplet_loss(net.embed(em.tensor(images[idx])), labels[idx], margin=margin, mining=mining,
                                   squared=True)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def evaluate(net, images, labels, rng, episodes: int = 200) -> dict:
    """Verification on every pair of held-out images (ROC, AUC, accuracy at the best threshold,
    balanced over same and different pairs) and one-shot accuracy over random support sets."""
    with em.no_grad():
        d = pairwise_distances(net.embed(em.tensor(images)), squared=True).numpy()
    i, j = np.triu_indices(len(labels), k=1)
    same = labels[i] == labels[j]
    keep = np.r_[np.flatnonzero(same), rng.choice(np.flatnonzero(~same), same.sum(), replace=False)]
    fpr, tpr, _ = roc_curve(-d[i, j][keep], same[keep])
    threshold, accuracy = best_threshold(-d[i, j][keep], same[keep])
    return {"verification_accuracy": accuracy, "threshold": -threshold, "auc": auc(fpr, tpr),
            "one_shot_accuracy": one_shot_accuracy(d, labels, rng, episodes), "roc": (fpr, tpr)}


def one_shot_accuracy(d, labels, rng, episodes: int) -> float:
    """Mean accuracy of labelling every image by its nearest of one random example per class."""
    classes = np.unique(labels)
    correct = []
    for _ in range(episodes):
        support = np.array([rng.choice(np.flatnonzero(labels == c)) for c in classes])
        query = np.setdiff1d(np.arange(len(labels)), support)
        correct.append(classes[d[np.ix_(query, support)].argmin(axis=1)] == labels[query])
    return float(np.mean(correct))


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--mining", choices=["batch_hard", "semi_hard"], default="semi_hard")
    parser.add_argument("--margin", type=float, default=0.5)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="runs/one_shot_digits")
    args = parser.parse_args(argv)

    em.manual_seed(args.seed)
    images, labels = (t.numpy() for t in digits().tensors)
    seen, unseen = np.isin(labels, TRAIN_CLASSES), np.isin(labels, HELD_OUT_CLASSES)
    test = images[unseen], labels[unseen]
    pixels = evaluate(SiameseNetwork(Pixels()), *test, np.random.default_rng(args.seed))
    net = SiameseNetwork(Encoder())
    before = evaluate(net, *test, np.random.default_rng(args.seed))
    losses = train(net, *orientation_classes(images[seen], labels[seen]), args.steps, args.mining, args.margin,
                   args.lr, args.seed)
    after = evaluate(net, *test, np.random.default_rng(args.seed))

    print(f"held-out digits {HELD_OUT_CLASSES}     raw pixels   untrained   trained")
    for name in ("verification_accuracy", "auc", "one_shot_accuracy"):
        print(f"{name:28s} {pixels[name]:10.3f} {before[name]:11.3f} {after[name]:9.3f}")
    print(f"same digit when ‖f(x1) − f(x2)‖² ≤ {after['threshold']:.3f}")
    roc_path = Path(args.out) / "roc.png"
    plot_roc(*after.pop("roc"), roc_path, label=f"AUC = {after['auc']:.3f}",
             title=f"Verification on unseen digits {HELD_OUT_CLASSES}")
    print(f"ROC curve written to {roc_path}")
    before.pop("roc"), pixels.pop("roc")
    return {"pixels": pixels, "before": before, "after": after, "losses": losses, "roc_path": roc_path}


if __name__ == "__main__":
    main()

"""Multi-task learning on the digits: one body, four sigmoid heads, half the labels missing.

    python examples/multitask.py [--missing 0.5] [--steps 300]

Each image gets four yes/no labels — is the digit even, greater than 4, prime, does it have a
closed loop (0, 6, 8, 9) — and each label is hidden at random with probability ``--missing``
(NaN in the target). One MLP body feeds four sigmoid outputs, and ``masked_bce_with_logits``
sums the loss over the labels that are present only. For comparison, the same network is
trained on the images whose four labels are all known (the rest thrown away).

Prints the test accuracy of each task for both.
"""
import argparse

import numpy as np

import ember as em
from ember import nn
from ember.data.datasets import digits
from ember.train.multitask import masked_bce_with_logits

TASKS = {"even": (0, 2, 4, 6, 8), "greater than 4": (5, 6, 7, 8, 9), "prime": (2, 3, 5, 7),
         "closed loop": (0, 6, 8, 9)}


def task_labels(digit_labels):
    """(N, 4) float labels, one column per task in ``TASKS``."""
    return np.stack([np.isin(digit_labels, members) for members in TASKS.values()], axis=1).astype(np.float32)


def make_model() -> nn.Sequential:
    """A shared body (64 → 128 → 64) and one sigmoid head per task (the columns of the last Linear)."""
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(),
                         nn.Linear(64, len(TASKS)))


def fit(model, x, y, steps: int, lr: float, rng, batch_size: int = 64) -> None:
    optimizer = em.optim.Adam(model.parameters(), lr=lr)
    for _ in range(steps):
        idx = rng.choice(len(y), min(batch_size, len(y)), replace=False)
        loss = masked_bce_with_logits(model(em.tensor(x[idx])), y[idx])  # NaN entries count for nothing
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


def task_accuracies(model, x, y) -> dict:
    with em.no_grad():
        predicted = model(em.tensor(x)).numpy() > 0
    return dict(zip(TASKS, (predicted == (y > 0.5)).mean(axis=0).tolist(), strict=True))


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--missing", type=float, default=0.5, help="probability that a label is hidden")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    em.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    x_train, d_train = (t.numpy() for t in digits(train=True).tensors)
    x_test, d_test = (t.numpy() for t in digits(train=False).tensors)
    y_train = task_labels(d_train)
    y_train[rng.random(y_train.shape) < args.missing] = np.nan
    complete = ~np.isnan(y_train).any(axis=1)

    masked, dropped = make_model(), make_model()
    fit(masked, x_train, y_train, args.steps, args.lr, rng)
    fit(dropped, x_train[complete], y_train[complete], args.steps, args.lr, rng)
    result = {"masked": task_accuracies(masked, x_test, task_labels(d_test)),
              "complete_rows_only": task_accuracies(dropped, x_test, task_labels(d_test)),
              "labelled_fraction": float(np.mean(~np.isnan(y_train))), "complete_rows": int(complete.sum())}

    print(f"{result['labelled_fraction']:.0%} of the labels known; {complete.sum()} of {len(y_train)} images "
          "have all four")
    print(f"{'task':16s} {'masked loss':>12s} {'complete rows only':>20s}")
    for task in TASKS:
        print(f"{task:16s} {result['masked'][task]:12.3f} {result['complete_rows_only'][task]:20.3f}")
    return result


if __name__ == "__main__":
    main()

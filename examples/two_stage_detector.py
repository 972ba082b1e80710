"""A two-stage detector (the R-CNN idea): cheap region proposals, then a CNN that scores only those.

    python examples/two_stage_detector.py [--out DIR] [--epochs 6] [--train-size 1000]   # default runs/two_stage/

Stage one, ``propose_regions``: the 100 sliding windows per image with the highest
centre–surround colour contrast (integral images, no learning), after non-max suppression.
Stage two, ``TwoStageDetector`` (Fast R-CNN): a small CNN runs once over the image, RoIAlign
cuts a 7 × 7 feature map out of it for each proposal, and a head classifies the proposal
(circle, square, triangle or background) and refines its box. Trained on synthetic shapes
(``make_shapes``) with Adam and a cosine decay; evaluated by mAP@0.5 on held-out images.
Prints proposal recall, mAP and time; saves detections on test images (detections.png).
"""
import argparse
import math
import time
from pathlib import Path

import numpy as np

import ember as em
from ember.apps.detect_shapes import plot_detections
from ember.optim.adam import Adam
from ember.optim.lr_scheduler import CosineAnnealingLR
from ember.vision.evaluation import mean_average_precision
from ember.vision.rcnn import TwoStageDetector, proposal_recall, propose_regions
from ember.vision.shapes import CLASSES, make_shapes


def train(model, data, proposals, epochs, batch_size, lr, seed, log=print):
    """Fit ``model`` on ``data`` (a ``Shapes``) and its proposals (n, P, 4); returns the last epoch's mean loss."""
    rng = np.random.default_rng(seed)
    optimizer = Adam(model.parameters(), lr=lr)
    steps = epochs * math.ceil(len(data.images) / batch_size)
    schedule = CosineAnnealingLR(optimizer, T_max=max(steps, 1), eta_min=lr / 50)
    mean = float("nan")
    for epoch in range(1, epochs + 1):
        model.train()
        order, totals = rng.permutation(len(data.images)), []
        for i in range(0, len(order), batch_size):
            index = order[i:i + batch_size]
            losses = model.loss(data.images[index], proposals[index], data.boxes[index], data.labels[index], rng=rng)
            optimizer.zero_grad()
            losses["loss"].backward()
            optimizer.step()
            schedule.step()
            totals.append([losses[k].item() for k in ("loss", "classifier", "box")])
        mean, cls, box = np.mean(totals, axis=0)
        log(f"epoch {epoch}/{epochs}: loss {mean:.3f} (classifier {cls:.3f}, box {box:.3f})")
    return float(mean)


def parse_args(argv=None):
    """The command line: sizes of the data, the model and the training run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs/two_stage")
    parser.add_argument("--train-size", type=int, default=1000)
    parser.add_argument("--test-size", type=int, default=200)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--proposals", type=int, default=100, help="proposals per image")
    parser.add_argument("--width", type=int, default=16, help="channels of the backbone's first layer")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def main(argv=None) -> dict:
    """Train and evaluate the two-stage detector; print and return the numbers, save the PNG."""
    args = parse_args(argv)
    started = time.perf_counter()
    em.manual_seed(args.seed)
    train_data = make_shapes(args.train_size, seed=args.seed)
    test_data = make_shapes(args.test_size, seed=args.seed + 1)
    train_proposals, _ = propose_regions(train_data.images, args.proposals)
    test_proposals, _ = propose_regions(test_data.images, args.proposals)
    proposal_seconds = time.perf_counter() - started
    recall = {k: proposal_recall(test_proposals[:, :k], test_data.boxes, test_data.labels)
              for k in sorted({10, 25, 50, args.proposals}) if k <= args.proposals}
    print(f"proposals: {args.proposals} per image in {proposal_seconds:.1f}s; recall@IoU0.5 on the test images "
          + ", ".join(f"{v:.3f} with {k}" for k, v in recall.items()))
    model = TwoStageDetector(len(CLASSES), width=args.width)
    loss = train(model, train_data, train_proposals, args.epochs, args.batch_size, args.lr, args.seed)
    detections = model.detect(test_data.images, test_proposals)
    result = mean_average_precision(detections, test_data.targets(), num_classes=len(CLASSES))
    seconds = time.perf_counter() - started
    aps = ", ".join(f"{name} {ap:.3f}" for name, ap in zip(CLASSES, result["ap"], strict=True))
    print(f"mAP@0.5 on {args.test_size} held-out images: {result['map']:.3f} ({aps}); total time {seconds:.1f}s")
    path = Path(args.out) / "detections.png"
    plot_detections(test_data.images[:8], detections[:8], path, targets=test_data.targets()[:8])
    print(f"saved {path}")
    return {"path": path, "recall": recall, "map50": result["map"], "ap": result["ap"], "loss": loss,
            "seconds": seconds}


if __name__ == "__main__":
    main()

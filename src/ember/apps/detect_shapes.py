"""Detect shapes: a YOLO-style detector (``ember.vision.yolo``) trained on synthetic shapes.

The data come from ``ember.vision.shapes.make_shapes``: 64 × 64 images with one to three
circles, squares and triangles of random size, colour and position on noisy backgrounds.
The held-out images are drawn with another seed.

The default recipe (``RECIPE``): 4,000 training images, 500 held-out, an 8 × 8 grid with two
anchors fitted to the training boxes (``anchors_from_boxes``), ``TinyYOLO`` of width 16, the
course's YOLO loss (λ_coord 5, λ_noobj 0.5), Adam 3e-3 with a cosine decay over the run, batch
32, 12 epochs, random horizontal flips (every class is left–right symmetric). Evaluation:
mAP@0.5 with all-point interpolated AP (PASCAL VOC 2010+), detections scored above 0.01 and
cleaned by per-class NMS at IoU 0.45. Writes the model checkpoint, a PNG of predicted boxes on
held-out images, and report.json.

>>> report = detect_shapes(out="runs/detect-shapes")                # doctest: +SKIP
>>> report["map50"]                                                  # doctest: +SKIP
"""
from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np

import ember as em
from ember.apps import add_recipe_arguments
from ember.apps.arguments import positive_int
from ember.apps.epoch_log import EpochLog
from ember.data.dataloader import DataLoader
from ember.data.dataset import TensorDataset
from ember.optim.adam import Adam
from ember.optim.lr_scheduler import CosineAnnealingLR
from ember.serialization import atomic_write
from ember.train.callbacks import LRSchedulerCallback, ProgressBar
from ember.train.checkpoint import load_checkpoint, save_checkpoint
from ember.train.trainer import Trainer
from ember.vision.detection_data import YOLOCollate
from ember.vision.evaluation import mean_average_precision
from ember.vision.shapes import CLASSES, make_shapes
from ember.vision.yolo import TinyYOLO, YOLOLoss, anchors_from_boxes

__all__ = ["RECIPE", "add_arguments", "detect_shapes", "evaluate", "load_detector", "plot_detections", "run", "train"]

RECIPE = {"train_size": 4000, "test_size": 500, "image_size": 64, "grid_size": 8, "num_anchors": 2, "width": 16,
          "max_objects": 3, "epochs": 12, "batch_size": 32, "lr": 3e-3, "lambda_coord": 5.0, "lambda_noobj": 0.5,
          "conf_threshold": 0.01, "iou_threshold": 0.45, "seed": 0}
_MODEL_KEYS = ("num_anchors", "grid_size", "image_size", "width")
_CHECKPOINT, _FIGURE, _REPORT = "model.safetensors", "detections.png", "report.json"


# -- training -------------------------------------------------------------------------------------
def train(model: TinyYOLO, data, epochs: int = 12, batch_size: int = 32, lr: float = 3e-3, lambda_coord: float = 5.0,
          lambda_noobj: float = 0.5, seed: int = 0, log=print, progress: bool = True) -> list[dict]:
    """Fit ``model`` on ``data`` (a ``Shapes``) with the YOLO loss, Adam and a cosine decay to lr/50.

    Random horizontal flips (every class is left–right symmetric) and the target encoding happen
    in the loader's ``YOLOCollate``; one seeded generator draws the shuffles and the flips.
    Returns one record per epoch: {'epoch', 'loss' (mean per image), 'seconds'}.
    """
    rng = np.random.default_rng(seed)
    loader = DataLoader(TensorDataset(*data), batch_size=batch_size, shuffle=True, generator=rng,
                        collate_fn=YOLOCollate.for_model(model, hflip=0.5, generator=rng))
    optimizer = Adam(model.parameters(), lr=lr)
    schedule = CosineAnnealingLR(optimizer, T_max=max(epochs * len(loader), 1), eta_min=lr / 50)
    epoch_log = EpochLog(log)
    callbacks = [ProgressBar(disable=not progress, print_metrics=False), LRSchedulerCallback(schedule, "step"),
                 epoch_log]
    Trainer(model, optimizer, YOLOLoss(lambda_coord, lambda_noobj), callbacks, metrics=None,
            diagnose=False).fit(loader, epochs=epochs)
    model.eval()
    return epoch_log.history


def evaluate(model: TinyYOLO, data, conf_threshold: float = 0.01, iou_threshold: float = 0.45,
             batch_size: int = 250) -> dict:
    """mAP@0.5 (all-point interpolation, VOC matching) of ``model`` on ``data``.

    Returns {'map50', 'ap' (per class, by ``CLASSES``), 'detections' (one dict per image), 'seconds'}.
    """
    started = time.perf_counter()
    detections = []
    for start in range(0, len(data.images), batch_size):
        detections += model.detect(data.images[start:start + batch_size], conf_threshold, iou_threshold)
    result = mean_average_precision(detections, data.targets(), iou_threshold=0.5, num_classes=len(CLASSES))
    return {"map50": result["map"], "ap": dict(zip(CLASSES, result["ap"].tolist(), strict=True)),
            "detections": detections, "seconds": time.perf_counter() - started}


# -- pictures and saving ------------------------------------------------------------------------------
def plot_detections(images, detections, path, score_threshold: float = 0.5, targets=None, columns: int = 4,
                    dpi: int = 100):
    """Draw predicted boxes with class names and scores on images (N, 3, H, W); save a PNG at ``path``.

    Only detections scoring at least ``score_threshold`` are drawn; ``targets`` (optional, one
    dict per image) adds the ground-truth boxes dashed. Returns the matplotlib ``Figure``.
    """
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    n = len(images)
    rows = math.ceil(n / columns)
    fig = Figure(figsize=(2.6 * min(columns, n), 2.6 * rows), layout="constrained")
    axes = fig.subplots(rows, min(columns, n), squeeze=False).reshape(-1)
    colours = ("tab:red", "tab:cyan", "tab:orange")
    for i, (ax, image, det) in enumerate(zip(axes, images, detections, strict=False)):
        ax.imshow(np.clip(np.transpose(image, (1, 2, 0)), 0, 1))
        ax.set_axis_off()
        for box in [] if targets is None else targets[i]["boxes"]:
            ax.add_patch(Rectangle(box[:2], box[2] - box[0], box[3] - box[1], fill=False, ec="white", ls="--", lw=0.8))
        for box, score, label in zip(det["boxes"], det["scores"], det["labels"], strict=True):
            if score < score_threshold:
                continue
            colour = colours[int(label) % len(colours)]
            ax.add_patch(Rectangle(box[:2], box[2] - box[0], box[3] - box[1], fill=False, ec=colour, lw=1.5))
            ax.text(box[0], box[1] - 1, f"{CLASSES[int(label)]} {score:.2f}", color="white", fontsize=6,
                    bbox={"facecolor": colour, "alpha": 0.8, "pad": 1, "lw": 0})
    for ax in axes[n:]:
        ax.set_axis_off()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    return fig


def load_detector(path) -> TinyYOLO:
    """The ``TinyYOLO`` saved by ``detect_shapes`` (its checkpoint file or output directory), in eval mode."""
    path = Path(path)
    path = path / _CHECKPOINT if path.is_dir() else path
    if not path.is_file():
        raise FileNotFoundError(f"load_detector: no checkpoint at {path}; train one first with "
                                "'ember detect-shapes --out DIR'")
    config = load_checkpoint(path, restore_rng=False)["config"]
    model = TinyYOLO(len(CLASSES), anchors=np.ones((config["num_anchors"], 2)),
                     **{k: config[k] for k in _MODEL_KEYS if k != "num_anchors"})
    load_checkpoint(path, model, restore_rng=False)
    return model.eval()


# -- the recipe -------------------------------------------------------------------------------------
def detect_shapes(out="runs/detect-shapes", log=print, progress: bool = True, **overrides) -> dict:
    """Generate data, train, evaluate mAP@0.5 on held-out images, save checkpoint, PNG and report.

    ``overrides`` replace entries of ``RECIPE``. Returns the report (mAP, AP per class, times).
    """
    unknown = set(overrides) - set(RECIPE)
    if unknown:
        raise ValueError(f"detect_shapes: unknown options {sorted(unknown)}; known: {sorted(RECIPE)}")
    cfg = {**RECIPE, **overrides}
    em.manual_seed(cfg["seed"])
    started = time.perf_counter()
    shape_args = {"image_size": cfg["image_size"], "max_objects": cfg["max_objects"]}
    train_data = make_shapes(cfg["train_size"], seed=cfg["seed"], **shape_args)
    test_data = make_shapes(cfg["test_size"], seed=cfg["seed"] + 10_000, **shape_args)
    anchors = anchors_from_boxes(train_data.boxes[train_data.labels >= 0], cfg["num_anchors"])
    model = TinyYOLO(len(CLASSES), anchors=anchors, **{k: cfg[k] for k in _MODEL_KEYS if k != "num_anchors"})
    n_params = sum(p.numel() for p in model.parameters())
    if log:
        log(f"{cfg['train_size']} training / {cfg['test_size']} held-out images of {cfg['image_size']}x"
            f"{cfg['image_size']}; {cfg['grid_size']}x{cfg['grid_size']} grid, anchors (w, h) "
            f"{np.round(anchors, 1).tolist()}; {n_params:,} parameters")
    history = train(model, train_data, cfg["epochs"], cfg["batch_size"], cfg["lr"], cfg["lambda_coord"],
                    cfg["lambda_noobj"], cfg["seed"], log, progress)
    train_seconds = time.perf_counter() - started
    result = evaluate(model, test_data, cfg["conf_threshold"], cfg["iou_threshold"])
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    save_checkpoint(out / _CHECKPOINT, model, config=cfg, history=history)
    plot_detections(test_data.images[:12], result["detections"][:12], out / _FIGURE)
    report = {"recipe": cfg, "parameters": n_params, "map50": result["map50"], "ap50": result["ap"],
              "interpolation": "all-point (PASCAL VOC 2010+)", "train_seconds": train_seconds,
              "total_seconds": time.perf_counter() - started, "history": history}
    atomic_write(out / _REPORT, (json.dumps(report, indent=1) + "\n").encode())
    if log:
        per_class = ", ".join(f"{k} {v:.3f}" for k, v in result["ap"].items())
        log(f"held-out mAP@0.5 {result['map50']:.3f} (all-point interpolated AP: {per_class}); "
            f"training {train_seconds:.1f}s, total {report['total_seconds']:.1f}s")
        log(f"wrote {out / _CHECKPOINT}, {out / _FIGURE}, {out / _REPORT}")
    return report


# -- command line -------------------------------------------------------------------------------------
def add_arguments(parser) -> None:
    """The options of ``ember detect-shapes`` on an argparse parser."""
    add_recipe_arguments(parser, RECIPE, "images")
    parser.add_argument("--anchors", type=positive_int, default=RECIPE["num_anchors"],
                        help=f"anchor boxes per grid cell (default {RECIPE['num_anchors']})")
    parser.add_argument("--width", type=positive_int, default=RECIPE["width"],
                        help=f"channels of the first convolution (default {RECIPE['width']})")
    parser.add_argument("--out", default="runs/detect-shapes", help="directory of the checkpoint, PNG and report")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar (still prints per-epoch loss)")


def run(args) -> int:
    """``ember detect-shapes``: train the detector, print held-out mAP@0.5 and times; returns the exit code 0."""
    detect_shapes(out=args.out, progress=not args.no_progress, epochs=args.epochs, batch_size=args.batch_size,
                  lr=args.lr, train_size=args.train_size, test_size=args.test_size, num_anchors=args.anchors,
                  width=args.width, seed=args.seed)
    return 0

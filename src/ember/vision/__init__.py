"""Computer vision: classic image filters, augmentation transforms (and ``functional``, their batched
operations), boxes (IoU, NMS, anchors), localisation and a YOLO-style detector with mAP, RoI pooling,
convolutional sliding windows, and Siamese/triplet metric learning.

>>> from ember.vision import filters, transforms
>>> edges = filters.edge_magnitude(grey_image, "sobel")
>>> augment = transforms.Compose([transforms.RandomHorizontalFlip(), transforms.RandomCrop(28, padding=2)], seed=0)
"""
from ember.nn.roi import RoIAlign, RoIPool
from ember.ops.roi import roi_align, roi_pool
from ember.vision import (
    boxes,
    evaluation,
    filters,
    functional,
    localization,
    rcnn,
    shapes,
    siamese,
    sliding_window,
    transforms,
    yolo,
)
from ember.vision.boxes import (
    assign_to_anchors,
    batched_box_iou,
    batched_nms,
    box_area,
    box_convert,
    box_iou,
    clip_boxes_to_image,
    grid_anchors,
    nms,
    remove_small_boxes,
    wh_iou,
)
from ember.vision.evaluation import average_precision, mean_average_precision
from ember.vision.rcnn import TwoStageDetector, decode_boxes, encode_boxes, proposal_recall, propose_regions
from ember.vision.siamese import (
    SiameseNetwork,
    auc,
    batch_hard_triplets,
    best_threshold,
    online_triplet_loss,
    plot_roc,
    roc_curve,
    semi_hard_triplets,
)
from ember.vision.sliding_window import convolutionalize, sliding_window_predictions, window_stride

__all__ = [
    "RoIAlign", "RoIPool", "SiameseNetwork", "TwoStageDetector", "assign_to_anchors", "auc", "average_precision",
    "batch_hard_triplets", "batched_box_iou", "batched_nms", "best_threshold", "box_area", "box_convert", "box_iou",
    "boxes", "clip_boxes_to_image", "convolutionalize", "decode_boxes", "encode_boxes", "evaluation", "filters",
    "functional", "grid_anchors", "localization", "mean_average_precision", "nms", "online_triplet_loss", "plot_roc",
    "proposal_recall", "propose_regions", "rcnn", "remove_small_boxes", "roc_curve", "roi_align", "roi_pool",
    "semi_hard_triplets", "shapes", "siamese", "sliding_window", "sliding_window_predictions", "transforms", "wh_iou",
    "window_stride", "yolo",
]

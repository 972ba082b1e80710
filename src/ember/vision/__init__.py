"""Computer vision: classic image filters, augmentation transforms, RoI pooling and
convolutional sliding windows (and, as they are added, boxes and detection).

>>> from ember.vision import filters, transforms
>>> edges = filters.edge_magnitude(grey_image, "sobel")
>>> augment = transforms.Compose([transforms.RandomHorizontalFlip(), transforms.RandomCrop(28, padding=2)], seed=0)
"""
from ember.nn.roi import RoIAlign, RoIPool
from ember.ops.roi import roi_align, roi_pool
from ember.vision import filters, siamese, sliding_window, transforms
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
    "RoIAlign", "RoIPool", "SiameseNetwork", "auc", "batch_hard_triplets", "best_threshold", "convolutionalize",
    "filters", "online_triplet_loss", "plot_roc", "roc_curve", "roi_align", "roi_pool", "semi_hard_triplets",
    "siamese", "sliding_window", "sliding_window_predictions", "transforms", "window_stride",
]

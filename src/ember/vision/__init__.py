"""Computer vision: classic image filters, augmentation transforms, RoI pooling and
convolutional sliding windows (and, as they are added, boxes and detection).

>>> from ember.vision import filters, transforms
>>> edges = filters.edge_magnitude(grey_image, "sobel")
>>> augment = transforms.Compose([transforms.RandomHorizontalFlip(), transforms.RandomCrop(28, padding=2)], seed=0)
"""
from ember.nn.roi import RoIAlign, RoIPool
from ember.ops.roi import roi_align, roi_pool
from ember.vision import filters, sliding_window, transforms
from ember.vision.sliding_window import convolutionalize, sliding_window_predictions, window_stride

__all__ = [
    "RoIAlign", "RoIPool", "convolutionalize", "filters", "roi_align", "roi_pool", "sliding_window",
    "sliding_window_predictions", "transforms", "window_stride",
]

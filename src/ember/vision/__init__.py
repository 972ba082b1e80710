"""Computer vision: classic image filters (and, as they are added, transforms, boxes, detection).

>>> from ember.vision import filters
>>> edges = filters.edge_magnitude(grey_image, "sobel")
"""
from ember.vision import filters, transforms

__all__ = ["filters", "transforms"]

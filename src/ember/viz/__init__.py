"""Visualisation: plots of training curves, learned filters, feature maps and receptive fields
(and, as they are added, attention weights, embeddings and computation graphs), saved as PNG.

matplotlib is imported only when a plot is drawn, so ``import ember`` stays light.
"""
from ember.viz.features import (
    feature_maps,
    plot_feature_maps,
    plot_filters,
    plot_images,
    plot_receptive_field,
    receptive_field,
)
from ember.viz.plots import plot_curves

__all__ = ["feature_maps", "plot_curves", "plot_feature_maps", "plot_filters", "plot_images", "plot_receptive_field",
           "receptive_field"]

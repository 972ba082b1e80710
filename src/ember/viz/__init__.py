"""Visualisation: plots of training curves, learned filters, feature maps, receptive fields and
the gradient flow through recurrent layers (and, as they are added, attention weights,
embeddings and computation graphs), saved as PNG.

matplotlib is imported only when a plot is drawn, so ``import ember`` stays light.
"""
from ember.viz.attention import plot_attention
from ember.viz.embeddings import pca_2d, plot_embeddings
from ember.viz.features import (
    feature_maps,
    plot_feature_maps,
    plot_filters,
    plot_images,
    plot_receptive_field,
    receptive_field,
)
from ember.viz.gradients import (
    clipping_effect,
    gradient_flow,
    input_gradient_norms,
    plot_gradient_flow,
    recurrent_layer,
)
from ember.viz.graph import graph, render_graph
from ember.viz.plots import plot_curves
from ember.viz.tables import format_table

__all__ = [
    "clipping_effect", "feature_maps", "format_table", "gradient_flow", "graph", "input_gradient_norms", "pca_2d",
    "plot_attention", "plot_curves", "plot_embeddings", "plot_feature_maps", "plot_filters", "plot_gradient_flow",
    "plot_images", "plot_receptive_field", "receptive_field", "recurrent_layer", "render_graph",
]

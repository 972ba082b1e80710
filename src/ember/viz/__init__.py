"""Visualisation: plots of training curves, learned filters, feature maps, receptive fields and
the gradient flow through recurrent layers (and, as they are added, attention weights,
embeddings and computation graphs), saved as PNG; and the same pictures as image arrays
(``make_grid``, ``filter_grid``, ``feature_map_grid``, ``attention_image``) for TensorBoard.

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
from ember.viz.grids import attention_image, feature_map_grid, filter_grid, make_grid
from ember.viz.plots import plot_curves
from ember.viz.tables import format_table

__all__ = [
    "attention_image", "clipping_effect", "feature_map_grid", "feature_maps", "filter_grid", "format_table",
    "gradient_flow", "graph", "input_gradient_norms", "make_grid", "pca_2d", "plot_attention", "plot_curves",
    "plot_embeddings", "plot_feature_maps", "plot_filters", "plot_gradient_flow", "plot_images",
    "plot_receptive_field", "receptive_field", "recurrent_layer", "render_graph",
]

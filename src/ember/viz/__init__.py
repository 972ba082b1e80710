"""Visualisation: plots of training curves (and, as they are added, filters, feature maps,
attention weights, embeddings and computation graphs), saved as PNG.

matplotlib is imported only when a plot is drawn, so ``import ember`` stays light.
"""
from ember.viz.plots import plot_curves

__all__ = ["plot_curves"]

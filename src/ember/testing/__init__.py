"""Helpers for testing ember code: finite-difference gradient checks.

(The comparisons with PyTorch live with the test suite, since the library never imports it.)
"""
from ember.testing.gradcheck import gradcheck, gradgradcheck, numerical_grad

__all__ = ["gradcheck", "gradgradcheck", "numerical_grad"]

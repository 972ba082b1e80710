"""Helpers for testing ember code: finite-difference gradient checks and ``assert_close``.

The checks themselves live in ``ember.autograd.gradcheck`` (autograd exposes them as
``em.autograd.gradcheck``, as PyTorch does); this namespace gathers what a test needs.
(The comparisons with PyTorch live with the test suite, since the library never imports it.)
"""
from ember.autograd.gradcheck import gradcheck, gradgradcheck, numerical_grad
from ember.testing.comparison import assert_close

__all__ = ["assert_close", "gradcheck", "gradgradcheck", "numerical_grad"]

"""Helpers for testing ember code: gradient checking against finite differences."""
from ember.testing.gradcheck import gradcheck, numerical_grad

__all__ = ["gradcheck", "numerical_grad"]

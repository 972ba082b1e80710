"""Helpers for testing ember code: finite-difference gradient checks and comparisons with PyTorch."""
from ember.testing.gradcheck import gradcheck, numerical_grad
from ember.testing.optest import Const, assert_close, check_op, make_inputs, to_numpy, to_torch

__all__ = ["Const", "assert_close", "check_op", "gradcheck", "make_inputs", "numerical_grad", "to_numpy", "to_torch"]

"""The case tables of the op tests: rows, input generators, and the tests that run every row.

Two kinds of table:

- Drawn inputs: ``case(name, ember_fn, torch_fn, *gens)`` rows whose generators draw the inputs
  from a seeded NumPy generator. ``drawn_tests(CASES)`` makes three tests: float32 parity of
  values, dtypes and gradients (random upstream gradient), float64 parity on other draws, and a
  float64 central-difference gradcheck of every row not marked ``finite_diff=False``.
- Fixed inputs: ``(name, ember_fn, torch_fn, arrays)`` rows. ``fixed_tests(CASES)`` makes two
  tests: float32 parity, and a float64 gradcheck with respect to every float array.

A test file binds the tests under its own names, which pytest collects::

    (test_against_torch, test_float64_against_torch, test_gradcheck, test_second_order_against_torch,
     test_gradgradcheck) = drawn_tests(CASES)

Both also test second derivatives: against PyTorch's (``create_graph=True`` in both, float64) and
with ``gradgradcheck``.
"""
import numpy as np
import pytest

import ember as em
from ember.testing import gradcheck, gradgradcheck
from torch_parity import check_op, check_second_order, make_inputs

DRAWN_ARGS = "ember_fn, torch_fn, gens, rtol, atol, finite_diff, second_order"
FIXED_ARGS = "name, ours, theirs, inputs"


# -- rows and input generators --------------------------------------------------------------------------
def case(name, ember_fn, torch_fn, *gens, rtol=None, atol=None, finite_diff=True, second_order=True):
    """One row; ``torch_fn=None`` means the same expression works on both frameworks' tensors.

    ``second_order=False`` leaves the row out of the second-derivative tests (an op whose
    gradient ember does not differentiate again; the reason goes in a comment by the row).
    """
    return pytest.param(ember_fn, torch_fn or ember_fn, gens, rtol, atol, finite_diff, second_order, id=name)


def randn(*shape):
    return lambda rng: rng.standard_normal(shape)


def fixed(value):
    return lambda rng: value


def away(*shape, kinks=(0.0,), margin=0.1, scale=1.0):
    """Normal samples (× scale) with every value at least ``margin`` from each kink."""

    def draw(rng):
        x = scale * rng.standard_normal(shape)
        for k in kinks:
            near = np.abs(x - k) < margin
            x = np.where(near, k + np.where(x >= k, margin, -margin) * 1.5, x)
        return x

    return draw


def draw_inputs(gens, seed=0):
    """The inputs of one row, drawn in order from one generator seeded with ``seed``; float arrays in float64."""
    rng = np.random.default_rng(seed)
    inputs = []
    for gen in gens:
        value = gen(rng)
        inputs.append(value.astype(np.float64) if isinstance(value, np.ndarray) and value.dtype.kind == "f" else value)
    return inputs


# -- the tests ------------------------------------------------------------------------------------------
def drawn_tests(cases):
    """float32 parity, float64 parity and gradcheck over a table of ``case`` rows."""

    @pytest.mark.parametrize(DRAWN_ARGS, cases)
    def test_against_torch(ember_fn, torch_fn, gens, rtol, atol, finite_diff, second_order):
        check_op(ember_fn, torch_fn, draw_inputs(gens), rtol=rtol, atol=atol, dtype=np.float32)

    @pytest.mark.parametrize(DRAWN_ARGS, cases)
    def test_float64_against_torch(ember_fn, torch_fn, gens, rtol, atol, finite_diff, second_order):
        check_op(ember_fn, torch_fn, draw_inputs(gens, seed=1), dtype=np.float64)

    # Rows at kinks (ties, saturated edges) have no finite-difference gradient; the PyTorch
    # parity above still checks their backward.
    @pytest.mark.parametrize(DRAWN_ARGS, [c for c in cases if c.values[-2]])
    def test_gradcheck(ember_fn, torch_fn, gens, rtol, atol, finite_diff, second_order):
        ember_inputs, _ = make_inputs(draw_inputs(gens, seed=2), dtype=np.float64)
        assert gradcheck(ember_fn, ember_inputs)

    @pytest.mark.parametrize(DRAWN_ARGS, [c for c in cases if c.values[-1]])
    def test_second_order_against_torch(ember_fn, torch_fn, gens, rtol, atol, finite_diff, second_order):
        check_second_order(ember_fn, torch_fn, draw_inputs(gens, seed=3))

    @pytest.mark.parametrize(DRAWN_ARGS, [c for c in cases if c.values[-1] and c.values[-2]])
    def test_gradgradcheck(ember_fn, torch_fn, gens, rtol, atol, finite_diff, second_order):
        ember_inputs, _ = make_inputs(draw_inputs(gens, seed=4), dtype=np.float64)
        assert gradgradcheck(ember_fn, ember_inputs)

    return test_against_torch, test_float64_against_torch, test_gradcheck, test_second_order_against_torch, \
        test_gradgradcheck


def fixed_tests(cases, first_order_only=()):
    """float32 parity, float64 gradcheck, second-order parity with PyTorch and gradgradcheck over a table
    of ``(name, ember_fn, torch_fn, arrays)`` rows; rows named in ``first_order_only`` skip the last two."""
    ids = [c[0] for c in cases]
    twice = [c for c in cases if c[0] not in first_order_only]

    @pytest.mark.parametrize(FIXED_ARGS, cases, ids=ids)
    def test_against_torch(name, ours, theirs, inputs):
        check_op(ours, theirs, inputs, dtype=np.float32)

    @pytest.mark.parametrize(FIXED_ARGS, cases, ids=ids)
    def test_gradcheck(name, ours, theirs, inputs):
        tensors = [em.tensor(a, dtype=em.float64, requires_grad=True) if a.dtype.kind == "f" else em.tensor(a)
                   for a in inputs]
        assert gradcheck(ours, tensors)

    @pytest.mark.parametrize(FIXED_ARGS, twice, ids=[c[0] for c in twice])
    def test_second_order_against_torch(name, ours, theirs, inputs):
        check_second_order(ours, theirs, inputs)

    @pytest.mark.parametrize(FIXED_ARGS, twice, ids=[c[0] for c in twice])
    def test_gradgradcheck(name, ours, theirs, inputs):
        tensors = [em.tensor(a, dtype=em.float64, requires_grad=True) if a.dtype.kind == "f" else em.tensor(a)
                   for a in inputs]
        assert gradgradcheck(ours, tensors)

    return test_against_torch, test_gradcheck, test_second_order_against_torch, test_gradgradcheck

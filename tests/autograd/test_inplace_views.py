"""In-place writes through views: every alias of a saved tensor's memory shares one version counter.

Each program below runs twice, once on ember and once on PyTorch (``lib`` is the module), and
both must agree: either both refuse the backward pass because memory that backward needs was
written in place, or both give the same gradient.
"""
import numpy as np
import pytest
import torch

import ember as em


def _exp_of_a_leaf(lib, shape=(3,)):
    x = lib.tensor(np.arange(1.0, 1.0 + np.prod(shape)).reshape(shape), requires_grad=True)
    return x, x.exp()  # exp saves its output for backward


def write_through_slice(lib):
    x, y = _exp_of_a_leaf(lib)
    y[:2].detach().zero_()
    return x, y


def write_through_reshape(lib):
    x, y = _exp_of_a_leaf(lib, (2, 3))
    y.reshape(6).detach().fill_(1.0)
    return x, y


def write_through_transpose(lib):
    x, y = _exp_of_a_leaf(lib, (2, 3))
    y.T.detach()[0].zero_()
    return x, y


def write_through_view_of_detach(lib):
    x, y = _exp_of_a_leaf(lib)
    y.detach()[1:].mul_(2.0)
    return x, y


def write_through_view_of_a_view(lib):
    x, y = _exp_of_a_leaf(lib, (2, 3))
    y[1:].reshape(3)[1:].detach().add_(1.0)
    return x, y


def write_under_no_grad(lib):
    x, y = _exp_of_a_leaf(lib)
    with lib.no_grad():
        y[1:].zero_()
    return x, y


def setitem_on_a_view_of_a_saved_input(lib):
    x = lib.tensor(np.linspace(0.1, 1.2, 6).reshape(2, 3), requires_grad=True)
    a = x * 2.0
    y = a.sin()  # sin saves its input a
    with lib.no_grad():
        a.reshape(3, 2)[0, 1] = 7.0
    return x, y


def write_through_the_base_of_a_saved_view(lib):
    x = lib.tensor(np.linspace(0.1, 1.2, 6), requires_grad=True)
    a = x * 2.0
    y = a[2:].sin()  # sin saves a view of a
    with lib.no_grad():
        a[0:3].zero_()
    return x, y


MODIFIED = [write_through_slice, write_through_reshape, write_through_transpose, write_through_view_of_detach,
            write_through_view_of_a_view, write_under_no_grad, setitem_on_a_view_of_a_saved_input,
            write_through_the_base_of_a_saved_view]


@pytest.mark.parametrize("program", MODIFIED, ids=lambda f: f.__name__)
def test_backward_refuses_memory_written_in_place_through_any_alias(program):
    for lib, message in ((torch, "modified by an inplace operation"), (em, "modified in place")):
        x, y = program(lib)
        with pytest.raises(RuntimeError, match=message):
            y.sum().backward()


def write_to_a_copy(lib):
    x, y = _exp_of_a_leaf(lib)
    y[[0, 1]].detach().zero_()  # integer-array indexing copies
    y.clone()[:2].detach().zero_()
    return x, y


def write_to_an_unsaved_view(lib):
    x = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
    a = x * 2.0
    y = a + 1.0  # addition saves nothing
    a[:2].detach().zero_()
    return x, y


@pytest.mark.parametrize("program", [write_to_a_copy, write_to_an_unsaved_view], ids=lambda f: f.__name__)
def test_writes_to_other_memory_leave_backward_alone(program):
    grads = []
    for lib in (torch, em):
        x, y = program(lib)
        y.sum().backward()
        grads.append(np.asarray(x.grad))
    np.testing.assert_allclose(grads[1], grads[0], rtol=1e-6)


def test_the_issue_example_gives_the_right_gradient_when_nothing_is_written():
    x = em.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x.exp()
    y[:2].detach()  # a view, read but not written
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.exp([1.0, 2.0, 3.0]), rtol=1e-6)

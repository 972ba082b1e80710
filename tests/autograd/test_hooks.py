"""Tensor and module hooks, grad_fn inspection and anomaly mode, against PyTorch's behaviour."""
import contextlib

import numpy as np
import pytest
import torch

import ember as em
from torch_parity import assert_close, copy_weights


def three_layer(lib):
    lib.manual_seed(0)
    return lib.nn.Sequential(lib.nn.Linear(3, 4), lib.nn.Tanh(), lib.nn.Linear(4, 2))


def twin_nets():
    ours, theirs = three_layer(em), three_layer(torch)
    copy_weights(ours, theirs)
    return ours, theirs


X = np.random.default_rng(1).standard_normal((5, 3)).astype(np.float32)


def test_tensor_hooks_run_in_order_and_replace_the_gradient():
    logs = []
    for lib in (em, torch):
        log = []
        x = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
        h = x * 2
        h.register_hook(lambda g, log=log: log.append(("first", g.tolist())))
        h.register_hook(lambda g: g * 10)
        h.register_hook(lambda g, log=log: log.append(("third", g.tolist())))
        x.register_hook(lambda g, log=log: log.append(("leaf", g.tolist())))
        (h * h).sum().backward()
        logs.append((log, x.grad.tolist()))
    assert logs[0] == logs[1]


def test_removing_a_hook_and_retain_grad():
    x = em.ones(2, requires_grad=True)
    y = x * 3
    handle = y.register_hook(lambda g: g * 0)
    handle.remove()
    y.retain_grad()
    (y * y).sum().backward()
    assert y.grad.tolist() == [6.0, 6.0] and x.grad.tolist() == [18.0, 18.0]


def test_module_full_backward_hooks_see_torchs_gradients():
    seen = []
    for net in twin_nets():
        log = {}
        net[2].register_full_backward_pre_hook(lambda m, gout: (gout[0] * 2,))
        net[2].register_full_backward_hook(lambda m, gin, gout, log=log: log.update(l2=(gin[0], gout[0])))
        net[0].register_full_backward_hook(lambda m, gin, gout, log=log: log.update(l0=(gin, gout[0])))
        lib = em if isinstance(net, em.nn.Module) else torch
        with pytest.warns(UserWarning) if lib is torch else contextlib.nullcontext():
            net(lib.tensor(X)).pow(2).sum().backward()
        seen.append((log, net[0].weight.grad))
    (ours, ours_grad), (theirs, theirs_grad) = seen
    assert_close(ours["l2"][0], theirs["l2"][0], name="grad_input of layer 2")
    assert_close(ours["l2"][1], theirs["l2"][1], name="grad_output of layer 2 (doubled by the pre-hook)")
    assert ours["l0"][0] == (None,) and theirs["l0"][0] == (None,)  # the data needs no gradient
    assert_close(ours["l0"][1], theirs["l0"][1])
    assert_close(ours_grad, theirs_grad, name="weight gradient after the replaced grad_output")


def test_a_backward_hook_can_replace_grad_input():
    grads = []
    for net in twin_nets():
        lib = em if isinstance(net, em.nn.Module) else torch
        net[1].register_full_backward_hook(lambda m, gin, gout: (gin[0].clamp(-0.01, 0.01),))
        x = lib.tensor(X, requires_grad=True)
        net(x).sum().backward()
        grads.append((x.grad, net[0].bias.grad))
    assert_close(grads[0][0], grads[1][0], name="input gradient")
    assert_close(grads[0][1], grads[1][1], name="first bias gradient")


def test_forward_pre_hooks_with_kwargs_and_prepend():
    order = []
    layer = em.nn.Linear(3, 2)
    layer.register_forward_pre_hook(lambda m, args: order.append("second"))
    layer.register_forward_pre_hook(lambda m, args: order.append("first"), prepend=True)
    layer.register_forward_pre_hook(lambda m, args, kwargs: ((args[0] * 0,), kwargs), with_kwargs=True)
    out = layer(em.ones(1, 3))
    assert order == ["first", "second"]
    assert_close(out.detach(), layer.bias.detach().reshape(1, 2))


def test_grad_fn_next_functions_walk_the_graph_as_torchs():
    names = []
    for lib in (em, torch):
        w = lib.tensor([1.0, 2.0], requires_grad=True)
        y = (w * 3).exp().sum()
        walk, node = [], y.grad_fn
        while node is not None:
            walk.append(node.name())
            nxt = [n for n, _ in node.next_functions if n is not None]
            node = nxt[0] if nxt else None
        names.append(walk)
    assert names[0] == names[1]
    assert names[0][-1] == "torch::autograd::AccumulateGrad"


def test_detect_anomaly_with_and_without_nan_checks():
    x = em.tensor([-1.0, 1.0], requires_grad=True)
    with em.autograd.detect_anomaly(), pytest.raises(FloatingPointError, match="Log"), np.errstate(invalid="ignore"):
        x.log()
    with em.autograd.detect_anomaly(check_nan=False):
        assert em.autograd.is_anomaly_enabled() and not em.autograd.is_anomaly_check_nan_enabled()
        with np.errstate(invalid="ignore"):
            x.log()  # no check
    em.autograd.set_detect_anomaly(True)
    try:
        assert em.autograd.is_anomaly_enabled()
    finally:
        em.autograd.set_detect_anomaly(False)
    assert not em.autograd.is_anomaly_enabled()


def test_parameters_to_vector_round_trip():
    net = three_layer(em)
    vec = em.nn.utils.parameters_to_vector(net.parameters())
    assert vec.shape == (sum(p.numel() for p in net.parameters()),)
    em.nn.utils.vector_to_parameters(vec * 0 + 1, net.parameters())
    assert all(float(p.detach().sum()) == p.numel() for p in net.parameters())

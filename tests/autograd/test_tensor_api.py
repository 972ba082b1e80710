"""The Tensor API beyond the ops: constructors, memory queries, new_*, in-place ops (recorded on
graph tensors), random fills, hooks, grad_fn and backward's keywords — each against PyTorch."""
import numpy as np
import pytest
import torch

import ember as em
from torch_parity import assert_close

RNG = np.random.default_rng(3)


def randn(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


# -- constructors ------------------------------------------------------------------------------
def test_tensor_of_sizes_is_uninitialised_float32():
    assert em.Tensor(2, 3).shape == (2, 3) and em.Tensor(2, 3).dtype == np.float32
    assert em.Tensor().shape == tuple(torch.Tensor().shape)
    assert em.Tensor(4).shape == (4,)


def test_tensor_of_data_follows_torch_tensor():
    assert_close(em.Tensor([1, 2]), torch.Tensor([1, 2]))
    assert_close(em.Tensor([[True, False]]), torch.Tensor([[True, False]]))
    assert em.Tensor(np.arange(3)).dtype == np.int64  # arrays keep their dtype
    assert em.Tensor(em.tensor([1, 2])).dtype == torch.Tensor(torch.tensor([1, 2])).numpy().dtype
    assert em.tensor(5).dtype == np.int64 and em.tensor(5).item() == 5  # em.tensor still infers
    assert em.tensor([1, 2]).dtype == np.int64


@pytest.mark.parametrize("name", ["FloatTensor", "DoubleTensor", "LongTensor", "IntTensor", "BoolTensor",
                                  "ByteTensor", "HalfTensor", "ShortTensor", "CharTensor"])
def test_legacy_constructors(name):
    ours, theirs = getattr(em, name)([1.7, 0.0, 2.2]), getattr(torch, name)([1.7, 0.0, 2.2])
    assert_close(ours, theirs)
    assert getattr(em, name)(2, 3).shape == (2, 3) and getattr(em, name)(2, 3).dtype == ours.dtype
    assert isinstance(ours, getattr(em, name))
    assert isinstance(ours, em.Tensor)


def test_legacy_isinstance_checks_the_dtype():
    assert isinstance(em.zeros(2), em.FloatTensor) and not isinstance(em.zeros(2), em.LongTensor)


def test_new_factories_take_dtype_and_device_from_the_tensor():
    x, tx = em.zeros(2, dtype=em.float64), torch.zeros(2, dtype=torch.float64)
    for ours, theirs in [(x.new_zeros(2, 3), tx.new_zeros(2, 3)), (x.new_ones((3,)), tx.new_ones((3,))),
                         (x.new_full((2, 2), 7), tx.new_full((2, 2), 7)), (x.new_tensor([1, 2]), tx.new_tensor([1, 2])),
                         (x.new_zeros(2, dtype=em.int64), tx.new_zeros(2, dtype=torch.int64))]:
        assert_close(ours, theirs)
    assert x.new_empty(4, 1).shape == (4, 1) and x.new_empty(4, 1).dtype == np.float64
    assert x.new_ones(2, requires_grad=True).requires_grad


def test_memory_queries_match_torch():
    a = randn(2, 3, 4)
    x, tx = em.tensor(a), torch.tensor(a)
    assert x.stride() == tx.stride() and x.stride(1) == tx.stride(1)
    assert x.permute(2, 0, 1).stride() == tx.permute(2, 0, 1).stride()
    assert x.element_size() == tx.element_size() and x.itemsize == tx.itemsize
    assert x.nbytes == tx.nbytes and x.nelement() == tx.nelement()
    assert x.is_contiguous() and not x.transpose(0, 1).is_contiguous()
    y = x.transpose(0, 1).contiguous()
    assert y.is_contiguous() and y.stride() == tx.transpose(0, 1).contiguous().stride()
    assert x.contiguous() is x


def test_contiguous_passes_the_gradient():
    x = em.tensor(randn(2, 3), requires_grad=True)
    x.T.contiguous().sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.ones((2, 3)))


def test_views_and_casts_like():
    a = randn(2, 6)
    x, tx = em.tensor(a), torch.tensor(a)
    assert_close(x.view(-1, 4), tx.view(-1, 4))
    assert_close(x.view(3, 4), tx.view(3, 4))
    assert_close(x.view(em.int32), tx.view(torch.int32))
    other, tother = em.zeros(4, 3), torch.zeros(4, 3)
    assert_close(x.view_as(other), tx.view_as(tother))
    assert_close(x.reshape_as(other), tx.reshape_as(tother))
    assert_close(em.tensor(a[:1]).expand_as(x), torch.tensor(a[:1]).expand_as(tx))
    assert_close(x.type_as(em.zeros(1, dtype=em.int64)), tx.type_as(torch.zeros(1, dtype=torch.int64)))


def test_split_with_sizes_and_chunk():
    a = randn(7, 2)
    for ours, theirs in [(em.tensor(a).split([2, 4, 1]), torch.tensor(a).split([2, 4, 1])),
                         (em.split(em.tensor(a), 3), torch.split(torch.tensor(a), 3)),
                         (em.tensor(a).chunk(3), torch.tensor(a).chunk(3)),
                         (em.chunk(em.tensor(a), 2, 1), torch.chunk(torch.tensor(a), 2, 1))]:
        assert len(ours) == len(theirs)
        for o, t in zip(ours, theirs, strict=True):
            assert_close(o, t)


def test_floor_division_assignment_writes_in_place():
    x, tx = em.tensor([7.5, -7.5]), torch.tensor([7.5, -7.5])
    memory = x.data_ptr()
    x //= 2
    tx //= 2
    assert_close(x, tx)
    assert x.data_ptr() == memory and x._version == 1


def test_type_names_and_casts_match_torch():
    for values, dtype in [([1.5], None), ([1], None), ([True], None), ([1.0], "float64"), ([1], "int32")]:
        x = em.tensor(values, dtype=None if dtype is None else getattr(em, dtype))
        tx = torch.tensor(values, dtype=None if dtype is None else getattr(torch, dtype))
        assert x.type() == tx.type()
    for target in ("torch.LongTensor", "torch.DoubleTensor", em.IntTensor, em.float16):
        assert_close(em.tensor([1.7, -2.2]).type(target),
                     torch.tensor([1.7, -2.2]).type(getattr(torch, target.__name__) if not isinstance(target, str)
                                                    and target is not em.float16 else
                                                    torch.float16 if target is em.float16 else target))
    with pytest.raises(ValueError, match="invalid type"):
        em.ones(1).type("torch.NoSuchTensor")


def test_is_cuda_and_data_ptr_follow_shared_memory():
    x = em.arange(6.0)
    assert not x.is_cuda and x.is_cuda == torch.arange(6.0).is_cuda
    assert x.view(2, 3).data_ptr() == x.data_ptr() == x.detach().data_ptr()
    assert x[2:].data_ptr() == x.data_ptr() + 2 * x.element_size()
    assert x.clone().data_ptr() != x.data_ptr()


def test_variable_is_a_shared_leaf_as_in_torch():
    t = em.ones(2)
    v = em.autograd.Variable(t, requires_grad=True)
    assert v is not t and v.requires_grad and v.is_leaf and not t.requires_grad
    assert v.data_ptr() == t.data_ptr()
    assert isinstance(t, em.autograd.Variable) and not em.autograd.Variable(t).requires_grad
    with pytest.raises(TypeError, match="Variable data has to be a tensor, but got list"):
        em.autograd.Variable([1, 2])


def test_set_printoptions_precision_profiles_and_sci_mode():
    try:
        em.set_printoptions(precision=2)
        assert repr(em.tensor([1.23456, 2.5])) == "tensor([1.23, 2.5 ])"
        em.set_printoptions(sci_mode=True)
        assert repr(em.tensor([1234.5])) == "tensor([1.23e+03])"
        em.set_printoptions(profile="full")
        assert "..." not in repr(em.zeros(2000)) and "1.2346" in repr(em.tensor([1.23456]))
        em.set_printoptions(profile="short", threshold=10)
        assert "..." in repr(em.zeros(20))
    finally:
        em.autograd.tensor.PRINT_OPTIONS.clear()
    assert repr(em.tensor([1.23456])) == "tensor([1.23456])"


# -- in-place ops: values and versions ---------------------------------------------------------
INPLACE = [
    ("add_", lambda t, lib: t.add_(lib.ones(3, 4), alpha=2)),
    ("sub_", lambda t, lib: t.sub_(0.5, alpha=3)),
    ("mul_", lambda t, lib: t.mul_(2.5)),
    ("div_", lambda t, lib: t.div_(lib.full((4,), 2.0))),
    ("div_floor", lambda t, lib: t.div_(0.7, rounding_mode="floor")),
    ("div_trunc", lambda t, lib: t.div_(0.7, rounding_mode="trunc")),
    ("pow_", lambda t, lib: t.abs().pow_(1.5)),
    ("clamp_", lambda t, lib: t.clamp_(-0.5, 0.5)),
    ("clamp_min_only", lambda t, lib: t.clamp_(min=0.1)),
    ("clip_", lambda t, lib: t.clip_(max=0.2)),
    ("neg_", lambda t, lib: t.neg_()),
    ("exp_", lambda t, lib: t.exp_()),
    ("zero_", lambda t, lib: t.zero_()),
    ("fill_", lambda t, lib: t.fill_(3.5)),
    ("copy_", lambda t, lib: t.copy_(lib.arange(4.0))),
    ("relu_", lambda t, lib: t.relu_()),
    ("sigmoid_", lambda t, lib: t.sigmoid_()),
    ("tanh_", lambda t, lib: t.tanh_()),
    ("masked_fill_", lambda t, lib: t.masked_fill_(t > 0, -1.0)),
    ("index_fill_", lambda t, lib: t.index_fill_(1, lib.tensor([0, 3]), 9.0)),
    ("index_add_", lambda t, lib: t.index_add_(0, lib.tensor([2, 2]), lib.ones(2, 4))),
    ("index_put_", lambda t, lib: t.index_put_((lib.tensor([0, 2]), lib.tensor([1, 1])), lib.tensor(5.0))),
    ("index_put_acc", lambda t, lib: t.index_put_((lib.tensor([0, 0]),), lib.ones(4), accumulate=True)),
    ("scatter_", lambda t, lib: t.scatter_(1, lib.tensor([[0], [2], [3]]), lib.full((3, 1), 7.0))),
    ("scatter_value", lambda t, lib: t.scatter_(1, lib.tensor([[0], [2], [3]]), 7.0)),
    ("scatter_add_", lambda t, lib: t.scatter_add_(0, lib.tensor([[0, 1, 2, 0]]), lib.ones(1, 4))),
    ("masked_scatter_", lambda t, lib: t.masked_scatter_(t > 0, lib.zeros(12))),
    ("setitem", lambda t, lib: t.__setitem__((slice(None), 1), lib.tensor([1.0, 2.0, 3.0]))),
    ("sqrt_", lambda t, lib: t.abs().add_(0.1).sqrt_()),
    ("log_", lambda t, lib: t.abs().add_(0.1).log_()),
    ("reciprocal_", lambda t, lib: t.reciprocal_()),
    ("sin_", lambda t, lib: t.sin_()),
    ("exp2_", lambda t, lib: t.exp2_()),
    ("square_", lambda t, lib: t.square_()),
    ("erf_", lambda t, lib: t.erf_()),
    ("floor_", lambda t, lib: t.floor_()),
    ("frac_", lambda t, lib: t.frac_()),
    ("sign_", lambda t, lib: t.sign_()),
    ("logit_", lambda t, lib: t.sigmoid().logit_(eps=0.3)),
    ("addcmul_", lambda t, lib: t.addcmul_(lib.ones(3, 4) * 2, lib.full((4,), 0.5), value=-1)),
    ("addcdiv_", lambda t, lib: t.addcdiv_(lib.ones(3, 4), lib.full((4,), 4.0), value=3)),
    ("lerp_", lambda t, lib: t.lerp_(lib.ones(3, 4), 0.3)),
    ("fmod_", lambda t, lib: t.fmod_(0.4)),
    ("remainder_", lambda t, lib: t.remainder_(0.4)),
    ("clamp_min_", lambda t, lib: t.clamp_min_(0.1)),
    ("clamp_max_", lambda t, lib: t.clamp_max_(0.1)),
    ("round_", lambda t, lib: t.round_(decimals=1)),
    # PyTorch has no derivative for floor_divide_; its div_ with rounding_mode="floor" is the same values, gradient 0
    ("floor_divide_", lambda t, lib: t.floor_divide_(0.3) if lib is em else t.div_(0.3, rounding_mode="floor")),
]


ON_A_TEMPORARY = {"pow_", "sqrt_", "log_", "logit_"}  # rows whose op acts on a new tensor, kept in the domain


@pytest.mark.parametrize("name, op", INPLACE, ids=[c[0] for c in INPLACE])
def test_inplace_values_and_version(name, op):
    a = randn(3, 4)
    x, tx = em.tensor(a), torch.tensor(a)
    before = x._version
    out, tout = op(x, em), op(tx, torch)
    assert_close(x, tx)
    if out is not None:
        assert_close(out, tout)
    if name not in ON_A_TEMPORARY:
        assert x._version > before
        assert out is None or out is x


@pytest.mark.parametrize("name, op", INPLACE, ids=[c[0] for c in INPLACE])
def test_inplace_on_a_graph_tensor_is_recorded(name, op):
    """y = 1.5·x; y.op_(...); Σ w⊙y: the gradient reaching x goes through the in-place op, as in PyTorch."""
    a, w = randn(3, 4), randn(3, 4)
    grads = []
    for lib in (em, torch):
        x = lib.tensor(a, requires_grad=True)
        y = x * 1.5
        op(y, lib)
        (y * lib.tensor(w)).sum().backward()
        grads.append(x.grad)
    assert_close(*grads)


def test_inplace_with_a_graph_operand():
    a, b = randn(3), randn(3)
    results = []
    for lib in (em, torch):
        x, s = lib.tensor(a, requires_grad=True), lib.tensor(b, requires_grad=True)
        y = x * 2.0
        y.mul_(s).add_(s, alpha=3)
        buffer = lib.zeros(3)
        buffer.copy_(y)  # a plain tensor becomes part of the graph through copy_
        (buffer * buffer).sum().backward()
        results += [x.grad, s.grad, y.grad_fn is not None, buffer.requires_grad]
    for ours, theirs in zip(results[:4], results[4:], strict=True):
        if isinstance(ours, bool):
            assert ours == theirs
        else:
            assert_close(ours, theirs)


def test_inplace_shape_ops():
    a = randn(3, 1, 4)
    for op in (lambda t: t.squeeze_(), lambda t: t.squeeze_(1), lambda t: t.unsqueeze_(0),
               lambda t: t.transpose_(0, 2), lambda t: t.squeeze_().t_()):
        x, tx = em.tensor(a), torch.tensor(a)
        assert op(x) is x
        op(tx)
        assert_close(x, tx)


def test_inplace_shape_op_on_a_graph_tensor():
    a = randn(3, 4)
    grads = []
    for lib in (em, torch):
        x = lib.tensor(a, requires_grad=True)
        y = x * 2.0
        y.t_().unsqueeze_(0)
        (y * lib.arange(3.0)).sum().backward()
        grads.append(x.grad)
    assert_close(*grads)


def test_inplace_on_a_leaf_that_requires_grad_raises():
    w = em.zeros(3, requires_grad=True)
    for op in (lambda t: t.relu_(), lambda t: t.clamp_(0, 1), lambda t: t.uniform_(), lambda t: t.scatter_(
            0, em.tensor([0]), 1.0), lambda t: t.exp_(), lambda t: t.add_(1)):
        with pytest.raises(RuntimeError, match="requires grad.*in place"):
            op(w)
        with em.no_grad():
            op(w)


def test_inplace_on_a_saved_output_fails_backward_as_in_torch():
    for lib, message in ((em, "modified in place"), (torch, "modified by an inplace operation")):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = x.exp()  # exp saves its output
        y.add_(1.0)
        with pytest.raises(RuntimeError, match=message):
            y.sum().backward()


def test_inplace_on_an_input_of_a_saved_product_fails_backward():
    x = em.tensor([1.0, 2.0], requires_grad=True)
    w = em.tensor([3.0, 4.0])
    y = x * 1.0
    z = y * w  # saves y
    y.mul_(2.0)
    with pytest.raises(RuntimeError, match="modified in place"):
        z.sum().backward()


def test_integer_tensor_refuses_float_results():
    with pytest.raises(RuntimeError, match="can't be cast"):
        em.tensor([1, 2]).exp_()


# -- random fills ----------------------------------------------------------------------------------
def test_random_fills_draw_from_the_global_generator():
    em.manual_seed(5)
    first = em.zeros(1000).uniform_(-2, 3)
    em.manual_seed(5)
    second = em.zeros(1000).uniform_(-2, 3)
    np.testing.assert_array_equal(first.numpy(), second.numpy())
    assert first.min().item() >= -2 and first.max().item() < 3
    assert first.dtype == np.float32


def test_random_fill_distributions():
    n = 20000
    normal = em.zeros(n, dtype=em.float64).normal_(2.0, 0.5)
    assert abs(normal.mean().item() - 2.0) < 0.02 and abs(normal.std().item() - 0.5) < 0.02
    coins = em.zeros(n).bernoulli_(0.3)
    assert set(np.unique(coins.numpy())) <= {0.0, 1.0} and abs(coins.mean().item() - 0.3) < 0.02
    coins = em.zeros(4).bernoulli_(em.tensor([0.0, 1.0, 0.0, 1.0]))
    assert coins.tolist() == [0.0, 1.0, 0.0, 1.0]
    waits = em.zeros(n).exponential_(4.0)
    assert waits.min().item() >= 0 and abs(waits.mean().item() - 0.25) < 0.01
    dice = em.zeros(n, dtype=em.int64).random_(1, 7)
    assert dice.dtype == np.int64 and set(np.unique(dice.numpy())) == set(range(1, 7))
    below = em.zeros(n).random_(3)
    assert set(np.unique(below.numpy())) == {0.0, 1.0, 2.0}
    wide = em.zeros(n).random_()
    assert wide.min().item() >= 0 and wide.max().item() <= 2**24 and wide.max().item() > 2**20


def test_random_fill_bumps_the_version():
    x = em.zeros(3)
    x.normal_()
    assert x._version == 1


# -- hooks -------------------------------------------------------------------------------------
def _hooked_program(lib, replace):
    """A leaf used twice and a non-leaf with a hook; returns the leaf's grad and what the hooks saw."""
    x = lib.tensor([1.0, -2.0, 3.0], requires_grad=True)
    seen = []
    x.register_hook(lambda g: seen.append(g.clone()))
    h = x * x
    h.retain_grad()
    handle = h.register_hook(lambda g: g * 10 if replace else None)
    ((h * 2).sum() + (x * 3).sum()).backward()
    handle.remove()
    return [x.grad, h.grad, *seen], len(seen)


@pytest.mark.parametrize("replace", [False, True])
def test_hooks_match_torch(replace):
    ours, n_ours = _hooked_program(em, replace)
    theirs, n_theirs = _hooked_program(torch, replace)
    assert n_ours == n_theirs == 1  # a leaf's hook sees its total gradient once
    for o, t in zip(ours, theirs, strict=True):
        assert_close(o, t)


def test_hook_on_a_leaf_can_replace_its_gradient():
    x = em.tensor([1.0, 2.0], requires_grad=True)
    x.register_hook(lambda g: g * 0 + 5)
    (x * 3).sum().backward()
    assert x.grad.tolist() == [5.0, 5.0]


def test_hook_on_the_root_and_removal():
    x = em.tensor([1.0, 2.0], requires_grad=True)
    y = (x * 2).sum()
    handle = y.register_hook(lambda g: g * 3)
    y.backward(retain_graph=True)
    assert x.grad.tolist() == [6.0, 6.0]
    handle.remove()
    x.grad = None
    y.backward()
    assert x.grad.tolist() == [2.0, 2.0]


def test_hook_needs_a_tensor_that_requires_grad():
    with pytest.raises(RuntimeError, match="doesn't require grad"):
        em.zeros(2).register_hook(print)


def test_hook_must_keep_the_shape():
    x = em.tensor([1.0, 2.0], requires_grad=True)
    x.register_hook(lambda g: em.zeros(3))
    with pytest.raises(RuntimeError, match="shape"):
        (x * 1).sum().backward()


# -- grad_fn and backward's keywords ------------------------------------------------------------------
def test_grad_fn():
    x = em.tensor([1.0], requires_grad=True)
    assert x.grad_fn is None and x.is_leaf
    y = x * 2
    assert y.grad_fn is y.creator and y.grad_fn.name() == "MulBackward0" and not y.is_leaf


def test_backward_keywords():
    x = em.tensor([1.0, 2.0], requires_grad=True)
    y = x * x
    y.backward(gradient=em.tensor([1.0, 0.5]), retain_graph=True)
    assert x.grad.tolist() == [2.0, 2.0]
    y.backward(em.tensor([1.0, 1.0]))  # the positional form still works
    assert x.grad.tolist() == [4.0, 6.0]


def test_backward_inputs_fills_only_those():
    results = []
    for lib in (em, torch):
        a = lib.tensor([1.0, 2.0], requires_grad=True)
        b = lib.tensor([3.0, 4.0], requires_grad=True)
        h = a * b
        loss = (h * h).sum()
        loss.backward(inputs=[a, h], retain_graph=True)
        results.append((a.grad, b.grad, h.grad))
        loss.backward(inputs=b)
        results.append((a.grad, b.grad))
    (ea, eb, eh), (ea2, eb2), (ta, tb, th), (ta2, tb2) = results
    assert eb is None and tb is None
    assert_close(ea, ta)
    assert_close(eh, th)
    assert_close(ea2, ta2)
    assert_close(eb2, tb2)


def test_inplace_on_a_view_of_a_graph_tensor_is_refused():
    """PyTorch rewrites the base's graph; ember refuses rather than give the base a wrong gradient."""
    x = em.tensor(randn(3, 4), requires_grad=True)
    y = x * 2.0
    with pytest.raises(RuntimeError, match="view of another tensor in the graph"):
        y[0].relu_()
    with pytest.raises(RuntimeError, match="view of another tensor in the graph"):
        y.reshape(12).mul_(2.0)
    z = y[0].clone()
    z.relu_()  # a clone is its own memory
    z.sum().backward()
    assert x.grad is not None


def test_hook_handle_as_context_manager():
    x = em.tensor([1.0], requires_grad=True)
    seen = []
    with x.register_hook(seen.append):
        (x * 2).sum().backward()
    (x * 2).sum().backward()
    assert len(seen) == 1


def test_inplace_with_itself_as_operand():
    grads = []
    for lib in (em, torch):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = x * 3.0
        y.add_(y).mul_(2.0)
        y.sum().backward()
        grads.append(x.grad)
    assert_close(*grads)


def test_filling_a_buffer_step_by_step():
    """outputs[t] = h_t, the PyTorch idiom of recurrent loops, records each write."""
    grads = []
    for lib in (em, torch):
        w = lib.tensor([0.5, -1.0, 2.0], requires_grad=True)
        out = lib.zeros(4, 3)
        h = lib.ones(3)
        for t in range(4):
            h = (h * w).tanh()
            out[t] = h
        (out * lib.arange(12.0).reshape(4, 3)).sum().backward()
        grads.append(w.grad)
    assert_close(*grads)


def test_to_accepts_torchs_keywords_and_copy():
    x = em.ones(3)
    assert x.to("cpu", non_blocking=True) is x and x.to(em.float32, memory_format=None) is x
    assert x.to("cpu", em.float64, True).dtype == np.float64  # the old positional non_blocking
    y = x.to(copy=True)
    assert y is not x and y.data_ptr() != x.data_ptr()
    assert x.pin_memory() is x and not x.is_pinned()
    assert x.cpu() is x and em.nn.Linear(2, 2).to("cpu", non_blocking=True).weight.device == "cpu"


def test_share_memory_is_seen_by_a_forked_process():
    import multiprocessing

    model = em.nn.Linear(3, 2)
    assert model.share_memory() is model and model.weight.is_shared() and not em.ones(2).is_shared()
    before = model.weight.detach().clone()
    optimizer = em.optim.SGD(model.parameters(), lr=0.5)

    def train():
        model(em.ones(4, 3)).sum().backward()
        optimizer.step()

    worker = multiprocessing.get_context("fork").Process(target=train)  # Hogwild: the child updates our weights
    worker.start()
    worker.join()
    assert worker.exitcode == 0
    assert not np.allclose(model.weight.detach().numpy(), before.numpy())
    x = em.arange(4.0).share_memory_()
    assert x.tolist() == [0.0, 1.0, 2.0, 3.0] and x.is_shared()

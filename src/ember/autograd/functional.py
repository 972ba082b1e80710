"""PyTorch's ``torch.autograd.functional``: vjp, jvp, jacobian, hessian, vhp and hvp of a function.

Each takes a function of tensors and the point where to differentiate it (``inputs``: a tensor or
a tuple of tensors), and answers in the same shape: a tuple where the inputs (or outputs) were a
tuple, a lone tensor otherwise. Everything is reverse mode, built on ``autograd.grad`` with
``create_graph=True``; the forward-mode products (jvp, hvp) use the double-vjp trick:

    u ↦ vjp(u) = Jᵀu is linear in u, so its own vjp against v is (Jᵀ)ᵀv = Jv, for any value of u.

``create_graph=True`` keeps the results differentiable (with respect to the inputs, and to ``v``
where ``v`` requires grad); otherwise they come back detached. ``strict=True`` raises where an
output does not depend on an input instead of answering zeros, with PyTorch's messages.

>>> x = em.tensor([1.0, 2.0], requires_grad=True)
>>> em.autograd.functional.jacobian(lambda x: x ** 2, x)      # diag(2x)
tensor([[2., 0.],
        [0., 4.]])
"""
from __future__ import annotations

from ember import autograd
from ember.autograd import grad_mode
from ember.autograd.function import Function
from ember.autograd.tensor import Tensor

__all__ = ["hessian", "hvp", "jacobian", "jvp", "vhp", "vjp"]

_STRATEGIES = ("forward-mode", "reverse-mode")


# -- the public functions ---------------------------------------------------------------------------------
def vjp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), vᵀ·J): the vector-Jacobian product at ``inputs``, J = ∂func/∂inputs.

    ``v`` has the outputs' shapes (it may be omitted for a one-element output: v = 1).

    >>> out, g = em.autograd.functional.vjp(lambda x: (x ** 2).sum(), em.tensor([1.0, 2.0]))
    >>> g                                    # 2x
    tensor([2., 4.])
    """
    with grad_mode.enable_grad():
        is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "vjp")
        inputs = _grad_preprocess(inputs, create_graph, need_graph=True)
        is_outputs_tuple, outputs = _as_tuple(func(*inputs), "outputs of the user-provided function", "vjp")
        _check_requires_grad(outputs, "outputs", strict)
        v = _vector(v, outputs, is_outputs_tuple, create_graph, "vjp",
                    "the user-provided function returns a single Tensor with a single element")
    with grad_mode.set_grad_enabled(create_graph or grad_mode.is_grad_enabled()):
        grads = _fill_in_zeros(_autograd_grad(outputs, inputs, v, create_graph), inputs, strict, create_graph, "back")
    return (_unpack(_grad_postprocess(outputs, create_graph), is_outputs_tuple),
            _unpack(_grad_postprocess(grads, create_graph), is_inputs_tuple))


def jvp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), J·v): the Jacobian-vector product, by the double-vjp trick (no forward mode).

    ``v`` has the inputs' shapes (it may be omitted for a one-element input). Costs one forward
    and two backward passes.

    >>> out, t = em.autograd.functional.jvp(lambda x: x ** 2, em.tensor([1.0, 2.0]), em.tensor([1.0, 0.0]))
    >>> t                                    # 2x ⊙ v
    tensor([2., 0.])
    """
    with grad_mode.enable_grad():
        is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "jvp")
        inputs = _grad_preprocess(inputs, create_graph, need_graph=True)
        v = _vector(v, inputs, is_inputs_tuple, create_graph, "jvp",
                    "the input to the user-provided function is a single Tensor with a single element")
        is_outputs_tuple, outputs = _as_tuple(func(*inputs), "outputs of the user-provided function", "jvp")
        _check_requires_grad(outputs, "outputs", strict)
        us, grad_inputs = _vjp_with_graph(outputs, inputs)
        _check_requires_grad(grad_inputs, "grad_inputs", strict)
    with grad_mode.set_grad_enabled(create_graph or grad_mode.is_grad_enabled()):
        jv = _autograd_grad(grad_inputs, us, v, create_graph)
        jv = _fill_in_zeros(jv, outputs, strict, create_graph, "back_trick")
    return (_unpack(_grad_postprocess(outputs, create_graph), is_outputs_tuple),
            _unpack(_grad_postprocess(jv, create_graph), is_outputs_tuple))


def jacobian(func, inputs, create_graph=False, strict=False, vectorize=False, strategy="reverse-mode"):
    """The Jacobian ∂func/∂inputs, of shape ``output.shape + input.shape`` for each (output, input) pair.

    Several outputs and inputs give nested tuples: ``J[i][j]`` is output i against input j (one
    level is dropped where the outputs, or the inputs, were not a tuple). ``"reverse-mode"`` runs
    one backward per output element; ``"forward-mode"`` one double-vjp product per input
    element (cheaper when the inputs have fewer elements than the outputs); unlike PyTorch it
    works without ``vectorize`` and with ``create_graph``. ``vectorize=True`` is accepted and
    runs the same loop (ember has no batched gradients).

    >>> em.autograd.functional.jacobian(lambda x, y: x * y, (em.tensor([1.0, 2.0]), em.tensor([3.0, 4.0])))
    (tensor([[3., 0.],
            [0., 4.]]), tensor([[1., 0.],
            [0., 2.]]))
    """
    if strategy not in _STRATEGIES:
        raise AssertionError('Expected strategy to be either "forward-mode" or "reverse-mode". Hint: If your '
                             'function has more outputs than inputs, "forward-mode" tends to be more performant. '
                             'Otherwise, prefer to use "reverse-mode".')
    if strict and strategy == "forward-mode":
        raise RuntimeError('autograd.functional.jacobian: `strict=True` and `strategy="forward-mode"` are not '
                           'supported together (yet). Please either set `strict=False` or `strategy="reverse-mode"`.')
    if strict and vectorize:
        raise RuntimeError("autograd.functional.jacobian: `strict=True` and `vectorized=True` are not "
                           "supported together. Please either set `strict=False` or `vectorize=False`.")
    with grad_mode.enable_grad():
        is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "jacobian")
        inputs = _grad_preprocess(inputs, create_graph, need_graph=True)
        is_outputs_tuple, outputs = _as_tuple(func(*inputs), "outputs of the user-provided function", "jacobian")
        _check_requires_grad(outputs, "outputs", strict)
        if strategy == "forward-mode":
            jac = _jacobian_by_columns(outputs, inputs, create_graph)
        else:
            jac = tuple(_jacobian_rows(i, y, inputs, create_graph, strict) for i, y in enumerate(outputs))
    return _unpack(_grad_postprocess(jac, create_graph), (is_outputs_tuple, is_inputs_tuple))


def hessian(func, inputs, create_graph=False, strict=False, vectorize=False, outer_jacobian_strategy="reverse-mode"):
    """The Hessian ∂²func/∂inputs² of a function with a single-element output.

    The Jacobian of the gradient: of shape ``x.shape + x.shape`` for one input, and for a tuple of
    inputs a tuple of tuples, ``H[i][j] = ∂²f/∂x_i∂x_j`` of shape ``x_i.shape + x_j.shape``.
    ``outer_jacobian_strategy`` picks the strategy of the outer Jacobian; ``vectorize=True`` runs the
    same loop (see ``jacobian``).

    >>> em.autograd.functional.hessian(lambda x: (x ** 3).sum(), em.tensor([1.0, 2.0]))   # diag(6x)
    tensor([[ 6.,  0.],
            [ 0., 12.]])
    """
    is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "hessian")
    if outer_jacobian_strategy not in _STRATEGIES:
        raise AssertionError('Expected strategy to be either "forward-mode" or "reverse-mode".')

    def scalar_func(*xs):
        out = func(*xs)
        _, outs = _as_tuple(out, "outputs of the user-provided function", "hessian")
        _check_requires_grad(outs, "outputs", strict)
        _check_single_element(out, "hessian")
        return out.squeeze()

    def gradient(*xs):
        g = jacobian(scalar_func, xs, create_graph=True)
        _check_requires_grad(g, "jacobian", strict)
        return g

    res = jacobian(gradient, inputs, create_graph=create_graph, strict=strict, vectorize=vectorize,
                   strategy=outer_jacobian_strategy)
    return _unpack(res, (is_inputs_tuple, is_inputs_tuple))


def vhp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), vᵀ·H): the vector-Hessian product of a function with a single-element output.

    Two backward passes (the gradient with a graph, then its vjp against v). H is symmetric
    for a twice continuously differentiable function, so this is also H·v, and cheaper than ``hvp``.

    >>> out, g = em.autograd.functional.vhp(lambda x: (x ** 3).sum(), em.tensor([1.0, 2.0]), em.ones(2))
    >>> g                                    # 6x ⊙ v
    tensor([ 6., 12.])
    """
    is_inputs_tuple, inputs, v, outputs, jac = _gradient_with_graph(func, inputs, v, create_graph, strict, "vhp")
    with grad_mode.set_grad_enabled(create_graph or grad_mode.is_grad_enabled()):
        res = _fill_in_zeros(_autograd_grad(jac, inputs, v, create_graph), inputs, strict, create_graph,
                             "double_back")
    return (_unpack(_grad_postprocess(outputs, create_graph), False),
            _unpack(_grad_postprocess(res, create_graph), is_inputs_tuple))


def hvp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), H·v): the Hessian-vector product of a function with a single-element output.

    The double-vjp trick applied to the gradient (three backward passes), as PyTorch does; for a
    twice continuously differentiable function H is symmetric and ``vhp`` gives the same, faster.

    >>> out, g = em.autograd.functional.hvp(lambda x: (x ** 3).sum(), em.tensor([1.0, 2.0]), em.ones(2))
    >>> g                                    # 6x ⊙ v
    tensor([ 6., 12.])
    """
    with grad_mode.enable_grad():
        is_inputs_tuple, inputs, v, outputs, jac = _gradient_with_graph(func, inputs, v, create_graph, strict, "hvp")
        us, double_back = _vjp_with_graph(jac, inputs)
    with grad_mode.set_grad_enabled(create_graph or grad_mode.is_grad_enabled()):
        res = _fill_in_zeros(_autograd_grad(double_back, us, v, create_graph), inputs, strict, create_graph,
                             "double_back_trick")
    return (_unpack(_grad_postprocess(outputs, create_graph), False),
            _unpack(_grad_postprocess(res, create_graph), is_inputs_tuple))


# -- the shared steps ---------------------------------------------------------------------------------------
def _gradient_with_graph(func, inputs, v, create_graph, strict, name):
    """The prologue of vhp and hvp: the checked inputs and v, the single output and its gradient with a graph."""
    with grad_mode.enable_grad():
        is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", name)
        inputs = _grad_preprocess(inputs, create_graph, need_graph=True)
        v = _vector(v, inputs, is_inputs_tuple, create_graph, name,
                    "the input to the user-provided function is a single Tensor with a single element")
        out = func(*inputs)
        _, outputs = _as_tuple(out, "outputs of the user-provided function", name)
        _check_requires_grad(outputs, "outputs", strict)
        _check_single_element(out, name)
        jac = _autograd_grad(outputs, inputs, create_graph=True)
        _check_requires_grad(jac, "jacobian", strict)
    return is_inputs_tuple, inputs, v, outputs, jac


def _vjp_with_graph(outputs, inputs):
    """(u, Jᵀu) with u zeros that require grad: the first half of the double-vjp trick.

    Jᵀu is linear in u, so u's value never enters the second vjp; zeros (never inf or NaN) are safe.
    """
    us = tuple(None if y is None else y.new_zeros(y.shape, requires_grad=True) for y in outputs)
    return us, _autograd_grad(outputs, inputs, us, create_graph=True)


def _jacobian_rows(i, y, inputs, create_graph, strict):
    """∂y/∂x for each input x, one backward pass per element of y (the rows of the Jacobian)."""
    rows = [[] for _ in inputs]
    flat = y.reshape(-1)
    for j in range(y.numel()):
        grads = _autograd_grad((flat[j],), inputs, retain_graph=True, create_graph=create_graph)
        for k, (g, x) in enumerate(zip(grads, inputs, strict=True)):
            if g is None:
                if strict:
                    raise RuntimeError(f"Output {i} of the user-provided function is independent of input {k}. "
                                       "This is not allowed in strict mode.")
                g = x.new_zeros(x.shape)
            elif strict and create_graph and not g.requires_grad:
                raise RuntimeError(f"The jacobian of the user-provided function is independent of input {k}. "
                                   "This is not allowed in strict mode when create_graph=True.")
            rows[k].append(g)
    return tuple(_stack(r, 0, tuple(y.shape) + tuple(x.shape), x) for r, x in zip(rows, inputs, strict=True))


def _jacobian_by_columns(outputs, inputs, create_graph):
    """∂y/∂x for every pair, one double-vjp product J·e per element e of the inputs (the columns)."""
    us, grad_inputs = _vjp_with_graph(outputs, inputs)
    columns = [[[] for _ in inputs] for _ in outputs]
    for k, x in enumerate(inputs):
        for j in range(x.numel()):
            basis = tuple(_one_hot(z, j if m == k else None) for m, z in enumerate(inputs))
            jv = _autograd_grad(grad_inputs, us, basis, create_graph=create_graph, retain_graph=True)
            for i, y in enumerate(outputs):
                columns[i][k].append(y.new_zeros(y.shape) if jv[i] is None else jv[i])
    return tuple(tuple(_stack(columns[i][k], -1, tuple(y.shape) + tuple(x.shape), x)
                       for k, x in enumerate(inputs)) for i, y in enumerate(outputs))


def _one_hot(x, j):
    """Zeros shaped like x, with a one at flat position j (none when j is None)."""
    e = x.new_zeros(x.shape)
    if j is not None:
        e.array.reshape(-1)[j] = 1
    return e


def _stack(parts, dim, shape, like):
    """The gradients in ``parts`` stacked along ``dim`` and reshaped to ``shape`` (zeros when there are none)."""
    from ember.ops import stack

    if not parts:  # an empty output or input: nothing to stack
        return like.new_zeros(shape)
    return stack(parts, dim).reshape(shape)


def _autograd_grad(outputs, inputs, grad_outputs=None, create_graph=False, retain_graph=None):
    """``autograd.grad`` over the outputs that have a graph; None for an input that none of them reaches."""
    grad_outputs = (None,) * len(outputs) if grad_outputs is None else grad_outputs
    pairs = [(y, g) for y, g in zip(outputs, grad_outputs, strict=True) if y is not None and y.requires_grad]
    if not pairs:
        return (None,) * len(inputs)
    ys, gs = zip(*pairs, strict=True)
    return autograd.grad(ys, inputs, gs, retain_graph=retain_graph, create_graph=create_graph, allow_unused=True)


# -- arguments in, results out -------------------------------------------------------------------------------
class _Alias(Function):
    """y = x as a new tensor in the graph (PyTorch's ``x.view_as(x)``), sharing x's memory.

    Gradients taken with respect to y count only the uses of the argument inside the function,
    not those of an x it also captures from outside, while y's graph still leads back to x.
    """

    def forward(self, x):
        return x

    def backward(self, gy):
        return gy

    def vjp(self, gy):
        return (gy,)


def differentiable_alias(x: Tensor) -> Tensor:
    """A new tensor object equal to ``x`` whose gradient flows back into ``x``'s graph."""
    return _Alias()(x)


def _as_tuple(x, arg_name, fn_name):
    """(whether x was a tuple, x as a tuple of tensors); PyTorch's TypeError for anything else."""
    is_tuple = isinstance(x, tuple)
    xs = x if is_tuple else (x,)
    for k, t in enumerate(xs):
        if not isinstance(t, Tensor):
            where = f"value at index {k}" if is_tuple else f"given {arg_name}"
            raise TypeError(f"The {arg_name} given to {fn_name} must be either a Tensor or a tuple of Tensors but the "
                            f"{where} has type {type(t)}.")
    return is_tuple, xs


def _unpack(res, was_tuple):
    """Undo ``_as_tuple``: one level per flag (the outer level first for a pair of flags)."""
    if isinstance(was_tuple, tuple):
        outer, inner = was_tuple
        res = res if inner else tuple(r[0] for r in res)
        return res if outer else res[0]
    return res if was_tuple else res[0]


def _grad_preprocess(xs, create_graph, need_graph):
    """Fresh tensors for the function to see: linked to the caller's graph when ``create_graph`` keeps it,
    else detached leaves (that require grad where ``need_graph``)."""
    return tuple(differentiable_alias(x) if create_graph and x.requires_grad else x.detach().requires_grad_(need_graph)
                 for x in xs)


def _grad_postprocess(xs, create_graph):
    """The results as given, or detached (also inside nested tuples) when no graph was asked for."""
    if create_graph:
        return xs
    return tuple(x.detach() if isinstance(x, Tensor) else _grad_postprocess(x, create_graph) for x in xs)


def _vector(v, others, is_others_tuple, create_graph, fn_name, when_optional):
    """``v`` as a tuple checked against ``others``' shapes; None is allowed for one one-element tensor."""
    if v is None:
        if len(others) != 1 or others[0].numel() != 1:
            raise RuntimeError(f"The vector v can only be None if {when_optional}.")
        return None
    _, v = _as_tuple(v, "v", fn_name)
    v = _grad_preprocess(v, create_graph, need_graph=False)
    if len(v) != len(others):
        raise RuntimeError(f"v is a tuple of invalid length: should be {len(others)} but got {len(v)}."
                           if is_others_tuple else "The given v should contain a single Tensor.")
    for k, (a, b) in enumerate(zip(v, others, strict=True)):
        if tuple(a.shape) != tuple(b.shape):
            where = f"Entry {k} in " if is_others_tuple else ""
            raise RuntimeError(f"{where}v has invalid size: should be {tuple(b.shape)} but got {tuple(a.shape)}.")
    return v


def _check_single_element(out, fn_name):
    if not isinstance(out, Tensor):
        raise RuntimeError(f"The function given to {fn_name} should return a single Tensor")
    if out.numel() != 1:
        raise RuntimeError(f"The Tensor returned by the function given to {fn_name} should contain a single element")


_INDEPENDENT = {  # strict mode: what a tensor without a graph means at each stage
    "outputs": "Output {i} of the user-provided function does not require gradients. The outputs must be computed "
               "in a differentiable manner from the input when running in strict mode.",
    "grad_inputs": "The gradient with respect to input {i} is independent of the inputs of the user-provided "
                   "function. This is not allowed in strict mode.",
    "jacobian": "While computing the hessian, found that the jacobian of the user-provided function with respect "
                "to input {i} is independent of the input. This is not allowed in strict mode. You should ensure "
                "that your function is twice differentiable and that the jacobian depends on the inputs (this would "
                "be violated by a linear function for example).",
}


def _check_requires_grad(xs, kind, strict):
    """In strict mode, raise for a tensor that is missing (None) or has no graph."""
    if not strict:
        return
    for i, x in enumerate(xs):
        if x is None:
            raise RuntimeError(f"The output of the user-provided function is independent of input {i}. "
                               "This is not allowed in strict mode.")
        if not x.requires_grad:
            raise RuntimeError(_INDEPENDENT[kind].format(i=i))


_MISSING = {  # strict mode: a gradient that never reached its tensor, per stage
    "back": "The output of the user-provided function is independent of input {i}. This is not allowed in "
            "strict mode.",
    "back_trick": "The gradient with respect to the input is independent of entry {i} in the grad_outputs when "
                  "using the double backward trick to compute forward mode gradients. This is not allowed in "
                  "strict mode.",
    "double_back": "The jacobian of the user-provided function is independent of input {i}. This is not allowed "
                   "in strict mode.",
    "double_back_trick": "The hessian of the user-provided function is independent of entry {i} in the "
                         "grad_jacobian. This is not allowed in strict mode as it prevents from using the double "
                         "backward trick to replace forward mode AD.",
}


def _fill_in_zeros(grads, refs, strict, create_graph, stage):
    """Zeros shaped like ``refs[i]`` for each missing gradient, or (strict) PyTorch's error for the stage."""
    res = []
    for i, (g, ref) in enumerate(zip(grads, refs, strict=True)):
        if g is None:
            if strict:
                raise RuntimeError(_MISSING[stage].format(i=i))
            g = ref.new_zeros(ref.shape)
        elif strict and create_graph and not g.requires_grad:
            what = "hessian" if "double" in stage else "jacobian"
            raise RuntimeError(f"The {what} of the user-provided function is independent of input {i}. "
                               "This is not allowed in strict mode when create_graph=True.")
        res.append(g)
    return tuple(res)

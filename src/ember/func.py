"""PyTorch's ``torch.func``: function transforms (grad, vjp, jacrev, jacfwd, hessian, vmap, functional_call).

A transform takes a function and returns a new function: ``grad(f)(x)`` is ∇f(x). The arguments
and results may be tensors or nested tuples, lists and dicts of tensors (a dict of parameters, as
``functional_call`` takes), and the results keep the structure of the arguments. Transforms
compose: ``grad(grad(f))``, ``jacrev(jacrev(f))``, ``vmap(grad(f))`` for per-sample gradients::

    params = {k: v.detach() for k, v in model.named_parameters()}
    def loss_fn(params, x, y):                  # one sample
        out = functional_call(model, params, (x.unsqueeze(0),))
        return F.cross_entropy(out, y.unsqueeze(0))
    per_sample = vmap(grad(loss_fn), in_dims=(None, 0, 0))(params, xb, yb)   # {name: (N, *shape)}

ember has no batched tensors or levels: the differentiating transforms run on reverse-mode
autograd (``autograd.grad``), keeping the graph of a gradient when an enclosing transform, or an
argument that requires grad, will differentiate it again; ``vmap`` runs the function once per
sample and stacks the results. A tensor the function captures from outside (rather than takes as
an argument) is a constant to a transform run at top level: pass it as an argument to
differentiate through it.
"""
from __future__ import annotations

import contextlib
import functools

from ember import autograd, random
from ember.autograd import functional, grad_mode
from ember.autograd.functional import differentiable_alias
from ember.autograd.tensor import Tensor

__all__ = ["functional_call", "grad", "grad_and_value", "hessian", "jacfwd", "jacrev", "vjp", "vmap"]

_depth = 0  # differentiating transforms now running: inside one, gradients keep their graph


# -- gradients ------------------------------------------------------------------------------------------------
def grad(func, argnums=0, has_aux=False):
    """The function x ↦ ∇func(x): the gradient of a scalar function with respect to argument(s) ``argnums``.

    ``argnums`` an int gives that argument's gradient (in its structure: a dict of parameters gives
    a dict of gradients); a tuple of ints gives a tuple. With ``has_aux`` the function returns
    (output, aux) and the transform (gradient, aux).

    >>> em.func.grad(lambda x: (x ** 3).sum())(em.tensor([1.0, 2.0]))      # 3x²
    tensor([ 3., 12.])
    """

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        g, value = grad_and_value(func, argnums, has_aux)(*args, **kwargs)
        return (g, value[1]) if has_aux else g

    return wrapper


def grad_and_value(func, argnums=0, has_aux=False):
    """Like ``grad``, but the function returns (gradient, value) — or (gradient, (value, aux)) with ``has_aux``.

    >>> g, value = em.func.grad_and_value(lambda x: (x ** 2).sum())(em.tensor([1.0, 2.0]))
    """

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        name = "grad_and_value(f)(*args)"
        nums = _argnums(argnums, args)
        keep = _keeps_graph(args, kwargs)
        tracked = {k: _tree_map(_check_tensor, args[k]) for k in nums}
        aux_box = []

        def scalar_fn(*leaves):
            out, aux = _split_aux(func(*_with_leaves(args, tracked, leaves), **kwargs), has_aux, name)
            _check_scalar(out, name)
            aux_box.append(aux)
            return out

        with _transform():
            value, grads = functional.vjp(scalar_fn, tuple(_tracked_leaves(tracked)), create_graph=keep)
        g = _per_argnum(argnums, tracked, grads)
        return (g, (value, _detached(aux_box[0], keep))) if has_aux else (g, value)

    return wrapper


def vjp(func, *primals, has_aux=False):
    """(func(*primals), vjp_fn): ``vjp_fn(cotangents)`` is the tuple of vᵀ·∂func/∂primal_k, one per primal.

    The cotangents have the structure and shapes of the output; ``vjp_fn`` may be called many times.
    With ``has_aux`` the function returns (output, aux) and so does the transform, plus aux last.

    >>> out, vjp_fn = em.func.vjp(lambda x: x ** 2, em.tensor([1.0, 2.0]))
    >>> vjp_fn(em.ones(2))                                                    # (2x,)
    (tensor([2., 4.]),)
    """
    keep = _keeps_graph(primals, {})
    tracked = {k: _tree_map(functools.partial(_track, keep), p) for k, p in enumerate(primals)}
    with _transform(), grad_mode.enable_grad():
        out, aux = _split_aux(func(*tracked.values()), has_aux, "vjp(f, *primals)")
    outs = _leaves(out)
    for y in outs:
        if not isinstance(y, Tensor):
            raise RuntimeError(f"vjp(f, *primals): Expected f to return Tensors, got {type(y)}")

    def vjp_fn(cotangents):
        cts = _leaves(cotangents)
        if _structure(cotangents) != _structure(out):
            raise RuntimeError("Expected pytree structure of cotangents to be the same as pytree structure of "
                               f"outputs to the function. cotangents: {_describe(cotangents)}, primal output: "
                               f"{_describe(out)}")
        for k, (c, y) in enumerate(zip(cts, outs, strict=True)):
            if tuple(c.shape) != tuple(y.shape):
                raise RuntimeError(f"Mismatch in shape: grad_output[{k}] has a shape of {tuple(c.shape)} and "
                                   f"output[{k}] has a shape of {tuple(y.shape)}.")
        create = keep or _depth > 0 or any(c.requires_grad for c in cts)
        leaves = _tracked_leaves(tracked)
        pairs = [(y, c) for y, c in zip(outs, cts, strict=True) if y.requires_grad]
        grads = [None] * len(leaves)
        if pairs:  # some output depends on the primals
            ys, cs = zip(*pairs, strict=True)
            grads = autograd.grad(ys, leaves, cs, retain_graph=True, create_graph=create, allow_unused=True)
        grads = [x.new_zeros(x.shape) if g is None else g for g, x in zip(grads, leaves, strict=True)]
        return _per_argnum(tuple(range(len(primals))), tracked, grads)

    result = (_detached(out, keep), vjp_fn)
    return (*result, _detached(aux, keep)) if has_aux else result


# -- Jacobians and Hessians ------------------------------------------------------------------------------------
def jacrev(func, argnums=0, *, has_aux=False, chunk_size=None, _preallocate_and_copy=False):
    """The function computing the Jacobian of ``func`` with respect to argument(s) ``argnums``, by reverse mode.

    Each output tensor y gives ∂y/∂x of shape ``y.shape + x.shape`` (a tuple of them for a tuple
    ``argnums``), in the structure of the outputs. One backward pass per output element;
    ``chunk_size`` is accepted and changes nothing.

    >>> em.func.jacrev(lambda x: x ** 2)(em.tensor([1.0, 2.0]))               # diag(2x)
    tensor([[2., 0.],
            [0., 4.]])
    """

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        nums = _argnums(argnums, args)
        keep = _keeps_graph(args, kwargs)
        tracked = {k: _tree_map(_check_tensor, args[k]) for k in nums}
        box = []

        def flat_fn(*leaves):
            out, aux = _split_aux(func(*_with_leaves(args, tracked, leaves), **kwargs), has_aux, "jacrev(f)(*args)")
            box.append((out, aux))
            return tuple(_leaves(out))

        with _transform():
            jac = functional.jacobian(flat_fn, tuple(_tracked_leaves(tracked)), create_graph=keep)
        out, aux = box[0]
        rows = iter(jac)
        result = _tree_map(lambda _: _per_argnum(argnums, tracked, next(rows)), out)
        return (result, _detached(aux, keep)) if has_aux else result

    return wrapper


def jacfwd(func, argnums=0, has_aux=False, *, randomness="error"):
    """The Jacobian of ``func`` with respect to ``argnums``, as ``jacrev`` computes it.

    ember has no forward-mode autograd, so this is ``jacrev`` (same results and structure; the
    cost is one backward per output element rather than one forward per input element).
    """
    _check_randomness(randomness)
    return jacrev(func, argnums, has_aux=has_aux)


def hessian(func, argnums=0):
    """The Hessian of a scalar function with respect to ``argnums``: ``jacfwd(jacrev(func, argnums), argnums)``.

    >>> em.func.hessian(lambda x: (x ** 3).sum())(em.tensor([1.0, 2.0]))      # diag(6x)
    tensor([[ 6.,  0.],
            [ 0., 12.]])
    """
    return jacfwd(jacrev(func, argnums), argnums)


# -- vmap ---------------------------------------------------------------------------------------------------
def vmap(func, in_dims=0, out_dims=0, randomness="error", *, chunk_size=None):
    """``func`` mapped over a batch dimension: sample b of the result is ``func`` of sample b of the inputs.

    ``in_dims`` says which dimension of each argument is the batch (None: the argument is shared by
    every sample), as an int for all or a tuple matching the arguments (nested like them);
    ``out_dims`` where the batch goes in each output (None: an output that does not depend on the
    sample). Keyword arguments are not mapped. ``randomness``: ``"error"`` raises if the function
    draws from the global generator, ``"different"`` lets each sample draw its own numbers,
    ``"same"`` replays the same draws for every sample.

    ember runs ``func`` once per sample (a Python loop) and stacks the results, so any function
    works, differentiably (``grad(vmap(f))`` as well as ``vmap(grad(f))``); ``chunk_size`` changes nothing.

    >>> em.func.vmap(lambda a, b: (a * b).sum())(em.ones(4, 3), em.ones(4, 3))   # per-row dot products
    tensor([3., 3., 3., 3.])
    """
    _check_randomness(randomness)
    name = getattr(func, "__name__", repr(func))

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        if not isinstance(in_dims, (int, tuple)) or isinstance(in_dims, bool):
            raise ValueError(f"vmap({name}, in_dims={in_dims}, ...)(<inputs>): expected `in_dims` to be int or a "
                             f"(potentially nested) tuple matching the structure of inputs, got: {type(in_dims)}.")
        where = f"vmap({name}, in_dims={in_dims}, ...)(<inputs>)"
        dims = _broadcast(in_dims, args, where, ("in_dims", "inputs"))
        dims = _map_with(lambda x, d: _checked_in_dim(x, d, name, in_dims), args, dims)
        size = _batch_size(args, dims, name, in_dims)
        outputs = _per_sample(func, args, dims, kwargs, size, randomness)
        return _stack_outputs(outputs, out_dims, name)

    return wrapper


def _per_sample(func, args, dims, kwargs, size, randomness):
    """func on each sample of the batch, in order, with the generator handled as ``randomness`` asks."""
    outputs, start = [], random.get_rng_state()
    for b in range(size):
        if randomness == "same":
            random.set_rng_state(start)
        sample = _map_with(lambda x, d, b=b: x if d is None else _select(x, d, b), args, dims)
        outputs.append(func(*sample, **kwargs))
        if randomness == "error" and random.get_rng_state() != start:
            raise RuntimeError("vmap: called random operation while in randomness error mode. Please either use "
                               "the 'same' or 'different' randomness flags on vmap or perform the randomness "
                               "operation out of vmap")
    return outputs


def _stack_outputs(outputs, out_dims, name):
    """The per-sample outputs stacked along ``out_dims`` (in the structure of one output)."""
    first = outputs[0]
    dims = _broadcast(out_dims, first, f"vmap({name}, ...)", ("out_dims", "outputs"))
    per_leaf = list(zip(*[_leaves(o) for o in outputs], strict=True))
    stacked = iter([_stack_leaf(parts, d, name) for parts, d in zip(per_leaf, _leaves(dims), strict=True)])
    return _tree_map(lambda _: next(stacked), first)


def _stack_leaf(parts, dim, name):
    if dim is None:  # not batched: every sample gave the same value
        return parts[0]
    if not isinstance(parts[0], Tensor):
        raise ValueError(f"vmap({name}, ...): `{name}` must only return Tensors, got type {type(parts[0])}. "
                         "Did you mean to set out_dims= to None for output?")
    from ember.ops import stack

    ndim = parts[0].ndim + 1
    if not -ndim <= dim < ndim:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-ndim}, {ndim - 1}], but got {dim})")
    return stack(list(parts), dim)


def _checked_in_dim(x, dim, name, in_dims):
    if dim is None:
        return None
    if not isinstance(x, Tensor):
        raise ValueError(f"vmap({name}, in_dims={in_dims}, ...)(<inputs>): Got in_dim={dim} for an input but the "
                         f"input is of type {type(x)}. We cannot vmap over non-Tensor arguments, please use None "
                         "as the respective in_dim")
    if x.ndim == 0 or not -x.ndim <= dim < x.ndim:
        raise ValueError(f"vmap({name}, in_dims={in_dims}, ...)(<inputs>): Got in_dim={dim} for some input, but "
                         f"that input is a Tensor of dimensionality {x.ndim} so expected in_dim to satisfy "
                         f"-{x.ndim} <= in_dim < {x.ndim}.")
    return dim % x.ndim


def _batch_size(args, dims, name, in_dims):
    sizes = [x.shape[d] for x, d in zip(_leaves(args), _leaves(dims), strict=True) if d is not None]
    if not sizes:
        raise ValueError(f"vmap({name}, in_dims={in_dims}, ...)(<inputs>): at least one input must be batched "
                         "(an in_dim that is not None for a Tensor input)")
    if len(set(sizes)) > 1:
        raise ValueError(f"vmap: Expected all tensors to have the same size in the mapped dimension, got sizes "
                         f"{sizes} for the mapped dimension")
    return sizes[0]


def _select(x, dim, b):
    return x[(slice(None),) * dim + (b,)]


def _check_randomness(randomness):
    if randomness not in ("error", "different", "same"):
        raise RuntimeError(f"Only allowed values for randomness are 'error', 'different', or 'same'. "
                           f"Got {randomness}")


# -- functional_call --------------------------------------------------------------------------------------------
def functional_call(module, parameter_and_buffer_dicts, args=None, kwargs=None, *, tie_weights=True, strict=False):
    """``module(*args, **kwargs)`` with its parameters and buffers replaced by the given tensors.

    ``parameter_and_buffer_dicts`` maps dotted names (as ``named_parameters`` gives them) to tensors,
    or is a sequence of such dicts; names not given keep the module's own tensors (``strict=True``
    requires every one). With ``tie_weights`` a tensor given for one of several tied names (one
    parameter registered twice) replaces all of them. The module is restored afterwards, even
    when forward raises.

    >>> params = {k: v.detach() for k, v in model.named_parameters()}
    >>> out = em.func.functional_call(model, params, (x,))
    """
    values = _merge(parameter_and_buffer_dicts)
    args = () if args is None else args if isinstance(args, tuple) else (args,)
    with _reparametrized(module, values, tie_weights, strict):
        return module(*args, **(kwargs or {}))


def _merge(dicts):
    if isinstance(dicts, dict):
        return dict(dicts)
    merged = {}
    for d in dicts:
        repeated = sorted(set(merged) & set(d))
        if repeated:
            raise ValueError(f"{repeated} appeared in multiple dictionaries; behavior of functional call is "
                             "ambiguous")
        merged.update(d)
    return merged


@contextlib.contextmanager
def _reparametrized(module, values, tie_weights, strict):
    """Swap the named tensors into the modules' registries (``_parameters``/``_buffers``) and back."""
    own = dict(module.named_parameters(remove_duplicate=False))
    own.update(module.named_buffers(remove_duplicate=False))
    if tie_weights:
        values = _tied(own, values)
    if strict:
        _check_complete(module, own, values)
    swapped = []
    try:
        for name, value in values.items():
            swapped.append(_swap(module, name, value))
        yield
    finally:
        for store, key, old in reversed(swapped):
            _put(store, key, old)


def _tied(own, values):
    """``values`` extended to every name that shares a tensor with a given name."""
    groups = {}
    for name, t in own.items():
        groups.setdefault(id(t), []).append(name)
    values = dict(values)
    for names in groups.values():
        given = [n for n in names if n in values]
        if len({id(values[n]) for n in given}) > 1:
            raise ValueError(f"functional_call got multiple values for keys {given}, which are tied. Consider "
                             "using tie_weights=False")
        for n in names if given else ():
            values.setdefault(n, values[given[0]])
    return values


def _check_complete(module, own, values):
    unexpected = [n for n in values if n not in own]
    missing = [n for n in own if n not in values]
    if unexpected or missing:
        lines = [f"\tUnexpected key(s): {', '.join(map(repr, unexpected))}." if unexpected else "",
                 f"\tMissing key(s): {', '.join(map(repr, missing))}." if missing else ""]
        raise RuntimeError(f"Error(s) in reparametrizing for {type(module).__name__}:\n"
                           + "\n".join(line for line in lines if line))


_ABSENT = object()


def _swap(module, name, value):
    """Put ``value`` in place of the tensor named ``name``; return (owner store, key, previous value)."""
    prefix, _, key = name.rpartition(".")
    owner = module.get_submodule(prefix)
    for store in (owner._parameters, owner._buffers):
        if key in store:
            old = store[key]
            store[key] = value
            return store, key, old
    old = owner.__dict__.get(key, _ABSENT)  # not registered: a plain attribute for the call
    owner.__dict__[key] = value
    return owner.__dict__, key, old


def _put(store, key, old):
    if old is _ABSENT:
        store.pop(key, None)
    else:
        store[key] = old


# -- shared helpers: arguments, structures, graph keeping ----------------------------------------------------
@contextlib.contextmanager
def _transform():
    """Mark a differentiating transform as running, so nested ones keep their gradients' graphs."""
    global _depth
    _depth += 1
    try:
        yield
    finally:
        _depth -= 1


def _keeps_graph(args, kwargs):
    """Whether the gradients must stay differentiable: inside another transform, or when an argument requires grad."""
    if not grad_mode.is_grad_enabled():
        return _depth > 0
    leaves = _leaves(args) + _leaves(kwargs)
    return _depth > 0 or any(isinstance(t, Tensor) and t.requires_grad for t in leaves)


def _check_tensor(x):
    if not isinstance(x, Tensor):
        raise ValueError(f"Thing passed to transform API must be Tensor, got {type(x)}")
    return x


def _track(keep, x):
    """The tensor the function sees for a differentiated argument: linked to x's graph when kept, else a fresh leaf."""
    _check_tensor(x)
    return differentiable_alias(x) if keep and x.requires_grad else x.detach().requires_grad_(True)


def _argnums(argnums, args):
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    if not nums or not all(isinstance(k, int) for k in nums):
        raise RuntimeError(f"argnums must be int or Tuple[int, ...], got: {argnums}")
    if len(set(nums)) != len(nums):
        raise RuntimeError(f"argnums elements must be unique, got {argnums}")
    for k in nums:
        if not -len(args) <= k < len(args):
            raise RuntimeError(f"Got argnum={k}, but only {len(args)} positional inputs")
    return tuple(k % len(args) for k in nums)


def _with_leaves(args, tracked, leaves):
    """The arguments with the differentiated ones rebuilt from ``leaves`` (in ``_tracked_leaves`` order)."""
    it = iter(leaves)
    rebuilt = {k: _tree_map(lambda _: next(it), tree) for k, tree in tracked.items()}
    return [rebuilt.get(k, a) for k, a in enumerate(args)]


def _tracked_leaves(tracked):
    return [x for tree in tracked.values() for x in _leaves(tree)]


def _per_argnum(argnums, tracked, grads):
    """``grads`` (one per tracked leaf) in the arguments' structures: one, or a tuple for a tuple ``argnums``."""
    it = iter(grads)
    per_arg = tuple(_tree_map(lambda _: next(it), tree) for tree in tracked.values())
    return per_arg[0] if isinstance(argnums, int) else per_arg


def _split_aux(out, has_aux, name):
    if not has_aux:
        return out, None
    if not (isinstance(out, tuple) and len(out) == 2):
        raise RuntimeError(f"{name}: output of function f should be a tuple: (output, aux) if has_aux is True")
    return out


def _check_scalar(out, name):
    if not isinstance(out, Tensor):
        raise RuntimeError(f"{name}: Expected f(*args) to return a Tensor, got {type(out)}")
    if out.ndim != 0:
        raise RuntimeError(f"{name}: Expected f(*args) to return a scalar Tensor, got tensor with {out.ndim} dims. "
                           "Maybe you wanted to use the vjp or jacrev APIs instead?")


def _detached(tree, keep):
    return tree if keep else _tree_map(lambda t: t.detach() if isinstance(t, Tensor) else t, tree)


def _tree_map(fn, tree):
    """``fn`` applied to each leaf of nested tuples, lists and dicts (anything else is a leaf)."""
    if isinstance(tree, dict):
        return type(tree)((k, _tree_map(fn, v)) for k, v in tree.items())
    if isinstance(tree, (tuple, list)):
        children = [_tree_map(fn, t) for t in tree]
        return type(tree)(*children) if hasattr(tree, "_fields") else type(tree)(children)
    return fn(tree)


def _leaves(tree):
    found = []
    _tree_map(found.append, tree)
    return found


def _structure(tree):
    """The containers of a tree with its leaves blanked out, for comparing two structures."""
    return _tree_map(lambda _: None, tree)


def _describe(tree):
    """A tree's shape in words, leaves as ``*``: ``(*, {'a': *})``."""
    if isinstance(tree, dict):
        return "{" + ", ".join(f"{k!r}: {_describe(v)}" for k, v in tree.items()) + "}"
    if isinstance(tree, (tuple, list)):
        inner = ", ".join(_describe(t) for t in tree) + ("," if len(tree) == 1 and isinstance(tree, tuple) else "")
        return f"[{inner}]" if isinstance(tree, list) else f"({inner})"
    return "*"


def _map_with(fn, tree, other):
    """``fn(leaf, other_leaf)`` for each leaf of ``tree`` and the leaf at the same place in ``other``."""
    it = iter(_leaves(other))
    return _tree_map(lambda x: fn(x, next(it)), tree)


def _broadcast(prefix, tree, where, names):
    """``prefix`` (an int or None per subtree, nested like ``tree`` down to where it stops) spread to every leaf."""
    try:
        return _spread(prefix, tree)
    except _MismatchError:
        dims, of = names
        raise ValueError(f"{where}: {dims} is not compatible with the structure of `{of}`. {dims} has structure "
                         f"{_describe(prefix)} but {of} has structure {_describe(tree)}.") from None


class _MismatchError(Exception):
    pass


def _spread(prefix, tree):
    if prefix is None or isinstance(prefix, int):
        return _tree_map(lambda _: prefix, tree)
    if isinstance(prefix, dict) and isinstance(tree, dict) and prefix.keys() == tree.keys():
        return type(tree)((k, _spread(prefix[k], tree[k])) for k in tree)
    if isinstance(prefix, (tuple, list)) and isinstance(tree, (tuple, list)) and len(prefix) == len(tree):
        children = [_spread(p, t) for p, t in zip(prefix, tree, strict=True)]
        return type(tree)(*children) if hasattr(tree, "_fields") else type(tree)(children)
    raise _MismatchError

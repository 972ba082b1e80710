"""L-BFGS: a quasi-Newton method that builds an inverse-Hessian estimate from its last steps, with
an optional strong-Wolfe line search. A port of PyTorch's ``torch.optim.LBFGS`` (itself from
minFunc and Torch7's optim), so its iterates are PyTorch's."""
from __future__ import annotations

from ember import backend
from ember.autograd.grad_mode import enable_grad, no_grad
from ember.optim.optimizer import Optimizer


class LBFGS(Optimizer):
    """Limited-memory BFGS. ``step(closure)`` runs up to ``max_iter`` iterations, each one:

        d = −H·g                  (two-loop recursion over the last ``history_size`` pairs
                                   s = Δw, y = Δg, with H₀ = (sᵀy/yᵀy)·I)
        w = w + t·d               (t = lr, or the strong-Wolfe step with ``line_search_fn='strong_wolfe'``;
                                   the very first step is min(1, 1/‖g‖₁)·lr)

    and stops early when max|g| ≤ ``tolerance_grad``, when the step or the change of the loss
    falls below ``tolerance_change``, or after ``max_eval`` evaluations of ``closure`` (which
    must zero the gradients, compute the loss, call ``backward`` and return the loss). All
    parameters are treated as one flat vector, so there is a single parameter group; the
    state lives under the first parameter, as in PyTorch.

    >>> opt = em.optim.LBFGS(model.parameters(), lr=1, line_search_fn="strong_wolfe")
    >>> def closure():
    ...     opt.zero_grad(); loss = loss_fn(model(x), y); loss.backward(); return loss
    >>> opt.step(closure)
    """

    def __init__(self, params, lr=1, max_iter=20, max_eval=None, tolerance_grad=1e-7, tolerance_change=1e-9,
                 history_size=100, line_search_fn=None):
        if line_search_fn not in (None, "strong_wolfe"):
            raise ValueError(f"LBFGS: line_search_fn must be None or 'strong_wolfe', got {line_search_fn!r}")
        max_eval = max_iter * 5 // 4 if max_eval is None else max_eval
        defaults = dict(lr=lr, max_iter=max_iter, max_eval=max_eval, tolerance_grad=tolerance_grad,
                        tolerance_change=tolerance_change, history_size=history_size, line_search_fn=line_search_fn)
        super().__init__(params, defaults)
        if len(self.param_groups) != 1:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")
        self._params = self.param_groups[0]["params"]

    # -- the parameters as one flat vector -----------------------------------------------------
    def _flat_grad(self):
        xp = backend.get_array_module(self._params[0].array)
        return xp.concatenate([xp.zeros(p.array.size, p.dtype) if p.grad is None else p.grad.array.reshape(-1)
                               for p in self._params])

    def _add_grad(self, t, d) -> None:
        """w = w + t·d, parameter by parameter."""
        offset = 0
        for p in self._params:
            p.array += t * d[offset:offset + p.array.size].reshape(p.shape)
            p._version += 1
            offset += p.array.size

    def _evaluate(self, closure) -> float:
        with enable_grad():
            return float(closure())

    def _directional_evaluate(self, closure, x, t, d):
        """The loss and gradient at w + t·d; the weights are then put back to ``x``."""
        self._add_grad(t, d)
        loss, g = self._evaluate(closure), self._flat_grad()
        for p, saved in zip(self._params, x, strict=True):
            p.array[...] = saved
            p._version += 1
        return loss, g

    # -- the iterations ------------------------------------------------------------------------
    def step(self, closure):
        """Run one L-BFGS optimisation (up to ``max_iter`` iterations); return the first loss."""
        group = self.param_groups[0]
        state = self.state.setdefault(self._params[0], {})
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)
        with enable_grad():
            orig_loss = closure()
        loss, flat_grad, evals = float(orig_loss), self._flat_grad(), 1
        state["func_evals"] += 1
        if abs(flat_grad).max() <= group["tolerance_grad"]:
            return orig_loss
        with no_grad():
            self._iterate(closure, group, state, loss, flat_grad, evals)
        return orig_loss

    def _iterate(self, closure, group, state, loss, flat_grad, evals) -> None:
        """PyTorch's loop: direction, step length, move, and the stopping tests."""
        tol_change, n_iter = group["tolerance_change"], 0
        while n_iter < group["max_iter"]:
            n_iter += 1
            state["n_iter"] += 1
            d = self._direction(state, flat_grad, group["history_size"])
            prev_loss = state["prev_loss"] = loss
            t = state["t"] = min(1.0, 1.0 / abs(flat_grad).sum()) * group["lr"] if state["n_iter"] == 1 else group["lr"]
            gtd = flat_grad.dot(d)
            if gtd > -tol_change:  # not a descent direction any more
                break
            if group["line_search_fn"] is None:
                self._add_grad(t, d)
                ls_evals = 0
                if n_iter != group["max_iter"]:  # stochastic settings gain nothing from a last evaluation
                    loss, flat_grad, ls_evals = self._evaluate(closure), self._flat_grad(), 1
            else:
                x = [p.array.copy() for p in self._params]
                loss, flat_grad, t, ls_evals = _strong_wolfe(
                    lambda x, t, d: self._directional_evaluate(closure, x, t, d), x, t, d, loss, flat_grad, gtd,
                    tolerance_change=1e-9, max_ls=group["max_eval"] - evals)
                self._add_grad(t, d)
            evals += ls_evals
            state["func_evals"] += ls_evals
            state["t"] = t
            if (n_iter == group["max_iter"] or evals >= group["max_eval"]
                    or abs(flat_grad).max() <= group["tolerance_grad"]
                    or abs(d * t).max() <= tol_change or abs(loss - prev_loss) < tol_change):
                break

    def _direction(self, state, g, history_size):
        """d = −H·g by the two-loop recursion, after adding the last step's (s, y) pair to the memory."""
        if state["n_iter"] == 1:
            d = -g
            state.update(old_dirs=[], old_stps=[], ro=[], H_diag=1)
        else:
            y, s = g - state["prev_flat_grad"], state["d"] * state["t"]
            ys = y.dot(s)
            if ys > 1e-10:  # keep only pairs with positive curvature
                for key in ("old_dirs", "old_stps", "ro"):
                    if len(state[key]) == history_size:
                        state[key].pop(0)
                state["old_dirs"].append(y)
                state["old_stps"].append(s)
                state["ro"].append(1.0 / ys)
                state["H_diag"] = ys / y.dot(y)
            d = _two_loop(state, g, history_size)
        if state.get("prev_flat_grad") is None:
            state["prev_flat_grad"] = g.copy()
        else:
            state["prev_flat_grad"][...] = g
        state["d"] = d
        return d


def _two_loop(state, g, history_size):
    """−H·g from the stored pairs: H = the BFGS updates of H₀ = H_diag·I by each (s, y)."""
    dirs, stps, ro = state["old_dirs"], state["old_stps"], state["ro"]
    al = state.setdefault("al", [None] * history_size)
    q = -g
    for i in range(len(dirs) - 1, -1, -1):
        al[i] = stps[i].dot(q) * ro[i]
        q -= al[i] * dirs[i]
    r = q * state["H_diag"]
    for i in range(len(dirs)):
        be_i = dirs[i].dot(r) * ro[i]
        r += (al[i] - be_i) * stps[i]
    return r


# -- the strong-Wolfe line search -----------------------------------------------------------------
def _cubic_interpolate(x1, f1, g1, x2, f2, g2, bounds=None):
    """The minimiser of the cubic through (x1, f1, g1) and (x2, f2, g2), clipped to ``bounds``."""
    lo, hi = bounds if bounds is not None else ((x1, x2) if x1 <= x2 else (x2, x1))
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    d2_square = d1**2 - g1 * g2
    if d2_square < 0:
        return (lo + hi) / 2.0
    d2 = d2_square**0.5
    if x1 <= x2:
        min_pos = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
    else:
        min_pos = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
    return min(max(min_pos, lo), hi)


def _strong_wolfe(obj_func, x, t, d, f, g, gtd, c1=1e-4, c2=0.9, tolerance_change=1e-9, max_ls=25):
    """A step t with f(w + t·d) ≤ f + c1·t·gᵀd and |g(w + t·d)ᵀd| ≤ c2·|gᵀd| (the strong Wolfe conditions).

    First bracket an interval that holds such a t, then shrink it by cubic interpolation
    (the zoom). A point is a tuple (t, f, g, gᵀd). Returns (f, g, t, evaluations).
    """
    search = _LineSearch(obj_func, x, d, (0, f, g, gtd), c1, c2, max_ls)
    bracket, done = search.bracket(t)
    t, f_new, g_new, _ = bracket[0] if done else search.zoom(bracket, abs(d).max(), tolerance_change)
    return f_new, g_new, t, search.evals


class _LineSearch:
    """The state of one strong-Wolfe search: the start point, the conditions, the evaluation count."""

    def __init__(self, obj_func, x, d, start, c1, c2, max_ls):
        self.obj_func, self.x, self.d, self.start = obj_func, x, d, start
        self.c1, self.c2, self.max_ls = c1, c2, max_ls
        self.evals = self.iters = 0

    def point(self, t):
        f, g = self.obj_func(self.x, t, self.d)
        self.evals += 1
        return t, f, g, g.dot(self.d)

    def armijo_fails(self, t, f):
        return f > self.start[1] + self.c1 * t * self.start[3]

    def curvature_holds(self, gtd):
        return abs(gtd) <= -self.c2 * self.start[3]

    def bracket(self, t):
        """Grow t until [previous, t] holds a point satisfying the conditions; ([point], True) if t does."""
        prev, new = self.start, self.point(t)
        while self.iters < self.max_ls:
            if self.armijo_fails(new[0], new[1]) or (self.iters > 1 and new[1] >= prev[1]):
                return [prev, new], False
            if self.curvature_holds(new[3]):
                return [new], True
            if new[3] >= 0:
                return [prev, new], False
            t = _cubic_interpolate(prev[0], prev[1], prev[3], new[0], new[1], new[3],
                                   bounds=(new[0] + 0.01 * (new[0] - prev[0]), new[0] * 10))
            prev, new = new, self.point(t)
            self.iters += 1
        return [self.start, new], False

    def zoom(self, bracket, d_norm, tolerance_change):
        """Shrink the bracket [low, high] by interpolation until a point satisfies the conditions; return
        its lowest point."""
        low, high = (0, 1) if bracket[0][1] <= bracket[-1][1] else (1, 0)
        insuf_progress = False
        while self.iters < self.max_ls and abs(bracket[1][0] - bracket[0][0]) * d_norm >= tolerance_change:
            t, insuf_progress = self._zoom_trial(bracket, insuf_progress)
            new = self.point(t)
            self.iters += 1
            if self.armijo_fails(t, new[1]) or new[1] >= bracket[low][1]:
                bracket[high] = new
                low, high = (0, 1) if bracket[0][1] <= bracket[1][1] else (1, 0)
                continue
            done = self.curvature_holds(new[3])
            if not done and new[3] * (bracket[high][0] - bracket[low][0]) >= 0:
                bracket[high] = bracket[low]  # the old high becomes the new low
            bracket[low] = new
            if done:
                break
        return bracket[low]

    @staticmethod
    def _zoom_trial(bracket, insuf_progress):
        """The next trial t in the bracket, kept 10% of its width off the ends when progress stalls."""
        (t0, f0, _, gtd0), (t1, f1, _, gtd1) = bracket
        t = _cubic_interpolate(t0, f0, gtd0, t1, f1, gtd1)
        b_min, b_max = min(t0, t1), max(t0, t1)
        eps = 0.1 * (b_max - b_min)
        if min(b_max - t, t - b_min) >= eps:
            return t, False
        if not (insuf_progress or t >= b_max or t <= b_min):
            return t, True
        return (b_max - eps if abs(t - b_max) < abs(t - b_min) else b_min + eps), False

"""Hyperparameter search: random sampling, coarse to fine, and the two ways to spend compute.

The course's recipe: sample hyperparameters at random (not on a grid: a grid tries only a
few distinct values of the one hyperparameter that matters), on the scale where equal steps
matter equally — log scale for the learning rate α ∈ [10⁻⁴, 1], and for a momentum β through
1−β (β = 0.9 averages over ~10 steps, 0.999 over ~1000, so 1−β ∈ [10⁻³, 10⁻¹] is sampled
log-uniformly) — then zoom into the region of the best trials and sample again there.

A search space is a dict name → space:

    ``Uniform(low, high)``              x ~ U[low, high]
    ``LogUniform(low, high)``           log x ~ U[log low, log high] (equal mass per decade)
    ``OneMinusLogUniform(low, high)``   log(1−x) ~ U[log(1−high), log(1−low)] (for β ∈ [low, high])
    ``IntUniform(low, high)``           an integer in {low, ..., high}, both ends included
    ``Choice(options)``                 one of the options, each with probability 1/len(options)

Each has ``sample(rng)`` (a NumPy ``Generator``) and ``narrow(values, factor)``, which
returns the same kind of space shrunk around ``values`` (on its own scale) for the next round.

Compute: many models in parallel ("caviar") is ``RandomSearch(..., n_jobs=k)`` on this machine, or
``RandomSearch(..., executor=client)`` on a Dask cluster (or Ray's ``Pool``); babysitting one
model ("panda") is ``Trainer`` with ``BabysitLR``, whose learning rate you change mid-run by
editing a file, and ``ModelCheckpoint`` to go back to an earlier epoch.

>>> space = {"lr": LogUniform(1e-4, 1e-1), "beta1": OneMinusLogUniform(0.8, 0.99), "batch_size": Choice([32, 64])}
>>> results = RandomSearch(objective, space, trials=20, seed=0, zoom_rounds=1).run()   # doctest: +SKIP
>>> results.best["params"], results.best["score"]                                      # doctest: +SKIP
"""
from __future__ import annotations

import csv
import itertools
import math
import pickle
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from ember.train.callbacks import Callback

__all__ = ["BabysitLR", "Choice", "IntUniform", "LogUniform", "OneMinusLogUniform", "RandomSearch", "SearchResults",
           "Uniform"]


# -- search spaces ---------------------------------------------------------------------------------


def _check_factor(factor: float, who: str) -> None:
    if not 0.0 <= factor <= 1.0:
        raise ValueError(f"{who}.narrow: factor must lie in [0, 1], got {factor}")


class Uniform:
    """x ~ U[low, high]: for hyperparameters whose effect is even across the range (dropout, smoothing).

    ``scale`` names the axis a plot should use; ``narrow`` works on the same scale.

    >>> Uniform(0.0, 0.5).sample(np.random.default_rng(0))
    0.318...
    """

    scale = "linear"

    def __init__(self, low: float, high: float):
        low, high = float(low), float(high)
        self._check(low, high)
        self.low, self.high = low, high

    def _check(self, low: float, high: float) -> None:
        if not (math.isfinite(low) and math.isfinite(high) and low <= high):
            raise ValueError(f"{type(self).__name__}: expected finite low <= high, got low={low}, high={high}")

    # The space is uniform in t = _forward(x); subclasses change only the transform.
    def _forward(self, x):
        return np.asarray(x, dtype=np.float64)

    def _inverse(self, t):
        return t

    def _bounds(self) -> tuple[float, float]:
        a, b = self._forward([self.low, self.high])
        return min(a, b), max(a, b)

    def sample(self, rng: np.random.Generator) -> float:
        """One draw, as a Python float in [low, high]."""
        t_low, t_high = self._bounds()
        return float(np.clip(self._inverse(rng.uniform(t_low, t_high)), self.low, self.high))

    def narrow(self, values, factor: float = 0.25):
        """The space zoomed around ``values`` (e.g. the best trials' values): their hull, widened on each
        side by ``factor/2`` of the current width (measured on this space's scale), clipped to the current bounds.

        >>> LogUniform(1e-4, 1).narrow([1e-2], factor=0.5)     # one decade either side on a 4-decade range
        LogUniform(0.001, 0.1)
        """
        _check_factor(factor, type(self).__name__)
        t = self._forward(np.asarray(values, dtype=np.float64).reshape(-1))
        if t.size == 0:
            raise ValueError(f"{type(self).__name__}.narrow: needs at least one value")
        t_low, t_high = self._bounds()
        margin = factor * (t_high - t_low) / 2
        ends = self._inverse(np.clip([t.min() - margin, t.max() + margin], t_low, t_high))
        low, high = np.clip(np.sort(ends), self.low, self.high)  # clip again: exp(log x) may round past x
        return type(self)(float(low), float(high))

    def __eq__(self, other):
        return type(other) is type(self) and (other.low, other.high) == (self.low, self.high)

    def __repr__(self):
        return f"{type(self).__name__}({self.low:g}, {self.high:g})"


class LogUniform(Uniform):
    """log x ~ U[log low, log high]: every decade gets the same share of samples (learning rates, λ).

    ``LogUniform(1e-4, 1)`` puts a quarter of its samples in each of [10⁻⁴, 10⁻³], ...,
    [10⁻¹, 1], where ``Uniform`` would put 90 % in [0.1, 1].

    >>> LogUniform(1e-4, 1e-1).sample(np.random.default_rng(0))
    0.0081...
    """

    scale = "log"

    def _check(self, low, high):
        super()._check(low, high)
        if low <= 0:
            raise ValueError(f"LogUniform: low must be > 0, got {low}")

    def _forward(self, x):
        return np.log(np.asarray(x, dtype=np.float64))

    def _inverse(self, t):
        return np.exp(t)


class OneMinusLogUniform(Uniform):
    """β in [low, high] with 1−β log-uniform in [1−high, 1−low]: the course's scale for momentum and Adam β.

    β = 0.9 → 0.99 matters as much as 0.99 → 0.999 (the averaging window 1/(1−β) grows
    tenfold each time), which a uniform β in [0.9, 0.999] would nearly ignore. ``narrow``
    zooms on the log(1−β) scale too.

    >>> OneMinusLogUniform(0.9, 0.999).sample(np.random.default_rng(0))
    0.981...
    """

    scale = "one_minus_log"

    def _check(self, low, high):
        super()._check(low, high)
        if high >= 1:
            raise ValueError(f"OneMinusLogUniform: high must be < 1 (1 - high > 0), got {high}")

    def _forward(self, x):
        return np.log1p(-np.asarray(x, dtype=np.float64))

    def _inverse(self, t):
        return -np.expm1(t)


class IntUniform:
    """An integer uniform on {low, low+1, ..., high}, both ends included (hidden units, layers).

    >>> IntUniform(1, 4).sample(np.random.default_rng(0))
    4
    """

    scale = "linear"

    def __init__(self, low: int, high: int):
        if int(low) != low or int(high) != high or low > high:
            raise ValueError(f"IntUniform: expected integers low <= high, got low={low}, high={high}")
        self.low, self.high = int(low), int(high)

    def sample(self, rng: np.random.Generator) -> int:
        """One draw, as a Python int in [low, high]."""
        return int(rng.integers(self.low, self.high + 1))

    def narrow(self, values, factor: float = 0.25):
        """The hull of ``values`` widened by ``factor/2`` of the current width each side (rounded outwards), clipped."""
        _check_factor(factor, "IntUniform")
        values = np.asarray(values, dtype=np.float64).reshape(-1)
        if values.size == 0:
            raise ValueError("IntUniform.narrow: needs at least one value")
        margin = factor * (self.high - self.low) / 2
        low = max(self.low, math.floor(values.min() - margin))
        high = min(self.high, math.ceil(values.max() + margin))
        return IntUniform(low, high)

    def __eq__(self, other):
        return type(other) is IntUniform and (other.low, other.high) == (self.low, self.high)

    def __repr__(self):
        return f"IntUniform({self.low}, {self.high})"


class Choice:
    """One of ``options``, each with probability 1/len(options) (batch size, activation, optimiser).

    ``narrow`` keeps the options the best trials used: categories have no neighbourhood to zoom into.
    That is greedy (an option unlucky in the coarse round is gone for good); a larger
    ``zoom_top`` keeps more of them.

    >>> Choice([32, 64, 128]).sample(np.random.default_rng(0))
    128
    """

    scale = "categorical"

    def __init__(self, options):
        self.options = list(options)
        if not self.options:
            raise ValueError("Choice: needs at least one option")

    def sample(self, rng: np.random.Generator):
        """One of the options (the object itself, not a NumPy copy)."""
        return self.options[int(rng.integers(len(self.options)))]

    def narrow(self, values, factor: float = 0.25):
        """The options among ``values``, in their original order (``factor`` is unused)."""
        kept = [o for o in self.options if o in list(values)]
        if not kept:
            raise ValueError(f"Choice.narrow: none of {list(values)} is an option of {self.options}")
        return Choice(kept)

    def __eq__(self, other):
        return type(other) is Choice and other.options == self.options

    def __repr__(self):
        return f"Choice({self.options!r})"


_SPACES = (Uniform, IntUniform, Choice)


# -- the search ------------------------------------------------------------------------------------


_WORKER_OBJECTIVE = None


def _install(objective) -> None:
    """Worker initialiser: the objective crosses to each process once, not once per trial."""
    global _WORKER_OBJECTIVE
    _WORKER_OBJECTIVE = objective


def _timed(objective, params: dict) -> tuple[float, float]:
    started = time.perf_counter()
    score = float(objective(params))
    return score, time.perf_counter() - started


def _timed_in_worker(params: dict) -> tuple[float, float]:
    return _timed(_WORKER_OBJECTIVE, params)


def _timed_job(job) -> tuple[float, float]:
    """One trial sent to an executor: ``job`` is ``(objective, params, number)``. The trial's number
    keeps two trials that drew equal parameters distinct to an executor that merges equal calls
    (a Dask Client runs a pure task once per distinct argument)."""
    objective, params, _ = job
    return _timed(objective, params)


class RandomSearch:
    """Random search over ``space``, then ``zoom_rounds`` rounds zoomed around the best trials.

    Args:
        objective: ``objective(params) -> score`` with ``params`` a dict name → value; it should
            seed its own randomness (``em.manual_seed``) so a trial is reproducible.
        space: dict name → ``Uniform`` / ``LogUniform`` / ``OneMinusLogUniform`` / ``IntUniform`` / ``Choice``.
        trials: trials per round; the search runs ``trials · (1 + zoom_rounds)`` in all.
        seed: seeds the sampling (one NumPy generator for the whole search).
        zoom_rounds: rounds after the coarse one; before each, every dimension is narrowed
            around the ``zoom_top`` best trials so far (``space.narrow(values, zoom_factor)``).
        zoom_top: how many of the best trials define the zoomed region.
        zoom_factor: the margin around them, as a fraction of the current width (see ``narrow``).
        mode: ``'max'`` (accuracy) or ``'min'`` (loss). A NaN score (a diverged run) ranks last.
        n_jobs: trials evaluated at once in local processes (``ProcessPoolExecutor``), the
            "caviar" strategy. ``objective`` must then be picklable: a module-level function
            or an instance of a module-level class (not a lambda or a closure); it is sent
            to each worker once. Parameters are drawn in this process, so the trials and
            scores do not depend on ``n_jobs``.
        executor: instead of ``n_jobs``, an executor that the caller starts and shuts down, to
            spread the trials over other processes or machines. Either it has ``submit(fn, arg)``
            returning a future whose ``result()`` waits for the value (a ``concurrent.futures``
            executor, a ``dask.distributed.Client``), or else ``map(fn, iterable)`` returning the
            results in order (a ``multiprocessing.Pool``, Ray's ``ray.util.multiprocessing.Pool``).
            The objective travels with every trial; Dask pickles it with cloudpickle, so a closure
            works there, where a process pool needs a module-level function.
        log: called with a line per finished trial (e.g. ``print``); ``None`` for silence.

    >>> def objective(p):
    ...     return -(math.log10(p["lr"]) + 2.5) ** 2        # best at lr = 10^-2.5
    >>> results = RandomSearch(objective, {"lr": LogUniform(1e-5, 1)}, trials=20, zoom_rounds=2).run()
    >>> results.best["params"]["lr"]                            # doctest: +SKIP
    0.0031...
    """

    def __init__(self, objective, space: dict, trials: int = 20, seed: int = 0, zoom_rounds: int = 1,
                 zoom_top: int = 3, zoom_factor: float = 0.25, mode: str = "max", n_jobs: int = 1, executor=None,
                 log=None):
        self._check(space, trials, zoom_rounds, zoom_top, mode, n_jobs)
        _check_factor(zoom_factor, "RandomSearch: zoom_factor")
        self.objective, self.space = objective, dict(space)
        self.trials, self.seed, self.zoom_rounds, self.zoom_top = int(trials), seed, int(zoom_rounds), int(zoom_top)
        self.zoom_factor, self.mode, self.n_jobs, self.log = float(zoom_factor), mode, int(n_jobs), log
        if executor is not None and not (callable(getattr(executor, "submit", None))
                                         or callable(getattr(executor, "map", None))):
            raise TypeError(f"RandomSearch: executor must have submit(fn, arg) (a concurrent.futures executor, a "
                            f"Dask Client) or map(fn, iterable) (a multiprocessing or Ray Pool); got "
                            f"{type(executor).__name__}")
        self.executor = executor

    @staticmethod
    def _check(space, trials, zoom_rounds, zoom_top, mode, n_jobs) -> None:
        if not isinstance(space, dict) or not space:
            raise ValueError("RandomSearch: space must be a non-empty dict name -> search space")
        for name, dim in space.items():
            if not isinstance(dim, _SPACES):
                raise TypeError(f"RandomSearch: space[{name!r}] must be Uniform, LogUniform, OneMinusLogUniform, "
                                f"IntUniform or Choice, got {type(dim).__name__}")
        if trials < 1 or zoom_rounds < 0 or zoom_top < 1 or n_jobs < 1:
            raise ValueError(f"RandomSearch: need trials >= 1, zoom_rounds >= 0, zoom_top >= 1, n_jobs >= 1; got "
                             f"{trials}, {zoom_rounds}, {zoom_top}, {n_jobs}")
        if mode not in ("max", "min"):
            raise ValueError(f"RandomSearch: mode must be 'max' or 'min', got {mode!r}")

    def run(self) -> SearchResults:
        """Run every round and return the ``SearchResults`` (all trials, in order)."""
        rng, space = np.random.default_rng(self.seed), dict(self.space)
        results = SearchResults([], self.mode, self.space)
        with self._evaluator() as evaluate:
            for round_ in range(self.zoom_rounds + 1):
                if round_:
                    space = self._zoom(space, results)
                results.round_spaces.append(space)
                batch = [{name: dim.sample(rng) for name, dim in space.items()} for _ in range(self.trials)]
                for params, (score, seconds) in zip(batch, evaluate(batch), strict=True):
                    self._record(results, round_, params, score, seconds)
        return results

    def _zoom(self, space: dict, results: SearchResults) -> dict:
        top = results.top(self.zoom_top)
        return {name: dim.narrow([t["params"][name] for t in top], self.zoom_factor) for name, dim in space.items()}

    def _record(self, results, round_, params, score, seconds) -> None:
        trial = {"trial": len(results.trials), "round": round_, "params": params, "score": score, "seconds": seconds}
        results.trials.append(trial)
        if self.log is not None:
            shown = "  ".join(f"{k}={_fmt(v)}" for k, v in params.items())
            self.log(f"trial {trial['trial']:3d}  round {round_}  score {score:.4f}  {shown}  ({seconds:.1f}s)")

    def _evaluator(self):
        """A context manager giving ``evaluate(list of params) -> [(score, seconds)]``, serial or in processes."""
        if self.executor is not None:
            return _Given(self.objective, self.executor)
        if self.n_jobs == 1:
            return _Serial(self.objective)
        try:
            pickle.dumps(self.objective)
        except Exception as err:
            raise TypeError(f"RandomSearch: n_jobs={self.n_jobs} runs trials in other processes, so the objective "
                            "must be picklable (a module-level function or class instance, not a lambda or a "
                            f"closure); pickling it failed: {err}") from err
        return _Pool(self.objective, self.n_jobs)


class _Serial:
    def __init__(self, objective):
        self.objective = objective

    def __enter__(self):
        return lambda batch: [_timed(self.objective, p) for p in batch]

    def __exit__(self, *exc):
        return False


class _Given(_Serial):
    """Trials on the caller's executor, through ``submit`` where it has one, else ``map``."""

    def __init__(self, objective, executor):
        self.objective, self.executor, self.numbers = objective, executor, itertools.count()

    def __enter__(self):
        return self.evaluate

    def evaluate(self, batch: list) -> list:
        jobs = [(self.objective, params, next(self.numbers)) for params in batch]
        submit = getattr(self.executor, "submit", None)
        if callable(submit):
            # NOTE: submit, not map: a Dask Client's map returns futures rather than results, while
            # every executor's submit returns a future; reading them in order keeps the trial order.
            futures = [submit(_timed_job, job) for job in jobs]
            return [future.result() for future in futures]
        return list(self.executor.map(_timed_job, jobs))


class _Pool:
    def __init__(self, objective, n_jobs: int):
        self.objective, self.n_jobs = objective, n_jobs

    def __enter__(self):
        self.executor = ProcessPoolExecutor(self.n_jobs, initializer=_install, initargs=(self.objective,))
        return lambda batch: list(self.executor.map(_timed_in_worker, batch))  # map keeps the submission order

    def __exit__(self, *exc):
        self.executor.shutdown()
        return False


# -- results ---------------------------------------------------------------------------------------


def _fmt(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


class SearchResults:
    """Every trial of a search: ``trials[i]`` is a dict with ``trial``, ``round``, ``params``, ``score``, ``seconds``.

    ``best`` is the best trial, ``top(k)`` the k best, ``round_spaces`` the space each round
    sampled from; ``to_csv`` writes the table, ``plot`` the score against each hyperparameter.

    >>> results.best["params"], results.top(3)          # doctest: +SKIP
    >>> results.to_csv("runs/search/results.csv"); results.plot("runs/search/search.png")   # doctest: +SKIP
    """

    def __init__(self, trials: list, mode: str, space: dict):
        self.trials, self.mode, self.space = trials, mode, space
        self.round_spaces: list[dict] = []

    def __len__(self) -> int:
        return len(self.trials)

    def _rank_key(self, trial: dict) -> float:
        score = trial["score"]
        if math.isnan(score):
            return math.inf
        return -score if self.mode == "max" else score

    def top(self, k: int | None = None) -> list[dict]:
        """The ``k`` best trials (all with ``None``), best first; ties keep the trial order."""
        return sorted(self.trials, key=self._rank_key)[:k]

    @property
    def best(self) -> dict:
        """The best trial (a dict with ``params`` and ``score``)."""
        if not self.trials:
            raise ValueError("SearchResults: no trials")
        return self.top(1)[0]

    @property
    def best_params(self) -> dict:
        return self.best["params"]

    def table(self, k: int | None = None) -> str:
        """A text table of the ``k`` best trials (all by default), best first."""
        names = list(self.space)
        header = ["rank", "trial", "round", "score", *names, "seconds"]
        rows = [[str(i + 1), str(t["trial"]), str(t["round"]), f"{t['score']:.4f}",
                 *(_fmt(t["params"][n]) for n in names), f"{t['seconds']:.1f}"] for i, t in enumerate(self.top(k))]
        from ember.viz.tables import format_table

        return format_table(header, rows, rule=False)

    def __str__(self):
        return self.table()

    def __repr__(self):
        best = f", best score {self.best['score']:.4g}" if self.trials else ""
        return f"SearchResults({len(self)} trials, mode={self.mode!r}{best})"

    def to_csv(self, path) -> Path:
        """Write one row per trial: trial, round, score, seconds, then each hyperparameter. Returns the path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        names = list(self.space)
        with path.open("w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["trial", "round", "score", "seconds", *names])
            for t in self.trials:
                writer.writerow([t["trial"], t["round"], t["score"], t["seconds"], *(t["params"][n] for n in names)])
        return path

    def plot(self, path=None, dpi: int = 100):
        """Scatter the score against each hyperparameter, one panel each, coloured by round; the best is starred.

        Log-scaled spaces get a log x axis (``OneMinusLogUniform`` plots 1−β on it); a
        ``Choice`` gets one column per option. Returns the matplotlib ``Figure``; saved as PNG
        when ``path`` is given.
        """
        from matplotlib.figure import Figure

        names = list(self.space)
        cols = min(len(names), 3)
        rows = -(-len(names) // cols)
        fig = Figure(figsize=(4.2 * cols, 3.3 * rows), layout="constrained")
        axes = fig.subplots(rows, cols, squeeze=False).ravel()
        for ax, name in zip(axes, names, strict=False):
            self._panel(ax, name, self.space[name])
        for ax in axes[len(names):]:
            ax.set_visible(False)
        if path is not None:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            fig.savefig(path, dpi=dpi)
        return fig

    def _panel(self, ax, name: str, dim) -> None:
        def position(value):
            if dim.scale == "categorical":
                return dim.options.index(value)
            return 1 - value if dim.scale == "one_minus_log" else value

        rounds = [t["round"] for t in self.trials]
        for r in sorted(set(rounds)):
            picked = [t for t in self.trials if t["round"] == r]
            ax.scatter([position(t["params"][name]) for t in picked], [t["score"] for t in picked], s=18, alpha=0.8,
                       label="coarse" if r == 0 else f"zoom {r}")
        best = self.best
        ax.scatter([position(best["params"][name])], [best["score"]], marker="*", s=160, color="k", label="best")
        if dim.scale in ("log", "one_minus_log"):
            from matplotlib.ticker import NullFormatter

            ax.set_xscale("log")
            ax.xaxis.set_minor_formatter(NullFormatter())  # labelled minor ticks overlap within a decade
        if dim.scale == "categorical":
            ax.set_xticks(range(len(dim.options)), [str(o) for o in dim.options])
        ax.set_xlabel(f"1 - {name}" if dim.scale == "one_minus_log" else name)
        ax.set_ylabel("score")
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")


# -- babysitting one model ("panda") ------------------------------------------------------------------


class BabysitLR(Callback):
    """Change the learning rate of a running ``Trainer`` by hand: write a number into ``path``.

    Before every epoch the file is read; when it holds a learning rate different from the
    optimizer's, every parameter group gets it and a line is printed. A missing or empty
    file changes nothing, and an unreadable one is reported and ignored, so a typo never
    kills a long run. Use it without an ``LRSchedulerCallback`` (a schedule would overwrite
    the hand-set value at its next step).

    >>> trainer = Trainer(model, opt, loss_fn, callbacks=[BabysitLR("runs/exp1/lr.txt"), ModelCheckpoint("runs/exp1")])
    >>> # meanwhile, in a shell:  echo 3e-4 > runs/exp1/lr.txt
    """

    order = -10

    def __init__(self, path, file=None):
        self.path, self.file = Path(path), file

    def on_epoch_begin(self, trainer, epoch):
        text = self.path.read_text().strip() if self.path.is_file() else ""
        if not text:
            return
        try:
            lr = float(text)
            if not (math.isfinite(lr) and lr >= 0):
                raise ValueError(f"a learning rate must be finite and >= 0, got {lr}")
        except ValueError as err:
            print(f"BabysitLR: ignoring {self.path}: {err}", file=self.file or sys.stderr)
            return
        groups = trainer.optimizer.param_groups
        if any(g["lr"] != lr for g in groups):
            for g in groups:
                g["lr"] = lr
            print(f"BabysitLR: epoch {epoch + 1}: learning rate set to {lr:g} from {self.path}",
                  file=self.file or sys.stdout)

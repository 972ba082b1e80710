"""Bias and variance from train and dev error: what is wrong with a model, and what to try next.

The course's reading of the two numbers, against the best error achievable (Bayes error,
approximated by human-level error):

    avoidable bias = train error − Bayes error      (the model does not fit the training set)
    variance       = dev error − train error        (it fits the training set but does not generalise)

Each is "high" when it exceeds a tolerance. High bias comes first: fix it (bigger network,
train longer, better optimiser, another architecture) before variance (more data,
regularisation, another architecture). ``Diagnose`` prints the verdict when a ``Trainer`` run ends.

>>> print(diagnose(train_error=0.01, dev_error=0.11))
train error 1.0%  dev error 11.0%  Bayes error 0.0%
...
verdict: high variance
...
"""
from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field

from ember.train.callbacks import Callback

__all__ = ["BIAS_REMEDIES", "DEFAULT_TOLERANCE", "VARIANCE_REMEDIES", "Diagnose", "Diagnosis", "diagnose"]

# Two percentage points. The course's four textbook cases (train/dev 1/11 %, 15/16 %, 15/30 %,
# 0.5/1 % with Bayes ≈ 0) all read right with it, and it sits above the sampling noise of an
# error rate measured on a dev set of about a thousand examples (standard error √(p(1−p)/n) ≤ 1.6 %).
DEFAULT_TOLERANCE = 0.02

BIAS_REMEDIES = (
    "bigger network (more hidden units or layers)",
    "train longer, or with a better optimiser (momentum, RMSprop, Adam) and tuned learning rate",
    "search for a better architecture (and hyperparameters)",
)
VARIANCE_REMEDIES = (
    "more training data (or data augmentation)",
    "regularisation (L2 / weight decay, dropout, early stopping)",
    "search for a better architecture (and hyperparameters)",
)


def _check_rate(name: str, value) -> float:
    value = float(value)
    if not (math.isfinite(value) and 0.0 <= value <= 1.0):
        raise ValueError(f"diagnose: {name} must be an error rate in [0, 1], got {value}"
                         + (" (pass 1 - accuracy, or a fraction rather than a percentage)" if value > 1 else ""))
    return value


@dataclass
class Diagnosis:
    """The bias/variance reading of one model (build it with ``diagnose``).

    Fields: the three error rates and the tolerance given; ``avoidable_bias`` = train − Bayes,
    ``variance`` = dev − train; ``high_bias`` / ``high_variance`` (each above the tolerance);
    ``verdict`` ('high bias', 'high variance', 'high bias and high variance' or 'neither');
    ``focus`` ('bias', 'variance' or None: the larger gap when something is high, the course's
    "work on the bigger problem first"); ``remedies`` (what to try, bias first).
    """

    train_error: float
    dev_error: float
    bayes_error: float = 0.0
    tolerance: float = DEFAULT_TOLERANCE
    avoidable_bias: float = field(init=False)
    variance: float = field(init=False)
    high_bias: bool = field(init=False)
    high_variance: bool = field(init=False)
    verdict: str = field(init=False)
    focus: str | None = field(init=False)
    remedies: tuple = field(init=False)

    def __post_init__(self):
        self.avoidable_bias = self.train_error - self.bayes_error
        self.variance = self.dev_error - self.train_error
        self.high_bias = self.avoidable_bias > self.tolerance
        self.high_variance = self.variance > self.tolerance
        names = [n for n, high in (("high bias", self.high_bias), ("high variance", self.high_variance)) if high]
        self.verdict = " and ".join(names) or "neither"
        self.focus = None if not names else "bias" if self.avoidable_bias >= self.variance else "variance"
        bias = BIAS_REMEDIES if self.high_bias else ()
        variance = tuple(r for r in VARIANCE_REMEDIES if r not in bias) if self.high_variance else ()
        self.remedies = bias + variance

    def __str__(self):
        def pct(x):
            return f"{100 * x:.1f}%"

        lines = [f"train error {pct(self.train_error)}  dev error {pct(self.dev_error)}  "
                 f"Bayes error {pct(self.bayes_error)}",
                 f"avoidable bias {pct(self.avoidable_bias)} ({'high' if self.high_bias else 'ok'})  "
                 f"variance {pct(self.variance)} ({'high' if self.high_variance else 'ok'})  "
                 f"[tolerance {pct(self.tolerance)}]",
                 f"verdict: {self.verdict}" + (f" (larger gap: {self.focus})" if self.high_bias and self.high_variance
                                               else "")]
        if self.avoidable_bias < 0:
            lines.append("note: training error is below the Bayes estimate (the estimate is too high, "
                         "or the dev set differs from the training set)")
        lines += ["remedies:", *(f"  - {r}" for r in self.remedies)] if self.remedies else ["nothing to fix"]
        return "\n".join(lines)


def diagnose(train_error, dev_error, bayes_error=0.0, tolerance=DEFAULT_TOLERANCE) -> Diagnosis:
    """Judge bias and variance from error rates in [0, 1] (error = 1 − accuracy).

    ``bayes_error`` is the best achievable error (human-level error as its proxy): with
    train 15 %, dev 16 %, the model has high bias when humans reach 0 %, and neither
    problem when the images are so blurry that humans also err 15 % of the time.
    ``tolerance`` is the gap above which bias or variance counts as high (default 0.02,
    two percentage points: the course's textbook cases read right with it and it exceeds
    the sampling noise of a ~1000-example dev set; lower it when errors are themselves tiny).

    >>> diagnose(0.15, 0.16).verdict, diagnose(0.15, 0.16, bayes_error=0.15).verdict
    ('high bias', 'neither')
    >>> diagnose(0.15, 0.30).verdict
    'high bias and high variance'
    """
    train_error, dev_error = _check_rate("train_error", train_error), _check_rate("dev_error", dev_error)
    bayes_error = _check_rate("bayes_error", bayes_error)
    tolerance = float(tolerance)
    if not (math.isfinite(tolerance) and tolerance >= 0):
        raise ValueError(f"diagnose: tolerance must be a finite number >= 0, got {tolerance}")
    return Diagnosis(train_error, dev_error, bayes_error, tolerance)


class Diagnose(Callback):
    """Print the bias/variance ``Diagnosis`` when training ends, from the last epoch's errors.

    Error = 1 − ``metric`` (an accuracy-like score, default ``'accuracy'``); the dev error is
    the last epoch's ``dev_<metric>``. The train error is the last epoch's running ``metric``
    (measured in training mode, while the weights moved, with dropout on) unless
    ``train_loader`` is given, in which case the final model is evaluated on it — the
    course's definition. Without a dev set or the metric it stays silent (so it can be
    on by default). The result is kept in ``self.diagnosis``.

    >>> Trainer(model, opt, loss_fn, callbacks=[Diagnose(bayes_error=0.01)])
    """

    order = 30  # after EarlyStopping may have restored the best weights
    rank_zero_only = True  # in a distributed run only rank 0 prints

    def __init__(self, bayes_error: float = 0.0, tolerance: float = DEFAULT_TOLERANCE, metric: str = "accuracy",
                 train_loader=None, file=None):
        _check_rate("bayes_error", bayes_error)
        self.bayes_error, self.tolerance, self.metric = float(bayes_error), float(tolerance), metric
        self.train_loader, self.file = train_loader, file
        self.diagnosis: Diagnosis | None = None

    def on_train_end(self, trainer):
        self.diagnosis = None
        last = trainer.history.last
        if self.metric not in last or f"dev_{self.metric}" not in last:
            return
        train_score = last[self.metric]
        if self.train_loader is not None:
            train_score = trainer.evaluate(self.train_loader)[self.metric]
        self.diagnosis = diagnose(1 - train_score, 1 - last[f"dev_{self.metric}"], self.bayes_error, self.tolerance)
        print(f"bias/variance diagnosis\n{self.diagnosis}", file=self.file or sys.stdout, flush=True)

"""Optimisers (SGD, ASGD, RMSprop, Rprop, Adagrad, Adadelta, Adam, AdamW, Adamax, NAdam, RAdam, LBFGS),
learning-rate schedulers and moving averages.

>>> opt = em.optim.Adam(model.parameters(), lr=1e-3)
>>> sched = em.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=50)
>>> for epoch in range(50):
...     for x, y in loader:
...         opt.zero_grad(); F.cross_entropy(model(x), y).backward(); opt.step()
...     sched.step()
"""
from ember.optim import lr_scheduler
from ember.optim.adagrad import Adadelta, Adagrad
from ember.optim.adam import Adam, Adamax, AdamW, NAdam, RAdam
from ember.optim.ema import ExponentialMovingAverage
from ember.optim.groups import param_groups, warmup_cosine
from ember.optim.lbfgs import LBFGS
from ember.optim.optimizer import Optimizer
from ember.optim.rmsprop import RMSprop
from ember.optim.rprop import Rprop
from ember.optim.sgd import ASGD, SGD

__all__ = ["SGD", "ASGD", "RMSprop", "Rprop", "Adagrad", "Adadelta", "Adam", "AdamW", "Adamax", "NAdam", "RAdam",
           "LBFGS", "Optimizer", "ExponentialMovingAverage", "lr_scheduler", "param_groups", "warmup_cosine"]

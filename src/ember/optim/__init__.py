"""Optimisers (SGD, RMSprop, Adam, AdamW), learning-rate schedulers and moving averages.

>>> opt = em.optim.Adam(model.parameters(), lr=1e-3)
>>> sched = em.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=50)
>>> for epoch in range(50):
...     for x, y in loader:
...         opt.zero_grad(); F.cross_entropy(model(x), y).backward(); opt.step()
...     sched.step()
"""
from ember.optim import lr_scheduler
from ember.optim.adam import Adam, AdamW
from ember.optim.ema import ExponentialMovingAverage
from ember.optim.optimizer import Optimizer
from ember.optim.rmsprop import RMSprop
from ember.optim.sgd import SGD

__all__ = ["SGD", "RMSprop", "Adam", "AdamW", "Optimizer", "ExponentialMovingAverage", "lr_scheduler"]

"""log Γ and ψ (``ember.ops.special``) and the ``ember.special`` namespace against PyTorch."""
import numpy as np
import pytest
import torch

import ember as em
from ember.testing import gradcheck
from torch_parity import assert_close, check_op

RNG = np.random.default_rng(11)


def test_lgamma_and_digamma_match_torch_and_finite_differences():
    x = np.concatenate([RNG.uniform(0.05, 30.0, 40), [0.5, 1.0, 2.0, 1e-3], -RNG.uniform(0.1, 3.9, 6) - 0.05])
    assert_close(em.lgamma(em.tensor(x)), torch.lgamma(torch.tensor(x)), rtol=1e-12, atol=1e-12)
    assert_close(em.digamma(em.tensor(x)), torch.digamma(torch.tensor(x)), rtol=1e-11, atol=1e-11)
    pos = em.tensor(RNG.uniform(0.2, 8.0, 6), requires_grad=True)
    assert gradcheck(em.lgamma, [pos]) and gradcheck(em.digamma, [pos])
    check_op(em.lgamma, torch.lgamma, [RNG.uniform(0.2, 8.0, (3, 4))])
    check_op(lambda x: x.digamma(), lambda x: x.digamma(), [RNG.uniform(0.2, 8.0, (3, 4))])
    check_op(em.lgamma, torch.lgamma, [np.array([1, 2, 5])], backward=False)  # integers give float32


SPECIAL = [  # (name in both namespaces, input generator)
    ("expit", lambda: RNG.standard_normal((3, 4))), ("logit", lambda: RNG.uniform(0.1, 0.9, (3, 4))),
    ("erf", lambda: RNG.standard_normal(5)), ("erfc", lambda: RNG.standard_normal(5)),
    ("gammaln", lambda: RNG.uniform(0.2, 5.0, 5)), ("digamma", lambda: RNG.uniform(0.2, 5.0, 5)),
    ("psi", lambda: RNG.uniform(0.2, 5.0, 5)), ("log1p", lambda: RNG.uniform(0.0, 2.0, 5)),
    ("expm1", lambda: RNG.standard_normal(5)), ("exp2", lambda: RNG.standard_normal(5)),
    ("ndtr", lambda: RNG.standard_normal(5)),
]


@pytest.mark.parametrize("name, draw", SPECIAL, ids=[row[0] for row in SPECIAL])
def test_special_namespace_matches_torch_special(name, draw):
    check_op(getattr(em.special, name), getattr(torch.special, name), [draw()])


def test_special_reductions_and_xlogy():
    x = RNG.standard_normal((3, 4))
    check_op(lambda t: em.special.logsumexp(t, 1), lambda t: torch.special.logsumexp(t, 1), [x])
    check_op(lambda t: em.special.softmax(t, 0), lambda t: torch.special.softmax(t, 0), [x])
    check_op(lambda t: em.special.log_softmax(t, 1), lambda t: torch.special.log_softmax(t, 1), [x])
    check_op(em.special.xlogy, torch.special.xlogy, [RNG.uniform(0.1, 2, 4), RNG.uniform(0.1, 2, 4)])

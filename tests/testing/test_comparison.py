"""``em.testing.assert_close`` decides as ``torch.testing.assert_close`` does, with its messages."""
import numpy as np
import pytest
import torch

import ember as em

NAN, INF = float("nan"), float("inf")
PAIRS = [  # (actual, expected, keywords): each as the same values in both frameworks
    ([1.0, 2.0], [1.0, 2.0 + 1e-6], {}),
    ([1.0, 2.0], [1.0, 2.0001], {}),
    ([1.0, 2.0], [1.0, 2.0001], dict(rtol=1e-3, atol=0.0)),
    ([1.0, NAN], [1.0, NAN], {}),
    ([1.0, NAN], [1.0, NAN], dict(equal_nan=True)),
    ([INF, -INF], [INF, -INF], {}),
    ([INF], [-INF], {}),
    ([1, 2], [1, 3], {}),
    ([1, 2], [1, 2], {}),
    ([[1e-6]], [[0.0]], {}),
    ([[2e-5]], [[0.0]], {}),
]


def _passes(check, *args, **kwargs) -> bool:
    try:
        check(*args, **kwargs)
    except AssertionError:
        return False
    return True


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16"])
@pytest.mark.parametrize("actual, expected, kwargs", PAIRS)
def test_decides_as_torch(actual, expected, kwargs, dtype):
    if isinstance(actual[0], int):
        dtype = "int64"
    ours = _passes(em.testing.assert_close, em.tensor(actual, dtype=getattr(em, dtype)),
                   em.tensor(expected, dtype=getattr(em, dtype)), **kwargs)
    theirs = _passes(torch.testing.assert_close, torch.tensor(actual, dtype=getattr(torch, dtype)),
                     torch.tensor(expected, dtype=getattr(torch, dtype)), **kwargs)
    assert ours == theirs


def test_message_names_the_mismatch_like_torch():
    with pytest.raises(AssertionError) as ours:
        em.testing.assert_close(em.tensor([1.0, 2.0, 3.0]), em.tensor([1.0, 2.5, 3.0]))
    with pytest.raises(AssertionError) as theirs:
        torch.testing.assert_close(torch.tensor([1.0, 2.0, 3.0]), torch.tensor([1.0, 2.5, 3.0]))
    assert str(ours.value).splitlines() == str(theirs.value).splitlines()
    assert "Greatest absolute difference: 0.5 at index (1,) (up to 1e-05 allowed)" in str(ours.value)


def test_shape_dtype_and_containers():
    with pytest.raises(AssertionError, match="'shape' do not match"):
        em.testing.assert_close(em.zeros(2), em.zeros(3))
    with pytest.raises(AssertionError, match="'dtype' do not match"):
        em.testing.assert_close(em.zeros(2), em.zeros(2, dtype=em.float64))
    em.testing.assert_close(em.zeros(2), em.zeros(2, dtype=em.float64), check_dtype=False)
    em.testing.assert_close({"w": [em.ones(2), 3.0]}, {"w": [em.ones(2), 3.0]})
    em.testing.assert_close(1.0, 1.0 + 1e-9)
    em.testing.assert_close(np.ones(3), np.ones(3))
    with pytest.raises(AssertionError, match=r"item \['w'\]\[1\]"):
        em.testing.assert_close({"w": [em.ones(2), 3.0]}, {"w": [em.ones(2), 4.0]})
    with pytest.raises(AssertionError, match="length of the sequences"):
        em.testing.assert_close([em.ones(1)], [em.ones(1), em.ones(1)])
    with pytest.raises(AssertionError, match="custom"):
        em.testing.assert_close(em.ones(1), em.zeros(1), msg="custom")
    with pytest.raises(ValueError, match="Both 'rtol' and 'atol'"):
        em.testing.assert_close(em.ones(1), em.ones(1), rtol=1e-3)
    with pytest.raises(TypeError, match="No comparison"):
        em.testing.assert_close("a", "a")

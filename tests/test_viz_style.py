"""cnnlab.viz.style: the one number formatter and the symmetric colour limits."""
import numpy as np
import pytest

from cnnlab.viz.style import format_number, signed_limit


@pytest.mark.parametrize("value, kwargs, text", [
    (10, dict(digits=0), "10"), (100.0, {}, "100"), (2.5, dict(digits=0), "2"),
    (3, dict(fixed=True), "3.00"), (1.1, dict(fixed=True), "1.10"), (-0.001, dict(fixed=True), "0.00"),
    (-2.02, dict(fixed=True), "−2.02"), (0.1111, dict(digits=3), "0.111"),
    (-np.inf, {}, "−∞"), (np.inf, {}, "∞"), (np.nan, {}, "nan"), (np.float32(-1.5), {}, "−1.5"),
])
def test_format_number_more_cases(value, kwargs, text):
    assert format_number(value, **kwargs) == text


def test_signed_limit():
    a = np.array([[-3.0, 1.0], [2.0, -np.inf]])
    assert signed_limit(a) == 3.0                           # padding (−∞) is left out
    assert signed_limit(np.zeros(4)) == 1.0 and signed_limit() == 1.0
    assert signed_limit(a, [5.0]) == 5.0                    # one limit over several arrays
    x = np.r_[np.ones(99), 100.0]
    assert signed_limit(x, robust=True) == pytest.approx(np.percentile(x, 98))
    assert signed_limit(np.r_[np.zeros(99), 7.0], robust=True) == 7.0   # percentile 0: the max

"""cnnlab.gradcheck: finite differences find correct gradients and catch wrong ones."""
import numpy as np
import pytest

from cnnlab import functional as F
from cnnlab.gradcheck import check_gradients, numerical_gradient, rel_error


def test_numerical_gradient_of_known_functions():
    x = np.array([1.0, -2.0, 3.0])
    np.testing.assert_allclose(numerical_gradient(lambda v: v ** 2, x), 2 * x, atol=1e-6)
    np.testing.assert_allclose(numerical_gradient(lambda v: (v ** 3).sum(), x), 3 * x ** 2,
                               atol=1e-5)
    g = np.array([0.5, 1.0, -1.0])
    np.testing.assert_allclose(numerical_gradient(np.sin, x, g), g * np.cos(x), atol=1e-8)


def test_numerical_gradient_works_in_float64_and_leaves_input_alone():
    x = np.array([[0.1, 0.2]], dtype=np.float32)
    before = x.copy()
    grad = numerical_gradient(lambda v: v * v, x)
    assert grad.dtype == np.float64 and grad.shape == x.shape
    np.testing.assert_array_equal(x, before)
    np.testing.assert_allclose(grad, 2 * before.astype(np.float64), rtol=1e-6)


def test_numerical_gradient_shape_mismatch():
    with pytest.raises(ValueError, match="grad_output"):
        numerical_gradient(lambda v: v, np.zeros(3), np.zeros(4))


def test_rel_error():
    assert rel_error([1.0, 2.0], [1.0, 2.0]) == 0.0
    assert rel_error([1.0], [3.0]) == pytest.approx(0.5)
    assert rel_error([0.0], [0.0]) == 0.0
    assert rel_error(np.array([1e-9]), np.array([0.0])) == pytest.approx(0.1)
    with pytest.raises(ValueError, match="shapes"):
        rel_error(np.zeros(2), np.zeros(3))


def test_check_gradients_passes_correct_and_flags_wrong_backward():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 2, 5, 5))
    w = rng.normal(size=(3, 2, 3, 3))
    g = rng.normal(size=(2, 3, 3, 3))
    gx, gw, _ = F.conv2d_backward(g, x, w)
    errs = check_gradients(F.conv2d, {"input": x, "weight": w}, g, {"input": gx, "weight": gw})
    assert set(errs) == {"input", "weight"}
    assert max(errs.values()) < 1e-5
    # a classic bug: flipping the kernel in the weight gradient
    bad = check_gradients(F.conv2d, {"input": x, "weight": w}, g, {"weight": gw[:, :, ::-1, ::-1]})
    assert bad["weight"] > 1e-2
    # keyword arguments that are not differentiated are passed through
    out = F.conv2d(x, w, stride=2, padding=1)
    g2 = rng.normal(size=out.shape)
    gx2, _, _ = F.conv2d_backward(g2, x, w, stride=2, padding=1)
    errs = check_gradients(F.conv2d, {"input": x, "weight": w, "stride": 2, "padding": 1}, g2,
                           {"input": gx2})
    assert errs["input"] < 1e-5
    with pytest.raises(KeyError, match="bias"):
        check_gradients(F.conv2d, {"input": x, "weight": w}, g, {"bias": np.zeros(3)})


def test_docstring_examples_run():
    import doctest

    import cnnlab.functional
    import cnnlab.gradcheck
    for mod in (cnnlab.functional, cnnlab.gradcheck):
        result = doctest.testmod(mod, optionflags=doctest.NORMALIZE_WHITESPACE)
        assert result.failed == 0, mod.__name__
        assert result.attempted > 0

"""The naive loop references are themselves checked against independent oracles (scipy, torch,
hand-computed values), so that they can serve as a second oracle for cnnlab.functional."""
import numpy as np
import pytest
import scipy.signal as ss

from cnnlab import reference as R


def test_correlate2d_naive_worked_example_and_scipy():
    x = np.arange(9).reshape(3, 3)
    assert R.correlate2d_naive(x, [[0, 1], [2, 3]]).tolist() == [[19, 25], [37, 43]]
    rng = np.random.default_rng(0)
    for _ in range(5):
        a = rng.normal(size=(6, 7))
        k = rng.normal(size=(3, 2))
        np.testing.assert_allclose(R.correlate2d_naive(a, k), ss.correlate2d(a, k, "valid"))


def test_conv2d_naive_is_sum_of_channel_correlations():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 3, 6, 5))
    w = rng.normal(size=(4, 3, 3, 2))
    b = rng.normal(size=4)
    out = R.conv2d_naive(x, w, b)
    for n in range(2):
        for o in range(4):
            want = sum(ss.correlate2d(x[n, c], w[o, c], "valid") for c in range(3)) + b[o]
            np.testing.assert_allclose(out[n, o], want)


def test_naive_pool_by_hand():
    x = np.array([[[[1.0, 2.0, 0.0, 0.0],
                    [3.0, 4.0, 0.0, 5.0],
                    [0.0, 0.0, 1.0, 1.0],
                    [0.0, 7.0, 1.0, 1.0]]]])
    out, idx = R.max_pool2d_naive(x, 2)
    assert out[0, 0].tolist() == [[4.0, 5.0], [7.0, 1.0]]
    assert idx[0, 0].tolist() == [[5, 7], [13, 10]]          # ties: first maximum
    assert R.avg_pool2d_naive(x, 2)[0, 0].tolist() == [[2.5, 1.25], [1.75, 1.0]]
    # padding 1, count_include_pad False: the corner window holds only x[0, 0]
    assert R.avg_pool2d_naive(x, 2, padding=1, count_include_pad=False)[0, 0, 0, 0] == 1.0
    assert R.avg_pool2d_naive(x, 2, padding=1)[0, 0, 0, 0] == 0.25


def test_naive_against_torch():
    torch = pytest.importorskip("torch")
    TF = torch.nn.functional
    rng = np.random.default_rng(2)
    x = np.maximum(rng.normal(size=(2, 2, 7, 6)), 0)
    w = rng.normal(size=(3, 2, 3, 2))
    b = rng.normal(size=3)
    T = torch.tensor
    np.testing.assert_allclose(R.conv2d_naive(x, w, b, (2, 1), (1, 2), (1, 2)),
                               TF.conv2d(T(x), T(w), T(b), (2, 1), (1, 2), (1, 2)).numpy(),
                               atol=1e-12)
    x1, w1 = x[:, :, 0], w[:, :, 0]
    np.testing.assert_allclose(R.conv1d_naive(x1, w1, b, 2, 1, 2),
                               TF.conv1d(T(x1), T(w1), T(b), 2, 1, 2).numpy(), atol=1e-12)
    out, idx = R.max_pool2d_naive(x, 3, 2, 1, 2)
    ref, ref_idx = TF.max_pool2d(T(x), 3, 2, 1, 2, return_indices=True)
    np.testing.assert_array_equal(out, ref.numpy())
    np.testing.assert_array_equal(idx, ref_idx.numpy())
    for cip in (True, False):
        np.testing.assert_allclose(R.avg_pool2d_naive(x, 3, 2, 1, cip),
                                   TF.avg_pool2d(T(x), 3, 2, 1, count_include_pad=cip).numpy(),
                                   atol=1e-12)

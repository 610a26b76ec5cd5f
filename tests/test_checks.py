"""The exercise checks can pass AND fail, for the right reasons.

* every check passes cnnlab's reference, the naive loop oracles of ``cnnlab.reference`` and the
  solution notebook's own function;
* every exercise fails a set of planted common mistakes (deliberately wrong student code,
  written here) with the right diagnosis in the printed text;
* the text is deterministic; student errors never raise out of ``check``; inputs are copies;
* ``evaluate_outputs`` (the grader's seam) gives the same verdict from data.
"""
from __future__ import annotations

import math
import operator
from pathlib import Path

import nbformat
import numpy as np
import pytest

import cnnlab
from cnnlab import checks, reference
from cnnlab.checks import engine
from cnnlab.checks import (EXERCISES, CheckFailed, CheckResult, ErrorResult, check,
                           evaluate_outputs)

ROOT = Path(__file__).resolve().parents[1]


def run(capsys, name, fn):
    """check(name, fn): its CheckResult (returned, or carried by the CheckFailed it raised) and
    the printed report."""
    try:
        result = check(name, fn)
    except CheckFailed as exc:
        result = exc.result
        assert not result.passed
    else:
        assert result.passed
    text = capsys.readouterr().out
    return result, text


# =========================================================================== correct answers

def _pair(v):
    return (v, v) if isinstance(v, (int, np.integer)) else tuple(v)


NAIVE = {
    "corr2d": reference.correlate2d_naive,
    "conv2d_true": lambda x, k: reference.correlate2d_naive(x, k[::-1, ::-1]),
    "corr2d_strided": lambda x, k, stride=1, padding=0, dilation=1: reference.conv2d_naive(
        x[None, None], k[None, None], stride=stride, padding=padding, dilation=dilation)[0, 0],
    "conv2d_forward": lambda x, w, b, stride=1, padding=0: reference.conv2d_naive(
        x, w, b, stride=stride, padding=padding),
    "max_pool2d": lambda x, kernel_size, stride=None: reference.max_pool2d_naive(x, kernel_size, stride)[0],
    "avg_pool2d": lambda x, kernel_size, stride=None: reference.avg_pool2d_naive(x, kernel_size, stride),
}


@pytest.mark.parametrize("name", list(EXERCISES))
def test_reference_passes_its_own_check(name):
    ex = EXERCISES[name]
    outputs = {c.name: ex.reference(*c.args, **c.kwargs) for c in ex.cases()}
    result = evaluate_outputs(name, outputs)
    assert result.passed, str(result)
    assert result.points_earned(ex.points) == ex.points


@pytest.mark.parametrize("name", sorted(NAIVE))
def test_naive_loop_oracle_passes(capsys, name):
    result, text = run(capsys, name, NAIVE[name])
    assert result, text
    assert "All" in text and "passed" in text


def _solution_namespaces():
    """Execute every solution notebook's code (not its check cells) in a namespace."""
    spaces = {}
    for path in sorted((ROOT / "solutions").glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        ns: dict = {}
        for cell in nb.cells:
            if cell.cell_type == "code" and not cell.metadata.get("nbgrader", {}).get("grade"):
                exec(compile(cell.source, f"{path.name}:{cell.id}", "exec"), ns)
        for cell in nb.cells:
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
            if cell.metadata.get("nbgrader", {}).get("grade"):
                spaces[grade_id] = (path.name, ns)
    return spaces


def test_every_exercise_has_a_solution_notebook_cell():
    spaces = _solution_namespaces()
    assert sorted(spaces) == sorted(EXERCISES)
    lessons = {EXERCISES[name].lesson for name in spaces}
    assert lessons == set(range(1, 10))            # every lesson has exercises


def test_solution_notebook_functions_pass(capsys):
    spaces = _solution_namespaces()
    capsys.readouterr()
    for name, (nb_name, ns) in spaces.items():
        fn = ns[EXERCISES[name].function_name]
        result, text = run(capsys, name, fn)
        assert result, f"{nb_name}: {text}"


def test_solution_notebook_metadata_matches_registry():
    for path in sorted((ROOT / "solutions").glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            meta = cell.metadata.get("nbgrader")
            if not meta:
                continue
            assert meta["schema_version"] == 3
            if meta.get("grade"):
                ex = EXERCISES[meta["grade_id"]]
                assert meta == {"grade": True, "grade_id": ex.name, "locked": True,
                                "points": ex.points, "schema_version": 3, "solution": False,
                                "task": False}
                # self-contained (needs no editable cell), the check's value last, no hidden tests
                assert cell.source == f'import cnnlab\ncnnlab.check("{ex.name}", {ex.function_name})'
            elif meta.get("locked") and not meta.get("solution"):
                # a read-only cell the student uses (lesson 8's layer under test): nbgrader
                # restores it if changed; nothing in it is graded or cleared
                assert meta == {"grade": False, "grade_id": meta["grade_id"], "locked": True,
                                "schema_version": 3, "solution": False, "task": False}
                assert meta["grade_id"] not in EXERCISES and "### BEGIN" not in cell.source
            else:
                assert meta["solution"] is True and meta["locked"] is False
                assert meta["grade_id"].endswith("-impl")
                assert "### BEGIN SOLUTION" in cell.source and "### END SOLUTION" in cell.source


# =========================================================================== planted mistakes

def corr2d_student(x, k, flip=False, plus=1, transpose=False, dtype=None, nan_last=False,
                   out_like_input=False):
    """A loop cross-correlation with optional, deliberate mistakes."""
    if flip:
        k = k[::-1, ::-1]
    H, W = x.shape
    kH, kW = k.shape
    oh, ow = H - kH + plus, W - kW + plus
    shape = x.shape if out_like_input else (oh, ow)
    out = np.zeros(shape, dtype=dtype or x.dtype)
    if nan_last:
        out[:] = np.nan
        ow -= 1
    for i in range(oh):
        for j in range(ow):
            out[i, j] = np.sum(x[i:i + kH, j:j + kW] * k)
    return out.T.copy() if transpose else out


def _index_error(x, k):
    H, W = x.shape
    kH, kW = k.shape
    out = np.zeros((H - kH + 1, W - kW + 1), dtype=x.dtype)
    for i in range(H - kH + 1):
        for j in range(W - kW + 1):
            for a in range(kH + 1):
                for b in range(kW):
                    out[i, j] += x[i + a, j + b] * k[a, b]
    return out


def _mutates_input(x, k):
    out = corr2d_student(x, k)
    x[...] = 0      # vandalises its input: later cases must not notice
    k[...] = 0
    return out


def _not_implemented(*args, **kwargs):
    raise NotImplementedError()


CORR2D_MISTAKES = {
    "flipped": (lambda x, k: corr2d_student(x, k, flip=True), "kernel flipped"),
    "missing +1": (lambda x, k: corr2d_student(x, k, plus=0), "missing +1"),
    "transposed": (lambda x, k: corr2d_student(x, k, transpose=True), "H and W swapped"),
    "float64 always": (lambda x, k: corr2d_student(x, k, dtype=np.float64), "wrong dtype"),
    "nan": (lambda x, k: corr2d_student(x, k, nan_last=True), "contains NaN"),
    "input shape": (lambda x, k: corr2d_student(x, k, out_like_input=True), "output has the input's shape"),
    "index error": (_index_error, "raised IndexError"),
    "list": (lambda x, k: corr2d_student(x, k).tolist(), "return a NumPy array"),
    "no return": (lambda x, k: None, "forget the `return`"),
    "not implemented": (_not_implemented, "not implemented yet: replace `raise NotImplementedError()`"),
}


def conv_true_student(x, k, flip="both", mode="valid"):
    """A loop true convolution with optional, deliberate mistakes in the flip or the mode."""
    k = {"both": k[::-1, ::-1], "none": k, "rows": k[::-1, :], "cols": k[:, ::-1], "T": k.T}[flip]
    if mode == "full":
        x = np.pad(x, ((k.shape[0] - 1,) * 2, (k.shape[1] - 1,) * 2))
    return corr2d_student(x, k)


CONV_TRUE_MISTAKES = {
    "not flipped": (lambda x, k: conv_true_student(x, k, flip="none"), "kernel not flipped: that is "
                    "the CROSS-CORRELATION"),
    "rows only": (lambda x, k: conv_true_student(x, k, flip="rows"), "kernel flipped along one axis only"),
    "columns only": (lambda x, k: conv_true_student(x, k, flip="cols"), "kernel flipped along one axis only"),
    "transposed": (lambda x, k: conv_true_student(x, k, flip="T"), "kernel transposed instead of rotated"),
    "full mode": (lambda x, k: conv_true_student(x, k, mode="full"), "zero padding used ('full' mode)"),
    "float64 always": (lambda x, k: conv_true_student(x, k).astype(np.float64), "wrong dtype"),
}


def same_student(image, kernel, pads=(1, 1, 1, 1), mode="constant", flip=False):
    if flip:
        kernel = kernel[::-1, ::-1]
    t, b, l, r = pads
    p = np.pad(image, ((t, b), (l, r)), mode=mode)
    H, W = p.shape[0] - 2, p.shape[1] - 2
    out = np.zeros((H, W), dtype=image.dtype)
    for i in range(H):
        for j in range(W):
            out[i, j] = np.sum(p[i:i + 3, j:j + 3] * kernel)
    return out


SAME_MISTAKES = {
    "flipped": (lambda im, k: same_student(im, k, flip=True), "kernel flipped"),
    "no padding": (lambda im, k: same_student(im, k, pads=(0, 0, 0, 0)), "no padding"),
    "top-left 2": (lambda im, k: same_student(im, k, pads=(2, 0, 2, 0)), "padding on one side only"),
    "bottom-right 2": (lambda im, k: same_student(im, k, pads=(0, 2, 0, 2)), "padding on one side only"),
    "edge": (lambda im, k: same_student(im, k, mode="edge"), "edge values used as padding"),
}

SX = np.array([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])


def sobel_student(image, combine="hypot", pads=(1, 1, 1, 1), mode="constant"):
    gx = same_student(image, SX, pads, mode)
    gy = same_student(image, SX.T, pads, mode)
    return {"hypot": lambda: np.sqrt(gx ** 2 + gy ** 2), "x": lambda: np.abs(gx),
            "square": lambda: gx ** 2 + gy ** 2, "abs": lambda: np.abs(gx) + np.abs(gy),
            "plain": lambda: gx + gy}[combine]()


SOBEL_MISTAKES = {
    "x only": (lambda im: sobel_student(im, "x"), "only the x gradient"),
    "no sqrt": (lambda im: sobel_student(im, "square"), "square root missing"),
    "abs sum": (lambda im: sobel_student(im, "abs"), "|Gx| + |Gy|"),
    "no squares": (lambda im: sobel_student(im, "plain"), "added without squaring"),
    "edge": (lambda im: sobel_student(im, mode="edge"), "edge values used as padding"),
    "valid": (lambda im: sobel_student(im, pads=(0, 0, 0, 0)), "no padding"),
}

OUTPUT_SIZE_MISTAKES = {
    "ceil": (lambda n, f, s=1, p=0, d=1: math.ceil((n + 2 * p - d * (f - 1) - 1) / s) + 1,
             "ceil instead of floor"),
    "missing +1": (lambda n, f, s=1, p=0, d=1: (n + 2 * p - d * (f - 1) - 1) // s, "missing +1"),
    "no dilation": (lambda n, f, s=1, p=0, d=1: (n + 2 * p - f) // s + 1, "dilation ignored"),
    "p once": (lambda n, f, s=1, p=0, d=1: (n + p - d * (f - 1) - 1) // s + 1, "padding counted once"),
    "no stride": (lambda n, f, s=1, p=0, d=1: n + 2 * p - d * (f - 1), "stride ignored"),
    "true division": (lambda n, f, s=1, p=0, d=1: (n + 2 * p - d * (f - 1) - 1) / s + 1,
                      "unfloored value"),
    "float": (lambda n, f, s=1, p=0, d=1: float((n + 2 * p - d * (f - 1) - 1) // s + 1),
              "right value, but a float"),
}


def strided_student(x, k, stride=1, padding=0, dilation=1, use_stride=True, use_dilation=True,
                    pads=None, flip=False, plus=1, transpose=False, ceil=False):
    s = stride if use_stride else 1
    d = dilation if use_dilation else 1
    p = padding
    if flip:
        k = k[::-1, ::-1]
    t, b, l, r = pads(p) if pads else (p, p, p, p)
    xp = np.pad(x, ((t, b), (l, r)))
    kH, kW = k.shape
    span_h, span_w = d * (kH - 1) + 1, d * (kW - 1) + 1
    rnd = (lambda a: -(-a // s)) if ceil else (lambda a: a // s)
    oh = rnd(xp.shape[0] - span_h) + plus
    ow = rnd(xp.shape[1] - span_w) + plus
    out = np.zeros((oh, ow), dtype=x.dtype)
    for i in range(oh):
        for j in range(ow):
            out[i, j] = np.sum(xp[i * s:i * s + span_h:d, j * s:j * s + span_w:d] * k)
    return out.T.copy() if transpose else out


STRIDED_MISTAKES = {
    "no stride": (lambda *a, **kw: strided_student(*a, **kw, use_stride=False), "stride ignored"),
    "no dilation": (lambda *a, **kw: strided_student(*a, **kw, use_dilation=False), "dilation ignored"),
    "top-left only": (lambda *a, **kw: strided_student(*a, **kw, pads=lambda p: (p, 0, p, 0)),
                      "padding on one side only"),
    "2p bottom-right": (lambda *a, **kw: strided_student(*a, **kw, pads=lambda p: (0, 2 * p, 0, 2 * p)),
                        "padding on one side only"),
    "flipped": (lambda *a, **kw: strided_student(*a, **kw, flip=True), "kernel flipped"),
    "missing +1": (lambda *a, **kw: strided_student(*a, **kw, plus=0), "missing +1"),
    "transposed": (lambda *a, **kw: strided_student(*a, **kw, transpose=True), "H and W swapped"),
    "ceil": (lambda *a, **kw: strided_student(*a, **kw, ceil=True), "ran past the edge"),
}


def conv_student(x, w, b, stride=1, padding=0, bias=1, channels="sum", use_stride=True,
                 pads=None, flip=False, dtype=None):
    N, C_in, H, W = x.shape
    C_out, _, kH, kW = w.shape
    s = stride if use_stride else 1
    p = padding
    t, bo, l, r = pads(p) if pads else (p, p, p, p)
    xp = np.pad(x, ((0, 0), (0, 0), (t, bo), (l, r)))
    if flip:
        w = w[..., ::-1, ::-1]
    OH, OW = (xp.shape[2] - kH) // s + 1, (xp.shape[3] - kW) // s + 1
    out = np.zeros((N, C_out, OH, OW), dtype=dtype or x.dtype)
    for n in range(N):
        for co in range(C_out):
            for i in range(OH):
                for j in range(OW):
                    win = xp[n, :, i * s:i * s + kH, j * s:j * s + kW]
                    if channels == "sum":
                        v = np.sum(win * w[co])
                    else:  # "=" instead of "+=" in the loop over input channels
                        for ci in range(C_in):
                            v = np.sum(win[ci] * w[co, ci])
                    out[n, co, i, j] = v + bias * b[co]
    return out


CONV_MISTAKES = {
    "no bias": (lambda *a, **kw: conv_student(*a, **kw, bias=0), "bias missing"),
    "bias twice": (lambda *a, **kw: conv_student(*a, **kw, bias=2), "bias added twice"),
    "channels overwritten": (lambda *a, **kw: conv_student(*a, **kw, channels="last"), "channels not summed"),
    "no stride": (lambda *a, **kw: conv_student(*a, **kw, use_stride=False), "stride ignored"),
    "one side": (lambda *a, **kw: conv_student(*a, **kw, pads=lambda p: (p, 0, p, 0)), "padding on one side only"),
    "flipped": (lambda *a, **kw: conv_student(*a, **kw, flip=True), "kernel flipped"),
    "float64": (lambda *a, **kw: conv_student(*a, **kw, dtype=np.float64), "wrong dtype"),
}


def pool_student(x, kernel_size, stride=None, op="max", default_stride=None, swap=False,
                 ceil=False, plus=1, divisor=None):
    kH, kW = _pair(kernel_size)
    if stride is None:
        stride = default_stride or (kH, kW)
    sH, sW = _pair(stride)
    if swap:
        kH, kW, sH, sW = kW, kH, sW, sH
    N, C, H, W = x.shape
    if ceil:
        OH, OW = -(-(H - kH) // sH) + 1, -(-(W - kW) // sW) + 1
    else:
        OH, OW = (H - kH) // sH + plus, (W - kW) // sW + plus
    out = np.zeros((N, C, OH, OW), dtype=x.dtype)
    for i in range(OH):
        for j in range(OW):
            win = x[:, :, i * sH:i * sH + kH, j * sW:j * sW + kW]
            if op == "max":
                out[:, :, i, j] = win.max(axis=(2, 3))
            elif op == "mean":
                out[:, :, i, j] = win.mean(axis=(2, 3))
            else:  # a sum divided by the student's count
                out[:, :, i, j] = win.sum(axis=(2, 3)) / divisor(kH, kW)
    return out


MAX_POOL_MISTAKES = {
    "stride 1": (lambda *a, **kw: pool_student(*a, **kw, default_stride=1), "stride defaulted to 1"),
    "mean": (lambda *a, **kw: pool_student(*a, **kw, op="mean"), "average instead of maximum"),
    "swapped": (lambda *a, **kw: pool_student(*a, **kw, swap=True), "H and W swapped"),
    "ceil": (lambda *a, **kw: pool_student(*a, **kw, ceil=True), "partial windows kept"),
    "missing +1": (lambda *a, **kw: pool_student(*a, **kw, plus=0), "missing +1"),
}

AVG_POOL_MISTAKES = {
    "sum": (lambda *a, **kw: pool_student(*a, **kw, op="div", divisor=lambda h, w: 1), "sum instead of average"),
    "by kH": (lambda *a, **kw: pool_student(*a, **kw, op="div", divisor=lambda h, w: h),
              "divided by the wrong count"),
    "max": (lambda *a, **kw: pool_student(*a, **kw, op="max"), "maximum instead of average"),
    "stride 1": (lambda *a, **kw: pool_student(*a, **kw, op="mean", default_stride=1), "stride defaulted to 1"),
    "ceil": (lambda *a, **kw: pool_student(*a, **kw, op="mean", ceil=True), "partial windows kept"),
}


def conv_bwd_student(dout, x, w, stride=1, padding=0, flip_dx=False, crop=True, dw_mode="sum",
                     db_mode="sum", n_return=3):
    N, C_in, H, W = x.shape
    C_out, _, kH, kW = w.shape
    OH, OW = dout.shape[2:]
    p, s = padding, stride
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    dxp = np.zeros_like(xp)
    dw = np.zeros_like(w)
    wk = w[..., ::-1, ::-1] if flip_dx else w
    for n in range(N):
        dw_n = np.zeros_like(w)
        for i in range(OH):
            for j in range(OW):
                rows, cols = slice(i * s, i * s + kH), slice(j * s, j * s + kW)
                g = dout[n, :, i, j]
                dw_n += g[:, None, None, None] * xp[n, :, rows, cols][None]
                dxp[n, :, rows, cols] += np.tensordot(g, wk, axes=([0], [0]))
        if dw_mode == "last":
            dw = dw_n          # "=" instead of "+=" over the batch
        else:
            dw += dw_n
    if dw_mode == "mean":
        dw /= N
    db = {"sum": lambda: dout.sum(axis=(0, 2, 3)), "per image": lambda: dout.sum(axis=(2, 3)),
          "mean": lambda: dout.mean(axis=(0, 2, 3))}[db_mode]()
    dx = dxp[:, :, p:p + H, p:p + W] if crop else dxp
    return (dx, dw, db)[:n_return]


CONV_BWD_MISTAKES = {
    "dx flipped": (lambda *a, **kw: conv_bwd_student(*a, **kw, flip_dx=True), "dx: kernel rotated by 180°"),
    "not cropped": (lambda *a, **kw: conv_bwd_student(*a, **kw, crop=False), "dx: padding not cropped"),
    "dw last image": (lambda *a, **kw: conv_bwd_student(*a, **kw, dw_mode="last"),
                      "dw: dw not summed over the batch"),
    "dw mean": (lambda *a, **kw: conv_bwd_student(*a, **kw, dw_mode="mean"), "dw: dw averaged over the batch"),
    "db per image": (lambda *a, **kw: conv_bwd_student(*a, **kw, db_mode="per image"),
                     "db: db not summed over the batch"),
    "db mean": (lambda *a, **kw: conv_bwd_student(*a, **kw, db_mode="mean"), "db: db averaged"),
    "two values": (lambda *a, **kw: conv_bwd_student(*a, **kw, n_return=2),
                   "expected a tuple (dx, dw, db) of 3 arrays, got 2 values"),
}


def count_student(c_in, c_out, k, h, w, stride=1, padding=0, bias=1, in_size=False, ci=True,
                  mult_bias=0, pad_sides=2, floor=True, extra_mult=0, divide=None):
    """A layer count with optional, deliberate mistakes: (parameters, multiplications, out_h,
    out_w), ints unless ``divide`` (e.g. operator.truediv) computes the output size."""
    def size(n):
        top = n + pad_sides * padding - k
        if divide is not None:
            return divide(top, stride) + 1
        return (top // stride if floor else -(-top // stride)) + 1
    oh, ow = size(h), size(w)
    c = c_in if ci else 1
    params = (k * k * c + bias) * c_out
    mults = (h * w if in_size else oh * ow) * c_out * (k * k * c + mult_bias) + extra_mult
    return params, mults, oh, ow


COUNT_MISTAKES = {
    "no bias": (lambda *a: count_student(*a, bias=0),
                "parameters: expected 2432, got 2400: bias forgotten"),
    "no C_in": (lambda *a: count_student(*a, ci=False),
                "parameters: expected 2432, got 832: c_in forgotten in the parameters"),
    "no C_in in mults": (lambda *a: (count_student(*a)[0], *count_student(*a, ci=False)[1:]),
                         "multiplications: expected 1881600, got 627200: c_in forgotten in the "
                         "multiplications"),
    "input size": (lambda *a: count_student(*a, in_size=True), "input size used instead of the output size"),
    "bias multiplied": (lambda *a: count_student(*a, mult_bias=1), "bias counted as a multiplication"),
    "padding once": (lambda *a: count_student(*a, pad_sides=1), "padding counted once"),
    "no padding": (lambda *a: count_student(*a, pad_sides=0),
                   "multiplications: expected 117600, got 86400; out_h: expected 28, got 24; "
                   "out_w: expected 28, got 24: padding ignored"),
    "ceil": (lambda *a: count_student(*a, floor=False), "ceil instead of floor"),
    # the old check compared an array with a relative tolerance of 1e-6: one multiplication too
    # many in 1,881,600 passed
    "one multiplication too many": (lambda *a: count_student(*a, extra_mult=1),
                                    "multiplications: expected 1881600, got 1881601"),
    "floats": (lambda *a: tuple(map(float, count_student(*a))),
               "multiplications: right value, but a float (1881600.0)"),
    "true division": (lambda *a: count_student(*a, divide=operator.truediv),
                      "out_h: expected 2, got 2.333333333333333; out_w: expected 3, got "
                      "3.3333333333333335: / instead of //"),
    "array": (lambda *a: np.array(count_student(*a)), "expected a tuple (parameters, "
              "multiplications, out_h, out_w) of 4 ints, got a single array of shape (4,): "
              "return the numbers themselves"),
    "three values": (lambda *a: count_student(*a)[:3], "of 4 ints, got 3 values"),
}


def test_count_conv_compares_exactly_and_takes_a_dict_or_numpy_ints(capsys):
    """Counts are whole numbers compared exactly; the record may be a tuple, a list, a dict with
    the parts' names, and NumPy integers are ints."""
    assert not run(capsys, "count_conv", COUNT_MISTAKES["one multiplication too many"][0])[0]
    parts = EXERCISES["count_conv"].parts
    assert parts == ("parameters", "multiplications", "out_h", "out_w")
    assert run(capsys, "count_conv", lambda *a: dict(zip(parts, count_student(*a))))[0]
    assert run(capsys, "count_conv", lambda *a: [np.int64(n) for n in count_student(*a)])[0]
    result, text = run(capsys, "count_conv", lambda *a: dict(zip(parts[:3], count_student(*a))))
    assert not result and "a dict answer needs exactly the keys" in text


def pool_bwd_student(dout, x, kernel_size, stride=None, rule="first", accumulate=True):
    kH, kW = _pair(kernel_size)
    sH, sW = _pair(stride) if stride is not None else (kH, kW)
    N, C, H, W = x.shape
    OH, OW = dout.shape[2:]
    dx = np.zeros_like(x)
    for n in range(N):
        for c in range(C):
            for i in range(OH):
                for j in range(OW):
                    win = x[n, c, i * sH:i * sH + kH, j * sW:j * sW + kW]
                    g = dout[n, c, i, j]
                    if rule == "all ties":
                        dx[n, c, i * sH:i * sH + kH, j * sW:j * sW + kW] += g * (win == win.max())
                        continue
                    if rule == "even":
                        dx[n, c, i * sH:i * sH + kH, j * sW:j * sW + kW] += g / (kH * kW)
                        continue
                    flat = win.ravel()
                    t = flat.argmax() if rule == "first" else len(flat) - 1 - flat[::-1].argmax()
                    r, q = divmod(int(t), kW)
                    if accumulate:
                        dx[n, c, i * sH + r, j * sW + q] += g
                    else:
                        dx[n, c, i * sH + r, j * sW + q] = g
    return dx


POOL_BWD_MISTAKES = {
    "all ties": (lambda *a, **kw: pool_bwd_student(*a, **kw, rule="all ties"), "gradient sent to every tied maximum"),
    "last tie": (lambda *a, **kw: pool_bwd_student(*a, **kw, rule="last"), "gradient sent to the LAST tied maximum"),
    "overwrite": (lambda *a, **kw: pool_bwd_student(*a, **kw, accumulate=False), "overwrite instead of add"),
    "even": (lambda *a, **kw: pool_bwd_student(*a, **kw, rule="even"), "gradient spread evenly"),
    "pooled shape": (lambda dout, x, kernel_size, stride=None: dout.copy(), "wrong shape: expected"),
}


def avg_bwd_student(dout, x, kernel_size, stride=None, count="window", accumulate=True):
    kH, kW = _pair(kernel_size)
    sH, sW = _pair(stride) if stride is not None else (kH, kW)
    divide = {"window": kH * kW, "none": 1, "height": kH}[count]
    dx = np.zeros_like(x)
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            share = dout[:, :, i, j][:, :, None, None] / divide
            if accumulate:
                dx[:, :, i * sH:i * sH + kH, j * sW:j * sW + kW] += share
            else:
                dx[:, :, i * sH:i * sH + kH, j * sW:j * sW + kW] = share
    return dx


AVG_BWD_MISTAKES = {
    "undivided": (lambda *a, **kw: avg_bwd_student(*a, **kw, count="none"),
                  "not divided by the window size"),
    "by height": (lambda *a, **kw: avg_bwd_student(*a, **kw, count="height"), "divided by the wrong count"),
    "overwrite": (lambda *a, **kw: avg_bwd_student(*a, **kw, accumulate=False), "overwrite instead of add"),
    "to the max": (lambda dout, x, kernel_size, stride=None:
                   pool_bwd_student(dout, x, kernel_size, stride), "gradient sent to the maximum only"),
    "pooled shape": (lambda dout, x, kernel_size, stride=None: dout.copy(), "wrong shape: expected"),
}


def layer8(x, w, b):
    """tanh(x ⋆ w + b), written out (lesson 8's layer under test)."""
    k = w.shape[0]
    a = np.array([[np.sum(x[i:i + k, j:j + k] * w) for j in range(x.shape[1] - k + 1)]
                  for i in range(x.shape[0] - k + 1)])
    return np.tanh(a + b)


def numgrads_student(x, w, b, dout, eps=1e-6, rule="centred", restore=True, use_dout=True):
    def grad(f, v):
        v = np.array(v, dtype=np.float64)
        out = np.zeros_like(v)
        for idx in np.ndindex(v.shape):
            old = v[idx]
            v[idx] = old + eps
            plus = f(v)
            v[idx] = old - eps if restore else v[idx] - 2 * eps
            minus = f(v)
            if restore:
                v[idx] = old
            if rule == "forward":
                v2 = v.copy()
                v2[idx] = old
                out[idx] = (plus - f(v2)) / eps
            else:
                out[idx] = (plus - minus) / (2 * eps if rule == "centred" else eps)
        return out

    def loss(x_, w_, b_):
        return np.sum(layer8(x_, w_, b_) * (dout if use_dout else 1))
    return (grad(lambda v: loss(v, w, b), x), grad(lambda v: loss(x, v, b), w),
            grad(lambda v: loss(x, w, v), np.array(b)))


NUMGRAD_MISTAKES = {
    "forward": (lambda *a, **kw: numgrads_student(*a, **kw, rule="forward"), "forward difference"),
    "by eps": (lambda *a, **kw: numgrads_student(*a, **kw, rule="by eps"),
               "divided by eps instead of 2*eps"),
    "not restored": (lambda *a, **kw: numgrads_student(*a, **kw, restore=False),
                     "the input is not restored"),
    "no dout": (lambda *a, **kw: numgrads_student(*a, **kw, use_dout=False), "dout ignored"),
    "two values": (lambda *a, **kw: numgrads_student(*a, **kw)[:2],
                   "expected a tuple (dx, dw, db) of 3 arrays, got 2 values"),
}


def which_student(analytic, numeric, tol=1e-6, measure="relative"):
    for name, a, n in zip(("dx", "dw", "db"), analytic, numeric):
        a, n = np.asarray(a, dtype=float), np.asarray(n, dtype=float)
        diff = np.abs(a - n)
        err = diff.max() if measure == "absolute" else (diff / np.maximum(1e-8, np.abs(a) + np.abs(n))).max()
        if err > tol:
            return name
    return "none"


WHICH_MISTAKES = {
    "absolute": (lambda *a, **kw: which_student(*a, **kw, measure="absolute"),
                 "absolute instead of relative error"),
    "always dw": (lambda *a, **kw: "dw", "expected 'none', got 'dw'"),
    "index": (lambda *a, **kw: 1, "expected one of the names 'dx', 'dw', 'db', 'none'"),
    "capitals": (lambda *a, **kw: which_student(*a, **kw).upper(), "returned 'DW'; the answer is one of"),
    "not a name": (lambda *a, **kw: "dy", "returned 'dy'; the answer is one of 'dx', 'dw', 'db', 'none'"),
    "no return": (lambda *a, **kw: None, "returned None: did you forget the `return` statement?"),
    "the arrays": (lambda analytic, numeric, tol=1e-6: analytic[0],
                   "expected one of the names 'dx', 'dw', 'db', 'none' (a str), got an array"),
}


def test_lesson8_layer_in_the_notebook_is_the_checks_layer():
    """The locked layer of solutions/08 computes what cnnlab.checks.lesson8 grades against."""
    from cnnlab.checks import lesson8
    spaces = _solution_namespaces()
    _, ns = spaces["which_is_wrong"]
    rng = np.random.default_rng(8)
    for shape, k in [((4, 4), 2), ((6, 5), 3)]:
        x, w, b = rng.normal(size=shape), rng.normal(size=(k, k)), 0.3
        dout = rng.normal(size=(shape[0] - k + 1, shape[1] - k + 1))
        assert np.allclose(ns["layer_forward"](x, w, b), lesson8.layer_forward(x, w, b))
        assert np.allclose(ns["layer_forward"](x, w, b), layer8(x, w, b))
        for got, want in zip(ns["layer_backward"](dout, x, w, b),
                             lesson8.buggy_layer_backward(dout, x, w, b)):
            assert np.allclose(got, want)
        right = lesson8.layer_backward(dout, x, w, b)
        numeric = lesson8.EXERCISES[0].reference(x, w, b, dout)
        assert [lesson8.rel_error(a, n) < 1e-6 for a, n in zip(right, numeric)] == [True] * 3
        assert lesson8.rel_error(ns["layer_backward"](dout, x, w, b)[1], numeric[1]) > 1e-2


def _relu_inplace(x):
    x[x < 0] = 0                 # changes the caller's array: the check cannot see it (a copy)
    return x


RELU_FWD_MISTAKES = {
    "np.max": (lambda x: np.max(x, 0), "np.max(x, 0) is the largest value along axis 0"),
    "mask": (lambda x: x > 0, "the mask returned"),
    "abs": (lambda x: np.abs(x), "negative values flipped, not zeroed"),
    "minimum": (lambda x: np.minimum(x, 0), "minimum instead of maximum"),
    "leaky": (lambda x: np.where(x > 0, x, 0.01 * x), "a slope for negative inputs (leaky ReLU)"),
    "float64": (lambda x: np.maximum(x, 0).astype(np.float64), "wrong dtype: expected float32"),
    "in place": (_relu_inplace, "your function changed its input x in place"),
}

RELU_BWD_MISTAKES = {
    ">=": (lambda dout, x: dout * (x >= 0), "gradient passed at x = 0 (>= instead of >)"),
    "mask": (lambda dout, x: (x > 0).astype(x.dtype), "the mask returned, not dout times the mask"),
    "bool mask": (lambda dout, x: x > 0, "the mask returned, not dout times the mask"),
    "dout mask": (lambda dout, x: dout * (dout > 0), "mask taken from dout instead of x"),
    "identity": (lambda dout, x: dout, "the derivative ignored"),
    "inverted": (lambda dout, x: dout * (x <= 0), "mask inverted"),
    "relu(x)": (lambda dout, x: dout * np.maximum(x, 0), "multiplied by relu(x) instead of its derivative"),
    "in place": (lambda dout, x: _zeroed(dout, x <= 0), "your function changed its input dout in place"),
}


def _softmax_student(z, axis=1, shift=True, exp=True, normalise=True):
    e = np.exp(z - z.max(axis=1, keepdims=True)) if shift else np.exp(z)
    e = e if exp else z
    if not normalise:
        return e
    return e / (e.sum() if axis is None else e.sum(axis=axis, keepdims=True))


def _zeroed(a, where):
    a[where] = 0                 # writes into the caller's array
    return a


def _softmax_in_place(z):
    z -= z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


SOFTMAX_MISTAKES = {
    "no max": (lambda z: _softmax_student(z, shift=False), "an exp that overflowed (inf/inf)"),
    "axis 0": (lambda z: _softmax_student(z, axis=0), "normalised over the wrong axis"),
    "whole batch": (lambda z: _softmax_student(z, axis=None), "normalised over the whole batch"),
    "no exp": (lambda z: _softmax_student(z, exp=False), "the exponential missing"),
    "not normalised": (lambda z: _softmax_student(z, shift=False, normalise=False),
                       "exp(z) returned, not normalised"),
    "in place": (_softmax_in_place, "your function changed its input z in place"),
}


def lenet_student(x, params, softmax=False, relu_fc=True, pool="max", flatten="nchw",
                  pad1=2, transpose_fc=True):
    F = cnnlab.functional

    def lin(h, key):
        w = params[key + ".weight"]
        return h @ (w.T if transpose_fc else w) + params[key + ".bias"]
    pool_fn = F.max_pool2d if pool == "max" else F.avg_pool2d
    h = pool_fn(F.relu(F.conv2d(x, params["conv1.weight"], params["conv1.bias"], padding=pad1)), 2)
    h = pool_fn(F.relu(F.conv2d(h, params["conv2.weight"], params["conv2.bias"])), 2)
    h = h.transpose(0, 2, 3, 1).reshape(len(h), -1) if flatten == "nhwc" else h.reshape(len(h), -1)
    h = lin(h, "fc1")
    h = F.relu(h) if relu_fc else h
    h = lin(h, "fc2")
    h = F.relu(h) if relu_fc else h
    h = lin(h, "fc3")
    return F.softmax(h, dim=1) if softmax else h


LENET_MISTAKES = {
    "softmax": (lambda x, p: lenet_student(x, p, softmax=True), "softmax applied"),
    "no fc relu": (lambda x, p: lenet_student(x, p, relu_fc=False), "ReLU missing after the fully connected"),
    "avg pool": (lambda x, p: lenet_student(x, p, pool="avg"), "average pooling instead of max pooling"),
    "nhwc flatten": (lambda x, p: lenet_student(x, p, flatten="nhwc"), "flattened in the wrong order"),
    "no padding": (lambda x, p: lenet_student(x, p, pad1=0), "raised ValueError"),
    "W not transposed": (lambda x, p: lenet_student(x, p, transpose_fc=False), "raised ValueError"),
}


def capstone_student(params, x, y, lr, naive_softmax=False, loss_sum=False, sign=1.0, bias=True,
                     relu_grad=True):
    """A student's train_step of the capstone, in NumPy (loops over the kernel taps), with
    planted mistakes."""
    w, b, wf, bf = (params[k] for k in ("conv.weight", "conv.bias", "fc.weight", "fc.bias"))
    n, (f, c, kh, kw) = len(x), w.shape
    oh, ow = x.shape[2] - kh + 1, x.shape[3] - kw + 1
    a = np.zeros((n, f, oh, ow)) + b[:, None, None]
    for i in range(kh):
        for j in range(kw):
            a += np.einsum("nchw,fc->nfhw", x[:, :, i:i + oh, j:j + ow], w[:, :, i, j])
    h = np.maximum(a, 0)
    win = h.reshape(n, f, oh // 2, 2, ow // 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(n, f, oh // 2, ow // 2, 4)
    p = win.max(axis=-1)
    flat = p.reshape(n, -1)
    z = flat @ wf.T + bf
    e = np.exp(z if naive_softmax else z - z.max(axis=1, keepdims=True))
    prob = e / e.sum(axis=1, keepdims=True)
    div = 1 if loss_sum else n
    loss = -np.sum(y * np.log(prob)) / div
    dz = (prob - y) / div
    dwf, dbf, dflat = dz.T @ flat, dz.sum(axis=0), dz @ wf
    mask = np.zeros_like(win)
    np.put_along_axis(mask, win.argmax(axis=-1)[..., None], 1, axis=-1)
    dh = (mask * dflat.reshape(p.shape)[..., None]).reshape(n, f, oh // 2, ow // 2, 2, 2)
    dh = dh.transpose(0, 1, 2, 4, 3, 5).reshape(h.shape)
    da = dh * (a > 0) if relu_grad else dh
    dw = np.zeros_like(w)
    for i in range(kh):
        for j in range(kw):
            dw[:, :, i, j] = np.einsum("nfhw,nchw->fc", da, x[:, :, i:i + oh, j:j + ow])
    grads = {"conv.weight": dw, "conv.bias": da.sum(axis=(0, 2, 3)) * bias,
             "fc.weight": dwf, "fc.bias": dbf * bias}
    return float(loss), {k: (v - sign * lr * grads[k]).astype(v.dtype) for k, v in params.items()}


def _capstone(**mistake):
    return lambda params, x, y, lr: capstone_student(params, x, y, lr, **mistake)


STEP_MISTAKES = {
    "not implemented": (_not_implemented, "not implemented yet"),
    "softmax overflow": (_capstone(naive_softmax=True), "exp() of large logits overflowed"),
    "loss summed": (_capstone(loss_sum=True), "loss summed, not averaged over the batch"),
    "lr sign": (_capstone(sign=-1.0), "step taken uphill (learning-rate sign)"),
    "no bias gradient": (_capstone(bias=False), "bias gradients forgotten"),
    "no relu gradient": (_capstone(relu_grad=False), "ReLU gradient missing"),
    "params only": (lambda params, x, y, lr: capstone_student(params, x, y, lr)[1],
                    "expected (loss, new_params)"),
}


def _learns_once():
    """Right on the first step, then the weights never change again."""
    calls = []

    def train_step(params, x, y, lr):
        calls.append(1)
        loss, new = capstone_student(params, x, y, lr)
        return loss, (new if len(calls) == 1 else params)
    return train_step


def _hardcoded(params, x, y, lr):
    """Ignores its input: returns fixed weights (a student pasting weights trained elsewhere)."""
    return 0.1, {k: np.full_like(v, 0.01) for k, v in params.items()}


TRAIN_MISTAKES = {
    "not implemented": (_not_implemented, "not implemented yet"),
    "lr sign": (_capstone(sign=-1.0), "the first step of the training run is not the SGD step"),
    "hardcoded weights": (_hardcoded, "the first step of the training run is not the SGD step"),
    "learns once": (_learns_once(), "below 85%"),
    "loss only": (lambda params, x, y, lr: 0.5, "train_step should return (loss, new_params)"),
}

ALL_MISTAKES = {
    "corr2d": CORR2D_MISTAKES, "conv2d_true": CONV_TRUE_MISTAKES, "correlate_same": SAME_MISTAKES,
    "sobel_magnitude": SOBEL_MISTAKES,
    "output_size": OUTPUT_SIZE_MISTAKES, "corr2d_strided": STRIDED_MISTAKES,
    "conv2d_forward": CONV_MISTAKES, "count_conv": COUNT_MISTAKES, "max_pool2d": MAX_POOL_MISTAKES,
    "avg_pool2d": AVG_POOL_MISTAKES,
    "relu_forward": RELU_FWD_MISTAKES, "relu_backward": RELU_BWD_MISTAKES,
    "softmax": SOFTMAX_MISTAKES,
    "conv2d_backward": CONV_BWD_MISTAKES, "max_pool2d_backward": POOL_BWD_MISTAKES,
    "avg_pool2d_backward": AVG_BWD_MISTAKES, "numerical_gradients": NUMGRAD_MISTAKES,
    "which_is_wrong": WHICH_MISTAKES,
    "lenet5_forward": LENET_MISTAKES, "capstone_step": STEP_MISTAKES,
    "capstone_train": TRAIN_MISTAKES,
}
PLANTED = [(name, label) for name, table in ALL_MISTAKES.items() for label in table]


def test_every_exercise_has_planted_mistakes():
    assert set(ALL_MISTAKES) == set(EXERCISES)
    assert all(len(t) >= 4 for t in ALL_MISTAKES.values())


@pytest.mark.parametrize("name,label", PLANTED, ids=[f"{n}-{m}" for n, m in PLANTED])
def test_planted_mistake_fails_with_the_right_diagnosis(capsys, name, label):
    fn, diagnosis = ALL_MISTAKES[name][label]
    result, text = run(capsys, name, fn)
    assert isinstance(result, CheckResult)
    assert not result, text
    assert not result.passed and result.n_passed < result.n_cases
    assert result.points_earned(EXERCISES[name].points) < EXERCISES[name].points
    assert diagnosis in text, f"expected {diagnosis!r} in:\n{text}"
    failing = [line for line in text.splitlines() if line.startswith("  ✗ ")]
    assert failing, text           # says WHICH case failed
    if label != "not implemented":
        assert text.count("✓") + text.count("✗") >= result.n_cases   # one line per case


def test_relu_forward_in_place_fails_with_its_own_message(capsys):
    """The check hands the function copies AND compares them after the call: an in-place ReLU
    returns the right values but destroys the input a backward pass needs (PyTorch's F.relu
    returns a new tensor), so it earns no point, and the message says why and how to fix it."""
    result, text = run(capsys, "relu_forward", _relu_inplace)
    assert not result and result.n_passed == 0
    assert "your function changed its input x in place" in text
    assert "np.maximum(x, 0)" in text and "x = x.copy()" in text
    assert "changed its input x in place (as above)" in text       # later cases abbreviated
    x = np.array([-1.0, 2.0])
    _relu_inplace(x)
    assert x.tolist() == [0, 2]          # what the try cell's assertion also detects


def test_the_capstone_step_may_update_the_weights_in_place(capsys):
    """An SGD step that writes the new weights into params (as optimizer.step() does in
    PyTorch) is right: the capstone exercises allow it, every other exercise does not."""
    def in_place(params, x, y, lr):
        loss, new = capstone_student(params, x, y, lr)
        for k in params:
            params[k][...] = new[k]
        return loss, params
    assert run(capsys, "capstone_step", in_place)[0]
    assert [n for n, ex in EXERCISES.items() if ex.modifies_inputs] == ["capstone_step",
                                                                         "capstone_train"]


def test_failure_text_names_the_case_and_the_cause(capsys):
    fn = CORR2D_MISTAKES["flipped"][0]
    _, text = run(capsys, "corr2d", fn)
    assert ("  ✗ fixed: 3x3 worked example (answer [[19, 25], [37, 43]]): kernel flipped: your "
            "result is the CONVOLUTION") in text
    # the same cause on a later case is abbreviated
    assert "  ✗ fixed: 4x6 input, asymmetric 2x3 kernel: kernel flipped (as above)" in text
    assert text.splitlines()[0].startswith("Checking corr2d(x, k) -- lesson 1")


def test_exception_is_reported_with_type_message_and_line(capsys):
    result, text = run(capsys, "corr2d", _index_error)
    assert not result
    assert "raised IndexError: index 3 is out of bounds" in text
    assert "[line " in text and "out[i, j] += x[i + a, j + b] * k[a, b]" in text
    assert "hint: an index ran past the end" in text
    assert "the same IndexError as in" in text    # repeated errors are not repeated in full


def test_not_implemented_is_reported_once(capsys):
    for name, ex in EXERCISES.items():
        result, text = run(capsys, name, _not_implemented)
        assert not result and result.n_passed == 0 and result.points_earned(ex.points) == 0
        assert text.count("not implemented yet") == 1
        assert "replace `raise NotImplementedError()` with your code" in text


# =========================================================================== behaviour

@pytest.mark.parametrize("name,label", [("corr2d", "flipped"), ("conv2d_backward", "dw last image"),
                                        ("max_pool2d_backward", "all ties"), ("output_size", "ceil")])
def test_output_is_deterministic(capsys, name, label):
    fn = ALL_MISTAKES[name][label][0]
    first = run(capsys, name, fn)[1]
    second = run(capsys, name, fn)[1]
    assert first == second
    assert first == str(evaluate_outputs(name, checks.collect_outputs(name, fn))) + "\n"


def test_cases_are_deterministic():
    for ex in EXERCISES.values():
        a, b = ex.cases(), ex.cases()
        assert [c.name for c in a] == [c.name for c in b]
        assert len({c.name for c in a}) == len(a), f"{ex.name}: case names must be unique"
        for ca, cb in zip(a, b):
            for u, v in zip(ca.args, cb.args):
                if isinstance(u, dict):
                    assert all(np.array_equal(u[k], v[k]) for k in u)
                elif isinstance(u, tuple):      # which_is_wrong: tuples (dx, dw, db)
                    assert len(u) == len(v) and all(np.array_equal(p, q) for p, q in zip(u, v))
                else:
                    assert np.array_equal(u, v)


@pytest.mark.parametrize("seed", [1, 2, 12345])
def test_seeded_cases_for_the_grader(seed):
    """cases(seed=...) (the grader's fresh cases): same names and shapes, other random numbers;
    the reference still passes and a planted mistake still fails."""
    for name, ex in EXERCISES.items():
        base, fresh = ex.cases(), ex.cases(seed=seed)
        assert [c.name.split(":")[0] for c in base] == [c.name.split(":")[0] for c in fresh]
        assert [c.name for c in base if c.name.startswith("fixed")] == \
            [c.name for c in fresh if c.name.startswith("fixed")]
        changed = name in ("output_size", "count_conv") and [c.args for c in base] != [c.args for c in fresh]
        for b, f in zip(base, fresh):
            assert ex.diagnose(f, ex.reference(*f.args, **f.kwargs)) is None, (name, f.name)
            for u, v in zip(b.args, f.args):
                if isinstance(u, np.ndarray):
                    assert u.shape == v.shape and u.dtype == v.dtype
                    changed |= not np.array_equal(u, v)
                elif isinstance(u, dict):
                    changed |= not all(np.array_equal(u[k], v[k]) for k in u)
                elif isinstance(u, tuple):
                    assert [np.shape(p) for p in u] == [np.shape(q) for q in v]
                    changed |= not all(np.array_equal(p, q) for p, q in zip(u, v))
        assert changed, name
        label, (fn, _) = next(iter(ALL_MISTAKES[name].items()))
        outputs = {c.name: engine.call(fn, c) if label != "not implemented" else None for c in fresh}
        assert not all(ex.diagnose(c, outputs[c.name]) is None for c in fresh), (name, label)


def test_a_function_that_writes_into_its_inputs_fails_and_later_cases_get_fresh_copies(capsys):
    calls = []

    def vandal_once(x, k):          # vandalises its input on the first case only
        calls.append(1)
        return _mutates_input(x, k) if len(calls) == 1 else corr2d_student(x, k)
    result, text = run(capsys, "corr2d", vandal_once)
    assert (result.passed, result.n_passed) == (False, result.n_cases - 1), text
    assert "your function changed its input x, k in place" in text

    def conv_vandal(x, w, b, stride=1, padding=0):
        out = conv_student(x, w, b, stride, padding)
        x += 1
        w *= -1
        b[:] = 0
        return out
    result, text = run(capsys, "conv2d_forward", conv_vandal)
    assert not result and "changed its input x, w, b in place" in text

    def lenet_vandal(x, params):
        out = lenet_student(x, params)
        params.clear()
        return out
    result, text = run(capsys, "lenet5_forward", lenet_vandal)
    assert not result and "changed its input params in place" in text


def test_a_gradient_check_that_restores_by_adding_eps_back_is_not_flagged(capsys):
    """x[i] += eps; x[i] -= 2 * eps; x[i] += eps leaves rounding traces (1e-16 relative) in
    the caller's x: that is not a modified input; never restoring it is."""
    def perturbing(x, w, b, dout, eps=1e-6):
        def grad(v, loss):
            g = np.zeros_like(v)
            for idx in np.ndindex(v.shape):
                v[idx] += eps
                plus = loss()
                v[idx] -= 2 * eps
                minus = loss()
                v[idx] += eps
                g[idx] = (plus - minus) / (2 * eps)
            return g
        def loss():
            return np.sum(layer8(x, w, b) * dout)
        return grad(x, loss), grad(w, loss), np.asarray(np.sum((1 - layer8(x, w, b) ** 2) * dout))
    result, text = run(capsys, "numerical_gradients", perturbing)
    assert "in place" not in text, text


def test_student_errors_never_raise(capsys):
    weird = [lambda *a, **k: "a string", lambda *a, **k: {"a": 1}, lambda *a, **k: object(),
             lambda *a, **k: np.array(["x"]), lambda *a, **k: 1 / 0, lambda: None, 42,
             lambda *a, **k: (None, None, None), lambda *a, **k: np.zeros(3)]
    for name in EXERCISES:
        for fn in weird:
            result, text = run(capsys, name, fn)
            assert not result and text


def test_check_of_a_non_function(capsys):
    result, text = run(capsys, "corr2d", 42)
    assert not result and "corr2d should be a function, got int 42" in text


def test_unknown_exercise_lists_the_names():
    with pytest.raises(ValueError) as info:
        check("corr2", corr2d_student)
    msg = str(info.value)
    assert "unknown exercise 'corr2'" in msg
    assert all(name in msg for name in EXERCISES)
    with pytest.raises(ValueError, match="unknown exercise"):
        evaluate_outputs("nope", {})


def test_top_level_check_is_the_same_function(capsys):
    assert cnnlab.check is check


def test_evaluate_outputs_from_data():
    ex = EXERCISES["corr2d"]
    cases = ex.cases()
    outputs = {c.name: ex.reference(*c.args, **c.kwargs) for c in cases}
    assert evaluate_outputs("corr2d", outputs)
    # one case raised, one is missing, one is wrong
    outputs[cases[1].name] = ErrorResult("ValueError", "operands could not be broadcast together")
    del outputs[cases[2].name]
    outputs[cases[3].name] = outputs[cases[3].name] + 1
    result = evaluate_outputs("corr2d", outputs)
    assert (result.passed, result.n_passed, result.n_cases) == (False, len(cases) - 3, len(cases))
    text = str(result)
    assert "raised ValueError: operands could not be broadcast together (hint:" in text
    assert f"✗ {cases[2].name}: no result for this case" in text
    assert "wrong values in" in text
    # every case NotImplementedError -> a single "not implemented" message
    ni = {c.name: ErrorResult("NotImplementedError", "") for c in cases}
    assert "not implemented yet" in str(evaluate_outputs("corr2d", ni))


def test_points_earned_rule():
    def r(n_passed, n_cases):
        return CheckResult("x", n_passed == n_cases, n_passed, n_cases, [])
    assert r(6, 6).points_earned(3) == 3.0
    assert r(5, 6).points_earned(3) == 2.5          # 2.5 exactly
    assert r(4, 6).points_earned(3) == 2.0
    assert r(1, 7).points_earned(3) == 0.0          # 0.43 -> 0
    assert r(2, 7).points_earned(3) == 0.5          # 0.86 -> 0.5
    assert r(0, 6).points_earned(3) == 0.0
    assert r(11, 12).points_earned(1) == 0.5        # never full points while a case fails
    assert r(0, 0).points_earned(3) == 0.0
    assert bool(r(6, 6)) and not bool(r(5, 6))


def test_check_result_display():
    result = CheckResult("corr2d", True, 6, 6, ["a", "b"])
    assert str(result) == "a\nb"
    assert result.summary == "✓ corr2d: 6/6 cases passed"
    assert "passed=True" in repr(result)
    assert result.points is None and result._repr_markdown_() is None
    from IPython.lib.pretty import pretty
    assert pretty(result) == "✓ corr2d: 6/6 cases passed"        # the grader's results


def test_check_raises_on_any_failed_case_and_shows_the_points(capsys):
    """In a graded test cell the check must FAIL on a wrong answer (nbgrader, `nbgrader
    validate`), and its value is the points earned: what nbgrader reads as partial credit."""
    from IPython.lib.pretty import pretty
    ok = check("corr2d", reference.correlate2d_naive)
    assert ok and ok.points == 3 and pretty(ok) == "3"
    assert ok._repr_markdown_() == "✓ corr2d: 7/7 cases passed -- **3 of 3 points**"
    capsys.readouterr()

    def float64_only(x, k):                        # right values, float64 on the float32 case
        return reference.correlate2d_naive(x, k).astype(np.float64)
    with pytest.raises(CheckFailed) as info:
        check("corr2d", float64_only)
    assert isinstance(info.value, AssertionError)
    result = info.value.result
    assert (result.n_passed, result.n_cases, result.points) == (6, 7, 2.5)
    assert pretty(result) == "2.5"
    assert result._repr_markdown_() == "✗ corr2d: 6/7 cases passed -- **2.5 of 3 points**"
    assert str(info.value).startswith("corr2d: 6 of 7 cases passed, 2.5 of 3 points")
    assert "6 of 7 cases passed." in capsys.readouterr().out   # the report came first
    with pytest.raises(CheckFailed) as info:
        check("corr2d", _not_implemented)
    assert info.value.result.points == 0 and pretty(info.value.result) == "0"


def test_what_the_function_writes_to_stderr_goes_to_stdout(capsys):
    """nbgrader gives a test cell with any stderr output 0 points."""
    import sys

    def noisy(x, k):
        print("debug", file=sys.stderr)
        np.float64(1) / np.float64(0)               # a RuntimeWarning, silenced
        return reference.correlate2d_naive(x, k)
    assert check("corr2d", noisy)
    out, err = capsys.readouterr()
    assert "debug" in out and err == ""


@pytest.mark.parametrize("name", list(EXERCISES))
def test_every_case_is_plain_data(name):
    """Cases hold only numpy arrays and Python scalars/tuples (dicts of arrays for LeNet), so
    the grader can ship them to a kernel and back."""
    def plain(v):
        if isinstance(v, np.ndarray):
            return v.dtype.kind == "f"
        if isinstance(v, (tuple, list)):
            return all(plain(u) for u in v)
        if isinstance(v, dict):
            return all(isinstance(k, str) and plain(u) for k, u in v.items())
        return v is None or isinstance(v, (int, float, str))
    for case in EXERCISES[name].cases():
        assert plain(case.args) and plain(case.kwargs), case.name


def test_result_kinds_are_checked_when_an_exercise_is_made():
    """A kind the engine cannot diagnose, or choices without kind "choice", is an author's
    mistake caught at import time, not a check that silently compares arrays."""
    from cnnlab.checks import Exercise
    args = ("x", 1, "x", 1, "t", "x()", lambda rng: [], lambda: None)
    with pytest.raises(ValueError, match="kind must be one of"):
        Exercise(*args, kind="name")
    with pytest.raises(ValueError, match="choices= goes with kind='choice'"):
        Exercise(*args, choices=("a", "b"))
    with pytest.raises(ValueError, match="choices= goes with kind='choice'"):
        Exercise(*args, kind="choice")
    assert Exercise(*args, kind="choice", choices=("a", "b")).choices == ("a", "b")

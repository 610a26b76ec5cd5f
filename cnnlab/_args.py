"""The one place that checks arguments, so every message has the same shape.

A mistake raises ``TypeError`` (wrong kind of value) or ``ValueError`` (right kind, wrong value)
whose message starts with the function or layer (``fn``) and names the argument, the problem
and the fix, e.g. ``conv2d: input must be 4-D (N, C_in, H, W), got shape (28, 28); for a single
image use x[None, None]``. Never a bare ``IndexError`` from deep inside NumPy.

The names here are public inside this private module: any cnnlab module may import them
(``from cnnlab._args import float_array, int_tuple``). Sections:

* values: ints, numbers, probabilities, dims;
* arrays: numeric/float conversion, batched inputs, weights, biases, gradients, indices;
* windows: kernel-fits-the-padded-input, conv padding, pooling windows;
* the argument bundles of the ``cnnlab.functional`` ops (one line at the top of each op).

Append new checks at the END of the file (another section), keeping these names stable.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from cnnlab._windows import out_len

__all__ = [
    # values
    "is_int", "is_real", "int_at_least", "positive_int", "int_tuple", "real_number",
    "check_probability", "check_dim", "check_norm_type", "check_size_args", "check_kernel_size",
    "check_layer",
    # arrays
    "numeric_array", "float_array", "cast", "shape_hint", "check_batched_input",
    "check_weight", "check_bias", "check_grad_output", "check_indices", "check_same_shape",
    "check_cache",
    # windows
    "check_kernel_fits", "conv_padding", "check_windows_see_input",
    # bundles for cnnlab.functional
    "conv_args", "pool_args", "signal_args", "activation_args", "softmax_args", "linear_args",
    "cross_entropy_args", "REDUCTIONS", "MODES", "cross_entropy_grad_output",
    "check_rng", "check_mask", "flatten_dims", "check_grad_size",
]


def _at(fn) -> str:
    """The message prefix: "fn: " (nothing when fn is empty or None)."""
    return f"{fn}: " if fn else ""


# ----------------------------------------------------------------------------------------------
# values
# ----------------------------------------------------------------------------------------------

def is_int(v) -> bool:
    """True for Python and NumPy integers, False for bool (True is not a kernel size)."""
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def is_real(v) -> bool:
    """True for Python and NumPy real numbers (ints included), False for bool."""
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


def int_at_least(value, name: str, fn: str, minimum: int, noun: str = "an int") -> int:
    """An int >= minimum: TypeError "fn: name must be an int, got 2.0" for anything that is not
    an int, ValueError "fn: name must be >= 1, got 0" below the minimum."""
    if not is_int(value):
        raise TypeError(f"{_at(fn)}{name} must be {noun}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{_at(fn)}{name} must be >= {minimum}, got {value}")
    return int(value)


def positive_int(value, name: str, fn: str | None = None, minimum: int = 1,
                 noun: str = "int") -> int:
    """An int >= minimum (1 or 0), else ValueError "fn: name must be a positive int, got 2.5"
    ("a non-negative int" when minimum is 0; ``noun="integer"`` for that wording)."""
    if not is_int(value) or value < minimum:
        what = {1: f"a positive {noun}", 0: f"a non-negative {noun}"}.get(
            minimum, f"an {noun} >= {minimum}")
        raise ValueError(f"{_at(fn)}{name} must be {what}, got {value!r}")
    return int(value)


def int_tuple(v, n: int, name: str, fn: str, minimum: int) -> tuple[int, ...]:
    """An int or an n-tuple (or list) of ints, each >= minimum, as an n-tuple."""
    if is_int(v):
        vals = (int(v),) * n
    elif isinstance(v, (tuple, list)) and len(v) == n and all(is_int(e) for e in v):
        vals = tuple(int(e) for e in v)
    else:
        shape = "an int" if n == 1 else f"an int or a tuple of {n} ints"
        raise TypeError(f"{fn}: {name} must be {shape}, got {v!r}")
    for e in vals:
        if e < minimum:
            if name == "padding":
                raise ValueError(f"{fn}: padding must be >= 0, got {v!r}; padding adds zeros "
                                 "around the input, so it cannot be negative")
            raise ValueError(f"{fn}: {name} must be >= {minimum}, got {v!r}")
    return vals


def real_number(value, name: str, fn: str) -> float:
    """A real number (not bool) as a float, else TypeError "fn: name must be a number"."""
    if not is_real(value):
        raise TypeError(f"{_at(fn)}{name} must be a number, got {value!r}")
    return float(value)


def check_probability(p, fn: str, name: str = "p") -> float:
    """A probability in [0, 1] as a float."""
    if not is_real(p) or not 0 <= p <= 1:
        raise ValueError(f"{fn}: {name} must be a probability in [0, 1], got {p!r}")
    return float(p)


def check_dim(dim, ndim: int, fn: str) -> int:
    """An axis of an ndim-D array, -ndim <= dim < ndim."""
    if not is_int(dim) or not -ndim <= dim < ndim:
        raise ValueError(f"{fn}: dim must be an int in [{-ndim}, {ndim - 1}] for a {ndim}-D "
                         f"input, got {dim!r}")
    return int(dim)


def check_norm_type(norm_type, fn: str) -> float:
    """The p of Lp pooling: a positive finite number."""
    if not is_real(norm_type) or not math.isfinite(norm_type) or norm_type <= 0:
        raise ValueError(f"{fn}: norm_type must be a positive finite number (2 = L2 pooling), "
                         f"got {norm_type!r}")
    return float(norm_type)


def check_size_args(fn: str, n, kernel_size, stride, padding, dilation) -> None:
    """The arguments of the output-size formula along one axis (ints; the dilated kernel fits)."""
    for name, v, lo in (("n", n, 1), ("kernel_size", kernel_size, 1), ("stride", stride, 1),
                        ("padding", padding, 0), ("dilation", dilation, 1)):
        int_at_least(v, name, fn, lo)
    span = dilation * (kernel_size - 1) + 1
    if span > n + 2 * padding:
        dil = f" (dilation {dilation}*({kernel_size}-1)+1)" if dilation != 1 else ""
        raise ValueError(
            f"{fn}: the kernel (kernel_size={kernel_size}) spans {span} pixels{dil}, more than "
            f"the padded input n + 2*padding = {n} + 2*{padding} = {n + 2 * padding}; use a "
            "smaller kernel_size or dilation, more padding, or a larger input"
        )


def check_kernel_size(kernel_size, fn: str) -> tuple[int, ...]:
    """A kernel size for parameter counting: an int (square 2-D kernel) or 1 to 3 ints."""
    if is_int(kernel_size):
        ks = (int(kernel_size),) * 2
    elif isinstance(kernel_size, (tuple, list)) and 1 <= len(kernel_size) <= 3 and all(
            is_int(k) for k in kernel_size):
        ks = tuple(int(k) for k in kernel_size)
    else:
        raise TypeError(f"{fn}: kernel_size must be an int or a tuple of ints, got {kernel_size!r}")
    if min(ks) < 1:
        raise ValueError(f"{fn}: kernel_size must be >= 1, got {kernel_size!r}")
    return ks


def check_layer(layer, idx: int, fn: str) -> tuple[int, int, int]:
    """One layer of a receptive-field stack: k, (k, s) or (k, s, d) -> (k, s, d), each >= 1."""
    if is_int(layer):
        layer = (layer,)
    if not isinstance(layer, (tuple, list)) or not 1 <= len(layer) <= 3:
        raise TypeError(f"{fn}: layers[{idx}] must be (kernel_size, stride, dilation), got {layer!r}")
    k, s, d = (tuple(layer) + (1, 1))[:3]
    for name, v in (("kernel_size", k), ("stride", s), ("dilation", d)):
        positive_int(v, f"layers[{idx}] {name}", fn)
    return int(k), int(s), int(d)


# ----------------------------------------------------------------------------------------------
# arrays
# ----------------------------------------------------------------------------------------------

def numeric_array(x, name: str, fn: str) -> np.ndarray:
    """np.asarray(x) that refuses strings, objects and other non-numbers with a clear TypeError."""
    try:
        a = np.asarray(x)
    except (TypeError, ValueError) as exc:  # ragged nested lists, ...
        raise TypeError(f"{fn}: {name} must be a numeric array; could not convert it ({exc})") from None
    if a.dtype.kind not in "biufc":
        what = {"U": "strings", "S": "bytes", "O": "Python objects", "V": "records",
                "M": "dates", "m": "time deltas"}.get(a.dtype.kind, f"dtype {a.dtype}")
        raise TypeError(
            f"{fn}: {name} must be a numeric array, got an array of {what} (dtype={a.dtype}); "
            f"convert it first, e.g. np.asarray({name}, dtype=np.float32)"
        )
    return a


def float_array(x, name: str, fn: str) -> np.ndarray:
    """Numeric, real array; int/bool become float64, float arrays are returned as they are."""
    a = numeric_array(x, name, fn)
    if a.dtype.kind == "c":
        raise TypeError(f"{fn}: {name} must be real, got complex dtype {a.dtype}; use {name}.real")
    if a.dtype.kind != "f":
        a = a.astype(np.float64)
    return a


def cast(a: np.ndarray, dtype) -> np.ndarray:
    """``a`` in ``dtype`` (no copy when it already is)."""
    return a if a.dtype == dtype else a.astype(dtype)


def shape_hint(shape, nd: int, what: str) -> str:
    """Suggest the fix for an input with the wrong number of axes."""
    want = nd + 2
    if len(shape) == want - 2:
        single = "signal" if nd == 1 else "image"
        return f"; for a single {single} use x[None, None]"
    if len(shape) == want - 1:
        return f"; for a single {what} use x[None] (adds the batch axis)"
    return ""


def check_batched_input(x, fn: str, nd: int) -> np.ndarray:
    """A batch of signals (nd=1: (N, C, L)) or images (nd=2: (N, C, H, W)) as a float array."""
    x = float_array(x, "input", fn)
    layout = "(N, C_in, L)" if nd == 1 else "(N, C_in, H, W)"
    if fn.startswith(("max_pool", "avg_pool", "sum_pool", "lp_pool")):
        layout = "(N, C, L)" if nd == 1 else "(N, C, H, W)"
    if x.ndim != nd + 2:
        what = "multi-channel signal" if nd == 1 else "multi-channel image"
        raise ValueError(
            f"{fn}: input must be {nd + 2}-D {layout}, got shape {tuple(x.shape)}"
            + shape_hint(x.shape, nd, what)
        )
    return x


def check_weight(weight, x: np.ndarray, fn: str, nd: int) -> np.ndarray:
    """A conv weight (C_out, C_in, k...) matching the channels of x, in x's dtype."""
    weight = float_array(weight, "weight", fn)
    if weight.ndim != nd + 2:
        layout = "(C_out, C_in, k)" if nd == 1 else "(C_out, C_in, kH, kW)"
        hint = " for a single 2-D kernel use k[None, None]" if nd == 2 and weight.ndim == 2 else ""
        if nd == 1 and weight.ndim == 1:
            hint = " for a single 1-D kernel use k[None, None]"
        raise ValueError(f"{fn}: weight must be {nd + 2}-D {layout}, got shape "
                         f"{tuple(weight.shape)};{hint or ' reshape it'}")
    if weight.shape[1] != x.shape[1]:
        raise ValueError(
            f"{fn}: input has {x.shape[1]} channels (input.shape[1]) but weight expects "
            f"{weight.shape[1]} (weight.shape[1]); the weight must be (C_out, C_in={x.shape[1]}, ...)"
        )
    if min(weight.shape) == 0:
        raise ValueError(f"{fn}: weight has an empty axis, shape {tuple(weight.shape)}")
    return cast(weight, x.dtype)


def check_bias(bias, c_out: int, dtype, fn: str, axis: str = "C_out"):
    """None, or a (C_out,) bias in ``dtype`` (``axis="out_features"`` for a linear layer)."""
    if bias is None:
        return None
    bias = float_array(bias, "bias", fn)
    if bias.shape != (c_out,):
        per = ", one value per output channel" if axis == "C_out" else ""
        raise ValueError(f"{fn}: bias must have shape ({axis},) = ({c_out},){per}, "
                         f"got shape {tuple(bias.shape)}")
    return cast(bias, dtype)


def check_grad_output(go, expected_shape, dtype, fn: str) -> np.ndarray:
    """grad_output with the forward output's shape, in ``dtype``."""
    go = float_array(go, "grad_output", fn)
    if go.shape != tuple(expected_shape):
        raise ValueError(f"{fn}: grad_output must have the forward output's shape "
                         f"{tuple(expected_shape)}, got {tuple(go.shape)}")
    return cast(go, dtype)


def check_same_shape(x: np.ndarray, grad_output, fn: str) -> np.ndarray:
    """grad_output of an elementwise op: the shape of x, in x's dtype."""
    go = float_array(grad_output, "grad_output", fn)
    if go.shape != x.shape:
        raise ValueError(f"{fn}: grad_output must have the shape of x {tuple(x.shape)}, got "
                         f"{tuple(go.shape)}")
    return cast(go, x.dtype)


def check_indices(indices, shape, fn: str, plane=None) -> np.ndarray:
    """The integer max-pool indices of the forward, of the output's shape; with ``plane``
    = (H, W), also flat positions inside the H*W input plane."""
    indices = numeric_array(indices, "indices", fn)
    if indices.dtype.kind not in "iu" or indices.shape != tuple(shape):
        raise ValueError(f"{fn}: indices must be the integer array of shape {tuple(shape)} returned "
                         f"by the forward, got dtype {indices.dtype} shape {tuple(indices.shape)}")
    if plane is not None and indices.size:
        h, w = plane
        if indices.min() < 0 or indices.max() >= h * w:
            raise ValueError(f"{fn}: indices must be flat positions in 0..{h * w - 1} of the "
                             f"{h}x{w} input plane, as returned by the forward with "
                             "return_indices=True")
    return indices


def check_cache(cache, kind: type, fn: str, input_shape, what: str, **params):
    """The cache of a ``*_with_cache`` forward: an instance of ``kind`` made for this input
    shape and these parameters (``params``: field name -> the value this call normalised to;
    ``what`` names them in the message, e.g. "stride/padding/dilation")."""
    if not isinstance(cache, kind):
        raise TypeError(f"{fn}: cache must be the {kind.__name__} returned by the *_with_cache "
                        f"forward, got {type(cache).__name__}")
    if tuple(cache.input_shape) != tuple(input_shape) or any(
            getattr(cache, name) != value for name, value in params.items()):
        raise ValueError(f"{fn}: cache does not match this call (forward input "
                         f"{tuple(cache.input_shape)}, got input {tuple(input_shape)}, or different "
                         f"{what}); pass the cache from the matching forward")
    return cache


# ----------------------------------------------------------------------------------------------
# windows
# ----------------------------------------------------------------------------------------------

def check_kernel_fits(fn: str, sizes, kernel, dilation, pads, axis_names) -> None:
    """The dilated kernel must fit in the padded input along every axis."""
    for n, k, d, (p0, p1), ax in zip(sizes, kernel, dilation, pads, axis_names):
        span = d * (k - 1) + 1
        if span > n + p0 + p1:
            dil = f" = dilation {d}*({k}-1)+1" if d != 1 else ""
            raise ValueError(
                f"{fn}: the kernel spans {span} pixels along the {ax}{dil} (kernel_size {k}), "
                f"which is larger than the padded input {ax} {n + p0 + p1} "
                f"({ax} {n} + padding {p0}+{p1}); use a smaller kernel_size or dilation, "
                "more padding, or a larger input"
            )


def conv_padding(padding, nd: int, kernel, dilation, stride, fn: str):
    """Normalise conv padding to ((before, after), ...) per spatial axis.

    "valid" = no padding; "same" = output as large as the input (stride 1 only, as PyTorch):
    the total padding d*(k-1) is split with the extra pixel, when it is odd, on the right/bottom.
    """
    if isinstance(padding, str):
        if padding == "valid":
            return tuple((0, 0) for _ in range(nd))
        if padding == "same":
            if any(s != 1 for s in stride):
                raise ValueError(f"{fn}: padding='same' requires stride=1 (as in PyTorch), got "
                                 f"stride={stride if nd > 1 else stride[0]}; use an int padding "
                                 "with strides")
            pads = []
            for k, d in zip(kernel, dilation):
                total = d * (k - 1)
                pads.append((total // 2, total - total // 2))
            return tuple(pads)
        raise ValueError(f"{fn}: padding must be an int, a tuple of ints, 'valid' or 'same', "
                         f"got {padding!r}")
    p = int_tuple(padding, nd, "padding", fn, 0)
    return tuple((e, e) for e in p)


def check_windows_see_input(fn: str, n, k, s, p, d, axis) -> None:
    """With dilation, a window may fall entirely on padding (its taps straddle the input).
    PyTorch then returns -inf and a meaningless index; we refuse instead."""
    o = out_len(n, k, s, d, 2 * p)
    taps = np.arange(o)[:, None] * s - p + np.arange(k)[None, :] * d    # (O, k) input positions
    inside = ((taps >= 0) & (taps < n)).any(axis=1)
    if not inside.all():
        raise ValueError(f"{fn}: with padding={p} and dilation={d} the pooling window at "
                         f"{axis} position {int(np.argmin(inside))} sees only padding; use less "
                         "padding or a smaller dilation")


# ----------------------------------------------------------------------------------------------
# the argument bundles of cnnlab.functional
# ----------------------------------------------------------------------------------------------

def conv_args(fn, input, weight, bias, stride, padding, dilation, nd):
    """Validate and normalise a convolution's arguments, in 2-D form:
    returns x (N, C_in, H, W), w (C_out, C_in, kH, kW), b, stride (sH, sW),
    pads (top, bottom, left, right), dilation (dH, dW).

    1-D convolutions run as 2-D ones on images of height 1 (x[:, :, None, :]).
    """
    x = check_batched_input(input, fn, nd)
    w = check_weight(weight, x, fn, nd)
    b = check_bias(bias, w.shape[0], x.dtype, fn)
    s = int_tuple(stride, nd, "stride", fn, 1)
    d = int_tuple(dilation, nd, "dilation", fn, 1)
    kernel = w.shape[2:]
    pads = conv_padding(padding, nd, kernel, d, s, fn)
    names = ("length",) if nd == 1 else ("height", "width")
    check_kernel_fits(fn, x.shape[2:], kernel, d, pads, names)
    if nd == 1:
        return (x[:, :, None, :], w[:, :, None, :], b, (1, s[0]), (0, 0) + pads[0], (1, d[0]))
    return x, w, b, s, pads[0] + pads[1], d


def pool_args(fn, input, kernel_size, stride, padding, dilation, nd, check_half=True):
    """Validate a pooling's arguments, in 2-D form: returns x (N, C, H, W), kernel (kH, kW),
    stride (default: the kernel), pads (top, bottom, left, right), dilation."""
    x = check_batched_input(input, fn, nd)
    k = int_tuple(kernel_size, nd, "kernel_size", fn, 1)
    s = k if stride is None else int_tuple(stride, nd, "stride", fn, 1)
    p = int_tuple(padding, nd, "padding", fn, 0)
    d = int_tuple(dilation, nd, "dilation", fn, 1)
    if check_half:
        for kk, pp in zip(k, p):
            if pp > kk // 2:
                raise ValueError(
                    f"{fn}: padding must be at most half the kernel size (PyTorch's rule), got "
                    f"padding={padding!r} with kernel_size={kernel_size!r}; use padding <= {kk // 2}"
                )
    names = ("length",) if nd == 1 else ("height", "width")
    check_kernel_fits(fn, x.shape[2:], k, d, [(e, e) for e in p], names)
    for n, kk, ss, pp, dd, ax in zip(x.shape[2:], k, s, p, d, names):
        if dd > 1 and pp > 0:
            check_windows_see_input(fn, n, kk, ss, pp, dd, ax)
    if nd == 1:
        return x[:, :, None, :], (1, k[0]), (1, s[0]), (0, 0, p[0], p[0]), (1, d[0])
    return x, k, s, (p[0], p[0], p[1], p[1]), d


MODES = ("valid", "same", "full")


def signal_args(x, k, mode, nd, fn):
    """The single arrays of correlate/convolve (1-D or 2-D, scipy.signal semantics).
    Integers stay integers (bool becomes int64), like scipy."""
    x = numeric_array(x, "x", fn)
    k = numeric_array(k, "k", fn)
    if x.dtype == bool:
        x = x.astype(np.int64)
    if k.dtype == bool:
        k = k.astype(np.int64)
    kind = "1-D" if nd == 1 else "2-D"
    for name, a in (("x", x), ("k", k)):
        if a.ndim != nd:
            extra = ""
            if nd == 2 and a.ndim == 4:
                extra = "; for batches of multi-channel images use conv2d"
            elif nd == 2 and a.ndim == 3:
                extra = "; for a colour image correlate each channel, or use conv2d"
            raise ValueError(f"{fn}: {name} must be {kind}, got shape {tuple(a.shape)}{extra}")
        if a.size == 0:
            raise ValueError(f"{fn}: {name} is empty (shape {tuple(a.shape)})")
    if mode not in MODES:
        raise ValueError(f"{fn}: mode must be 'valid', 'same' or 'full', got {mode!r}")
    if mode == "valid":
        bigger = all(a >= b for a, b in zip(x.shape, k.shape))
        smaller = all(a <= b for a, b in zip(x.shape, k.shape))
        if not (bigger or smaller):
            raise ValueError(f"{fn}: in 'valid' mode x {tuple(x.shape)} must be at least as large "
                             f"as k {tuple(k.shape)} in every dimension (or the other way round, as "
                             "in scipy.signal); use mode='same' or 'full'")
    return x, k


def activation_args(fn, x, grad_output=None):
    """x as a float array; with grad_output, (x, grad_output) of the same shape and dtype."""
    x = float_array(x, "x", fn)
    if grad_output is None:
        return x
    return x, check_same_shape(x, grad_output, fn)


def softmax_args(fn, x, dim, grad_output=None):
    """x (at least 1-D for the forward) and dim as an axis of x; with grad_output,
    (x, grad_output, dim)."""
    if grad_output is None:
        x = activation_args(fn, x)
        if x.ndim == 0:
            raise ValueError(f"{fn}: x must have at least 1 dimension, got a scalar")
        return x, check_dim(dim, x.ndim, fn)
    x, go = activation_args(fn, x, grad_output)
    return x, go, check_dim(dim, x.ndim, fn)


def linear_args(fn, input, weight):
    """input (..., in_features) and weight (out_features, in_features) in the input's dtype."""
    x = float_array(input, "input", fn)
    w = float_array(weight, "weight", fn)
    if w.ndim != 2:
        raise ValueError(f"{fn}: weight must be 2-D (out_features, in_features), got shape "
                         f"{tuple(w.shape)}")
    if x.ndim < 1:
        raise ValueError(f"{fn}: input must be at least 1-D (..., in_features), got a scalar")
    if x.shape[-1] != w.shape[1]:
        hint = ""
        if x.ndim > 2:
            hint = (f"; input has shape {tuple(x.shape)}: flatten it first "
                    f"(flatten(input) gives {x.shape[0]} x {math.prod(x.shape[1:])})")
        raise ValueError(
            f"{fn}: input has {x.shape[-1]} features (input.shape[-1]) but weight expects "
            f"{w.shape[1]} (weight.shape[1] = in_features){hint}"
        )
    return x, cast(w, x.dtype)


def cross_entropy_grad_output(grad_output, n: int, reduction: str, dtype, fn: str):
    """The upstream gradient of a cross-entropy loss: an (N,) array in ``dtype`` for
    reduction="none", else a Python float (the loss was one number)."""
    go = numeric_array(grad_output, "grad_output", fn)
    if reduction == "none":
        if go.shape != (n,):
            raise ValueError(f"{fn}: with reduction='none' grad_output must have shape ({n},), got "
                             f"{tuple(go.shape)}")
        return cast(go.astype(dtype, copy=False), dtype)
    if go.size != 1:
        raise ValueError(f"{fn}: with reduction={reduction!r} grad_output must be a scalar, got shape "
                         f"{tuple(go.shape)}")
    return float(go.reshape(()))


def check_rng(rng, fn: str) -> np.random.Generator:
    """A numpy.random.Generator (layers pass ``cnnlab.nn.get_rng()``)."""
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"{fn}: rng must be a numpy.random.Generator, got {type(rng).__name__}")
    return rng


def check_mask(mask, go: np.ndarray, fn: str) -> np.ndarray:
    """A dropout mask of grad_output's shape."""
    mask = np.asarray(mask)
    if mask.shape != go.shape:
        raise ValueError(f"{fn}: mask must have the shape of grad_output {tuple(go.shape)}, got "
                         f"{tuple(mask.shape)}")
    return mask


def flatten_dims(start_dim, end_dim, ndim: int, fn: str) -> tuple[int, int]:
    """start_dim and end_dim of a flatten as axes 0..ndim-1, start not after end."""
    nd = max(ndim, 1)
    a = check_dim(start_dim, nd, fn) % nd
    b = check_dim(end_dim, nd, fn) % nd
    if a > b:
        raise ValueError(f"{fn}: start_dim ({start_dim}) must not come after end_dim ({end_dim})")
    return a, b


def check_grad_size(grad_output, shape: tuple, fn: str) -> np.ndarray:
    """grad_output with as many elements as ``shape`` (to be reshaped to it), as floats."""
    go = float_array(grad_output, "grad_output", fn)
    if go.size != math.prod(shape):
        raise ValueError(f"{fn}: grad_output has {go.size} elements, the input shape "
                         f"{shape} has {math.prod(shape)}")
    return go


REDUCTIONS = ("mean", "sum", "none")


def cross_entropy_args(fn, input, target, reduction):
    """Logits (N, C) as floats and integer labels (N,) in 0..C-1 (as np.intp)."""
    x = float_array(input, "input", fn)
    if x.ndim != 2:
        hint = "; for a single sample use input[None] and target[None]" if x.ndim == 1 else ""
        raise ValueError(f"{fn}: input must be 2-D logits (N, C), got shape {tuple(x.shape)}{hint}")
    t = numeric_array(target, "target", fn)
    if t.dtype.kind == "f" and t.size and np.all(np.isfinite(t)) and np.all(t == np.round(t)):
        t = t.astype(np.int64)      # 3.0 is a fine label; 3.5 is not
    if t.dtype.kind not in "iu":
        raise TypeError(f"{fn}: target must hold integer class labels 0..{x.shape[1] - 1}, got "
                        f"dtype {t.dtype}; use target.astype(int) (for one-hot targets use "
                        "target.argmax(1))")
    if t.shape != (x.shape[0],):
        raise ValueError(f"{fn}: target must have shape (N,) = ({x.shape[0]},), one label per "
                         f"row of input, got shape {tuple(t.shape)}")
    if t.size and (t.min() < 0 or t.max() >= x.shape[1]):
        bad = t[(t < 0) | (t >= x.shape[1])][0]
        raise ValueError(f"{fn}: target has label {bad}, outside 0..{x.shape[1] - 1} for C = "
                         f"{x.shape[1]} classes (input.shape[1]); check the number of classes")
    if reduction not in REDUCTIONS:
        raise ValueError(f"{fn}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
    return x, t.astype(np.intp, copy=False)


# ----------------------------------------------------------------------------------------------
# --- layers, optimisers, data and training
# ----------------------------------------------------------------------------------------------

__all__ += ["int_value", "check_bool", "finite_number", "check_choice", "float_dtype",
            "check_labels", "check_same_length"]


def int_value(value, name: str, fn: str) -> int:
    """Any int (negative too, e.g. an axis), else TypeError "fn: name must be an int"."""
    if not is_int(value):
        raise TypeError(f"{_at(fn)}{name} must be an int, got {value!r}")
    return int(value)


def check_bool(value, name: str, fn: str) -> bool:
    """True or False (NumPy's bool too), else TypeError."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{_at(fn)}{name} must be True or False, got {value!r}")
    return bool(value)


def finite_number(value, name: str, fn: str) -> float:
    """A real number that is neither NaN nor infinite, as a float (hyperparameters)."""
    value = real_number(value, name, fn)
    if not math.isfinite(value):
        raise ValueError(f"{_at(fn)}{name} must be a finite number, got {value}")
    return value


def check_choice(value, choices, name: str, fn: str | None = None):
    """One of ``choices``, else ValueError "fn: name must be one of 'a', 'b', got 'c'"."""
    if value not in choices:
        raise ValueError(f"{_at(fn)}{name} must be one of {', '.join(map(repr, choices))}, "
                         f"got {value!r}")
    return value


def float_dtype(dtype, fn: str) -> np.dtype:
    """A floating dtype for parameters: None means float32."""
    dt = np.dtype(np.float32 if dtype is None else dtype)
    if dt.kind != "f":
        raise TypeError(f"{_at(fn)}dtype must be a floating type such as np.float32, got {dt}")
    return dt


def check_labels(y: np.ndarray, num_classes: int, name: str, fn: str | None = None) -> None:
    """Integer class labels in [0, num_classes)."""
    if y.size and (y.min() < 0 or y.max() >= num_classes):
        raise ValueError(f"{_at(fn)}{name} must be in [0, num_classes) = [0, {num_classes}), "
                         f"found labels from {int(y.min())} to {int(y.max())}")


def check_same_length(x, y, fn: str | None = None) -> None:
    """Images x and labels y, one label per image."""
    if len(x) != len(y):
        raise ValueError(f"{_at(fn)}x and y must have the same length, got {len(x)} images "
                         f"and {len(y)} labels")

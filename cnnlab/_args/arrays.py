"""Arrays: numeric/float conversion, batched inputs, weights, biases, gradients, indices,
labels (see ``cnnlab._args``)."""
from __future__ import annotations


import numpy as np

from cnnlab._args.values import _at

__all__ = [
    "numeric_array",
    "float_array",
    "cast",
    "shape_hint",
    "check_batched_input",
    "check_weight",
    "check_bias",
    "check_grad_output",
    "check_same_shape",
    "check_indices",
    "check_cache",
    "check_labels",
    "check_same_length",
]


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

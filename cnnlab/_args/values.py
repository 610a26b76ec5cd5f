"""Values: ints, numbers, probabilities, dims, choices, dtypes (see ``cnnlab._args``)."""
from __future__ import annotations

import math
import numbers

import numpy as np

__all__ = [
    "is_int",
    "is_real",
    "int_at_least",
    "positive_int",
    "int_tuple",
    "real_number",
    "check_probability",
    "check_dim",
    "check_norm_type",
    "check_size_args",
    "check_kernel_size",
    "check_layer",
    "int_value",
    "check_bool",
    "finite_number",
    "check_choice",
    "float_dtype",
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

"""TEMPORARY: argument checks for layers, optimisers, data and training, until cnnlab._args lands.

Will be folded into cnnlab/_args.py (engine branch) and deleted.
"""
from __future__ import annotations

import math
import numbers

import numpy as np


def check_int(value, name: str, owner: str, minimum: int | None = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{owner}: {name} must be an integer, got {value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{owner}: {name} must be >= {minimum}, got {value}")
    return int(value)


def int_tuple(value, n: int, name: str, owner: str, minimum: int = 1) -> tuple[int, ...]:
    if isinstance(value, (tuple, list)):
        if len(value) != n:
            raise ValueError(
                f"{owner}: {name} must be an int or a tuple of {n} ints, got {value!r}")
        return tuple(check_int(v, name, owner, minimum) for v in value)
    return (check_int(value, name, owner, minimum),) * n


def padding_arg(value, n: int, owner: str, stride: tuple[int, ...]):
    if isinstance(value, str):
        if value not in ("valid", "same"):
            raise ValueError(
                f"{owner}: padding must be an int, a tuple, 'valid' or 'same', got {value!r}")
        if value == "same" and any(s != 1 for s in stride):
            raise ValueError(
                f"{owner}: padding='same' is not supported for strided convolutions "
                f"(stride={stride}); use stride=1 or give the padding as a number")
        return value
    return int_tuple(value, n, "padding", owner, minimum=0)


def check_bool(value, name: str, owner: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{owner}: {name} must be True or False, got {value!r}")
    return bool(value)


def float_dtype(dtype, owner: str) -> np.dtype:
    dt = np.dtype(np.float32 if dtype is None else dtype)
    if dt.kind != "f":
        raise TypeError(f"{owner}: dtype must be a floating type such as np.float32, got {dt}")
    return dt


def check_input(x, ndim: int, owner: str, layout: str) -> None:
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{owner}: input must be a numpy array of shape {layout}, "
                        f"got {type(x).__name__}")
    if x.ndim != ndim:
        hint = ""
        if x.ndim == ndim - 1:
            hint = " (a single example? add the batch axis with x[None])"
        raise ValueError(f"{owner}: expected a {ndim}-D input {layout}, "
                         f"got shape {tuple(x.shape)}{hint}")


def check_real(value, name: str, owner: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{owner}: {name} must be a number, got {value!r}")
    value = float(value)
    if math.isnan(value):
        raise ValueError(f"{owner}: {name} must be a number, got nan")
    return value


def check_positive_real(value, name: str, owner: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value > 0:
        raise ValueError(f"{owner}: {name} must be a positive number, got {value!r}")
    return float(value)


def check_probability(value, name: str, owner: str, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value <= 1:
        raise ValueError(f"{owner}: {name} ({what}) must be between 0 and 1, got {value!r}")
    return float(value)


def check_count(value, name: str, owner: str | None = None, minimum: int = 1) -> int:
    """A whole number >= minimum (0: "non-negative", 1: "positive"); ValueError otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        what = {0: "a non-negative integer", 1: "a positive integer"}.get(
            minimum, f"an integer >= {minimum}")
        where = f"{owner}: " if owner else ""
        raise ValueError(f"{where}{name} must be {what}, got {value!r}")
    return int(value)

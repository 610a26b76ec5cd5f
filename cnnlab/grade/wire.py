"""The wire format between the grader and the student's kernel, written once for both sides.

A value travels as a JSON *spec* plus the NumPy arrays it holds, stored in an ``.npz`` file
under the keys the spec names. Nothing is ever pickled: ``np.load(..., allow_pickle=False)``
refuses object arrays, and ``decode`` accepts only the kinds below.

=========  ==========================================  ==============================
kind       spec                                        value
=========  ==========================================  ==============================
arr        ``{"t": "arr", "k": key}``                  an ndarray (numbers or bools)
npscalar   ``{"t": "npscalar", "k": key}``             a NumPy scalar (0-d array)
none       ``{"t": "none"}``                           None
bool       ``{"t": "bool", "v": true}``                bool
int        ``{"t": "int", "v": "12"}``                 int, as digits (|n| < 10**100)
float      ``{"t": "float", "v": "0.1"}``              float, as ``repr`` (exact)
complex    ``{"t": "complex", "v": ["1.0", "2.0"]}``   complex
str        ``{"t": "str", "v": "same"}``               str
tuple      ``{"t": "tuple", "v": [spec, ...]}``        tuple (list: ``"list"``)
dict       ``{"t": "dict", "v": {"name": spec}}``      dict with str keys
error      ``{"t": "error", "type": ..., "msg": ...}`` the function raised
other      ``{"t": "unsupported", "type": ...}``       a value the grader cannot read
=========  ==========================================  ==============================

The grader encodes the case inputs (``Encoder(strict=True)``: an unsupported value raises
TypeError) and decodes the results; the kernel decodes the inputs and encodes the results
(``Encoder(strict=False)``: an unsupported value becomes an "unsupported" spec, reported to the
student as such). Containers nest at most ``MAX_DEPTH`` deep with at most ``MAX_ITEMS`` items,
one array holds at most ``MAX_ARRAY_BYTES`` and one message ``MAX_MESSAGE_BYTES``.

This module imports nothing from cnnlab: the kernel loads it fresh from its file (see
``kernel_side``), so a notebook that patched ``cnnlab`` cannot change what is sent back.
"""
from __future__ import annotations

import io
import json
import os

import numpy as np

__all__ = [
    "MAX_ARRAY_BYTES", "MAX_MESSAGE_BYTES", "MAX_FILE_BYTES", "MAX_ITEMS", "MAX_DEPTH",
    "Encoder", "decode", "error_spec", "npz_bytes", "load_npz",
]

MAX_ARRAY_BYTES = 64 * 2**20        # one array larger than this is not transferred
MAX_MESSAGE_BYTES = 4 * MAX_ARRAY_BYTES   # all arrays of one message (one exercise's results)
MAX_FILE_BYTES = 512 * 2**20        # a file larger than this is not read
MAX_ITEMS = 256                     # items of one tuple, list or dict
MAX_DEPTH = 4                       # containers inside containers
MAX_INT = 10**100
MAX_STR = 10_000                    # characters of one string
MAX_ERROR_TYPE, MAX_ERROR_MESSAGE = 100, 500


def error_spec(type_name: str, message: str) -> dict:
    """The spec of a call that raised (type name and message, shortened)."""
    return {"t": "error", "type": str(type_name)[:MAX_ERROR_TYPE],
            "msg": str(message)[:MAX_ERROR_MESSAGE]}


class Encoder:
    """Turns values into specs, collecting their arrays for one ``.npz`` file.

    strict          : True: an unsupported value raises TypeError (the grader's inputs);
                      False: it becomes ``{"t": "unsupported"}`` (a student's result)
    max_array_bytes : the largest array sent
    max_bytes       : all arrays together
    """

    def __init__(self, strict: bool, max_array_bytes: int = MAX_ARRAY_BYTES,
                 max_bytes: int = MAX_MESSAGE_BYTES):
        self.strict = strict
        self.max_array_bytes = int(max_array_bytes)
        self.budget = int(max_bytes)
        self.arrays: dict[str, np.ndarray] = {}

    def encode(self, value, key: str, depth: int = 0) -> dict:
        """The spec of ``value``; its arrays are stored under ``key`` and ``key_0``, ``key_1`` ..."""
        if isinstance(value, (np.ndarray, np.generic)):
            return self._array(value, key)
        if value is None:
            return {"t": "none"}
        if isinstance(value, bool):
            return {"t": "bool", "v": bool(value)}
        if isinstance(value, int):
            if abs(value) >= MAX_INT:
                return self._unsupported("huge int")
            return {"t": "int", "v": str(int(value))}
        if isinstance(value, float):
            return {"t": "float", "v": float.__repr__(float(value))}
        if isinstance(value, complex):
            return {"t": "complex", "v": [float.__repr__(value.real), float.__repr__(value.imag)]}
        if isinstance(value, str):
            if len(value) > MAX_STR:
                return self._unsupported(f"str of {len(value)} characters (too long)")
            return {"t": "str", "v": str(value)}
        if isinstance(value, (tuple, list, dict)) and depth < MAX_DEPTH and len(value) <= MAX_ITEMS:
            return self._container(value, key, depth)
        return self._unsupported(type(value).__name__)

    def _array(self, value, key: str) -> dict:
        arr = np.asarray(value)
        if arr.dtype.hasobject or arr.dtype.names is not None or arr.dtype.kind == "V":
            return self._unsupported(f"ndarray of dtype {arr.dtype}")
        if arr.nbytes > self.max_array_bytes or arr.nbytes > self.budget:
            return self._unsupported(f"array of {arr.nbytes} bytes (too large)")
        self.budget -= arr.nbytes
        self.arrays[key] = arr.copy(order="C")   # (np.ascontiguousarray would make 0-d 1-d)
        return {"t": "npscalar" if isinstance(value, np.generic) else "arr", "k": key}

    def _container(self, value, key: str, depth: int) -> dict:
        if isinstance(value, dict):
            if not all(isinstance(k, str) for k in value):
                return self._unsupported("dict with keys that are not str")
            return {"t": "dict", "v": {k: self.encode(v, f"{key}_{i}", depth + 1)
                                       for i, (k, v) in enumerate(value.items())}}
        return {"t": "tuple" if isinstance(value, tuple) else "list",
                "v": [self.encode(v, f"{key}_{i}", depth + 1) for i, v in enumerate(list(value))]}

    def _unsupported(self, what: str) -> dict:
        if self.strict:
            raise TypeError(f"cannot send a {what} to the kernel without pickle")
        return {"t": "unsupported", "type": what}

    def npz_bytes(self) -> bytes:
        """The collected arrays as the bytes of an ``.npz`` file."""
        return npz_bytes(self.arrays)


def npz_bytes(arrays: dict) -> bytes:
    """``arrays`` (name -> ndarray) as the bytes of an ``.npz`` file (``np.savez``)."""
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def decode(spec, arrays, *, error, depth: int = 0):
    """The value a spec describes. Strict: anything malformed raises ValueError.

    arrays : the message's arrays (an open ``np.load`` file, or a dict); each "arr" is copied,
             so a function that writes into its input cannot change another case
    error  : builds the value of an "error" or "unsupported" spec: ``error(type_name, message)``
    """
    if not isinstance(spec, dict):
        raise ValueError("malformed result")
    t = spec.get("t")
    if t in ("arr", "npscalar"):
        key = spec.get("k")
        if not isinstance(key, str) or key not in arrays:
            raise ValueError("a result array is missing")
        arr = np.array(arrays[key], copy=True)
        return arr[()] if t == "npscalar" else arr
    if t in _SCALARS:
        return _SCALARS[t](spec.get("v"))
    if t in ("tuple", "list", "dict"):
        return _decode_container(t, spec.get("v"), arrays, error, depth)
    if t == "error":
        return error(str(spec.get("type", "Exception"))[:MAX_ERROR_TYPE],
                     str(spec.get("msg", ""))[:MAX_ERROR_MESSAGE])
    if t == "unsupported":
        return error("TypeError", f"returned a {str(spec.get('type'))[:80]}, which the grader "
                                  "cannot read back (return NumPy arrays, numbers or tuples of them)")
    raise ValueError(f"unknown result kind {t!r}")


def _decode_container(t, items, arrays, error, depth):
    if depth >= MAX_DEPTH + 1 or not isinstance(items, dict if t == "dict" else list) \
            or len(items) > MAX_ITEMS:
        raise ValueError(f"malformed {t}")
    if t == "dict":
        return {str(k): decode(s, arrays, error=error, depth=depth + 1) for k, s in items.items()}
    values = [decode(s, arrays, error=error, depth=depth + 1) for s in items]
    return tuple(values) if t == "tuple" else values


def _int(v):
    text = str(v)
    if len(text) > 102:
        raise ValueError("malformed int")
    return int(text)


def _str(v):
    if not isinstance(v, str) or len(v) > MAX_STR:
        raise ValueError("malformed str")
    return v


_SCALARS = {
    "none": lambda v: None,
    "bool": bool,
    "int": _int,
    "float": lambda v: float(str(v)),
    "complex": lambda v: complex(float(str(v[0])), float(str(v[1]))),
    "str": _str,
}


def _check_size(path) -> None:
    if os.path.getsize(path) > MAX_FILE_BYTES:
        raise ValueError("results file too large")


def load_npz(source):
    """``np.load(..., allow_pickle=False)`` of a file path or of the file's bytes, after a size
    check (use it in a ``with``)."""
    if isinstance(source, (bytes, bytearray)):
        if len(source) > MAX_FILE_BYTES:
            raise ValueError("results file too large")
        return np.load(io.BytesIO(source), allow_pickle=False)
    _check_size(source)
    return np.load(source, allow_pickle=False)

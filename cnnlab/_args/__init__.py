"""The one place that checks arguments, so every message has the same shape.

A mistake raises ``TypeError`` (wrong kind of value) or ``ValueError`` (right kind, wrong value)
whose message starts with the function or layer (``fn``) and names the argument, the problem
and the fix, e.g. ``conv2d: input must be 4-D (N, C_in, H, W), got shape (28, 28); for a single
image use x[None, None]``. Never a bare ``IndexError`` from deep inside NumPy.

The names here are public inside this private package: any cnnlab module may import them
(``from cnnlab._args import float_array, int_tuple``). Modules:

* ``values``: ints, numbers, probabilities, dims, choices, dtypes;
* ``arrays``: numeric/float conversion, batched inputs, weights, biases, gradients, indices, labels;
* ``ops``: kernel-fits-the-padded-input, conv padding, pooling windows, and the argument bundles
  of the ``cnnlab.functional`` ops (one line at the top of each op).
"""
from cnnlab._args.values import *  # noqa: F401,F403
from cnnlab._args.arrays import *  # noqa: F401,F403
from cnnlab._args.ops import *  # noqa: F401,F403
from cnnlab._args import arrays as _arrays, ops as _ops, values as _values

__all__ = [*_values.__all__, *_arrays.__all__, *_ops.__all__]

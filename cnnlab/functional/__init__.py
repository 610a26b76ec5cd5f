"""cnnlab.functional: every piece of math in cnnlab, forward and backward.

The names, argument order and semantics follow ``torch.nn.functional`` so that what you learn
here carries over to PyTorch. Everything takes and returns NumPy arrays:

* batched images are NCHW: ``(N, C, H, W)`` = (batch, channels, height, width);
  batched signals are NCL: ``(N, C, L)``;
* a convolution weight is ``(C_out, C_in, kH, kW)`` (``(C_out, C_in, k)`` in 1-D);
* outputs keep the input dtype: float32 in, float32 out; float64 works everywhere (use it for
  gradient checks). Integer or boolean input to the *batched* ops (conv, pools, activations,
  linear, losses) is converted to float64; the pedagogical single-array functions
  (``correlate2d`` ...) keep integers, like ``scipy.signal``.

Every ``<op>_backward`` takes the gradient of the loss with respect to the op's output
(``grad_output``, same shape as the output) and returns the gradient with respect to its
input(s), i.e. one step of the chain rule.

One module per concept; open them in this order:

    formulas.py     output_size, output_size_exact, conv_parameter_count, receptive_field
    signal.py       correlate1d/2d, convolve1d/2d: one array, one kernel (scipy.signal)
    conv.py         conv1d, conv2d and their backwards (batched, multi-channel)
    pool.py         max, average, sum and Lp pooling, 1-D and 2-D, and their backwards
    activations.py  relu, sigmoid, tanh, leaky_relu, silu, softmax, log_softmax
    losses.py       cross_entropy
    dense.py        linear, dropout, flatten (the classifier head)

Arguments are checked once, at the public boundary (``cnnlab._args``); a mistake raises
``ValueError`` or ``TypeError`` naming the argument, the problem and the fix.

Where speed matters (conv, pool, ReLU), the public function runs a measured fast twin from
``cnnlab._fast``, and the module keeps the readable definition beside it (``conv2d_readable``,
...): a window view (``cnnlab._windows``) and one tensordot. Tests hold each pair equal.
"""
import types

from cnnlab._fast.threads import get_num_threads, set_num_threads
from cnnlab.functional.activations import (leaky_relu, leaky_relu_backward, log_softmax,
                                           log_softmax_backward, relu, relu_backward, sigmoid,
                                           sigmoid_backward, silu, silu_backward, softmax,
                                           softmax_backward, tanh, tanh_backward)
from cnnlab.functional.conv import (ConvCache, conv1d, conv1d_backward, conv1d_with_cache, conv2d,
                                    conv2d_backward, conv2d_with_cache)
from cnnlab.functional.dense import (dropout, dropout_backward, flatten, flatten_backward, linear,
                                     linear_backward)
from cnnlab.functional.formulas import (conv_parameter_count, output_size, output_size_exact,
                                        receptive_field)
from cnnlab.functional.losses import cross_entropy, cross_entropy_backward
from cnnlab.functional.pool import (MaxPoolCache, avg_pool1d, avg_pool1d_backward, avg_pool2d,
                                    avg_pool2d_backward, lp_pool1d, lp_pool1d_backward, lp_pool2d,
                                    lp_pool2d_backward, max_pool1d, max_pool1d_backward,
                                    max_pool1d_with_cache, max_pool2d, max_pool2d_backward,
                                    max_pool2d_with_cache, sum_pool2d, sum_pool2d_backward)
from cnnlab.functional.signal import convolve1d, convolve2d, correlate1d, correlate2d

__all__ = [
    # formulas
    "output_size", "output_size_exact", "conv_parameter_count", "receptive_field",
    # single arrays (scipy.signal semantics)
    "correlate1d", "convolve1d", "correlate2d", "convolve2d",
    # convolution
    "conv1d", "conv2d", "conv1d_with_cache", "conv2d_with_cache", "conv1d_backward",
    "conv2d_backward", "ConvCache",
    # pooling
    "max_pool1d", "max_pool2d", "max_pool1d_backward", "max_pool2d_backward",
    "avg_pool1d", "avg_pool2d", "avg_pool1d_backward", "avg_pool2d_backward",
    "sum_pool2d", "sum_pool2d_backward", "lp_pool1d", "lp_pool2d", "lp_pool1d_backward",
    "lp_pool2d_backward",
    # activations
    "relu", "relu_backward", "sigmoid", "sigmoid_backward", "tanh", "tanh_backward",
    "leaky_relu", "leaky_relu_backward", "silu", "silu_backward", "softmax", "softmax_backward",
    "log_softmax", "log_softmax_backward",
    # the rest
    "linear", "linear_backward", "cross_entropy", "cross_entropy_backward", "dropout",
    "dropout_backward", "flatten", "flatten_backward",
    # threads of the engine and of BLAS, like torch.set_num_threads (also cnnlab.set_num_threads)
    "set_num_threads", "get_num_threads",
    # the max-pool seam for layers (like conv*_with_cache)
    "max_pool1d_with_cache", "max_pool2d_with_cache", "MaxPoolCache",
]

# The functions live in the concept modules but belong to cnnlab.functional, as numpy's
# functions belong to numpy: their __module__ says so, so that reprs, pickles and the grader's
# reports name them cnnlab.functional.conv2d (their source stays where it is).
for _name in __all__:
    if isinstance(globals()[_name], types.FunctionType):
        globals()[_name].__module__ = __name__
del _name

# doctest.testmod(cnnlab.functional) only looks at objects defined in this file; list the
# public functions whose docstrings hold examples so that it runs those too
__test__ = {name: globals()[name] for name in __all__ if ">>>" in (globals()[name].__doc__ or "")}

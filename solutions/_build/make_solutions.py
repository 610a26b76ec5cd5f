"""Write the solution notebooks solutions/*.ipynb (the single source of the exercises).

    .venv/bin/python solutions/_build/make_solutions.py     # writes solutions/*.ipynb
    .venv/bin/python -m cnnlab exercises                     # then regenerates exercises/

Each notebook: instructions, then per exercise a task (markdown), the function to write with
the answer between nbgrader's ``### BEGIN SOLUTION`` / ``### END SOLUTION`` markers (cell
metadata ``nbgrader.solution = true``, grade_id "<name>-impl"), a small "try it" cell with the
worked example, and the locked graded check cell ``cnnlab.check("<name>", <fn>)`` (grade_id
"<name>", points). Cell ids are fixed and the output is deterministic, so re-running this
script on an unchanged file changes nothing.
"""
from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from cnnlab.checks import EXERCISES  # noqa: E402  (points and names come from the registry)

SOLUTIONS = ROOT / "solutions"

SETUP = """\
import numpy as np

import cnnlab

np.set_printoptions(precision=3, suppress=True)"""

HOW_TO = """\
**How it works.** Each exercise gives you a function to write. Replace
`raise NotImplementedError()` with your code (keep the function's name and parameters), run
the cell, then run the **check** cell below it. `cnnlab.check` calls your function on a few
fixed and random cases and tells you which pass, and for a failure the likely cause
(for example *"kernel flipped"* or *"padding on one side only"*). Change your code and run both
cells again until every case passes. The check cells are graded."""

NUMPY_ONLY = """\
Use NumPy only: `cnnlab.functional` already contains these functions (it is what the check
compares your answers with), so calling it would teach you nothing."""


# --------------------------------------------------------------------------- cell helpers

def md(cell_id, text, slide="-"):
    c = new_markdown_cell(text)
    c.id = cell_id
    c.metadata = {"slideshow": {"slide_type": slide}}
    return c


def code(cell_id, text, slide="-", nbgrader=None):
    c = new_code_cell(text)
    c.id = cell_id
    c.metadata = {"slideshow": {"slide_type": slide}}
    if nbgrader:
        c.metadata["nbgrader"] = nbgrader
    return c


def exercise(name, task_md, solution_src, try_src, hidden_src="", slide="slide"):
    """The four cells of one exercise: task, solution (graded function), try it, check."""
    ex = EXERCISES[name]
    cells = [
        md(f"{name}-task", f"## {task_md.strip().splitlines()[0].lstrip('# ')} "
                           f"({ex.points} points)\n\n" + "\n".join(task_md.strip().splitlines()[1:]),
           slide=slide),
        code(f"{name}-impl", solution_src.strip("\n"), "subslide", nbgrader={
            "grade": False, "grade_id": f"{name}-impl", "locked": False, "schema_version": 3,
            "solution": True, "task": False}),
    ]
    if try_src:
        cells.append(code(f"{name}-try", try_src.strip("\n")))
    check_src = f'cnnlab.check("{name}", {ex.function_name})'
    if hidden_src:
        check_src += f"\n### BEGIN HIDDEN TESTS\n{hidden_src.strip()}\n### END HIDDEN TESTS"
    cells.append(code(name, check_src, "fragment", nbgrader={
        "grade": True, "grade_id": name, "locked": True, "points": ex.points,
        "schema_version": 3, "solution": False, "task": False}))
    return cells


def notebook(cells):
    nb = new_notebook(cells=cells)
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    return nb


def intro(lesson, title, text, lesson_file, extra_setup=""):
    setup = SETUP if not extra_setup else SETUP + "\n" + extra_setup
    return [
        md("intro", f"# Exercises, lesson {lesson}: {title}\n\n{text.strip()}\n\n"
                    f"The lesson: [`notebooks/{lesson_file}`](../notebooks/{lesson_file}).\n\n"
                    f"{HOW_TO}", slide="slide"),
        code("setup", setup, "skip"),
    ]


def done(text=""):
    return md("done", ("## Done?\n\nWhen every check cell says *All … cases passed*, save the "
                       "notebook and hand it in. " + text.strip()).strip(), slide="slide")


# --------------------------------------------------------------------------- lesson 1

L1 = intro(1, "cross-correlation by hand", f"""
A convolution layer slides a small kernel over the image and, at each position, multiplies the
window and the kernel element by element and adds everything up. Strictly speaking that is a
**cross-correlation** (a true convolution would flip the kernel first); CNN libraries call it
convolution anyway. {NUMPY_ONLY}""", "01_discrete_convolution.ipynb") + exercise(
    "corr2d",
    r"""
# Exercise 1.1: valid cross-correlation
Write `corr2d(x, k)` for a 2-D input `x` of shape `(H, W)` and a kernel `k` of shape `(kH, kW)`.
Slide the kernel over every position where it fits **entirely inside** `x` ("valid" mode):

$$\text{out}[i, j] = \sum_{a=0}^{kH-1}\sum_{b=0}^{kW-1} x[i+a,\ j+b]\; k[a, b]$$

* the output has shape `(H - kH + 1, W - kW + 1)`;
* do **not** flip the kernel;
* the output keeps the input's dtype (`np.zeros(shape, dtype=x.dtype)`).

Worked example: `x = [[0, 1, 2], [3, 4, 5], [6, 7, 8]]` and `k = [[0, 1], [2, 3]]` give
`[[19, 25], [37, 43]]` (top-left: 0·0 + 1·1 + 3·2 + 4·3 = 19).""",
    '''
def corr2d(x, k):
    """Valid 2-D cross-correlation of x (H, W) with k (kH, kW) -> (H-kH+1, W-kW+1)."""
    H, W = x.shape
    kH, kW = k.shape
    ### BEGIN SOLUTION
    out = np.zeros((H - kH + 1, W - kW + 1), dtype=x.dtype)
    for i in range(H - kH + 1):
        for j in range(W - kW + 1):
            out[i, j] = np.sum(x[i:i + kH, j:j + kW] * k)
    return out
    ### END SOLUTION
''',
    '''
x = np.arange(9.0).reshape(3, 3)
k = np.array([[0.0, 1.0], [2.0, 3.0]])
out = corr2d(x, k)
print(out)
assert out.tolist() == [[19.0, 25.0], [37.0, 43.0]]
''',
    hidden_src='''
assert corr2d(np.ones((4, 5)), np.ones((3, 3))).tolist() == [[9.0, 9.0, 9.0], [9.0, 9.0, 9.0]]
assert corr2d(np.eye(3, dtype=np.float32), np.eye(2, dtype=np.float32)).dtype == np.float32
''') + [done()]


# --------------------------------------------------------------------------- lesson 2

L2 = intro(2, "image kernels", f"""
Blurring, sharpening and edge detection are all cross-correlations with a small hand-made
kernel. To keep the image's size, the image is first surrounded by a border of zeros ("same"
zero padding). {NUMPY_ONLY}""", "02_image_kernels.ipynb") + exercise(
    "correlate_same",
    r"""
# Exercise 2.1: a 3x3 kernel with "same" zero padding
Write `correlate_same(image, kernel)` for an image `(H, W)` and a **3x3** kernel:

1. pad the image with **one** row/column of zeros on **every** side: shape `(H + 2, W + 2)`;
2. cross-correlate (no kernel flip) the padded image with the kernel in "valid" mode.

The output has the image's shape `(H, W)` and dtype. A box blur (every weight 1/9) of an image
of ones gives 1 inside, 6/9 on the edges and 4/9 in the corners: the zeros of the padding pull
the border down.""",
    '''
def correlate_same(image, kernel):
    """Cross-correlate image (H, W) with a 3x3 kernel, zero padding 1 -> (H, W)."""
    ### BEGIN SOLUTION
    H, W = image.shape
    padded = np.zeros((H + 2, W + 2), dtype=image.dtype)
    padded[1:H + 1, 1:W + 1] = image
    out = np.zeros((H, W), dtype=image.dtype)
    for i in range(H):
        for j in range(W):
            out[i, j] = np.sum(padded[i:i + 3, j:j + 3] * kernel)
    return out
    ### END SOLUTION
''',
    '''
box = np.full((3, 3), 1 / 9)
out = correlate_same(np.ones((5, 5)), box)
print(out * 9)
assert np.allclose(out * 9, [[4, 6, 6, 6, 4], [6, 9, 9, 9, 6], [6, 9, 9, 9, 6],
                             [6, 9, 9, 9, 6], [4, 6, 6, 6, 4]])
''',
    hidden_src='''
identity = np.zeros((3, 3)); identity[1, 1] = 1
img = np.arange(12.0).reshape(3, 4)
assert np.array_equal(correlate_same(img, identity), img)
''') + [
    md("sobel-kernels", r"""
The **Sobel** kernels estimate how fast the brightness changes: `SOBEL_X` responds to vertical
edges (brighter to the right is positive), `SOBEL_Y = SOBEL_X.T` to horizontal ones.""",
       slide="slide"),
    code("sobel-given", """\
SOBEL_X = np.array([[-1.0, 0.0, 1.0],
                    [-2.0, 0.0, 2.0],
                    [-1.0, 0.0, 1.0]])
SOBEL_Y = SOBEL_X.T
print(SOBEL_Y)"""),
] + exercise(
    "sobel_magnitude",
    r"""
# Exercise 2.2: Sobel gradient magnitude
Write `sobel_magnitude(image)`: with your `correlate_same`, compute
$G_x$ = image ⋆ `SOBEL_X` and $G_y$ = image ⋆ `SOBEL_Y`, and return the edge strength

$$\sqrt{G_x^2 + G_y^2}$$

of shape `(H, W)`. It is large on edges in any direction and zero on flat regions.""",
    '''
def sobel_magnitude(image):
    """Edge strength sqrt(Gx**2 + Gy**2) of image (H, W), Sobel kernels, zero padding 1."""
    ### BEGIN SOLUTION
    gx = correlate_same(image, SOBEL_X)
    gy = correlate_same(image, SOBEL_Y)
    return np.sqrt(gx ** 2 + gy ** 2)
    ### END SOLUTION
''',
    '''
step = np.zeros((5, 6))
step[:, 3:] = 1.0                      # dark left half, bright right half
edges = sobel_magnitude(step)
print(edges)
assert edges[2].tolist() == [0.0, 0.0, 4.0, 4.0, 0.0, 4.0]   # the step, and the zero padding
''',
    hidden_src='''
assert np.allclose(sobel_magnitude(np.zeros((4, 4))), 0)
''', slide="subslide") + [done()]


# --------------------------------------------------------------------------- lesson 3

L3 = intro(3, "stride, padding and dilation", f"""
Three knobs change where the kernel is applied: **stride** `s` (how far the window jumps),
**padding** `p` (zeros added around the input) and **dilation** `d` (gaps between the kernel's
taps). {NUMPY_ONLY}""", "03_stride_padding_dilation.ipynb") + exercise(
    "output_size",
    r"""
# Exercise 3.1: the output-size formula
Write `output_size(n, f, s=1, p=0, d=1)`: how many positions a kernel of size `f` with
dilation `d` can take along an input of length `n` padded with `p` zeros on both sides,
moving `s` at a time. A dilated kernel spans $d(f-1)+1$ pixels, so

$$o = \left\lfloor \frac{n + 2p - d(f-1) - 1}{s} \right\rfloor + 1 .$$

Return a Python `int`. When the stride does not fit, e.g. $n=7, f=3, s=3$:
$(7-3)/3 + 1 = 2.33$, the last pixel is never covered and the answer is **2** (floor, as in
PyTorch).""",
    '''
def output_size(n, f, s=1, p=0, d=1):
    """Number of positions of a size-f kernel (stride s, padding p, dilation d) on length n."""
    ### BEGIN SOLUTION
    return (n + 2 * p - d * (f - 1) - 1) // s + 1
    ### END SOLUTION
''',
    '''
print(output_size(7, 3, s=3), output_size(28, 5, p=2), output_size(10, 3, d=2))
assert (output_size(7, 3, s=3), output_size(28, 5, p=2), output_size(10, 3, d=2)) == (2, 28, 6)
''',
    hidden_src='''
assert isinstance(output_size(32, 3, 2, 1, 1), int) and output_size(32, 3, 2, 1, 1) == 16
''') + exercise(
    "corr2d_strided",
    r"""
# Exercise 3.2: cross-correlation with stride, padding and dilation
Write `corr2d_strided(x, k, stride=1, padding=0, dilation=1)` for `x` `(H, W)` and `k`
`(kH, kW)` (all three knobs are ints, the same along both axes):

1. pad `x` with `padding` zeros on **every** side;
2. the output has `output_size(H, kH, stride, padding, dilation)` rows and
   `output_size(W, kW, stride, padding, dilation)` columns (use your function above);
3. with `xp` the padded input: $\text{out}[i, j] = \sum_{a,b} xp[i s + a d,\ j s + b d]\; k[a, b]$.

Slicing with a step picks the dilated window: `xp[r : r + d*(kH-1) + 1 : d, ...]`.
Worked example: the 5x5 input 0..24 with a 3x3 kernel of ones and stride 2 gives
`[[54, 72], [144, 162]]`.""",
    '''
def corr2d_strided(x, k, stride=1, padding=0, dilation=1):
    """Cross-correlation of x (H, W) with k (kH, kW) with stride, zero padding and dilation."""
    H, W = x.shape
    kH, kW = k.shape
    ### BEGIN SOLUTION
    xp = np.zeros((H + 2 * padding, W + 2 * padding), dtype=x.dtype)
    xp[padding:padding + H, padding:padding + W] = x
    OH = output_size(H, kH, stride, padding, dilation)
    OW = output_size(W, kW, stride, padding, dilation)
    span_h, span_w = dilation * (kH - 1) + 1, dilation * (kW - 1) + 1
    out = np.zeros((OH, OW), dtype=x.dtype)
    for i in range(OH):
        for j in range(OW):
            r, c = i * stride, j * stride
            window = xp[r:r + span_h:dilation, c:c + span_w:dilation]
            out[i, j] = np.sum(window * k)
    return out
    ### END SOLUTION
''',
    '''
out = corr2d_strided(np.arange(25.0).reshape(5, 5), np.ones((3, 3)), stride=2)
print(out)
assert out.tolist() == [[54.0, 72.0], [144.0, 162.0]]
''',
    hidden_src='''
assert corr2d_strided(np.ones((5, 5)), np.ones((3, 3)), padding=1)[0, 0] == 4.0
''') + [done()]


# --------------------------------------------------------------------------- lesson 4

L4 = intro(4, "channels", f"""
Real images have several channels (RGB), and every layer produces many feature maps. A
convolution layer with `C_out` filters takes `N` images of `C_in` channels: each filter has one
kernel per input channel, correlates each channel with its kernel, **sums over the input
channels** and adds its bias. {NUMPY_ONLY}""", "04_channels.ipynb") + exercise(
    "conv2d_forward",
    r"""
# Exercise 4.1: multi-channel convolution (NCHW)
Write `conv2d_forward(x, w, b, stride=1, padding=0)` with PyTorch's layout and semantics:

* `x`: `(N, C_in, H, W)` a batch of images, `w`: `(C_out, C_in, kH, kW)` the filters,
  `b`: `(C_out,)` the biases; `stride`, `padding` ints;
* output `(N, C_out, OH, OW)` with `OH = (H + 2·padding - kH) // stride + 1` (likewise `OW`);

$$\text{out}[n, c_o, i, j] = b[c_o] + \sum_{c_i}\sum_{a,b} xp[n, c_i,\ i s + a,\ j s + b]\; w[c_o, c_i, a, b]$$

with `xp` the zero-padded input. Loop over the output positions `(i, j)` and let NumPy do the
rest: `np.tensordot(window, w, axes=([1, 2, 3], [1, 2, 3]))` multiplies a window
`(N, C_in, kH, kW)` with every filter at once.
Worked example: two 3x3 channels 0..8 and 9..17, one filter with kernels `[[0, 1], [2, 3]]` and
`[[1, 0], [0, -1]]`, bias 1: `[[16, 22], [34, 40]]` (top-left: 19 from channel 0, as in
lesson 1, plus 9 - 13 = -4 from channel 1, plus the bias 1).""",
    '''
def conv2d_forward(x, w, b, stride=1, padding=0):
    """x (N, C_in, H, W), w (C_out, C_in, kH, kW), b (C_out,) -> (N, C_out, OH, OW)."""
    N, C_in, H, W = x.shape
    C_out, _, kH, kW = w.shape
    ### BEGIN SOLUTION
    p, s = padding, stride
    xp = np.zeros((N, C_in, H + 2 * p, W + 2 * p), dtype=x.dtype)
    xp[:, :, p:p + H, p:p + W] = x
    OH = (H + 2 * p - kH) // s + 1
    OW = (W + 2 * p - kW) // s + 1
    out = np.zeros((N, C_out, OH, OW), dtype=x.dtype)
    for i in range(OH):
        for j in range(OW):
            window = xp[:, :, i * s:i * s + kH, j * s:j * s + kW]        # (N, C_in, kH, kW)
            out[:, :, i, j] = np.tensordot(window, w, axes=([1, 2, 3], [1, 2, 3])) + b
    return out
    ### END SOLUTION
''',
    '''
x = np.arange(18.0).reshape(1, 2, 3, 3)
w = np.array([[[[0.0, 1.0], [2.0, 3.0]], [[1.0, 0.0], [0.0, -1.0]]]])
out = conv2d_forward(x, w, np.array([1.0]))
print(out)
assert out.tolist() == [[[[16.0, 22.0], [34.0, 40.0]]]]
''',
    hidden_src='''
assert conv2d_forward(np.ones((2, 3, 4, 4)), np.ones((5, 3, 3, 3)), np.zeros(5), padding=1).shape == (2, 5, 4, 4)
''') + [done()]

# --------------------------------------------------------------------------- lesson 5

PAIR = '''\
def pair(v):
    """kernel_size / stride may be an int (same for H and W) or a (height, width) pair."""
    return (v, v) if isinstance(v, (int, np.integer)) else (int(v[0]), int(v[1]))'''

L5 = intro(5, "pooling", f"""
Pooling shrinks feature maps: each window of `kernel_size` is replaced by its maximum (max
pooling) or its mean (average pooling). Like PyTorch, `stride` defaults to `kernel_size`
(windows side by side, no overlap), and a window that would run past the edge is dropped
(floor). `kernel_size` and `stride` are an int or a `(height, width)` pair: the helper `pair`
below turns either into a pair. {NUMPY_ONLY}""", "05_pooling.ipynb", extra_setup="\n" + PAIR) + exercise(
    "max_pool2d",
    r"""
# Exercise 5.1: max pooling
Write `max_pool2d(x, kernel_size, stride=None)` for `x` of shape `(N, C, H, W)`:

* `kH, kW = pair(kernel_size)`; `stride=None` means `stride = kernel_size`;
* output `(N, C, OH, OW)` with `OH = (H - kH) // sH + 1`, `OW = (W - kW) // sW + 1`;
* `out[n, c, i, j]` = the maximum of `x[n, c, i·sH : i·sH + kH, j·sW : j·sW + kW]`
  (`.max(axis=(2, 3))` does every image and channel at once).

Worked example: the 4x4 input 0..15 with 2x2 windows gives `[[5, 7], [13, 15]]`.""",
    '''
def max_pool2d(x, kernel_size, stride=None):
    """Max pooling of x (N, C, H, W); stride defaults to kernel_size; no padding."""
    ### BEGIN SOLUTION
    kH, kW = pair(kernel_size)
    sH, sW = pair(stride) if stride is not None else (kH, kW)
    N, C, H, W = x.shape
    OH, OW = (H - kH) // sH + 1, (W - kW) // sW + 1
    out = np.zeros((N, C, OH, OW), dtype=x.dtype)
    for i in range(OH):
        for j in range(OW):
            out[:, :, i, j] = x[:, :, i * sH:i * sH + kH, j * sW:j * sW + kW].max(axis=(2, 3))
    return out
    ### END SOLUTION
''',
    '''
out = max_pool2d(np.arange(16.0).reshape(1, 1, 4, 4), 2)
print(out[0, 0])
assert out[0, 0].tolist() == [[5.0, 7.0], [13.0, 15.0]]
''',
    hidden_src='''
assert max_pool2d(np.zeros((2, 3, 7, 7)), 3, stride=2).shape == (2, 3, 3, 3)
''') + exercise(
    "avg_pool2d",
    r"""
# Exercise 5.2: average pooling
Write `avg_pool2d(x, kernel_size, stride=None)`: the same windows as max pooling, but each is
replaced by its **mean**, the sum divided by the number of values in the window, `kH·kW`.

Worked example: the 4x4 input 0..15 with 2x2 windows gives `[[2.5, 4.5], [10.5, 12.5]]`.""",
    '''
def avg_pool2d(x, kernel_size, stride=None):
    """Average pooling of x (N, C, H, W); stride defaults to kernel_size; no padding."""
    ### BEGIN SOLUTION
    kH, kW = pair(kernel_size)
    sH, sW = pair(stride) if stride is not None else (kH, kW)
    N, C, H, W = x.shape
    OH, OW = (H - kH) // sH + 1, (W - kW) // sW + 1
    out = np.zeros((N, C, OH, OW), dtype=x.dtype)
    for i in range(OH):
        for j in range(OW):
            out[:, :, i, j] = x[:, :, i * sH:i * sH + kH, j * sW:j * sW + kW].mean(axis=(2, 3))
    return out
    ### END SOLUTION
''',
    '''
out = avg_pool2d(np.arange(16.0).reshape(1, 1, 4, 4), 2)
print(out[0, 0])
assert out[0, 0].tolist() == [[2.5, 4.5], [10.5, 12.5]]
''',
    hidden_src='''
assert np.allclose(avg_pool2d(np.ones((1, 1, 6, 6)), (2, 3)), 1.0)
''') + [done()]


# --------------------------------------------------------------------------- lesson 6

L6 = intro(6, "backpropagation through convolution and pooling", f"""
Training needs the gradient of the loss with respect to every input and weight. Given
`dout` = ∂L/∂out (same shape as the forward output), each layer sends the gradient back:
every output value was computed from one window, so its gradient flows back into exactly that
window. {NUMPY_ONLY}""", "06_backpropagation.ipynb", extra_setup="\n" + PAIR) + exercise(
    "conv2d_backward",
    r"""
# Exercise 6.1: convolution backward
Write `conv2d_backward(dout, x, w, stride=1, padding=0)` returning the tuple `(dx, dw, db)`
for the forward `out = conv2d_forward(x, w, b, stride, padding)` of lesson 4:

* `dout` `(N, C_out, OH, OW)`, `x` `(N, C_in, H, W)`, `w` `(C_out, C_in, kH, kW)`;
* output value `out[n, :, i, j]` saw the window `xp[n, :, i·s : i·s + kH, j·s : j·s + kW]`
  of the padded input `xp`, so for every `(i, j)`:
  * `dw[co] += Σ_n dout[n, co, i, j] · window[n]` (summed over the **whole batch**),
  * `dxp[n, :, window] += Σ_co dout[n, co, i, j] · w[co]` (**add**: windows overlap),
* `db[co] = Σ_{n,i,j} dout[n, co, i, j]`, shape `(C_out,)`;
* finally cut the padding off: `dx = dxp[:, :, p : p + H, p : p + W]`, shape of `x`.

`np.tensordot(g, window, axes=([0], [0]))` with `g = dout[:, :, i, j]` `(N, C_out)` sums over
the batch in one call.""",
    '''
def conv2d_backward(dout, x, w, stride=1, padding=0):
    """Gradients (dx, dw, db) of conv2d_forward(x, w, b, stride, padding), given dout."""
    N, C_in, H, W = x.shape
    C_out, _, kH, kW = w.shape
    OH, OW = dout.shape[2:]
    ### BEGIN SOLUTION
    p, s = padding, stride
    xp = np.zeros((N, C_in, H + 2 * p, W + 2 * p), dtype=x.dtype)
    xp[:, :, p:p + H, p:p + W] = x
    dxp = np.zeros_like(xp)
    dw = np.zeros_like(w)
    for i in range(OH):
        for j in range(OW):
            rows, cols = slice(i * s, i * s + kH), slice(j * s, j * s + kW)
            g = dout[:, :, i, j]                                          # (N, C_out)
            dw += np.tensordot(g, xp[:, :, rows, cols], axes=([0], [0]))   # (C_out, C_in, kH, kW)
            dxp[:, :, rows, cols] += np.tensordot(g, w, axes=([1], [0]))   # (N, C_in, kH, kW)
    db = dout.sum(axis=(0, 2, 3))
    dx = dxp[:, :, p:p + H, p:p + W]
    return dx, dw, db
    ### END SOLUTION
''',
    '''
x = np.arange(9.0).reshape(1, 1, 3, 3)
w = np.array([[[[0.0, 1.0], [2.0, 3.0]]]])
dout = np.array([[[[1.0, 0.0], [0.0, 0.0]]]])      # only the top-left output matters
dx, dw, db = conv2d_backward(dout, x, w)
print(dx[0, 0], dw[0, 0], db, sep="\\n")
assert dx[0, 0].tolist() == [[0.0, 1.0, 0.0], [2.0, 3.0, 0.0], [0.0, 0.0, 0.0]]  # w, in place
assert dw[0, 0].tolist() == [[0.0, 1.0], [3.0, 4.0]]                            # the window
assert db.tolist() == [1.0]
''',
    hidden_src='''
_dx, _dw, _db = conv2d_backward(np.ones((2, 3, 4, 4)), np.ones((2, 2, 4, 4)), np.ones((3, 2, 3, 3)), padding=1)
assert _dx.shape == (2, 2, 4, 4) and _dw.shape == (3, 2, 3, 3) and _db.tolist() == [32.0, 32.0, 32.0]
''') + exercise(
    "max_pool2d_backward",
    r"""
# Exercise 6.2: max pooling backward
Write `max_pool2d_backward(dout, x, kernel_size, stride=None)` returning `dx` (shape of `x`).
Only the **winner** of each window (its maximum) affected the output, so `dout[n, c, i, j]`
goes to that one input pixel and nowhere else:

* on ties the **first** maximum in row-major order wins (as `np.argmax` and PyTorch);
* where windows overlap (stride < kernel), one pixel can win several windows: **add** up.

`window.reshape(N, C, -1).argmax(axis=2)` finds the winners of all images and channels at
once, `np.unravel_index(idx, (kH, kW))` turns them into (row, column) offsets.""",
    '''
def max_pool2d_backward(dout, x, kernel_size, stride=None):
    """Gradient of max_pool2d(x, kernel_size, stride) w.r.t. x, given dout (N, C, OH, OW)."""
    kH, kW = pair(kernel_size)
    sH, sW = pair(stride) if stride is not None else (kH, kW)
    N, C, H, W = x.shape
    OH, OW = dout.shape[2:]
    ### BEGIN SOLUTION
    dx = np.zeros_like(x)
    n_idx, c_idx = np.meshgrid(np.arange(N), np.arange(C), indexing="ij")
    for i in range(OH):
        for j in range(OW):
            window = x[:, :, i * sH:i * sH + kH, j * sW:j * sW + kW].reshape(N, C, -1)
            r, c = np.unravel_index(window.argmax(axis=2), (kH, kW))   # first maximum
            dx[n_idx, c_idx, i * sH + r, j * sW + c] += dout[:, :, i, j]
    return dx
    ### END SOLUTION
''',
    '''
x = np.array([[[[1.0, 5.0, 2.0, 0.0],
                [3.0, 4.0, 8.0, 6.0],
                [0.0, 2.0, 1.0, 1.0],
                [7.0, 1.0, 1.0, 3.0]]]])
dx = max_pool2d_backward(np.array([[[[1.0, 2.0], [3.0, 4.0]]]]), x, 2)
print(dx[0, 0])
assert dx[0, 0].tolist() == [[0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 2.0, 0.0],
                             [0.0, 0.0, 0.0, 0.0], [3.0, 0.0, 0.0, 4.0]]
''',
    hidden_src='''
assert max_pool2d_backward(np.ones((1, 1, 1, 1)), np.zeros((1, 1, 2, 2)), 2)[0, 0].tolist() == [[1.0, 0.0], [0.0, 0.0]]
''') + [done()]


# --------------------------------------------------------------------------- lesson 7

L7 = intro(7, "LeNet-5 forward pass", """
LeNet-5 is the network lesson 7 trains on MNIST. Its forward pass is nothing but the pieces of
lessons 1–6 in a row. Here you **may** use `cnnlab.functional` (imported as `F`): `F.conv2d`,
`F.relu`, `F.max_pool2d` and `F.linear` are exactly the functions you wrote (vectorized).""",
    "07_lenet5_mnist.ipynb", extra_setup="from cnnlab import functional as F") + exercise(
    "lenet5_forward",
    r"""
# Exercise 7.1: LeNet-5 from a dict of weights
Write `lenet5_forward(x, params)` for a batch `x` of shape `(N, 1, 28, 28)`, returning the
**logits** `(N, 10)` of the modern LeNet-5. `params` maps the names of
`cnnlab.models.LeNet5().state_dict()` to arrays:

| layer | computation | output |
|---|---|---|
| conv1 | `conv2d(x, conv1.weight (6, 1, 5, 5), conv1.bias, padding=2)`, ReLU | (N, 6, 28, 28) |
| pool1 | max pooling 2x2 | (N, 6, 14, 14) |
| conv2 | `conv2d(h, conv2.weight (16, 6, 5, 5), conv2.bias)`, ReLU | (N, 16, 10, 10) |
| pool2 | max pooling 2x2 | (N, 16, 5, 5) |
| flatten | `h.reshape(N, -1)` (channel, row, column order) | (N, 400) |
| fc1 | `h @ fc1.weight.T + fc1.bias` (weight (120, 400)), ReLU | (N, 120) |
| fc2 | weight (84, 120), ReLU | (N, 84) |
| fc3 | weight (10, 84), **no** activation: logits | (N, 10) |

The keys are `"conv1.weight"`, `"conv1.bias"`, …, `"fc3.bias"`.""",
    '''
def lenet5_forward(x, params):
    """Logits (N, 10) of the modern LeNet-5 for x (N, 1, 28, 28), weights from params."""
    ### BEGIN SOLUTION
    h = F.max_pool2d(F.relu(F.conv2d(x, params["conv1.weight"], params["conv1.bias"], padding=2)), 2)
    h = F.max_pool2d(F.relu(F.conv2d(h, params["conv2.weight"], params["conv2.bias"])), 2)
    h = h.reshape(len(h), -1)
    h = F.relu(F.linear(h, params["fc1.weight"], params["fc1.bias"]))
    h = F.relu(F.linear(h, params["fc2.weight"], params["fc2.bias"]))
    return F.linear(h, params["fc3.weight"], params["fc3.bias"])
    ### END SOLUTION
''',
    '''
model = cnnlab.models.LeNet5()
params = model.state_dict()
for name, value in params.items():
    print(f"{name:13s} {value.shape}")
x = np.random.default_rng(0).random((2, 1, 28, 28), dtype=np.float32)
logits = lenet5_forward(x, params)
print(logits.shape)
assert logits.shape == (2, 10)
assert np.allclose(logits, model.eval()(x), atol=1e-5)     # the same as the library's model
''',
    hidden_src='''
assert lenet5_forward(np.zeros((3, 1, 28, 28), dtype=np.float32), params).dtype == np.float32
''') + [done("Lesson 7 then trains this very network on MNIST.")]


NOTEBOOKS = {
    "01_cross_correlation.ipynb": L1,
    "02_image_kernels.ipynb": L2,
    "03_stride_padding_dilation.ipynb": L3,
    "04_channels.ipynb": L4,
    "05_pooling.ipynb": L5,
    "06_backpropagation.ipynb": L6,
    "07_lenet5_forward.ipynb": L7,
}


def main() -> int:
    SOLUTIONS.mkdir(exist_ok=True)
    for name, cells in NOTEBOOKS.items():
        nb = notebook(cells)
        nbformat.validate(nb)
        text = nbformat.writes(nb, version=4)
        text = text if text.endswith("\n") else text + "\n"
        path = SOLUTIONS / name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

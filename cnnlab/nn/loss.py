"""Loss functions: :class:`CrossEntropyLoss` (softmax + negative log-likelihood)."""
from __future__ import annotations

import numpy as np

from cnnlab import functional as F
from cnnlab._args import REDUCTIONS, check_choice
from cnnlab.nn.module import Module

__all__ = ["CrossEntropyLoss"]


class CrossEntropyLoss(Module):
    """Softmax + negative log-likelihood of the true class, from raw logits.

    ``loss = crit(logits, target)`` with logits (N, C) and integer labels (N,);
    ``crit.backward()`` returns d loss / d logits (N, C). reduction: "mean" (default),
    "sum" or "none" (then backward takes grad_output of shape (N,), default ones).
    """

    def __init__(self, reduction: str = "mean"):
        super().__init__()
        self.reduction = check_choice(reduction, REDUCTIONS, "reduction", "CrossEntropyLoss")

    def forward(self, input, target):
        loss = F.cross_entropy(input, target, reduction=self.reduction)
        self._ctx = (input, target)
        return loss

    def backward(self, grad_output=None):
        input, target = self._saved()
        if grad_output is None:
            shape = (input.shape[0],) if self.reduction == "none" else ()
            grad_output = np.ones(shape, dtype=input.dtype)
        return F.cross_entropy_backward(grad_output, input, target, self.reduction)

    def extra_repr(self) -> str:
        return "" if self.reduction == "mean" else f"reduction={self.reduction!r}"

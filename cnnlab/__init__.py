"""cnnlab: an interactive course on convolutional neural networks.

A small, readable, vectorized NumPy engine whose names mirror PyTorch
(``cnnlab.functional`` ~ ``torch.nn.functional``, ``cnnlab.nn`` ~ ``torch.nn``,
``cnnlab.optim`` ~ ``torch.optim``), plus the lessons' figures, widgets,
exercise checks and a batch grader.
"""
from __future__ import annotations

import importlib
import os

__version__ = "0.1.0"

QUICK_ENV = "CNNLAB_QUICK"
OFFLINE_ENV = "CNNLAB_OFFLINE"
DATA_ENV = "CNNLAB_DATA"


def quick_mode() -> bool:
    """True when ``CNNLAB_QUICK=1``: the one switch that scales heavy work down.

    The test suite (and so CI) sets it; lesson 9 and ``cnnlab train`` then train on
    fewer images for fewer epochs. Results are real, just smaller; the lesson says
    what full-scale training gives.
    """
    return os.environ.get(QUICK_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def offline_mode() -> bool:
    """True when ``CNNLAB_OFFLINE=1``: loaders never touch the network."""
    return os.environ.get(OFFLINE_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


_SUBMODULES = {
    "functional", "nn", "optim", "models", "data", "train", "gradcheck", "reference",
    "kernels", "viz", "widgets", "checks", "grade", "exercises",
}


def __getattr__(name: str):
    # Lazy imports keep `import cnnlab` fast and free of matplotlib/ipywidgets.
    if name in _SUBMODULES:
        return importlib.import_module(f"cnnlab.{name}")
    if name == "F":
        return importlib.import_module("cnnlab.functional")
    if name in {"output_size", "output_size_exact", "conv_parameter_count", "set_num_threads",
                "get_num_threads"}:
        return getattr(importlib.import_module("cnnlab.functional"), name)
    if name == "manual_seed":
        return importlib.import_module("cnnlab.nn").manual_seed
    if name == "check":
        return importlib.import_module("cnnlab.checks").check
    raise AttributeError(f"module 'cnnlab' has no attribute {name!r}")


__all__ = [
    "quick_mode", "offline_mode", "output_size", "output_size_exact",
    "conv_parameter_count", "set_num_threads", "get_num_threads", "manual_seed", "check",
    *sorted(_SUBMODULES), "F",
]

"""Saving a trained model and loading it back: :func:`save_model`, :func:`load_model`.

A model file is an ``.npz``: the ``state_dict()`` arrays as ``state/<name>`` plus ``__meta__``,
a JSON description of the architecture (class, variant, parameter shapes) so that loading into
a different architecture is a clear error rather than a silent mess.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from cnnlab._files import atomic_write

__all__ = ["save_model", "load_model"]

_FORMAT = "cnnlab.model"


def _describe(model) -> dict:
    return {"format": _FORMAT, "version": 1, "class": type(model).__name__,
            "module": type(model).__module__, "variant": getattr(model, "variant", None),
            "num_classes": getattr(model, "num_classes", None),
            "parameters": {name: {"shape": list(p.data.shape), "dtype": str(p.data.dtype)}
                           for name, p in model.named_parameters()}}


def _arch(meta: dict) -> str:
    s = meta.get("class", "?")
    if meta.get("variant") is not None:
        s += f"(variant={meta['variant']!r})"
    return s


def save_model(model, path) -> Path:
    """Save ``model``'s parameters and a description of its architecture to ``path`` (.npz).

    The file holds ``state_dict()`` plus the class name, variant and parameter shapes, so
    :func:`load_model` can say clearly when it does not fit. Written atomically (a temporary
    file renamed into place). Returns the path.
    """
    path = Path(path)
    meta = _describe(model)
    arrays = {f"state/{name}": value for name, value in model.state_dict().items()}
    with atomic_write(path, "wb", make_dirs=True) as fh:
        np.savez(fh, __meta__=np.array(json.dumps(meta)), **arrays)
    return path


def load_model(model, path):
    """Load parameters saved by :func:`save_model` into ``model`` (in place); returns it.

    Raises ``ValueError`` naming both architectures when the file was saved from a different
    class, variant or parameter shapes (build the same architecture first).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"load_model: no such file: {path}")
    try:
        archive = np.load(path, allow_pickle=False)
    except Exception as exc:
        raise ValueError(f"load_model: {path} is not a model file saved by "
                         f"cnnlab.train.save_model ({exc})") from exc
    with archive:
        if "__meta__" not in archive.files:
            raise ValueError(f"load_model: {path} is not a model file saved by "
                             f"cnnlab.train.save_model (no architecture description inside)")
        meta = json.loads(str(archive["__meta__"]))
        state = {k[len("state/"):]: archive[k] for k in archive.files if k.startswith("state/")}
    mine = _describe(model)
    problems = []
    if meta.get("class") != mine["class"] or meta.get("variant") != mine["variant"]:
        problems.append(f"the file holds a {_arch(meta)}, the model is a {_arch(mine)}")
    saved, own = meta.get("parameters", {}), mine["parameters"]
    for name in own:
        if name not in saved:
            problems.append(f"parameter {name!r} {tuple(own[name]['shape'])} is not in the file")
        elif saved[name]["shape"] != own[name]["shape"]:
            problems.append(f"parameter {name!r}: shape {tuple(saved[name]['shape'])} in the "
                            f"file, {tuple(own[name]['shape'])} in the model")
    for name in saved:
        if name not in own:
            problems.append(f"the file has parameter {name!r} that the model does not have")
    if problems:
        hint = f"build a {_arch(meta)} and load into it" if meta.get("class") else ""
        raise ValueError(f"load_model: {path} does not match this model's architecture:\n  - "
                         + "\n  - ".join(problems) + (f"\n({hint})" if hint else ""))
    model.load_state_dict(state)
    return model

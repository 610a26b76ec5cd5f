"""How the two slide tools read a notebook's slide types: which cells each press of Space shows.

``nbconvert_views`` is ``jupyter nbconvert --to slides`` (reveal.js, the static hand-out);
``deck_views`` is jupyterlab-deck (the live lecture). ``cnnlab.notebook_rules`` holds every
notebook to "both show the same views" (rule 'deck'); tests/test_slides.py checks the first model
against nbconvert's HTML and tests/test_browser.py the second against the running deck.
"""
from __future__ import annotations

__all__ = ["nbconvert_views", "deck_views"]


def nbconvert_views(types: list) -> list[list[int]]:
    """What ``jupyter nbconvert --to slides`` shows, one view per press of Space (reveal.js: next
    fragment, else the sub-slide below, else the next slide): the cell indices on screen. A
    slide or sub-slide starts a view, a fragment adds a view, any other type continues."""
    views, cur = [], []
    for i, kind in enumerate(types):
        if kind in ("skip", "notes"):
            continue
        if not cur or kind in ("slide", "subslide"):
            views += [cur] if cur else []
            cur = [i]
        elif kind == "fragment":
            views, cur = views + [cur], cur + [i]
        else:
            cur = cur + [i]
    return views + [cur] if cur else views


def deck_views(types: list) -> list[list[int]]:
    """What jupyterlab-deck 0.2 shows, pressing Space (``deck:go`` down, else forward) from the
    first cell: a port of its ``NotebookPresenter._getExtents`` (each cell's visible cells and
    links; "" is read as null, continue; a type it does not know, such as "-", is never linked
    nor shown)."""
    ext: dict[int, dict] = {}

    def last(e):                                  # _lastOnScreenOf
        return ext.get(e["on"][0]) if e and e["on"] else None

    slides, subs, frags, nulls, onscreen = [], [], [], [], []
    for i, kind in enumerate(types):
        kind = kind or None
        kind = "slide" if i == 0 and kind in (None, "subslide") else kind
        if kind == "skip":
            continue
        e = {"i": i, "on": [], "vis": [], "fwd": None, "down": None}
        s0, ss0, f0, n0 = (x[0] if x else None for x in (slides, subs, frags, nulls))
        a0 = n0 or f0 or ss0 or s0
        if kind is None:
            if n0:
                for n in nulls:
                    n["vis"].insert(0, i)
                if not f0 and (ss0 or s0):
                    (ss0 or s0)["vis"].insert(0, i)
            elif f0 or ss0 or s0:
                (f0 or ss0 or s0)["vis"].insert(0, i)
            if a0:
                a0["fwd"] = a0["down"] = i
        elif kind == "slide":
            heads = [last(s) for s in (*subs, s0)] if subs and s0 else [n0 or f0 or last(s0)]
            for h in heads:
                if h:
                    h["fwd"] = i
            subs, nulls, frags, onscreen = [], [], [], [e]
            slides.insert(0, e)
        elif kind == "subslide":
            h = n0 or f0 or last(s0)
            if h:
                h["down"] = i
            frags, nulls, onscreen = [], [], [e]
            subs.insert(0, e)
        elif kind == "fragment":
            if a0:
                a0["down"] = a0["fwd"] = i
        if kind in (None, "fragment"):
            for n in onscreen:
                n["on"].insert(0, i)
            onscreen[:0] = [e, e] if kind == "fragment" else [e]
            nulls = [e, *nulls] if kind is None else []
            frags[:0] = [e] if kind == "fragment" else []
            e["on"] = list(a0["on"]) if a0 else []
            e["vis"] = ([i] if kind == "fragment" else []) + (list(a0["vis"]) if a0 else [])
        elif kind in ("slide", "subslide"):
            e["on"], e["vis"] = [i], [i]
        ext[i] = e
    views, at, seen = [], ext.get(0), set()
    while at is not None and at["i"] not in seen:
        seen.add(at["i"])
        view = sorted(set(at["vis"]))
        views += [view] if view and (not views or views[-1] != view) else []
        at = ext.get(at["down"] if at["down"] is not None else at["fwd"])
    return views

"""The stride explorer (lesson 3): N, F, S, P, D sliders, the sliding window, the formula."""
from __future__ import annotations

import html

import ipywidgets as W

from cnnlab.viz.stride import StrideExplorerView, same_padding
from cnnlab.widgets.base import MONO_STYLE, PROSE_STYLE, App, follow_cell, set_range, slider, widget_em

__all__ = ["StrideExplorer", "stride_explorer"]


class StrideExplorer(App):
    """Sliders for N, F, S, P, D; the sliding window, the output grid and the formula."""

    dynamic_controls = ("n", "f", "s", "p", "d", "row", "col")
    summary_lines = 6

    def __init__(self, n, f, s, p, d):
        c = dict(n=slider("input N", n, 1, 16), f=slider("kernel F", f, 1, 7),
                 s=slider("stride S", s, 1, 5), p=slider("padding P", p, 0, 6),
                 d=slider("dilation D", d, 1, 4), row=slider("window row", 0, 0, 0),
                 col=slider("window column", 0, 0, 0))
        self.play = W.Play(value=0, min=0, max=0, interval=700, description="play")
        self.play.observe(self._on_play, names="value")
        self.valid_button = W.Button(description="valid (P = 0)", layout=W.Layout(width=widget_em(10)))
        self.same_button = W.Button(description="same (S = 1)", layout=W.Layout(width=widget_em(10)))
        self.valid_button.on_click(self._on_valid)
        self.same_button.on_click(self._on_same)
        self.note = ""
        self._size = None
        rows = [W.HBox([W.VBox([c["n"], c["f"], c["s"]]),
                        W.VBox([c["p"], c["d"], W.HBox([self.valid_button, self.same_button])]),
                        W.VBox([c["row"], c["col"], self.play])])]
        super().__init__(StrideExplorerView(caption=False), c, rows)   # formula: in the summary

    def _on_play(self, change):
        if not self._size:
            return
        r, c = divmod(int(change["new"]), self._size)
        if (r, c) != (self.row.value, self.col.value):
            with self.hold():
                self.row.value, self.col.value = r, c

    def _on_valid(self, _button=None):
        self.note = "'valid': no padding, the window stays inside the input."
        self.p.value = 0

    def _on_same(self, _button=None):
        """Stride 1 and the symmetric padding for which F.output_size gives back N, if any."""
        n, f, d = self.n.value, self.f.value, self.d.value
        found = same_padding(n, f, d, self.p.max)
        with self.hold():
            self.s.value = 1
            if found is None:
                self.note = (f"'same' asks for output size = N = {n}. With F = {f}, D = {d} no "
                             f"symmetric padding 0..{self.p.max} gives that: D(F−1) is odd, so the "
                             "padding would be a half pixel. PyTorch's padding='same' then pads one "
                             "more pixel at the bottom/right.")
            else:
                self.note = f"'same': stride 1 and P = {found} keep the output size equal to N = {n}."
                self.p.value = found

    def _sync(self, facts):
        self._size = facts.size          # the Play's flat index counts rows of this many cells
        if facts.size is None:
            for c in (self.row, self.col, self.play):
                set_range(c, 0, 0, disabled=True)
        else:
            follow_cell(self.row, self.col, (facts.size, facts.size), (facts.row, facts.col))
            set_range(self.play, facts.size * facts.size - 1, facts.row * facts.size + facts.col)
        if self.note:                    # what a button just did, said once
            facts.text = f"{facts.text}\n{self.note}"
            self.note = ""

    def _summary_html(self, facts) -> str:
        """The formula and its substitution in monospace (aligned), the explanation as prose."""
        parts = []
        for line in facts.text.split("\n"):
            if line.startswith("O =") or line.startswith("  = "):
                parts.append(f"<div style=\"{MONO_STYLE}\">{html.escape(line)}</div>")
            elif line.strip():
                parts.append(f"<div>{html.escape(line.strip())}</div>")
        return f"<div style=\"{PROSE_STYLE}\">{''.join(parts)}</div>"


def stride_explorer(n: int = 7, f: int = 3, s: int = 1, p: int = 0, d: int = 1) -> StrideExplorer:
    """Stride, padding and dilation on an N x N input (lesson 3).

    Controls: ``app.n``, ``app.f``, ``app.s``, ``app.p``, ``app.d``, the window position
    ``app.row``/``app.col`` (and ``app.play``), buttons ``app.valid_button``/``app.same_button``.
    Accepts every combination: a fractional output size is shown and floored as PyTorch does,
    with the never-visited input cells in red; an impossible one (kernel larger than the padded
    input) is explained in the text instead of raising. ``app.facts`` holds the numbers.
    """
    return StrideExplorer(n, f, s, p, d)

"""Static slides: ``jupyter nbconvert --to slides`` turns every lesson into a reveal.js deck.

No browser and no network: reveal.js is pointed at a local prefix (``reveal.js/``, not the CDN),
and nothing loads the HTML. Checked per lesson present:

- the ``.slides.html`` file is written;
- it has one top-level ``<section>`` per slide group and one nested ``<section>`` per subslide,
  exactly as the cells' ``metadata.slideshow.slide_type`` ask (the first visible cell always
  opens a slide, as in nbconvert's own preprocessor);
- the first slide carries the lesson's first heading.

- the sequence of views (one per press of Space: fragments, sub-slides, slides) read off the
  HTML equals ``cnnlab.notebook_rules.nbconvert_views`` and what the live lecture shows
  (``notebook_rules.deck_views``, the model of jupyterlab-deck that tests/test_browser.py checks
  against the real deck), for every lesson and exercise solution.

The lessons are committed with cleared outputs, so these decks show text and code, no figures;
the live lecture (jupyterlab-deck, kernel attached) is checked in tests/test_browser.py.
"""
from __future__ import annotations

import html
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import browser_helpers as bh
from cnnlab import notebook_rules

LOCAL_REVEAL = "reveal.js"


def _lesson_or_skip(name: str) -> Path:
    path = bh.NOTEBOOKS / f"{name}.ipynb"
    if not path.exists():
        pytest.skip(f"lesson {name}.ipynb is not in notebooks/ (yet)")
    return path


def expected_structure(nb: dict) -> tuple[int, int]:
    """(slides, subslides) that nbconvert's reveal preprocessor makes of these cells."""
    types = [(c.get("metadata", {}).get("slideshow") or {}).get("slide_type", "-") for c in nb["cells"]]
    first = next((i for i, t in enumerate(types) if t not in {"notes", "skip"}), None)
    assert first is not None, "every cell is skip/notes: nothing to show as slides"
    rest = types[first + 1:]
    slides = 1 + rest.count("slide")
    subslides = slides + rest.count("subslide")
    return slides, subslides


def section_tree(doc: str) -> list[list[str]]:
    """Top-level <section>s of the reveal ``div.slides``, each as the list of its subslides' HTML."""
    start = doc.find('<div class="slides">')
    assert start >= 0, "no reveal.js <div class=\"slides\"> in the HTML"
    tokens = re.finditer(r"<section\b[^>]*>|</section>", doc[start:])
    depth, slides, sub_start = 0, [], None
    for t in tokens:
        if t.group(0).startswith("<section"):
            depth += 1
            if depth == 1:
                slides.append([])
            elif depth == 2:
                sub_start = t.end()
        else:
            if depth == 2 and sub_start is not None:
                slides[-1].append(doc[start + sub_start:start + t.start()])
            depth -= 1
            if depth < 0:
                raise AssertionError("unbalanced </section>")
    assert depth == 0, "unclosed <section>"
    return slides


def visible_text(fragment: str) -> str:
    fragment = re.sub(r"<(script|style)\b.*?</\1>", " ", fragment, flags=re.S | re.I)
    fragment = re.sub(r'<a class="anchor-link"[^>]*>.*?</a>', " ", fragment, flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", fragment))).strip()


def export_slides(nb_path: Path, out_dir: Path) -> Path:
    """In-process equivalent of ``jupyter nbconvert --to slides --output-dir OUT NB``."""
    import nbformat
    from nbconvert import SlidesExporter
    from nbconvert.writers import FilesWriter

    exporter = SlidesExporter(reveal_url_prefix=LOCAL_REVEAL)
    nb = nbformat.read(nb_path, as_version=4)
    body, resources = exporter.from_notebook_node(nb, resources={"metadata": {"path": str(nb_path.parent)}})
    written = FilesWriter(build_directory=str(out_dir)).write(body, resources, notebook_name=nb_path.stem)
    return Path(written)


@pytest.mark.parametrize("name", bh.lesson_params())
def test_lesson_exports_to_slides(name, tmp_path):
    path = _lesson_or_skip(name)
    nb = json.loads(path.read_text())
    out = export_slides(path, tmp_path)
    assert out.name == f"{name}.slides.html" and out.exists() and out.stat().st_size > 1000, out
    doc = out.read_text()

    # reveal.js comes from the local prefix, never from a CDN.
    assert f'href="{LOCAL_REVEAL}/dist/reveal.css"' in doc
    assert not re.search(r'(src|href)="https?://[^"]*reveal', doc), "reveal.js still loaded from a CDN"

    slides, subslides = expected_structure(nb)
    tree = section_tree(doc)
    assert len(tree) == slides, f"{name}: {len(tree)} slide <section>s, cells ask for {slides}"
    assert sum(len(s) for s in tree) == subslides, (
        f"{name}: {sum(len(s) for s in tree)} subslide <section>s, cells ask for {subslides}"
    )

    heading = bh.first_heading(path)
    assert heading, f"{name}: no markdown heading"
    first_slide = visible_text("".join(tree[0]))
    assert heading in first_slide, f"{name}: first slide reads {first_slide[:200]!r}, not {heading!r}"
    empty = [i for i, s in enumerate(tree) if not visible_text("".join(s))]
    assert not empty, f"{name}: slides {empty} are empty (a 'slide' cell followed only by skip cells?)"


def test_nbconvert_command_line_writes_slides(tmp_path):
    """The real command, once, on the first lesson present: ``jupyter nbconvert --to slides``."""
    lessons = bh.lesson_paths()
    if not lessons:
        pytest.skip("no lesson in notebooks/ yet")
    jupyter = Path(sys.executable).parent / "jupyter"
    cmd = [str(jupyter) if jupyter.exists() else sys.executable, *([] if jupyter.exists() else ["-m", "jupyter"]),
           "nbconvert", "--to", "slides", f"--SlidesExporter.reveal_url_prefix={LOCAL_REVEAL}",
           "--output-dir", str(tmp_path), str(lessons[0])]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = tmp_path / f"{lessons[0].stem}.slides.html"
    assert out.exists() and "<section" in out.read_text()


_TOKEN = re.compile(r'<section\b[^>]*>|</section>|<aside\b[^>]*>|</aside>|<div\b[^>]*>|</div>')
_CELL_ID = re.compile(r'\bid="cell-id=([^"]+)"')


def views_in_html(doc: str, ids: list[str]) -> list[list[int]]:
    """The views reveal.js steps through in nbconvert's deck, as cell indices: per sub-slide the
    cells outside any fragment, then one more view per ``<div class="fragment">``; cells in
    ``<aside class="notes">`` are speaker notes, never on screen."""
    index = {cid: i for i, cid in enumerate(ids)}
    start = doc.find('<div class="slides">')
    assert start >= 0, "no reveal.js slides in the HTML"
    views, sub, frags, divs, aside, frag_depth = [], None, [], 0, 0, None
    for t in _TOKEN.finditer(doc, start + len('<div class="slides">')):
        tag = t.group(0)
        if tag.startswith("<section"):
            sub, frags = [], []
        elif tag == "</section>":
            if sub is not None:
                views += [sub] + [sub + sum(frags[:k + 1], []) for k in range(len(frags))]
                sub = None
        elif tag.startswith("<aside"):
            aside += 1
        elif tag == "</aside>":
            aside -= 1
        elif tag.startswith("<div"):
            divs += 1
            if 'class="fragment"' in tag:
                frags.append([])
                frag_depth = divs
            m = _CELL_ID.search(tag)
            if m and not aside and sub is not None:
                (frags[-1] if frag_depth is not None else sub).append(index[m.group(1)])
        else:
            if divs == frag_depth:
                frag_depth = None
            divs -= 1
            if divs < 0:
                break                               # the end of div.slides
    return [sorted(v) for k, v in enumerate(views) if v and (k == 0 or v != views[k - 1])]


SLIDE_NOTEBOOKS = [p for d in ("notebooks", "solutions") for p in sorted((bh.REPO / d).glob("0*.ipynb"))]


@pytest.mark.parametrize("path", SLIDE_NOTEBOOKS, ids=[f"{p.parent.name}/{p.stem}" for p in SLIDE_NOTEBOOKS])
def test_nbconvert_and_the_live_lecture_show_the_same_views(path, tmp_path):
    nb = json.loads(path.read_text())
    types = [c["metadata"]["slideshow"]["slide_type"] for c in nb["cells"]]
    doc = export_slides(path, tmp_path).read_text()
    seen = views_in_html(doc, [c["id"] for c in nb["cells"]])
    assert seen == notebook_rules.nbconvert_views(types), f"{path.name}: nbconvert's deck shows {seen}"
    assert seen == notebook_rules.deck_views(types), (
        f"{path.name}: the live lecture (jupyterlab-deck) shows {notebook_rules.deck_views(types)}, "
        f"nbconvert {seen}")


def test_every_slide_type_reads_as_nbconvert_reads_it(tmp_path):
    """A notebook with each slide type (and a "-", which nbconvert reads as "continue"): the
    views in the HTML are those ``notebook_rules.nbconvert_views`` predicts."""
    import nbformat

    kinds = ["slide", "skip", "", "fragment", "notes", "-", "subslide", "fragment", "", "slide", "notes"]
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell(f"Cell {i}: {kind or 'continue'}.", id=f"c{i}",
                                      metadata={"slideshow": {"slide_type": kind}})
        for i, kind in enumerate(kinds)])
    path = tmp_path / "kinds.ipynb"
    nbformat.write(nb, path)
    doc = export_slides(path, tmp_path).read_text()
    seen = views_in_html(doc, [f"c{i}" for i in range(len(kinds))])
    assert seen == notebook_rules.nbconvert_views(kinds) == [[0, 2], [0, 2, 3, 5], [6], [6, 7, 8], [9]]
    # Speaker notes go to reveal.js's speaker view (S; its notes plugin is loaded), never a slide.
    notes = re.findall(r'<aside class="notes">(.*?)</aside>', doc, re.S)
    assert [re.findall(r"Cell (\d+): notes", n) for n in notes] == [["4"], ["10"]], notes
    assert "RevealNotes" in doc and "plugin/notes/notes.js" in doc
    assert notebook_rules.deck_views(kinds) == [[0, 2], [0, 2, 3], [6], [6, 7, 8], [9]]     # "-": hidden

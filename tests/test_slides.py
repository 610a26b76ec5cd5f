"""Static slides: ``jupyter nbconvert --to slides`` turns every lesson into a reveal.js deck.

No browser and no network: reveal.js is pointed at a local prefix (``reveal.js/``, not the CDN),
and nothing loads the HTML. Checked per lesson present:

- the ``.slides.html`` file is written;
- it has one top-level ``<section>`` per slide group and one nested ``<section>`` per subslide,
  exactly as the cells' ``metadata.slideshow.slide_type`` ask (the first visible cell always
  opens a slide, as in nbconvert's own preprocessor);
- the first slide carries the lesson's first heading.

The lessons are committed with cleared outputs, so these decks show text and code, no figures;
the live lecture (jupyterlab-rise, kernel attached) is checked in tests/test_browser.py.
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

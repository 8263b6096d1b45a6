"""The offline docs site: every notebook becomes a page, and pages that draw benchmark charts contain them."""
import json, re, subprocess, sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted(p for p in (ROOT / "nbs").glob("*.ipynb") if not p.name.startswith("_"))
CHART_CALL = "plot_component("  # draws a chart from the committed benchmark CSVs

@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("site")
    subprocess.run([sys.executable, str(ROOT / "tools" / "build_site.py"), "--out", str(out)], check=True, cwd=ROOT)
    return out

def chart_cells():
    "(notebook, cell) for every visible cell that draws a chart from committed benchmark results."
    found = []
    for nb in NOTEBOOKS:
        for c in json.loads(nb.read_text())["cells"]:
            src = "".join(c["source"])
            if c["cell_type"] == "code" and CHART_CALL in src and not src.lstrip().startswith("#|"): found.append((nb, c))
    return found

def test_every_notebook_is_a_page(site):
    pages = {p.stem for p in site.glob("*.html")}
    assert pages == {nb.stem for nb in NOTEBOOKS}

def test_pages_link_every_chapter(site):
    index = (site / "index.html").read_text()
    for nb in NOTEBOOKS: assert f'href="{nb.stem}.html"' in index

def test_benchmark_pages_show_their_charts(site):
    cells = chart_cells()
    assert cells, "no notebook draws a benchmark chart"
    for nb, cell in cells:
        pngs = [o["data"]["image/png"] for o in cell.get("outputs", []) if "image/png" in o.get("data", {})]
        assert pngs, f"{nb.name}: the cell drawing `{''.join(cell['source'])[:60]}` has no chart saved: run it"
        page = (site / f"{nb.stem}.html").read_text()
        for png in pngs: assert png.strip()[:200] in page, f"{nb.stem}.html lacks the chart of {nb.name}"

def test_no_directives_or_hidden_cells_leak(site):
    for page in site.glob("*.html"):
        text = page.read_text()
        assert "#| export" not in text and "#| hide" not in text, page.name

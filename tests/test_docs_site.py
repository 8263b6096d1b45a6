"""The offline docs site: every notebook becomes a page, and pages that draw benchmark charts contain them."""
import json, re, subprocess, sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted(p for p in (ROOT / "nbs").glob("*.ipynb") if not p.name.startswith("_"))
CHART_CALLS = ("plot_component(", "plot_results(")

@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("site")
    subprocess.run([sys.executable, str(ROOT / "tools" / "build_site.py"), "--out", str(out)], check=True, cwd=ROOT)
    return out

def chart_notebooks():
    "Notebooks with a visible cell that draws a committed benchmark chart."
    found = []
    for nb in NOTEBOOKS:
        cells = json.loads(nb.read_text())["cells"]
        if any(c["cell_type"] == "code" and any(k in "".join(c["source"]) for k in CHART_CALLS)
               and not "".join(c["source"]).lstrip().startswith("#| export") for c in cells): found.append(nb)
    return found

def test_every_notebook_is_a_page(site):
    pages = {p.stem for p in site.glob("*.html")}
    assert pages == {nb.stem for nb in NOTEBOOKS}

def test_pages_link_every_chapter(site):
    index = (site / "index.html").read_text()
    for nb in NOTEBOOKS: assert f'href="{nb.stem}.html"' in index

def test_benchmark_pages_show_their_charts(site):
    nbs = chart_notebooks()
    assert nbs, "no notebook draws a benchmark chart"
    for nb in nbs:
        page = (site / f"{nb.stem}.html").read_text()
        assert re.search(r'<img[^>]+src="data:image/png;base64,', page), f"{nb.stem}.html has no embedded chart"

def test_no_directives_or_hidden_cells_leak(site):
    for page in site.glob("*.html"):
        text = page.read_text()
        assert "#| export" not in text and "#| hide" not in text, page.name

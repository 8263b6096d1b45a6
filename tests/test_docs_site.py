"""The offline docs site: every notebook becomes a page, pages that draw benchmark charts contain them, and the pages
read like nbdev's own site offline: no CDN scripts, math as MathML, no prompts, no show_doc rules, no 0..N index
columns, CPU smoke runs folded under a label, no test scaffolding."""
import copy, importlib.util, json, re, shutil, subprocess, sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted(p for p in (ROOT / "nbs").glob("*.ipynb") if not p.name.startswith("_"))
CHART_CALL = "plot_component("  # draws a chart from the committed benchmark CSVs

def load_tool(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)
    return mod

build = load_tool("build_site")

@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("site")
    subprocess.run([sys.executable, str(ROOT / "tools" / "build_site.py"), "--out", str(out)], check=True, cwd=ROOT)
    return out

@pytest.fixture(scope="module")
def pages(site):
    "name -> (full HTML, parsed body without <style>/<script>)."
    from bs4 import BeautifulSoup
    out = {}
    for p in sorted(site.glob("*.html")):
        text = p.read_text()
        soup = BeautifulSoup(text, "html.parser")
        for tag in soup(["style", "script"]): tag.decompose()
        out[p.stem] = (text, soup)
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

def test_no_directives_or_hidden_cells_leak(pages):
    for name, (_, soup) in pages.items():
        text = soup.get_text()
        assert not re.search(r"#\|\s*(export|hide|echo|output|include|eval)", text), name

# ------------------------------------------------------------------------------------------------------------ offline
def test_nothing_is_loaded_from_the_internet(pages):
    "No script, stylesheet, font or module comes from a CDN: the pages work offline."
    for name, (html, _) in pages.items():
        assert not re.search(r"<script[^>]*\bsrc=", html), f"{name}: a <script src=...>"
        assert not re.search(r"<link[^>]*href=[\"']?(https?:)?//", html), f"{name}: a remote <link>"
        assert not re.search(r"import\(\s*[\"']https?:", html), f"{name}: a remote JS module"
        assert not re.search(r"@import\s+url\(\s*[\"']?https?:", html), f"{name}: a remote CSS import"
        for cdn in ("cdnjs", "unpkg.com", "jsdelivr", "mathjax", "require.min.js"):
            assert cdn not in html.lower(), f"{name} mentions {cdn}"

def markdown_math(nb: Path) -> list[str]:
    "The formulas in a notebook's markdown (outside code), as the build finds them."
    store = {}
    for c in json.loads(nb.read_text())["cells"]:
        if c["cell_type"] == "markdown": build.math_to_mathml("".join(c["source"]), store)
    return list(store.values())

def test_math_is_mathml(pages):
    "Every formula of every notebook is MathML on its page, and no raw TeX is left in the text."
    total = 0
    for nb in NOTEBOOKS:
        html, soup = pages[nb.stem]
        n = len(markdown_math(nb))
        total += n
        assert len(soup.find_all("math")) >= n, f"{nb.stem}: {n} formulas, {len(soup.find_all('math'))} <math> elements"
        soup = copy.copy(soup)                                        # the fixture's tree is shared: work on a copy
        for code in soup(["code", "pre", "math"]): code.decompose()
        text = soup.get_text()
        assert not re.search(r"\$[^$\n]*\\[a-zA-Z]+[^$\n]*\$", text), f"{nb.stem}: raw TeX left in the text"
        assert "GVRAW" not in html, f"{nb.stem}: a build placeholder was left"
    assert total >= 7, "the notebooks' formulas were not found"

def test_rmsnorm_formula_is_mathml(pages):
    html, soup = pages["03_rmsnorm"]
    maths = soup.find_all("math")
    assert any(m.find("msqrt") for m in maths), "RMSNorm's formula (a square root) is not MathML"
    assert r"\sqrt" not in soup.get_text() and r"\operatorname" not in soup.get_text()

def test_math_conversion_skips_code_and_prices():
    store = {}
    md = "costs $5 and $10; `$x$` in code\n```\n$y$\n```\nbut $a^2$ and $$b$$ are math"
    out = build.math_to_mathml(md, store)
    assert len(store) == 2 and "$5 and $10" in out and "`$x$`" in out and "\n$y$\n" in out
    assert all(v.startswith("<math") for v in store.values())
    assert 'display="block"' in list(store.values())[1]

# -------------------------------------------------------------------------------------------------------- page layout
def test_no_prompts(pages):
    "No `In [ ]:` / `Out[0]:` prompts (nbdev's pages have none)."
    for name, (_, soup) in pages.items():
        text = soup.get_text().replace("\xa0", " ")
        assert not re.search(r"\b(In|Out) ?\[\s*\d*\s*\]:", text), f"{name} shows a prompt"
        assert not soup.select(".jp-InputPrompt, .jp-OutputPrompt"), name

def test_show_doc_blocks_are_page_content(pages):
    "show_doc output is page content in a .gv-doc block: no rule above it, not inside an output area."
    html, soup = pages["03_rmsnorm"]
    docs = soup.select(".gv-doc")
    assert len(docs) >= 5, "show_doc blocks missing from the RMSNorm page"
    for d in docs:
        assert not d.find("hr") and not d.find_parent(class_="jp-OutputArea"), d.get_text()[:60]
        prev = d.find_previous_sibling()
        assert prev is None or prev.name != "hr", d.get_text()[:60]
        assert d.select_one("a.gv-source[href]"), "show_doc's source link is missing"
    assert not re.search(r"\{target=", html)

def test_code_lines_are_not_cut_off(pages):
    "Input code wraps (the lab template's `overflow: hidden` would cut long lines off); outputs scroll."
    html, _ = pages["03_rmsnorm"]
    assert re.search(r"\.jp-InputArea-editor pre[^{]*\{[^}]*white-space:\s*pre-wrap", html)
    assert re.search(r"\.jp-InputArea\s*\{[^}]*overflow:\s*visible", html)
    assert re.search(r"\.jp-OutputArea-output pre\s*\{[^}]*overflow-x:\s*auto", html)

def range_index_tables(soup):
    "Tables whose first column is an unnamed 0..N-1 index."
    bad = []
    for t in soup.find_all("table"):
        rows = t.find("tbody").find_all("tr") if t.find("tbody") else []
        firsts = [r.find(["th", "td"]) for r in rows]
        if rows and all(f is not None and f.name == "th" for f in firsts) and \
           [f.get_text(strip=True) for f in firsts] == [str(i) for i in range(len(rows))]: bad.append(t)
    return bad

def test_tables_have_no_meaningless_index(pages):
    for name, (_, soup) in pages.items():
        assert not range_index_tables(soup), f"{name}: a table shows a 0..N-1 index column"
    _, soup = pages["90_benchmarks"]
    heads = [th.get_text(strip=True) for th in soup.select("table thead th")]
    assert "result" in heads, "tables with a named index must keep it"

def test_drop_range_index():
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"variant": ["a", "b", "c"], "value": [1.0, 2.0, 3.0]})
    html = build.drop_range_index(df.to_html())
    assert "<th>0</th>" not in html and "<td>a</td>" in html and html.count("<th>") == 2
    named = df.set_index("variant").to_html()
    assert build.drop_range_index(named) == named                      # a named index stays
    labelled = pd.DataFrame({"v": [1, 2]}, index=["x", "y"]).to_html()
    assert build.drop_range_index(labelled) == labelled                 # so does a meaningful unnamed one
    styled = build.drop_range_index(df.style.to_html())
    assert ">0</th>" not in styled and ">a</td>" in styled

# ------------------------------------------------------------------------------------------------ honest, clean pages
def stdout_lines(cell) -> list[str]:
    return [l.strip() for o in cell.get("outputs", []) if o["output_type"] == "stream" and o["name"] == "stdout"
            for l in "".join(o["text"]).splitlines() if len(l.strip()) > 20]

def smoke_cells():
    "(notebook, a line printed only by that cell) of every cell that runs a CPU smoke benchmark."
    found = []
    for nb in NOTEBOOKS:
        cells = [c for c in json.loads(nb.read_text())["cells"] if c["cell_type"] == "code"]
        for c in cells:
            src = "".join(c["source"])
            if not build.SMOKE_RE.search(src) or re.match(r"#\|\s*(hide|output:\s*false)", src): continue
            others = {l for o in cells if o is not c for l in stdout_lines(o)}
            own = [l for l in stdout_lines(c) if l not in others]
            if own: found.append((nb, own[0]))
    return found

def test_cpu_smoke_runs_are_folded_under_a_label(pages):
    "CPU smoke-run output (e.g. 'RMSNorm ghostvis 631 ms') never reads as a result: it sits in a labelled <details>."
    cells = smoke_cells()
    assert cells, "no CPU smoke run found in the notebooks"
    for nb, line in cells:
        _, soup = pages[nb.stem]
        hits = [s for s in soup.find_all(string=lambda s: line in s)]
        assert hits, f"{nb.stem}: the smoke run's output `{line}` is not on the page"
        for s in hits:
            details = s.find_parent("details", class_="gv-smoke")
            assert details is not None, f"{nb.stem}: `{line}` is shown outside the smoke-run label"
            assert "not performance results" in details.summary.get_text()

def test_no_test_scaffolding_or_noise(pages):
    for name, (_, soup) in pages.items():
        text = soup.get_text()
        for s in ("a test figure", "fake = ", "VBox(children=", "Writing model shards", "it/s]", "UserWarning",
                  "no cuda results for"):
            assert s not in text, f"{name} shows `{s}`"

def test_links_to_the_online_docs_are_local(pages):
    base = build.doc_url()
    for name, (html, _) in pages.items():
        assert base not in html, f"{name} links to the online docs ({base}) instead of the local pages"
    _, soup = pages["index"]
    assert soup.select_one('a[href^="90_benchmarks.html"]'), "the index no longer links the report locally"

@pytest.mark.skipif(not any(shutil.which(b) for b in ("chromium", "chromium-browser", "google-chrome")),
                    reason="no Chromium here (screenshots are a tool: tools/screenshot_site.py)")
def test_screenshot_tool(site, tmp_path):
    "tools/screenshot_site.py draws a page in headless Chromium: the picture has the page's content, not a blank."
    shots = load_tool("screenshot_site")
    files = shots.shoot(site / "03_rmsnorm.html", tmp_path / "p.png", height=8000, tile=2000)
    from PIL import Image
    im = Image.open(files[0])
    assert im.width == 1280 and im.height > 3000, im.size
    assert len(files) >= 3 and all(f.exists() for f in files)
    assert sum(1 for n in im.convert("L").resize((64, 64)).histogram() if n) > 20, "the screenshot is blank"

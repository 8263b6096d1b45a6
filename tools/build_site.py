"""Build the docs without quarto: a static HTML site in `_site/` and README.md, both from the notebooks.

    python tools/build_site.py [--out _site] [--readme]

Notebooks are processed exactly as `nbdev_docs` would process them (nbdev's `proc_nbs`: directives applied, hidden
cells dropped, `show_doc` rendered), then each is rendered by nbconvert with its images embedded, and every page gets
a sidebar linking all chapters in order. With quarto installed, `nbdev_docs` builds the full site from the same
sources instead.

The pages work offline and read like nbdev's quarto pages:
- no script or stylesheet is loaded from the internet; math is MathML written at build time (`latex2mathml`);
- quarto's cell options are applied (`echo: false`, `output: false`, `include: false`, `output: asis`: `show_doc`
  output becomes page content, without a prompt or a rule above it); no `In [ ]:` / `Out[ ]:` prompts;
- tables whose index is just 0..N-1 (unnamed) lose that column; tables with a named index keep it;
- the output of a CPU smoke run (a cell that calls a benchmark with `quick=True`, `--quick` or `--benchmark`) is
  folded under a label saying its numbers are not performance results; progress bars and Python warnings printed to
  stderr are dropped; a widget (which needs a live kernel) is replaced by a note;
- links to the online docs (`doc_host`/`doc_baseurl`) point to the local pages.
"""
from __future__ import annotations
import argparse, copy, html, json, re, shutil, sys
import yaml
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CSS = """
body { margin: 0; font: 16px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  color: #343a40; }
.jp-Notebook { padding: 0; }
#gv-sidebar { position: fixed; top: 0; left: 0; bottom: 0; width: 230px; overflow-y: auto; padding: 18px 14px;
  background: #f6f8fa; border-right: 1px solid #ddd; font: 14px/1.5 system-ui, sans-serif; box-sizing: border-box; }
#gv-sidebar .gv-brand { font-weight: 700; font-size: 20px; margin-bottom: 14px; display: block; color: #24292f; }
#gv-sidebar a { display: block; padding: 3px 6px; color: #0969da; text-decoration: none; border-radius: 4px; }
#gv-sidebar a.gv-current { background: #dde6f0; font-weight: 600; color: #24292f; }
#gv-main { margin-left: 230px; max-width: 980px; padding: 10px 32px 60px; box-sizing: border-box; }
#gv-main .gv-title h1 { font: 700 32px system-ui, sans-serif; margin: 18px 0 4px; }
#gv-main .gv-title p { color: #6c757d; font: 18px/1.4 system-ui, sans-serif; margin: 0 0 18px; }
#gv-main .gv-title code { font-size: 15px; background: #f1f3f5; padding: 1px 4px; border-radius: 3px; }
#gv-main img { max-width: 100%; }
/* cells: no prompts, no collapsers; text, code and outputs share one left edge */
.jp-Cell { padding: 0 !important; margin: 0 0 10px 0; }
.jp-Collapser { display: none !important; }
.jp-RenderedHTMLCommon { padding-right: 0 !important; font-size: 16px; line-height: 1.55; color: #343a40; }
.jp-RenderedHTMLCommon p { margin-bottom: .8em; }
.jp-MarkdownOutput { padding-left: 0 !important; }
/* code: light box as in nbdev's pages; long lines wrap instead of being cut off */
.jp-InputArea { overflow: visible !important; }
.jp-InputArea-editor { border: none !important; background: #f7f7f9 !important; border-radius: 4px; padding: 6px 10px; }
.jp-InputArea-editor pre, .jp-RenderedMarkdown pre code, .jp-RenderedMarkdown pre { white-space: pre-wrap !important;
  overflow-wrap: anywhere; word-break: normal !important; }
.jp-RenderedMarkdown pre { background: #f7f7f9; border-radius: 4px; padding: 6px 10px; font-size: 13px; margin: 0 0 .9em; }
.jp-CodeCell .jp-Cell-outputWrapper { margin-top: 4px; }
/* outputs: text scrolls sideways (columns stay aligned), marked by a thin rule on the left as in nbdev's styles.css */
.jp-OutputArea-output pre { white-space: pre !important; word-break: normal !important; overflow-x: auto;
  border-left: 2px solid lightsalmon; padding-left: .8rem; margin-left: .2rem; }
.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"] { background: none !important; }
.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"] pre { border-left-color: #f0b3b3; }
.jp-OutputArea-output { overflow-x: auto; }
/* tables: plain and compact */
.jp-RenderedHTMLCommon table { font-size: 14px; margin: 6px 0 12px; }
/* show_doc blocks (what quarto renders from `output: asis`) */
.gv-doc { margin: 20px 0 14px; padding: 2px 0 0; }
.gv-doc h2, .gv-doc h3, .gv-doc h4 { margin-top: 4px !important; font-family: ui-monospace, SFMono-Regular, Menlo, monospace;
  font-size: 19px !important; font-weight: 600 !important; }
.gv-doc .gv-source { float: right; font-size: 13px; }
.gv-doc pre { margin: 6px 0; }
.gv-doc p em { color: #495057; }
/* folded CPU smoke-run output and notes from the build */
details.gv-smoke { margin: 2px 0 6px; font-size: 14px; color: #6c757d; }
details.gv-smoke summary { cursor: pointer; }
.gv-note { color: #6c757d; font-style: italic; font-size: 14px; margin: 4px 0 8px; }
math { font-size: 1.15em; }
math[display="block"] { margin: .6em 0; }
"""

# Our template: nbconvert's lab template without the CDN scripts (require.js, MathJax, mermaid, widgets), and with the
# outputs of a cell marked `gv_smoke` folded under that label.
TEMPLATE = """{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{% block outputs %}
{%- if cell.metadata.get('gv_smoke') -%}<details class="gv-smoke"><summary>{{ cell.metadata.gv_smoke | e }}</summary>
{{ super() }}</details>
{%- else -%}{{ super() }}{%- endif -%}
{% endblock outputs %}
"""

SMOKE_RE = re.compile(r"\bquick\s*=\s*True\b|[\"']--(quick|benchmark)[\"']")
SMOKE_LABEL = ("Output of a CPU smoke run (tiny shapes, Triton kernels in the CPU interpreter): it checks that the code "
               "runs; its numbers are not performance results.")
WIDGET_NOTE = "An interactive ipywidgets control: open this notebook in Jupyter to use it (a static page cannot run it)."
PROGRESS_RE = re.compile(r"^.*\d+%\|.*\|.*(\r|$)\n?", re.M)   # tqdm-style progress bars
WARNING_RE = re.compile(r"\A\S+\.py:\d+: \w*Warning: ")             # a Python warning printed to stderr

def process_notebooks() -> Path:
    "Run nbdev's own docs processing (no quarto needed) and return the `_proc` folder."
    from nbdev.config import get_config
    from nbdev.serve import proc_nbs
    cfg = get_config(path=ROOT)
    return proc_nbs(str(cfg.nbs_path), n_workers=0, force=True)

def frontmatter_meta(nb: dict) -> dict:
    "The YAML of the raw frontmatter cell that nbdev's processing puts first."
    for cell in nb["cells"]:
        if cell["cell_type"] == "raw": return yaml.safe_load("".join(cell["source"]).strip().strip("-")) or {}
    return {}

def frontmatter(nb: dict) -> tuple[str, str]:
    "Title and description from the frontmatter."
    meta = frontmatter_meta(nb)
    return str(meta.get("title", "")), str(meta.get("description", ""))

def chapters(proc: Path) -> list[Path]:
    "The processed notebooks in reading order: index first, then by chapter number."
    nbs = sorted(p for p in proc.glob("*.ipynb") if not p.name.startswith("_"))
    return sorted(nbs, key=lambda p: (p.stem != "index", p.stem))

# ------------------------------------------------------------------------------------------------- raw HTML and math
def raw_html(store: dict[str, str], fragment: str) -> str:
    "A placeholder for `fragment` that survives nbconvert's markdown rendering; `fill_raw_html` puts it back."
    key = f"GVRAW{len(store)}X"
    store[key] = fragment
    return key

def fill_raw_html(page: str, store: dict[str, str]) -> str:
    "The rendered page with each placeholder replaced by its HTML (a placeholder alone in a paragraph loses the <p>)."
    for key, fragment in store.items(): page = page.replace(f"<p>{key}</p>", fragment).replace(key, fragment)
    return page

CODE_RE = re.compile(r"^(```|~~~).*?^\1[^\n]*$|(`+).+?\2", re.S | re.M)          # fenced blocks and inline code spans
MATH_RE = re.compile(r"\$\$(.+?)\$\$|(?<![\\$\w])\$(?![\s$])(.+?)(?<![\s\\])\$(?![\d$])", re.S)

def math_to_mathml(md: str, store: dict[str, str], where: str = "") -> str:
    "`$...$` / `$$...$$` in markdown (outside code) replaced by placeholders; `store` maps each to its MathML."
    from latex2mathml.converter import convert
    def one(m):
        tex, display = (m.group(1), "block") if m.group(1) is not None else (m.group(2), "inline")
        try: mathml = convert(tex.strip(), display=display)
        except Exception as e:
            raise ValueError(f"{where}: cannot turn the formula ${tex}$ into MathML ({e}); simplify it") from e
        return raw_html(store, mathml)
    out, last = [], 0
    for code in CODE_RE.finditer(md):
        out += [MATH_RE.sub(one, md[last:code.start()]), code.group(0)]; last = code.end()
    return "".join(out + [MATH_RE.sub(one, md[last:])])

# -------------------------------------------------------------------------------------------------------------- tables
def drop_range_index(table_html: str) -> str:
    "A pandas HTML table without its index column when the index is unnamed and just 0..N-1; otherwise unchanged."
    from bs4 import BeautifulSoup
    soup = BeautifulSoup(table_html, "html.parser")
    changed = False
    for table in soup.find_all("table"):
        head = table.find("thead").find_all("tr") if table.find("thead") else []
        body = table.find("tbody").find_all("tr") if table.find("tbody") else []
        firsts = [tr.find(["th", "td"], recursive=False) for tr in body]
        if not body or any(c is None or c.name != "th" for c in firsts): continue
        if [c.get_text(strip=True) for c in firsts] != [str(i) for i in range(len(body))]: continue
        head_firsts = [tr.find(["th", "td"], recursive=False) for tr in head]
        if any(c is None or c.get_text(strip=True) or c.get("colspan") for c in head_firsts): continue  # a named index
        for c in firsts + head_firsts: c.decompose()
        changed = True
    return str(soup) if changed else table_html

# ------------------------------------------------------------------------------------------------------------- cells
DIRECTIVE_RE = re.compile(r"^#\|\s*([\w-]+)\s*:\s*(.*?)\s*$")

def directives(source: str) -> tuple[dict[str, str], str]:
    "Leading quarto cell options (`#| key: value`) as a dict, and the source without them."
    lines, opts = source.splitlines(keepends=True), {}
    while lines and (m := DIRECTIVE_RE.match(lines[0])):
        opts[m.group(1)] = m.group(2).lower(); lines.pop(0)
    return opts, "".join(lines)

def show_doc_markdown(md: str, store: dict[str, str]) -> str:
    "show_doc's markdown as page content: no rule above it, the source link small and on the right, in a .gv-doc box."
    md = re.sub(r"\A\s*---\s*\n", "", md)
    md = re.sub(r"\[source\]\(([^)]+)\)\{[^}]*\}",
                lambda m: raw_html(store, f'<a class="gv-source" href="{html.escape(m.group(1))}">source</a>'), md)
    md = re.sub(r"\]\(([^)]+)\)\{target=[^}]*\}", r"](\1)", md)                # other quarto link attributes
    return f'{raw_html(store, "<div class=gv-doc>")}\n\n{md}\n\n{raw_html(store, "</div>")}'

def clean_outputs(outputs: list[dict]) -> list[dict]:
    "Outputs as a static page shows them: no progress bars, widgets replaced by a note, tables without a 0..N index."
    if any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in outputs):
        # what the widget printed while it was built belongs to the widget, which needs a live kernel
        return [dict(output_type="display_data", metadata={}, data={"text/html": f'<p class="gv-note">{WIDGET_NOTE}</p>'})]
    kept = []
    for o in outputs:
        o = copy.deepcopy(o)
        if o["output_type"] == "stream":
            text = PROGRESS_RE.sub("", "".join(o["text"]) if isinstance(o["text"], list) else o["text"])
            if not text.strip() or (o["name"] == "stderr" and WARNING_RE.match(text)): continue
            o["text"] = text
        elif "text/html" in o.get("data", {}):
            h = o["data"]["text/html"]
            o["data"]["text/html"] = drop_range_index("".join(h) if isinstance(h, list) else h)
        kept.append(o)
    return kept

def prepare(nb: dict, name: str, store: dict[str, str]) -> dict:
    "The processed notebook `nb` as the page shows it (see the module docstring); `store` gets its raw HTML."
    nb = copy.deepcopy(nb)
    nb["metadata"].pop("widgets", None)                                          # widget state needs a kernel/CDN
    cells = []
    for c in nb["cells"]:
        if c["cell_type"] == "raw": continue                                     # the frontmatter is the page heading
        src = "".join(c["source"])
        if c["cell_type"] == "markdown":
            c["source"] = math_to_mathml(src, store, f"{name}, cell {c.get('id', '?')}")
            cells.append(c); continue
        if c["cell_type"] != "code": cells.append(c); continue
        opts, c["source"] = directives(src)
        if opts.get("include") == "false": continue
        if opts.get("output") == "asis":                                         # show_doc: markdown as page content
            for i, o in enumerate(c.get("outputs", [])):
                md = o.get("data", {}).get("text/markdown")
                if md is not None:
                    cells.append(dict(cell_type="markdown", id=f"{c.get('id', 'doc')}-{i}", metadata={},
                                      source=show_doc_markdown("".join(md) if isinstance(md, list) else md, store)))
            if opts.get("echo") != "false" and c["source"].strip(): c["outputs"] = []; cells.append(c)
            continue
        if opts.get("output") == "false": c["outputs"] = []
        c["outputs"] = clean_outputs(c.get("outputs", []))
        md = c.setdefault("metadata", {})
        if opts.get("echo") == "false": md.setdefault("tags", []).append("remove_input")
        if SMOKE_RE.search(c["source"]) and c["outputs"]: md["gv_smoke"] = SMOKE_LABEL
        if not c["source"].strip() and not c["outputs"]: continue
        cells.append(c)
    nb["cells"] = cells
    return nb

# --------------------------------------------------------------------------------------------------------------- pages
def doc_url() -> str:
    "Where the online docs live (nbdev's doc_host + doc_baseurl), to turn links to them into local ones."
    from nbdev.config import get_config
    cfg = get_config(path=ROOT)
    return (cfg.doc_host.rstrip("/") + "/" + cfg.doc_baseurl.strip("/")).rstrip("/") + "/"

def local_links(pages: dict[str, str]) -> callable:
    "A function rewriting links to the online docs (`<doc_url>/rmsnorm.html#x`) into links to the local pages."
    base = re.escape(doc_url())
    pat = re.compile(base + r"([\w./-]*?\.html)")
    return lambda text: pat.sub(lambda m: pages.get(m.group(1), m.group(1)), text)

def exporter():
    "nbconvert's HTML exporter with our template: no prompts, no CDN scripts, images embedded."
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import TagRemovePreprocessor
    ex = HTMLExporter(extra_loaders=[DictLoader({"ghostvis.html.j2": TEMPLATE})], template_file="ghostvis.html.j2",
                      embed_images=True, exclude_input_prompt=True, exclude_output_prompt=True)
    ex.register_preprocessor(TagRemovePreprocessor(remove_input_tags={"remove_input"}, enabled=True), enabled=True)
    return ex

def render_page(path: Path, nav: list[tuple[str, str]], links: callable = lambda s: s) -> str:
    "One notebook as a standalone HTML page with the sidebar."
    import nbformat
    nb = json.loads(path.read_text())
    title, desc = frontmatter(nb)
    store: dict[str, str] = {}
    nb = prepare(nb, path.name, store)
    body, _ = exporter().from_notebook_node(nbformat.reads(json.dumps(nb), as_version=4))
    body = re.sub(r'\{target=(&quot;|")_blank(&quot;|")[^}]*\}', "", body)  # quarto link attributes left anywhere
    body = fill_raw_html(body, store)
    body = links(body)
    links_html = "\n".join(f'<a href="{href}"{" class=gv-current" if href == path.stem + ".html" else ""}>{html.escape(name)}</a>'
                           for name, href in nav)
    sidebar = f'<nav id="gv-sidebar"><a class="gv-brand" href="index.html">ghostvis</a>{links_html}</nav>'
    desc_html = re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(desc))   # quarto renders the description's `code`
    heading = f'<div class="gv-title"><h1>{html.escape(title or path.stem)}</h1><p>{desc_html}</p></div>'
    body = re.sub(r"<title>.*?</title>", f"<title>{html.escape(title or path.stem)} – ghostvis</title>", body, 1, re.S)
    body = body.replace("</head>", f"<style>{CSS}</style></head>", 1)
    return re.sub(r"(<body[^>]*>)", lambda m: f"{m.group(1)}{sidebar}<div id=\"gv-main\">{heading}", body, 1) \
             .replace("</body>", "</div></body>", 1)

def build_site(out: Path) -> list[Path]:
    "Write one HTML page per notebook into `out`; return the pages."
    proc = process_notebooks()
    pages = chapters(proc)
    nbs = {p: json.loads(p.read_text()) for p in pages}
    nav = [(frontmatter(nbs[p])[0] or p.stem, p.stem + ".html") for p in pages]
    online = {str(frontmatter_meta(nbs[p]).get("output-file", p.stem + ".html")): p.stem + ".html" for p in pages}
    links = local_links(online)
    if out.exists(): shutil.rmtree(out)
    out.mkdir(parents=True)
    written = []
    for p in pages:
        dest = out / f"{p.stem}.html"
        dest.write_text(render_page(p, nav, links)); written.append(dest)
    return written

def write_readme(dest: Path) -> Path:
    "README.md from the processed `index.ipynb` (what `nbdev_readme` does, without quarto)."
    import nbformat
    from nbconvert import MarkdownExporter
    proc = ROOT / "_proc"
    if not (proc / "index.ipynb").exists(): proc = process_notebooks()
    nb = json.loads((proc / "index.ipynb").read_text())
    title, desc = frontmatter(nb)
    nb["cells"] = [c for c in nb["cells"] if c["cell_type"] != "raw"]
    md, _ = MarkdownExporter(exclude_input=True).from_notebook_node(nbformat.reads(json.dumps(nb), as_version=4))
    md = re.sub(r"\n{3,}", "\n\n", md).strip()
    header = f"# {title}\n\n> {desc}\n\n"
    dest.write_text(header + md + "\n")
    return dest

if __name__ == "__main__":
    p = argparse.ArgumentParser(prog="python tools/build_site.py", description=__doc__.splitlines()[0])
    p.add_argument("--out", default=str(ROOT / "_site"), help="output folder (default: _site)")
    p.add_argument("--readme", action="store_true", help="also regenerate README.md from nbs/index.ipynb")
    args = p.parse_args()
    pages = build_site(Path(args.out))
    print(f"built {len(pages)} pages in {args.out}")
    if args.readme: print(f"wrote {write_readme(ROOT / 'README.md')}")

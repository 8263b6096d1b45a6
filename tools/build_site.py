"""Build the docs without quarto: a static HTML site in `_site/` and README.md, both from the notebooks.

    python tools/build_site.py [--out _site] [--readme]

Notebooks are processed exactly as `nbdev_docs` would process them (nbdev's `proc_nbs`: directives applied, hidden
cells dropped, `show_doc` rendered), then each is rendered by nbconvert with its images embedded, and every page gets
a sidebar linking all chapters in order. With quarto installed, `nbdev_docs` builds the full site from the same
sources instead.
"""
from __future__ import annotations
import argparse, html, json, re, shutil, sys
import yaml
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CSS = """
body { margin: 0; }
#gv-sidebar { position: fixed; top: 0; left: 0; bottom: 0; width: 230px; overflow-y: auto; padding: 18px 14px;
  background: #f6f8fa; border-right: 1px solid #ddd; font: 14px/1.5 system-ui, sans-serif; box-sizing: border-box; }
#gv-sidebar .gv-brand { font-weight: 700; font-size: 20px; margin-bottom: 14px; display: block; color: #24292f; }
#gv-sidebar a { display: block; padding: 3px 6px; color: #0969da; text-decoration: none; border-radius: 4px; }
#gv-sidebar a.gv-current { background: #dde6f0; font-weight: 600; color: #24292f; }
#gv-main { margin-left: 240px; max-width: 1100px; padding: 10px 24px 40px; }
#gv-main .gv-title h1 { font: 700 32px system-ui, sans-serif; margin: 18px 0 4px; }
#gv-main .gv-title p { color: #57606a; font: 17px system-ui, sans-serif; margin: 0 0 16px; }
#gv-main img { max-width: 100%; }
"""

def process_notebooks() -> Path:
    "Run nbdev's own docs processing (no quarto needed) and return the `_proc` folder."
    from nbdev.config import get_config
    from nbdev.serve import proc_nbs
    cfg = get_config(path=ROOT)
    return proc_nbs(str(cfg.nbs_path), n_workers=0, force=True)

def frontmatter(nb: dict) -> tuple[str, str]:
    "Title and description from the raw YAML cell that nbdev's processing puts first."
    for cell in nb["cells"]:
        if cell["cell_type"] == "raw":
            meta = yaml.safe_load("".join(cell["source"]).strip().strip("-")) or {}
            return str(meta.get("title", "")), str(meta.get("description", ""))
    return "", ""

def chapters(proc: Path) -> list[Path]:
    "The processed notebooks in reading order: index first, then by chapter number."
    nbs = sorted(p for p in proc.glob("*.ipynb") if not p.name.startswith("_"))
    return sorted(nbs, key=lambda p: (p.stem != "index", p.stem))

def render_page(path: Path, nav: list[tuple[str, str]]) -> str:
    "One notebook as a standalone HTML page with the sidebar."
    import nbformat
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import TagRemovePreprocessor
    nb = json.loads(path.read_text())
    title, desc = frontmatter(nb)
    nb["cells"] = [c for c in nb["cells"] if c["cell_type"] != "raw"]          # the frontmatter is the page heading
    for c in nb["cells"]:                                                       # quarto's `echo: false`: output only
        if c["cell_type"] == "code" and re.match(r"\s*#\|\s*echo:\s*false", "".join(c["source"])):
            c.setdefault("metadata", {}).setdefault("tags", []).append("remove_input")
    exporter = HTMLExporter(template_name="lab", embed_images=True)
    exporter.register_preprocessor(TagRemovePreprocessor(remove_input_tags={"remove_input"}, enabled=True), enabled=True)
    body, _ = exporter.from_notebook_node(nbformat.reads(json.dumps(nb), as_version=4))
    body = re.sub(r'\{target=(&quot;|")_blank(&quot;|")[^}]*\}', "", body)  # quarto link attributes in show_doc
    links = "\n".join(f'<a href="{href}"{" class=gv-current" if href == path.stem + ".html" else ""}>{html.escape(name)}</a>'
                      for name, href in nav)
    sidebar = f'<nav id="gv-sidebar"><a class="gv-brand" href="index.html">ghostvis</a>{links}</nav>'
    heading = f'<div class="gv-title"><h1>{html.escape(title or path.stem)}</h1><p>{html.escape(desc)}</p></div>'
    body = re.sub(r"<title>.*?</title>", f"<title>{html.escape(title or path.stem)} – ghostvis</title>", body, 1, re.S)
    body = body.replace("</head>", f"<style>{CSS}</style></head>", 1)
    return re.sub(r"(<body[^>]*>)", lambda m: f"{m.group(1)}{sidebar}<div id=\"gv-main\">{heading}", body, 1) \
             .replace("</body>", "</div></body>", 1)

def build_site(out: Path) -> list[Path]:
    "Write one HTML page per notebook into `out`; return the pages."
    proc = process_notebooks()
    pages = chapters(proc)
    nav = [(frontmatter(json.loads(p.read_text()))[0] or p.stem, p.stem + ".html") for p in pages]
    if out.exists(): shutil.rmtree(out)
    out.mkdir(parents=True)
    written = []
    for p in pages:
        dest = out / f"{p.stem}.html"
        dest.write_text(render_page(p, nav)); written.append(dest)
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

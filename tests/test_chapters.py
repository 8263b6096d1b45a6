"""The notebooks read as a book: each chapter imports only chapters that come before it in nbs/ order (or itself)."""
import json, re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted(p for p in (ROOT / "nbs").glob("*.ipynb") if not p.name.startswith("_") and p.stem != "index")
IMPORT = re.compile(r"^\s*(?:from\s+ghostvis\.([\w.]+)\s+import|import\s+ghostvis\.([\w.]+)|from\s+ghostvis\s+import\s+([\w, ]+))", re.M)

def code_of(nb: Path) -> list[str]:
    return ["".join(c["source"]) for c in json.loads(nb.read_text())["cells"] if c["cell_type"] == "code"]

def module_of(nb: Path) -> str | None:
    for src in code_of(nb):
        m = re.search(r"#\|\s*default_exp\s+([\w.]+)", src)
        if m: return m.group(1)
    return None

def imported_modules(nb: Path) -> set[str]:
    found = set()
    for src in code_of(nb):
        for m in IMPORT.finditer(src):
            if m.group(3): found |= {n.strip() for n in m.group(3).split(",")}
            else: found.add(m.group(1) or m.group(2))
    return found

def test_chapters_import_only_earlier_chapters():
    chapter = {module_of(nb): i for i, nb in enumerate(NOTEBOOKS) if module_of(nb)}
    late = []
    for i, nb in enumerate(NOTEBOOKS):
        for mod in imported_modules(nb):
            # `ghostvis.scripts.base_train` belongs to the chapter that exports it; a package (`ghostvis.scripts`) to none
            owner = next((chapter[m] for m in (mod, *[mod.rsplit(".", k)[0] for k in range(1, mod.count(".") + 1)]) if m in chapter), None)
            if owner is not None and owner > i: late.append(f"{nb.name} imports ghostvis.{mod} from {NOTEBOOKS[owner].name}")
    assert not late, "chapters importing later chapters:\n" + "\n".join(late)

def test_every_module_has_one_chapter():
    modules = [module_of(nb) for nb in NOTEBOOKS if module_of(nb)]
    assert len(modules) == len(set(modules)), modules

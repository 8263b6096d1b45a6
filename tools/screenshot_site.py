"""Screenshot pages of the built docs site in headless Chromium, to look at them as a reader would.

    python tools/screenshot_site.py [--site _site] [--out _site/_screens] [--pages index 03_rmsnorm ...] [--width 1280]

Each page is drawn in one tall window, the blank space below the page is cropped, and the result is saved as
`PAGE.png` plus `PAGE-1.png`, `PAGE-2.png`, ... tiles of at most `--tile` pixels high (easier to view). Needs a
Chromium binary (Debian: `apt-get install chromium`); nothing is downloaded.
"""
from __future__ import annotations
import argparse, shutil, subprocess, tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGES = ["index", "03_rmsnorm", "15_engine", "90_benchmarks"]

def chromium() -> str:
    "Path of a Chromium (or Chrome) binary, or a clear error saying how to get one."
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome", "chromium-headless-shell"):
        if path := shutil.which(name): return path
    raise SystemExit("no Chromium found: install it (Debian: apt-get install -y chromium) or put it on PATH")

def crop_blank(png: Path) -> "Image":
    "The screenshot without the blank rows below the page's content."
    from PIL import Image, ImageChops
    im = Image.open(png).convert("RGB")
    bg = Image.new("RGB", im.size, im.getpixel((im.width - 1, im.height - 1)))
    box = ImageChops.difference(im.crop((250, 0, im.width, im.height)), bg.crop((250, 0, im.width, im.height))).getbbox()
    return im.crop((0, 0, im.width, min(im.height, (box[3] if box else 0) + 40)))

def shoot(page: Path, dest: Path, width: int = 1280, height: int = 30000, tile: int = 1600) -> list[Path]:
    "Screenshot `page` (an HTML file) to `dest` and its tiles; return the files written."
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw.png"
        subprocess.run([chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                        f"--user-data-dir={tmp}/profile", f"--window-size={width},{height}",
                        f"--screenshot={raw}", page.resolve().as_uri()], check=True, capture_output=True, timeout=120)
        im = crop_blank(raw)
    im.save(dest); written = [dest]
    for old in dest.parent.glob(f"{dest.stem}-*.png"): old.unlink()
    for i, top in enumerate(range(0, im.height, tile), 1):
        part = dest.with_name(f"{dest.stem}-{i}.png")
        im.crop((0, top, im.width, min(im.height, top + tile))).save(part); written.append(part)
    return written

if __name__ == "__main__":
    p = argparse.ArgumentParser(prog="python tools/screenshot_site.py", description=__doc__.splitlines()[0])
    p.add_argument("--site", default=str(ROOT / "_site"), help="the built site (python tools/build_site.py)")
    p.add_argument("--out", default=str(ROOT / "_site" / "_screens"), help="folder for the PNGs (default: _site/_screens, ignored by git)")
    p.add_argument("--pages", nargs="+", default=PAGES, help=f"page names without .html (default: {' '.join(PAGES)})")
    p.add_argument("--width", type=int, default=1280, help="window width in pixels")
    p.add_argument("--tile", type=int, default=1600, help="height of each tile in pixels")
    args = p.parse_args()
    site, out = Path(args.site), Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name in args.pages:
        page = site / f"{name}.html"
        if not page.exists(): raise SystemExit(f"{page} does not exist: build the site first (python tools/build_site.py)")
        files = shoot(page, out / f"{name}.png", args.width, tile=args.tile)
        print(f"{name}: {files[0]} + {len(files) - 1} tiles")

"""Execute notebooks in place, saving their outputs, skipping cells whose test flags are not switched on.

    python tools/run_nbs.py [NOTEBOOK ...] [--flags cuda]

Outputs (tables, benchmark charts drawn from the committed CSVs) are part of the docs, so notebooks are committed
executed. Cells flagged `#| cuda` run only with `--flags cuda` (on the GPU machine); `#| eval: false` never runs.
"""
from __future__ import annotations
import argparse, atexit, os, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

def run_notebook(path: Path, flags: set[str]) -> None:
    from execnb.nbio import read_nb, write_nb
    from execnb.shell import CaptureShell
    from nbdev.config import get_config
    from nbdev.process import extract_directives
    skip = set(get_config(path=ROOT).tst_flags.split()) - flags
    nb = read_nb(path)
    def no_eval(cell):
        if cell.cell_type != "code": return True
        d = extract_directives(cell, remove=False)
        if d.get("eval:", [""])[0].lower() == "false": return True
        if skip & d.keys(): cell.outputs = []; return True
        return False
    shell = CaptureShell(path)
    cwd = os.getcwd(); os.chdir(path.parent)
    try: shell.run_all(nb, exc_stop=True, preproc=no_eval)
    except Exception:
        sys.stderr.write(shell.prettytb(fname=path)); raise SystemExit(f"failed: {path}")
    finally:
        os.chdir(cwd)
        atexit.unregister(shell.atexit_operations)   # its namespace is emptied at exit before dynamo's cleanup: a KeyError
    write_nb(nb, path)

if __name__ == "__main__":
    p = argparse.ArgumentParser(prog="python tools/run_nbs.py", description=__doc__.splitlines()[0])
    p.add_argument("notebooks", nargs="*", help="notebooks to run (default: all of nbs/)")
    p.add_argument("--flags", default="", help="test flags to switch on, e.g. cuda")
    args = p.parse_args()
    paths = [Path(n) for n in args.notebooks] or sorted((ROOT / "nbs").glob("*.ipynb"))
    for path in paths:
        print(f"running {path}", flush=True); run_notebook(path.resolve(), set(args.flags.split()))

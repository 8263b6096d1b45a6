"""Every notebook in nbs/ is a test file: its cells (the tests sit right under the code they test) must run clean.

Cells flagged with a test flag from settings.ini (`#| cuda`) are skipped unless the flag is switched on:
`GHOSTVIS_TEST_FLAGS=cuda python -m pytest` on a GPU machine, the same as `nbdev_test --flags cuda`.
"""
import os
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted(p for p in (ROOT / "nbs").glob("*.ipynb") if not p.name.startswith("_"))

def test_there_are_notebooks():
    assert len(NOTEBOOKS) >= 3, NOTEBOOKS

@pytest.mark.parametrize("nb", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook(nb):
    from nbdev.config import get_config
    from nbdev.test import test_nb
    skip_flags = get_config(path=ROOT).tst_flags.split()
    force_flags = os.environ.get("GHOSTVIS_TEST_FLAGS", "").split()
    ok, seconds = test_nb(nb, skip_flags=skip_flags, force_flags=force_flags, basepath=str(ROOT))
    assert ok, f"{nb.name} failed (traceback above)"

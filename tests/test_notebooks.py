"""Every notebook in nbs/ is a test file: its cells (the tests sit right under the code they test) must run clean.

Cells flagged with a test flag from settings.ini (`#| cuda`) are skipped unless the flag is switched on:
`GHOSTVIS_TEST_FLAGS=cuda python -m pytest` on a GPU machine, the same as `nbdev_test --flags cuda`.
pytest.ini prints one line per notebook with its result and time.
"""
import atexit, json, os, re, warnings
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted(p for p in (ROOT / "nbs").glob("*.ipynb") if not p.name.startswith("_"))

def _import_torch_mkldnn_quietly():
    """torch's own torch/utils/mkldnn.py decorates 14 methods with torch's deprecated `torch.jit.script_method`, and
    inductor imports that file on a process's first `torch.compile`: pytest then lists torch's 14 DeprecationWarnings
    under whichever notebook compiled first. Import it once here with that one warning ignored while this one file
    imports; ghostvis uses no TorchScript (`test_no_torchscript`), and any other use of `script_method` still warns."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="`torch.jit.script_method` is deprecated", category=DeprecationWarning)
        import torch.utils.mkldnn  # noqa: F401

_import_torch_mkldnn_quietly()

def _keep_namespace_until_exit():
    """Let the notebook's namespace live until its last user is gone instead of emptying it at exit.
    Each execnb shell registers IPython's `atexit_operations`, which empties the shell's namespace. torch.compile installs
    globals (`__builtins_dict___N`, `__compiled_fn_N`) in the namespace of a function it compiles (08_model explains
    the notebook's own GPT) and deletes them when the compiled code is freed; code compiled with a graph break outlives
    `torch._dynamo.reset()` and is freed only at interpreter shutdown, after IPython emptied the namespace: the delete
    raised `KeyError: '__builtins_dict___N'` after pytest's summary."""
    from IPython.core.interactiveshell import InteractiveShell
    shell = InteractiveShell._instance          # execnb's CaptureShell makes itself the instance
    if shell is not None: atexit.unregister(shell.atexit_operations)

def test_there_are_notebooks():
    assert len(NOTEBOOKS) >= 3, NOTEBOOKS

def test_no_torchscript():
    "ghostvis uses torch.compile, not TorchScript: the only `script_method` warnings are torch's own (see above)."
    sources = {nb.name: "".join("".join(c["source"]) for c in json.loads(nb.read_text())["cells"]) for nb in NOTEBOOKS}
    users = [name for name, code in sources.items() if re.search(r"torch\.jit\.(script|trace)", code)]
    assert not users, f"TorchScript used in {users}: its deprecation warnings would be ours"

@pytest.mark.parametrize("nb", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook(nb):
    from nbdev.config import get_config
    from nbdev.test import test_nb
    skip_flags = get_config(path=ROOT).tst_flags.split()
    force_flags = os.environ.get("GHOSTVIS_TEST_FLAGS", "").split()
    try: ok, seconds = test_nb(nb, skip_flags=skip_flags, force_flags=force_flags, basepath=str(ROOT))
    finally: _keep_namespace_until_exit()
    assert ok, f"{nb.name} failed after {seconds:.0f} s (traceback above)"

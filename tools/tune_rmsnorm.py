"""RMSNorm launch settings on the GPU (bf16, with a weight), at the benchmark's shapes plus d20's width at 4096 rows:
1. every configuration the tuner may pick (`rmsnorm_configs`), the untuned default and the settings the kernels had
   before tuning ("landed"), each checked against a float64 reference on NaN-poisoned outputs, then timed alone
   (triton do_bench, median, L2 flushed; forward = 2 passes, backward = 3 passes incl. the weight-gradient sum);
2. forward+backward end to end (5 passes, timed as `python -m ghostvis.bench rmsnorm` times it: rotating inputs,
   median of CUDA events) for eager F.rms_norm, torch.compile, Liger (if it imports), `rms_norm` with its own tuner,
   and the default / landed / best-of-sweep configuration pairs;
3. the device copy bandwidth (the ceiling, measured as `python -m ghostvis.bench ceilings` does).
Writes OUT/rmsnorm_tune.csv (result rows with provenance) and OUT/rmsnorm_tune.json after every shape, and prints a
summary table last. Target: ghostvis >= 80% of the copy bandwidth and ahead of Liger and torch.compile at each shape.
Usage: python tools/tune_rmsnorm.py --out DIR [--shapes 8192x5120 16384x2048 ...]
       TRITON_INTERPRET=1 python tools/tune_rmsnorm.py --smoke   (CPU, a tiny shape: checks that the script runs)"""
import argparse, itertools, json, math, os, sys, time
from pathlib import Path
import torch
import torch.nn.functional as F
from ghostvis.core import bench, rotating_inputs, rel_err, TOLERANCE, has_backend
from ghostvis.results import benchmark_ceilings, save_results
from ghostvis import rmsnorm as R

EPS, DTYPE = 1e-6, torch.bfloat16
DEVICE = "cuda"   # "cpu" with --smoke
T0 = time.perf_counter()

def log(msg: str): print(f"[{time.perf_counter() - T0:6.1f} s] {msg}", flush=True)

def landed(kind: str, N: int) -> R.RMSNormConfig:
    "The launch settings of the kernels before per-shape tuning, in today's kernels (one padded block, 8 programs/SM)."
    block = 1 << max(4, math.ceil(math.log2(N)))
    rows = max(1, min(16, 4096 // block))
    warps = 4 if block * rows <= 2048 else 8 if block * rows <= 8192 else 16
    if kind == "fwd": return R.RMSNormConfig(rows, warps, split=False)
    return R.RMSNormConfig(max(1, rows // 2), warps, stages=1, per_sm=8, split=False)

def name(cfg: R.RMSNormConfig) -> str:
    s = f"rows={cfg.rows} warps={cfg.warps}"
    if cfg.per_sm: s += f" stages={cfg.stages} per_sm={cfg.per_sm}"
    return s + ("" if cfg.split else " one-block")

def gpu_ms(fn) -> float:
    "Median ms, L2 flushed between calls, as the library's tuner times (longer here)."
    if DEVICE == "cpu": return bench(fn, warmup_ms=1, rep_ms=1, min_reps=1, device="cpu").median_ms
    from triton.testing import do_bench
    return do_bench(fn, warmup=10, rep=50, return_mode="median")

def reference(x, w, dy):
    "float64 forward and backward of the reference: (y, dx, dw)."
    xr, wr = x.double().requires_grad_(), w.double().requires_grad_()
    y = R.rms_norm_ref(xr, wr, EPS)
    dx, dw = torch.autograd.grad(y, (xr, wr), dy.double())
    return y.detach(), dx, dw

def sweep(M, N, x, w, dy, ref, copy_gbs):
    "Check and time every candidate configuration of each kernel alone; rows of results, best config per kind."
    nbytes = M * N * x.element_size()
    nan = lambda *shape, dtype=DTYPE: torch.full(shape, float("nan"), device=DEVICE, dtype=dtype)
    rows, best = [], {}
    for kind, passes in [("fwd", 2), ("bwd", 3)]:
        cfgs = list(dict.fromkeys([R.default_config(kind, N), *R.rmsnorm_configs(kind, N), landed(kind, N)]))
        times = {}
        for cfg in cfgs:
            try:
                if kind == "fwd":
                    y, rstd = nan(M, N), nan(M, dtype=torch.float32)
                    run = lambda: R._launch_fwd(x, w, EPS, y, rstd, cfg)
                    run(); errs = {"y": rel_err(y, ref["y"])}
                else:
                    dx, dw = nan(M, N), nan(N)
                    partial = nan(R._bwd_grid(M, x.device, cfg), N, dtype=torch.float32)
                    run = lambda: R._launch_bwd(dy, x, w, ref["rstd"], dx, partial, dw, cfg)
                    run(); errs = {"dx": rel_err(dx, ref["dx"]), "dw": rel_err(dw, ref["dw"])}
                ok = all(e < TOLERANCE[DTYPE] for e in errs.values())
                ms = gpu_ms(run)
            except Exception as e:   # e.g. a configuration that needs more shared memory than the GPU has
                log(f"  {kind} {name(cfg)}: FAILED to run: {type(e).__name__}: {str(e)[:200]}")
                rows.append(dict(shape=f"{M}x{N}", kind=kind, variant=name(cfg), error=f"{type(e).__name__}: {e}"[:300]))
                continue
            gbs = passes * nbytes / ms / 1e6
            if ok: times[cfg] = ms
            else: log(f"  {kind} {name(cfg)}: WRONG {errs}")
            role = ",".join(r for r, c in [("default", R.default_config(kind, N)), ("landed", landed(kind, N))] if c == cfg)
            rows.append(dict(shape=f"{M}x{N}", kind=kind, variant=name(cfg), role=role, ms=ms, gbs=gbs,
                             share_of_copy=100 * gbs / copy_gbs, correct=ok, **{f"rel_err_{k}": v for k, v in errs.items()}))
        if not times: raise RuntimeError(f"no {kind} configuration ran correctly at {M}x{N}")
        best[kind] = min(times, key=times.get)
        for r in sorted((r for r in rows if r["kind"] == kind and "ms" in r), key=lambda r: r["ms"])[:5]:
            log(f"  {kind} {r['variant']:<44} {r['gbs']:7.0f} GB/s {r['share_of_copy']:5.1f}% {r['role']}")
    return rows, best

def end_to_end(M, N, copy_gbs, pairs: dict):
    "Forward+backward GB/s (5 passes) of each implementation, timed as the benchmark times it."
    make = lambda: (torch.randn(M, N, device=DEVICE, dtype=DTYPE).requires_grad_(),
                    torch.randn(N, device=DEVICE, dtype=DTYPE).requires_grad_(), torch.randn(M, N, device=DEVICE, dtype=DTYPE))
    inputs = rotating_inputs(make)
    variants = {"torch eager": lambda x, w: F.rms_norm(x, (N,), w, EPS)}
    if DEVICE == "cuda": variants["torch.compile"] = torch.compile(lambda x, w: F.rms_norm(x, (N,), w, EPS), dynamic=False)
    if has_backend("liger"):
        from liger_kernel.ops.rms_norm import LigerRMSNormFunction
        variants["liger"] = lambda x, w: LigerRMSNormFunction.apply(x, w, EPS)
    variants["ghostvis (rms_norm, tuned)"] = lambda x, w: R.rms_norm(x, w, EPS, backend="triton")
    autograd = lambda fn: lambda x, w, dy: torch.autograd.grad(fn(x, w), (x, w), dy)
    def pair(cf, cb):   # the launchers with fixed configurations: what the autograd Function runs, minus autograd
        def run(x, w, dy):
            x2, w2 = x.detach(), w.detach()
            _, rstd = R.rmsnorm_fwd(x2, w2, EPS, config=cf)
            return R.rmsnorm_bwd(dy, x2, w2, rstd, config=cb)
        return run
    runs = {k: autograd(v) for k, v in variants.items()} | {k: pair(*v) for k, v in pairs.items()}
    out = {}
    for label, run in runs.items():
        torch._dynamo.reset()
        try:
            run(*inputs[0])   # compile and tune outside the timing
            t = bench(run, inputs) if DEVICE == "cuda" else bench(run, inputs, warmup_ms=1, rep_ms=1, min_reps=1)
            out[label] = 5 * M * N * 2 / t.median_ms / 1e6
            log(f"  end to end {label:<34} {out[label]:7.0f} GB/s {100 * out[label] / copy_gbs:5.1f}%")
        except Exception as e: log(f"  end to end {label}: FAILED {type(e).__name__}: {str(e)[:200]}")
    return out

def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", default="/tmp/out")
    p.add_argument("--shapes", nargs="+", default=[f"{M}x{N}" for M, N in [*R.RMSNORM_BENCH_SHAPES, (4096, 1280)]])
    p.add_argument("--smoke", action="store_true", help="on the CPU under TRITON_INTERPRET=1, at 67x129 (default)")
    a = p.parse_args()
    global DEVICE
    out = Path(a.out); out.mkdir(parents=True, exist_ok=True)
    if a.smoke: DEVICE = "cpu"
    elif not torch.cuda.is_available(): sys.exit("tune_rmsnorm.py needs a CUDA GPU (or --smoke with TRITON_INTERPRET=1)")
    shapes = [tuple(int(v) for v in s.split("x")) for s in (["67x129"] if a.smoke and "--shapes" not in sys.argv else a.shapes)]
    shapes = sorted(shapes, key=lambda s: s != (8192, 5120))   # the shape furthest from its target first
    copy = benchmark_ceilings(quick=a.smoke)[0]
    copy_gbs = copy["value"]
    device = torch.cuda.get_device_name() if DEVICE == "cuda" else "cpu"
    log(f"{device} | torch {torch.__version__} | liger {'yes' if has_backend('liger') else 'no'} | device copy {copy_gbs:,.0f} GB/s")
    report = dict(device=device, torch=torch.__version__, copy_gbs=copy_gbs, shapes={})
    result_rows, summary = [], []
    for M, N in shapes:
        log(f"{M}x{N} bf16: sweep")
        torch.manual_seed(0)
        x = torch.randn(M, N, device=DEVICE, dtype=DTYPE) * 3 + 0.5
        w, dy = torch.randn(N, device=DEVICE, dtype=DTYPE), torch.randn(M, N, device=DEVICE, dtype=DTYPE)
        y64, dx64, dw64 = reference(x, w, dy)
        _, rstd = R.rmsnorm_fwd(x, w, EPS, config=R.default_config("fwd", N))
        ref = dict(y=y64, dx=dx64, dw=dw64, rstd=rstd)
        rows, best = sweep(M, N, x, w, dy, ref, copy_gbs)
        del x, w, dy, ref, y64, dx64, dw64
        if DEVICE == "cuda": torch.cuda.empty_cache()
        pairs = {"ghostvis best of sweep": (best["fwd"], best["bwd"]),
                 "ghostvis default": (R.default_config("fwd", N), R.default_config("bwd", N)),
                 "ghostvis landed settings": (landed("fwd", N), landed("bwd", N))}
        log(f"{M}x{N} bf16: end to end")
        e2e = end_to_end(M, N, copy_gbs, pairs)
        tuned = {k[0]: name(v) for k, v in R._tuned.items() if k[1] == N and k[2] == R._pow2_ceil(M) and k[3] == DTYPE and k[4]}
        report["shapes"][f"{M}x{N}"] = dict(sweep=rows, best={k: name(v) for k, v in best.items()}, tuned=tuned, end_to_end=e2e)
        shape = f"{M}x{N} bfloat16 forward+backward"
        result_rows += [dict(component="rmsnorm_tune", variant=k, shape=shape, metric="bandwidth", value=v, unit="GB/s") for k, v in e2e.items()]
        result_rows += [dict(component="rmsnorm_tune", variant=f"{r['kind']} {r['variant']}", shape=f"{M}x{N} bfloat16 {r['kind']}",
                             metric="bandwidth", value=r["gbs"], unit="GB/s") for r in rows if "gbs" in r and r["correct"]]
        summary.append((f"{M}x{N}", e2e, tuned, best, sum(1 for r in rows if "gbs" in r and not r["correct"]) + sum(1 for r in rows if "error" in r)))
        (out / "rmsnorm_tune.json").write_text(json.dumps(report, indent=1, default=str))
    result_rows.insert(0, dict(copy, component="rmsnorm_tune"))
    log(f"wrote {save_results(result_rows, 'rmsnorm_tune', out)} and {out / 'rmsnorm_tune.json'}")

    g = lambda e, k: f"{e[k]:6.0f}" if k in e else "     -"
    print(f"\nforward+backward GB/s, bf16 with weight (device copy {copy_gbs:,.0f} GB/s; target {0.8 * copy_gbs:,.0f} = 80%)")
    print(f"{'shape':<11} {'eager':>6} {'compile':>7} {'liger':>6} | {'tuned':>6} {'share':>6} {'best':>6} {'default':>7} {'landed':>6} | target | bad configs | tuned to")
    for shape, e, tuned, best, bad in summary:
        t = e.get("ghostvis (rms_norm, tuned)", float("nan"))
        ok = t >= 0.8 * copy_gbs and all(t > e[k] for k in ("torch.compile", "liger") if k in e)
        print(f"{shape:<11} {g(e, 'torch eager')} {g(e, 'torch.compile'):>7} {g(e, 'liger')} | {t:6.0f} {100 * t / copy_gbs:5.1f}% "
              f"{g(e, 'ghostvis best of sweep')} {g(e, 'ghostvis default'):>7} {g(e, 'ghostvis landed settings')} | "
              f"{'PASS' if ok else 'miss':<6} | {bad:>11} | fwd {tuned.get('fwd', '-')}; bwd {tuned.get('bwd', '-')}")
    log("done")

if __name__ == "__main__": main()

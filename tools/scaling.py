"""Data-parallel scaling on one node: base_train on 1, 2, 4 and 8 GPUs under torchrun (d20 with DDP and FSDP2; d32,
about 1.9B parameters, with FSDP2), recording tokens/s per GPU, MFU and the scaling efficiency against one GPU; every
run's rows are appended with provenance to scaling.csv (ghostvis.results.save_results) as soon as it ends.

    python tools/scaling.py [--runs d20:ddp d20:fsdp d32:fsdp] [--gpus 1 2 4 8] [--out DIR] [--budget_s 540]

- Each run is `python -m torch.distributed.run --standalone --nproc_per_node N` of this file as a worker, which runs
  `ghostvis.scripts.base_train.main` with the flags below: the script's own loop, Trainer, compile and optimizers.
- The global batch is fixed per model (nanochat's 524,288 tokens for d20; 262,144 for d32), so more GPUs means fewer
  micro-steps per optimizer step, as in a real run. Per-GPU efficiency at N = (tokens/s at N / N) / tokens/s of the
  same model on one GPU without any wrapper (the `one GPU` row).
- `--loader random` (default) feeds random tokens: base_train's text loader tokenizes the whole global batch on every
  rank (each takes its rows), about 0.35M tokens/s per process on a CPU core, which would cap an 8-GPU run long before
  the GPUs do; `--loader text` measures with it anyway.
- NVLink multicast stays off in every process: NCCL_NVLS_ENABLE=0, TORCH_SYMM_MEM_DISABLE_MULTICAST=1,
  NVSHMEM_DISABLE_NVLS=1 are set here and passed to every worker (the lent machines require it).
- Runs go in order of importance (the baselines, then the largest GPU counts); a run that would not finish inside
  `--budget_s` (estimated from the longest run so far) is skipped and its command printed, so a 10-minute device call
  ends with everything measured so far saved. `--cpu_smoke` runs the tiny model on the CPU (gloo) to test this file.
"""
from __future__ import annotations
import argparse, json, os, shlex, socket, statistics, subprocess, sys, tempfile, time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NCCL_ENV = {"NCCL_NVLS_ENABLE": "0", "TORCH_SYMM_MEM_DISABLE_MULTICAST": "1", "NVSHMEM_DISABLE_NVLS": "1"}
for k, v in NCCL_ENV.items(): os.environ.setdefault(k, v)   # this process and, through the environment, every one it starts

GPU = ["--vocab_size", "65536", "--use_fused_kernels", "1", "--compile", "1", "--tune_kernels", "0"]
MODELS = {   # name -> (label, base_train flags, total tokens per optimizer step)
    "d20": ("d20 (564M) B16 T2048", ["--model", "small", "--depth", "20", "--device_batch_size", "16", "--sequence_len", "2048"] + GPU, 524288),
    "d32": ("d32 (1.9B) B8 T2048", ["--model", "small", "--depth", "32", "--device_batch_size", "8", "--sequence_len", "2048"] + GPU, 262144),
    "tiny": ("tiny B4 T64 (CPU smoke test)", ["--model", "tiny", "--device_batch_size", "4", "--sequence_len", "64", "--device", "cpu",
                                              "--use_fused_kernels", "0", "--compile", "0"], 4 * 64 * 4),
}
COMMON = ["--warmup_frac", "0", "--save_final", "0", "--val_batches", "1", "--log_every", "1"]
LABEL = {"ddp": "DDP", "fsdp": "FSDP2"}


class RandomTokens:
    "A stand-in for TextLoader (same constructor) that draws random token rows: no tokenizing, so the GPUs set the pace."
    def __init__(self, source, tokenizer, batch_size: int, seq_len: int, rank: int = 0, world_size: int = 1):
        self.B, self.T, self.rank, self.world, self.vocab, self.i = batch_size, seq_len, rank, world_size, tokenizer.get_vocab_size(), 0

    def next_batch(self):
        import torch
        g = torch.Generator().manual_seed(self.i * self.world + self.rank); self.i += 1
        rows = torch.randint(0, self.vocab, (self.B, self.T + 1), generator=g)
        return rows[:, :-1].contiguous(), rows[:, 1:].contiguous()

    def state_dict(self): return dict(i=self.i)
    def load_state_dict(self, s): self.i = s["i"]


def worker(loader: str, argv: list[str]):
    "Inside torchrun: base_train's main with these flags (and random tokens instead of text unless `loader == 'text'`)."
    sys.path.insert(0, str(ROOT))
    if loader == "random":
        import ghostvis.data
        ghostvis.data.TextLoader = RandomTokens   # base_train imports it when main runs
    from ghostvis.scripts.base_train import main
    main(argv)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0)); return s.getsockname()[1]


def plan(runs: list[str], gpus: list[int]) -> list[tuple[str, str, int]]:
    "(model, parallel, n_gpus) in order of importance: each model's one-GPU baseline, then its largest GPU counts first."
    out = []
    for model in dict.fromkeys(r.split(":")[0] for r in runs):
        out.append((model, "none", 1))
        modes = [r.split(":")[1] for r in runs if r.split(":")[0] == model]
        out += [(model, mode, n) for n in sorted((g for g in gpus if g > 1), reverse=True) for mode in modes]
        out += [(model, mode, 1) for mode in modes if mode == "fsdp" and 1 in gpus]   # FSDP2 over one rank: its own overhead
    return out


def run_one(model: str, parallel: str, n: int, args, tokenizer: Path, work: Path) -> dict:
    "Launch one configuration; its per-step records (after the warm-up steps) and how long the launch took."
    label, flags, total = MODELS[model]
    out_dir = work / f"{model}_{parallel}_{n}"
    bt = flags + COMMON + ["--total_batch_size", str(total), "--max_iterations", str(args.steps), "--tokenizer", str(tokenizer),
                           "--out_dir", str(out_dir), "--parallel", "ddp" if parallel == "none" else parallel]
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={n}", str(Path(__file__).resolve()),
           "--worker", args.loader, "--"] + bt
    if parallel == "none": cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", args.loader, "--"] + bt   # no wrapper at all
    print(f"\n== {model} {LABEL.get(parallel, 'one GPU')} x{n}: {' '.join(shlex.quote(c) for c in cmd)}", flush=True)
    env = {**os.environ, **NCCL_ENV, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    if model == "tiny": env["OMP_NUM_THREADS"] = "1"
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=work)
    took = time.perf_counter() - t0
    log = r.stdout + r.stderr
    print("\n".join(l for l in log.splitlines() if l.startswith(("Step", "Batch", "Model", "torch.compile", "Eval"))), flush=True)
    if r.returncode != 0:
        print(f"FAILED (exit {r.returncode}) after {took:.0f} s:\n{log[-4000:]}", flush=True)
        return dict(ok=False, took=took)
    recs = [json.loads(l) for l in (out_dir / "metrics.jsonl").read_text().splitlines() if '"tok_per_s"' in l]
    return dict(ok=True, took=took, steps=recs[args.skip:], label=label, total=total)


def rows_for(model: str, parallel: str, n: int, res: dict, base: float | None) -> list[dict]:
    "Result rows of one run: tokens/s per GPU, MFU, step time, and efficiency against the one-GPU baseline."
    steps = res["steps"]
    per_gpu = statistics.median(s["tok_per_s"] for s in steps) / n
    variant = "one GPU" if parallel == "none" else f"{LABEL[parallel]} x{n}"
    shape = f"{res['label']}, {res['total']:,} tok/step"
    row = lambda metric, value, unit: dict(component="scaling", variant=variant, shape=shape, metric=metric, value=value, unit=unit)
    out = [row("throughput per GPU", per_gpu, "tokens/s"), row("step time", statistics.median(s["dt_ms"] for s in steps), "ms")]
    if steps[0].get("mfu") is not None: out.append(row("MFU", 100 * statistics.median(s["mfu"] for s in steps), "%"))
    if base: out.append(row("scaling efficiency", 100 * per_gpu / base, "%"))
    return out


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python tools/scaling.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", nargs="+", default=["d20:ddp", "d20:fsdp", "d32:fsdp"], help="model:parallel pairs (models: d20, d32; parallel: ddp, fsdp)")
    p.add_argument("--gpus", nargs="+", type=int, default=None, help="GPU counts (default: 1, 2, 4, 8 up to the GPUs present)")
    p.add_argument("--steps", type=int, default=8, help="optimizer steps per run"); p.add_argument("--skip", type=int, default=3, help="warm-up steps left out (compilation)")
    p.add_argument("--loader", choices=["random", "text"], default="random", help="random tokens (default) or base_train's synthetic text loader")
    p.add_argument("--budget_s", type=float, default=540, help="skip runs that would end after this many seconds")
    p.add_argument("--out", default=None, help="directory for scaling.csv (default: nbs/benchmarks)")
    p.add_argument("--cpu_smoke", action="store_true", help="the tiny model on the CPU with 1 and 2 gloo processes: tests this file, saves nothing")
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args, rest = p.parse_known_args(argv)
    if args.worker is None and rest: p.error(f"unrecognised arguments: {' '.join(rest)}")
    for r in args.runs:
        model, _, par = r.partition(":")
        if model not in ("d20", "d32") or par not in ("ddp", "fsdp"): p.error(f"argument --runs: {r!r} is not model:parallel with model d20 or d32 and parallel ddp or fsdp")
    if args.skip >= args.steps: p.error(f"argument --skip: {args.skip} leaves no measured steps out of --steps {args.steps}")
    return args, rest


def main(argv=None):
    args, rest = parse_args(argv)
    if args.worker is not None: return worker(args.worker, rest[1:] if rest[:1] == ["--"] else rest)
    import torch
    sys.path.insert(0, str(ROOT))
    from ghostvis.results import save_results
    from ghostvis.tokenizer import train_tokenizer, save_tokenizer
    from ghostvis.data import world_text
    if args.cpu_smoke: args.runs, gpus, args.steps, args.skip = ["tiny:ddp", "tiny:fsdp"], [1, 2], 4, 1
    else:
        if not torch.cuda.is_available(): sys.exit("tools/scaling.py needs GPUs (or --cpu_smoke)")
        have = torch.cuda.device_count()
        gpus = args.gpus or [g for g in (1, 2, 4, 8) if g <= have]
        if max(gpus) > have: sys.exit(f"--gpus {max(gpus)} but this machine has {have} GPU(s)")
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as d:
        work = Path(d)
        tok = train_tokenizer([world_text(i) for i in range(3000)] + ["describe the image."] * 10, 65536, verbose=False)
        save_tokenizer(tok, work / "tokenizer")
        base, longest, skipped, saved = {}, {}, [], 0
        for model, parallel, n in plan(args.runs, gpus):
            estimate = longest.get(model, max(longest.values(), default=0))
            if time.perf_counter() - start + estimate > args.budget_s:
                skipped.append(f"{model}:{'ddp' if parallel == 'none' else parallel} on {n} GPU(s)"); continue
            res = run_one(model, parallel, n, args, work / "tokenizer", work)
            longest[model] = max(longest.get(model, 0), res["took"])
            if not res["ok"]: continue
            rows = rows_for(model, parallel, n, res, base.get(model))
            if parallel == "none": base[model] = rows[0]["value"]
            for r in rows: print(f"  {r['variant']:<12} {r['metric']:<20} {r['value']:>12,.1f} {r['unit']}  ({res['took']:.0f} s)", flush=True)
            if not args.cpu_smoke: save_results(rows, "scaling", args.out, command=" ".join(["python tools/scaling.py"] + [shlex.quote(a) for a in (argv or sys.argv[1:])]))
            saved += len(rows)
    print(f"\n{saved} rows in {time.perf_counter() - start:.0f} s" + (f"; skipped (over --budget_s {args.budget_s:.0f}): {', '.join(skipped)}" if skipped else ""))
    return saved


if __name__ == "__main__": main()

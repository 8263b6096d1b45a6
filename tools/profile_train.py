"""Where the d20 training step's time goes (GPU): forward / backward / optimizer per configuration, and the top CUDA
kernels of one configuration's step. Usage: python tools/profile_train.py [--steps N] [--out DIR] [--configs NAME..]
[--profile NAME]; the "+cdt" configurations tune inductor's generated kernels (coordinate descent)."""
import argparse, json, time
from pathlib import Path
import torch
from ghostvis.model import GPT, get_small_config
from ghostvis.optim import build_optimizers

CONFIGS = {   # name -> (fused, compile, muon, coordinate-descent tuning of inductor's kernels)
    "compile": (False, True, True, False), "fused+compile": (True, True, True, False),
    "fused+compile +cdt": (True, True, True, True), "fused+compile, AdamW only": (True, True, False, False),
    "fused+compile, AdamW only +cdt": (True, True, False, True), "eager": (False, False, True, False),
    "fused": (True, False, True, False)}

def make(fused: bool, compile_: bool, muon: bool, cdt: bool):
    torch._dynamo.reset()
    import torch._inductor.config as inductor
    inductor.coordinate_descent_tuning = cdt
    model = GPT(get_small_config(20, use_fused_kernels=fused)).cuda()
    opts = build_optimizers(model, model_dim=1280, use_muon=muon, verbose=False)
    fwd = torch.compile(model) if compile_ else model
    return model, fwd, opts

def timed_steps(fwd, opts, x, steps: int):
    ev = lambda: torch.cuda.Event(enable_timing=True)
    times = []
    for i in range(steps):
        e = [ev() for _ in range(4)]
        e[0].record()
        with torch.autocast("cuda", torch.bfloat16): loss = fwd(x, targets=x)
        e[1].record(); loss.backward(); e[2].record()
        for o in opts: o.step(); o.zero_grad(set_to_none=True)
        e[3].record(); torch.cuda.synchronize()
        if i >= 3: times.append([e[j].elapsed_time(e[j + 1]) for j in range(3)])
    med = lambda k: sorted(t[k] for t in times)[len(times) // 2]
    return dict(fwd_ms=med(0), bwd_ms=med(1), opt_ms=med(2))

def by_kind(prof, steps: int) -> str:
    "GPU ms per step by kernel kind (matmul, attention, inductor-generated, optimizer, other)."
    kinds = {"matmul": ("gemm", "nvjet", "xmma", "cutlass", "sm90_"), "attention": ("fmha", "flash", "cudnn", "attn"),
             "inductor (triton_)": ("triton_",), "optimizer": ("multi_tensor", "foreach", "adam"), }
    total = {}
    for e in prof.key_averages():
        if e.device_time_total <= 0: continue
        kind = next((k for k, keys in kinds.items() if any(t in e.key.lower() for t in keys)), "other")
        total[kind] = total.get(kind, 0) + e.device_time_total / 1e3 / steps
    return "\n".join(f"{k:<20} {v:8.1f} ms/step" for k, v in sorted(total.items(), key=lambda kv: -kv[1])) + f"\n{'all kernels':<20} {sum(total.values()):8.1f}"

def main():
    p = argparse.ArgumentParser(); p.add_argument("--steps", type=int, default=10); p.add_argument("--out", default="/tmp/out")
    p.add_argument("--configs", nargs="+", default=["compile", "fused+compile", "fused+compile, AdamW only"], choices=list(CONFIGS))
    p.add_argument("--profile", default="fused+compile, AdamW only", help="the configuration whose kernels are listed")
    a = p.parse_args()
    x = torch.randint(0, 65536, (16, 2048), device="cuda")
    rows = []
    for name in a.configs:
        model, fwd, opts = make(*CONFIGS[name])
        fpt = model.estimate_flops()
        r = timed_steps(fwd, opts, x, a.steps)
        total = sum(r.values()); r.update(name=name, total_ms=total, mfu=fpt * x.numel() / (total / 1e3) / 989e12)
        rows.append(r); print(json.dumps(r), flush=True)
        if name == a.profile:
            from torch.profiler import profile, ProfilerActivity
            with profile(activities=[ProfilerActivity.CUDA]) as prof: wall = timed_steps(fwd, opts, x, 5)
            table = prof.key_averages().table(sort_by="cuda_time_total", row_limit=60, max_name_column_width=110)
            kinds = by_kind(prof, 5) + f"\n{'step (wall, median)':<20} {sum(wall.values()):8.1f}"
            Path(a.out).mkdir(parents=True, exist_ok=True); (Path(a.out) / "profile_train.txt").write_text(table + "\n" + kinds)
            print(table[:12000]); print(kinds, flush=True)
        del model, fwd, opts; torch.cuda.empty_cache()
    Path(a.out).mkdir(parents=True, exist_ok=True); (Path(a.out) / "profile_train.json").write_text(json.dumps(rows, indent=1))
    print(f"{'config':<32} {'fwd':>8} {'bwd':>8} {'opt':>8} {'total':>8} {'MFU':>6}")
    for r in rows: print(f"{r['name']:<32} {r['fwd_ms']:>8.1f} {r['bwd_ms']:>8.1f} {r['opt_ms']:>8.1f} {r['total_ms']:>8.1f} {100*r['mfu']:>5.1f}%")

if __name__ == "__main__": main()

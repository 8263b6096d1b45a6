"""Where the d20 training step's time goes (GPU): forward / backward / optimizer per configuration, and the top CUDA
kernels of one configuration's step, summed by kind (attention, matmul, inductor-generated kernels, FP8 casts among
them, optimizer). Usage: python tools/profile_train.py [--steps N] [--out DIR] [--configs NAME..] [--profile NAME];
the "+cdt" configurations tune inductor's generated kernels (coordinate descent), the "FP8" ones convert the blocks'
Linears (ghostvis.train.apply_fp8, torchao), the "B32" ones double the batch."""
import argparse, json, time
from pathlib import Path
import torch
from ghostvis.model import GPT, get_small_config
from ghostvis.optim import build_optimizers
from ghostvis.train import apply_fp8

CONFIGS = {   # name -> (fused, compile, muon, coordinate-descent tuning of inductor's kernels, FP8 recipe, batch)
    "compile": (False, True, True, False, "off", 16), "fused+compile": (True, True, True, False, "off", 16),
    "fused+compile +cdt": (True, True, True, True, "off", 16), "fused+compile, AdamW only": (True, True, False, False, "off", 16),
    "fused+compile, AdamW only +cdt": (True, True, False, True, "off", 16), "eager": (False, False, True, False, "off", 16),
    "fused": (True, False, True, False, "off", 16),
    "FP8 tensorwise, AdamW only": (True, True, False, False, "tensorwise", 16), "FP8 rowwise, AdamW only": (True, True, False, False, "rowwise", 16),
    "B32, AdamW only": (True, True, False, False, "off", 32), "FP8 tensorwise B32, AdamW only": (True, True, False, False, "tensorwise", 32)}

def make(fused: bool, compile_: bool, muon: bool, cdt: bool, fp8: str = "off", batch: int = 16):
    torch._dynamo.reset()
    import torch._inductor.config as inductor
    inductor.coordinate_descent_tuning = cdt
    model = apply_fp8(GPT(get_small_config(20, use_fused_kernels=fused)).cuda(), fp8)
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
    "GPU ms per step by kernel kind (attention, matmul, inductor-generated, optimizer, other); the first kind that matches."
    # attention first: cuDNN's attention kernels also carry "sm90" in their names, which the matmul patterns match
    kinds = {"attention": ("fmha", "flash", "cudnn", "attn", "sdpa"), "matmul": ("gemm", "nvjet", "xmma", "cutlass", "sm90_", "scaled_mm"),
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
    rows = []
    for name in a.configs:
        model, fwd, opts = make(*CONFIGS[name])
        x = torch.randint(0, 65536, (CONFIGS[name][5], 2048), device="cuda")
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

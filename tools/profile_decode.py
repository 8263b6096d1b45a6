"""Where a d20 decode step's time goes (GPU): generated tok/s and the top CUDA kernels per decode step of the compiled,
CUDA-graph engine: `auto` (what the library picks: the Triton dot decode kernel since session 6), `sdpa` (SDPA
with a length mask over the whole cache, the default before; norms and SwiGLU left to inductor, one graph),
`triton` (the Triton decode kernel, sum form, session 5's settings), `triton8` (the same with 8 programs per SM), `tuned` (the kernel with the settings of --tuned), `reduce` (attention as inductor
reductions, `tune_decode.decode_by_reductions`) and `autotune` (the default under max-autotune-no-cudagraphs), `opaque` (our Triton norm and SwiGLU kernels called from the graph, i.e. graph
breaks, as before session 5). Usage: python tools/profile_decode.py [--batches 1 64] [--variants ...] [--out DIR]"""
import argparse, functools, json, time
from collections import defaultdict
from pathlib import Path
import torch
import ghostvis.attention as attention
import ghostvis.model as model_module
from tune_decode import decode_by_reductions
import ghostvis.rmsnorm as rmsnorm
import ghostvis.mlp as mlp
from ghostvis.core import triton_runs
from ghostvis.engine import Engine
from ghostvis.model import GPT, get_vlm_small_config

TUNED = {}   # --tuned JSON: decode_attention settings for the `tuned` variant (e.g. tune_decode_best.json's batch 64 entry)

def patch(name):
    "Switch paths by patching the dispatchers (a profiling tool: the library picks by itself)."
    saved = (attention._decode_kernel_applies, rmsnorm.auto_picks_triton, mlp.auto_picks_triton, torch.compile,
             attention.decode_attention, model_module.attention_with_kv_cache)
    if name == "autotune": torch.compile = functools.partial(saved[3], mode="max-autotune-no-cudagraphs")
    if name == "sdpa": attention._decode_kernel_applies = lambda q, backend: False
    elif name.startswith(("triton", "tuned")): attention._decode_kernel_applies = lambda q, backend: q.shape[1] == 1
    if name == "triton": attention.decode_attention = functools.partial(saved[4], use_dot=False, programs_per_sm=2, num_stages=3)
    if name == "triton8": attention.decode_attention = functools.partial(saved[4], use_dot=False, programs_per_sm=8, num_stages=3)
    if name == "tuned": attention.decode_attention = functools.partial(saved[4], **TUNED)
    if name == "opaque": rmsnorm.auto_picks_triton = mlp.auto_picks_triton = triton_runs
    if name == "reduce": model_module.attention_with_kv_cache = reductions_for_decode(saved[5])
    def restore():
        (attention._decode_kernel_applies, rmsnorm.auto_picks_triton, mlp.auto_picks_triton, torch.compile,
         attention.decode_attention, model_module.attention_with_kv_cache) = saved
    return restore

def reductions_for_decode(original):
    "attention_with_kv_cache whose graph-safe one-token steps write the cache and attend with `decode_by_reductions`."
    def call(q, k_cache, v_cache, cache_seqlens, k_new=None, v_new=None, scale=None, backend="auto", graph_safe=False):
        if q.shape[1] != 1 or not graph_safe or k_new is None:
            return original(q, k_cache, v_cache, cache_seqlens, k_new, v_new, scale=scale, backend=backend, graph_safe=graph_safe)
        rows, pos = torch.arange(q.shape[0], device=q.device), cache_seqlens.long()
        k_cache[rows, pos] = k_new[:, 0].to(k_cache.dtype); v_cache[rows, pos] = v_new[:, 0].to(v_cache.dtype)
        return decode_by_reductions(q[:, 0], k_cache, v_cache, cache_seqlens + 1, scale)[:, None]
    return call

def timed(fn) -> float:
    torch.cuda.synchronize(); t = time.perf_counter(); fn(); torch.cuda.synchronize()
    return time.perf_counter() - t

def kernels_per_step(fn, steps):
    from torch.profiler import profile, ProfilerActivity
    with profile(activities=[ProfilerActivity.CUDA]) as prof: fn(); torch.cuda.synchronize()
    total, count = defaultdict(float), defaultdict(int)
    for e in prof.events():
        if e.device_type.name == "CUDA":
            total[e.name] += e.device_time / steps; count[e.name] += 1
    rows = sorted(total.items(), key=lambda kv: -kv[1])
    return sum(total.values()), [(us, count[n] / steps, n) for n, us in rows]

def main():
    p = argparse.ArgumentParser(); p.add_argument("--batches", type=int, nargs="+", default=[1, 64])
    p.add_argument("--variants", nargs="+", default=["auto", "sdpa"]); p.add_argument("--out", default="/tmp/out")
    p.add_argument("--tuned", default="{}", help="JSON of decode_attention settings for the `tuned` variant")
    a = p.parse_args(); TUNED.update(json.loads(a.tuned))
    model = GPT(get_vlm_small_config(20)).cuda().bfloat16().eval()
    out, summary = [], []
    for name in a.variants:
        restore = patch(name)
        torch._dynamo.reset()
        engine = Engine(model, compile=True)
        for B in a.batches:
            prompts = torch.randint(7, 65536, (B, 128), generator=torch.Generator().manual_seed(B)).tolist()
            run = lambda: engine.generate(prompts, max_new_tokens=128)
            t0 = time.perf_counter(); run(); torch.cuda.synchronize(); setup = time.perf_counter() - t0
            times = []
            for _ in range(3):
                t = time.perf_counter(); run(); torch.cuda.synchronize(); times.append(time.perf_counter() - t)
            sec = sorted(times)[1]
            prefill = sorted(timed(lambda: engine.generate(prompts, max_new_tokens=1)) for _ in range(3))[1]
            gpu_us, kernels = kernels_per_step(run, 128)
            summary.append(f"{name:<8} b{B:<3} {B * 128 / sec:>9,.0f} tok/s  wall {sec / 128 * 1e6:7.0f} us/step  "
                           f"prefill {prefill * 1e3:5.1f} ms  GPU {gpu_us:7.0f} us/step  kernels/step {sum(c for _, c, _ in kernels):5.0f}  (first call {setup:.0f} s)")
            out.append(f"== {name} b{B}: {summary[-1]}")
            out += [f"{us:9.1f} us {c:6.1f}x  {n[:110]}" for us, c, n in kernels[:40]]
            print("\n".join(out[-41:]), flush=True)
        restore()
    Path(a.out).mkdir(parents=True, exist_ok=True); (Path(a.out) / "profile_decode.txt").write_text("\n".join(out + summary))
    print("\n".join(summary))

if __name__ == "__main__": main()

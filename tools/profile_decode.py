"""The decode step on the GPU: correctness of every fast path, then where a d20 step's time goes.

1. `--check` (on by default): a float32 model with every weight random (depth 2, head_dim 128, GQA): greedy tokens of
   every decode step of the engine (`auto`, `triton` graphed (its tile settings timed) and not, `cublas`, `model`) must equal the
   no-cache reference, at batch 3 and 20 (prompts of different lengths; at 20 the norm is its own kernel). Then d20 in
   bf16 with random weights: one fused step of each form against the model's forward (logits, every layer's cache),
   at each batch of `--batches`; and the share of greedy tokens on which the fused engine and the model's forward agree
   over 64 steps (bf16 rounding differs, so it is reported, not required).
2. The profile: for each `--variants` (decode steps of `Engine(decode=...)`) and batch: generated tok/s (prompt 128 +
   128 new), wall and GPU microseconds per step, kernels per step and the top kernels (torch profiler), the first
   call's seconds, and the engine's own timing of its candidate steps, next to the memory-bandwidth limit's step.
Usage: python tools/profile_decode.py [--batches 1 8 64] [--variants auto] [--no-check] [--out DIR]
(`--variants model compile` profiles the model's own forward, eager or compiled, as the step.)"""
import argparse, time
from collections import defaultdict
from pathlib import Path
import torch
from ghostvis.core import rel_err, seed_everything
from ghostvis.engine import Engine, FusedStep, tile_candidates, generate_no_cache, decode_step_bytes, _precompile
from ghostvis.model import GPT, KVCache, get_small_config

def random_model(config, seed=0, scale=1.0):
    "Every weight random, norms included (a freshly initialised GPT has zero o_proj and down: half the step would be untested)."
    seed_everything(seed)
    with torch.device("cuda"): m = GPT(config)
    with torch.no_grad():
        for name, p in m.named_parameters():
            if p.dim() > 1: p.normal_(0, 0.5 if "wte" in name else scale * p.shape[1] ** -0.5)
            elif "norm" in name: p.normal_(1, 0.1)
    return m.eval()

def check_tokens(lines):
    "float32: greedy tokens of every decode step equal the no-cache reference."
    cfg = get_small_config(4, n_kv_head=1, vocab_size=4096)   # n_embd 256: 2 query heads of 128 share 1 KV head
    m = random_model(cfg).float()
    g = torch.Generator().manual_seed(0)
    for B in (3, 20):
        prompts = [torch.randint(7, cfg.vocab_size, (n,), generator=g).tolist() for n in torch.randint(3, 40, (B,), generator=g).tolist()]
        want = [generate_no_cache(m, [p], 16)[0] for p in prompts]
        for decode in ("auto", "triton", "cublas", "model"):      # `compile` is checked by 15_engine's cuda tests
            for graph in ((True, False) if decode in ("triton", "model") else (True,)):
                e = Engine(m, decode=decode, use_cuda_graph=graph)
                got = [r.token_ids for r in e.generate(prompts, max_new_tokens=16)]
                ok = got == want
                lines.append(f"check float32 batch {B}: decode={decode:<8} graph={graph!s:<5} tokens equal the no-cache reference: {ok}"
                             + (f"   (steps timed: {e.step_us.get(B)}, used {e.step_kind.get(B)})" if decode == "auto" else ""))
                print(lines[-1], flush=True)
                assert ok, (decode, graph, B)

def check_d20_steps(batches, lines):
    "bf16 d20: one fused step of each form against the model's forward; greedy agreement of the engines over 64 steps."
    cfg = get_small_config(20)
    m = random_model(cfg).bfloat16()
    for B in batches:
        g = torch.Generator().manual_seed(B)
        lens = torch.randint(64, 250, (B,), generator=g, dtype=torch.int32)
        tokens = torch.randint(0, cfg.vocab_size, (B,), generator=g).cuda()
        forms = [("triton", t) for t in tile_candidates(B, cfg.n_embd, torch.device("cuda"))] + [("cublas", None)]
        caches = [[KVCache(cfg, B, 256, device="cuda", dtype=torch.bfloat16) for _ in range(2)] for _ in forms]
        steps = [FusedStep(m, cache, kind, tiles) for (kind, tiles), (_, cache) in zip(forms, caches)]
        with torch.no_grad(): _precompile(steps, B, torch.device("cuda"))     # their kernels built in parallel, as the engine does
        for step, (ref_cache, cache) in zip(steps, caches):
            for i in range(cfg.n_layer):
                for a, b in ((ref_cache.k[i], cache.k[i]), (ref_cache.v[i], cache.v[i])): a.normal_(); b.copy_(a)
            for c in (ref_cache, cache): c.seqlens.copy_(lens); c.graph_safe = True
            with torch.no_grad(): ref, out = m(tokens[:, None], kv_cache=ref_cache)[:, 0].float(), step(tokens)
            cache_err = max(max(rel_err(cache.k[i], ref_cache.k[i]), rel_err(cache.v[i], ref_cache.v[i])) for i in range(cfg.n_layer))
            lines.append(f"check bf16 d20 batch {B}: {step.name:<40} logits rel err {rel_err(out, ref):.2e}, cache {cache_err:.2e}, "
                         f"argmax equal on {(out.argmax(-1) == ref.argmax(-1)).float().mean().item():.0%} of rows")
            print(lines[-1], flush=True)
        prompts = torch.randint(7, cfg.vocab_size, (B, 128), generator=g).tolist()
        fused = [r.token_ids for r in Engine(m).generate(prompts, max_new_tokens=64)]
        plain = [r.token_ids for r in Engine(m, decode="model").generate(prompts, max_new_tokens=64)]
        same = sum(a == b for f, p in zip(fused, plain) for a, b in zip(f, p)) / (64 * B)
        first = [next((i for i, (a, b) in enumerate(zip(f, p)) if a != b), 64) for f, p in zip(fused, plain)]
        lines.append(f"check bf16 d20 batch {B}: greedy tokens of the engine's choice vs the model's forward: {same:.0%} equal, "
                     f"first difference at step {min(first)} (64: none)")
        print(lines[-1], flush=True)

def kernels_per_step(fn, steps):
    from torch.profiler import profile, ProfilerActivity
    with profile(activities=[ProfilerActivity.CUDA]) as prof: fn(); torch.cuda.synchronize()
    total, count = defaultdict(float), defaultdict(int)
    for e in prof.events():
        if e.device_type.name == "CUDA":
            total[e.name] += e.device_time / steps; count[e.name] += 1
    rows = sorted(total.items(), key=lambda kv: -kv[1])
    return sum(total.values()), [(us, count[n] / steps, n) for n, us in rows]

def profile(variants, batches, lines, summary):
    with torch.device("cuda"): model = GPT(get_small_config(20))
    model = model.bfloat16().eval()
    from ghostvis.results import benchmark_ceilings
    bandwidth = next(r["value"] for r in benchmark_ceilings() if r["metric"] == "bandwidth") * 1e9
    for name in variants:
        torch._dynamo.reset()
        engine = Engine(model, decode=name)
        for B in batches:
            prompts = torch.randint(7, 65536, (B, 128), generator=torch.Generator().manual_seed(B)).tolist()
            run = lambda: engine.generate(prompts, max_new_tokens=128)
            t0 = time.perf_counter(); run(); torch.cuda.synchronize(); setup = time.perf_counter() - t0
            times = []
            for _ in range(3):
                t = time.perf_counter(); run(); torch.cuda.synchronize(); times.append(time.perf_counter() - t)
            sec = sorted(times)[1]
            gpu_us, kernels = kernels_per_step(run, 128)
            limit_us = decode_step_bytes(model, B, 128 + 64) / bandwidth * 1e6
            summary.append(f"{name:<8} b{B:<3} {B * 128 / sec:>9,.0f} tok/s  wall {sec / 128 * 1e6:7.0f} us/step  GPU {gpu_us:7.0f} us/step  "
                           f"limit {limit_us:5.0f} us/step  kernels/step {sum(c for _, c, _ in kernels):5.0f}  (first call {setup:.1f} s)  "
                           f"step {engine.step_kind.get(B)}  timed {({k: round(v) for k, v in engine.step_us.get(B, {}).items()})}")
            lines.append(f"== {name} b{B}: {summary[-1]}")
            lines.extend(f"{us:9.1f} us {c:6.1f}x  {n[:110]}" for us, c, n in kernels[:30])
            print("\n".join(lines[-31:]), flush=True)

def main():
    p = argparse.ArgumentParser()
    p.add_argument("--batches", type=int, nargs="+", default=[1, 8, 64])
    p.add_argument("--variants", nargs="+", default=["auto"], help="decode steps: auto, triton, cublas, model, compile")
    p.add_argument("--no-check", action="store_true"); p.add_argument("--out", default="/tmp/out")
    a = p.parse_args()
    lines, summary = [], []
    t0 = time.perf_counter()
    try:
        if not a.no_check:
            check_tokens(lines)
            check_d20_steps(a.batches, lines)
            lines.append(f"checks done in {time.perf_counter() - t0:.0f} s")
        profile(a.variants, a.batches, lines, summary)
    finally:
        Path(a.out).mkdir(parents=True, exist_ok=True)
        (Path(a.out) / "profile_decode.txt").write_text("\n".join(lines + summary) + "\n")
    print("\n".join(summary))

if __name__ == "__main__": main()

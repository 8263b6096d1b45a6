"""Where the engine's prefill time goes (GPU, d20 bf16, prompt 128): wall time of the eager and compiled prefill
forward alone, of `Engine.generate(max_new_tokens=1)` (the default engine: eager prefill), and a cProfile of the latter (top functions by cumulative
time). Usage: python tools/profile_prefill.py [--batches 1 64]"""
import argparse, cProfile, io, pstats, time
import torch
from ghostvis.engine import Engine
from ghostvis.model import GPT, KVCache, get_small_config

def median_s(fn, n: int = 5) -> float:
    times = []
    for _ in range(n):
        torch.cuda.synchronize(); t = time.perf_counter(); fn(); torch.cuda.synchronize(); times.append(time.perf_counter() - t)
    return sorted(times)[n // 2]

def main():
    p = argparse.ArgumentParser(); p.add_argument("--batches", type=int, nargs="+", default=[1, 64]); a = p.parse_args()
    with torch.device("cuda"): model = GPT(get_small_config(20))
    model = model.bfloat16().eval()
    engine = Engine(model)                                         # the default: eager prefill
    compiled_prefill = Engine(model, compile_prefill=True)._prefill
    for B in a.batches:
        prompts = torch.randint(7, 65536, (B, 128), generator=torch.Generator().manual_seed(B)).tolist()
        ids, last = torch.tensor(prompts, device="cuda"), torch.full((B,), 127, device="cuda")
        cache = KVCache(model.config, B, 256, device="cuda", dtype=torch.bfloat16); cache.graph_safe = True
        def forward(fn):
            cache.reset(); return fn(ids, cache, last)
        with torch.no_grad():
            eager = median_s(lambda: forward(lambda i, c, l: model(i, kv_cache=c, last_positions=l)))
            compiled = median_s(lambda: forward(compiled_prefill))
        gen = median_s(lambda: engine.generate(prompts, max_new_tokens=1))
        print(f"b{B}: prefill forward eager {eager * 1e3:.1f} ms, compiled {compiled * 1e3:.1f} ms; generate(max_new_tokens=1) {gen * 1e3:.1f} ms", flush=True)
        prof = cProfile.Profile(); prof.enable(); engine.generate(prompts, max_new_tokens=1); torch.cuda.synchronize(); prof.disable()
        s = io.StringIO(); pstats.Stats(prof, stream=s).sort_stats("cumulative").print_stats(25); print(s.getvalue()[:5000])

if __name__ == "__main__": main()

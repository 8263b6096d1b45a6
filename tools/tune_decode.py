"""Decode attention of the d20 engine shapes (GPU): the SDPA-with-mask path over the whole cache (what the CUDA-graph
engine runs) against the Triton split-K kernel over the valid positions only, for a sweep of its launch settings.
Each variant is timed as 20 calls (one per layer, each on its own cache, so the reads come from memory, not L2)
captured in one CUDA graph, as the engine replays them; lengths are random in (max_len/2, max_len], as in the
engine's decode of 128 new tokens after a 128-token prompt.
`decode_by_reductions` (attention as two reductions and a masked softmax, for inductor) was measured in session 6:
43 us with max-autotune, 79 us by default, against SDPA's 40 us (batch 64, one cache): not kept, but importable.
Usage: python tools/tune_decode.py [--batches 1 8 64] [--out DIR]"""
import argparse, inspect, itertools, json, sys
from pathlib import Path
import torch
import torch.nn.functional as F
from ghostvis.attention import decode_attention
from ghostvis.results import save_results

def decode_by_reductions(q, k_cache, v_cache, lengths, scale=None):
    "q (B, H, D) against the first `lengths[b]` positions of a (B, L, Hkv, D) cache, as elementwise ops and reductions."
    B, H, D = q.shape
    Hkv = k_cache.shape[2]
    qg = q.view(B, 1, Hkv, H // Hkv, D).float() * (D ** -0.5 if scale is None else scale)
    scores = (qg * k_cache[:, :, :, None].float()).sum(-1)                          # (B, L, Hkv, G)
    valid = torch.arange(k_cache.shape[1], device=q.device)[None, :] < lengths[:, None]
    p = scores.masked_fill(~valid[:, :, None, None], float("-inf")).softmax(1)
    return (p[..., None] * v_cache[:, :, :, None].float()).sum(1).reshape(B, H, D).to(q.dtype)

def variant_name(use_dot, block_n, programs_per_sm, num_warps, num_stages) -> str:
    "The row name in tune_decode.json and decode_tune.csv (02_attention looks up the defaults' row by it)."
    return f"triton {'dot' if use_dot else 'sum'} block_n={block_n} programs/SM={programs_per_sm} warps={num_warps} stages={num_stages}"

_signature = {k: p.default for k, p in inspect.signature(decode_attention).parameters.items()}
DEFAULTS = (variant_name(False, 64, 2, 4, 3),                          # the sum kernel's settings before session 6
            variant_name(True, *(_signature[k] for k in ("block_n", "programs_per_sm", "num_warps", "num_stages"))))  # decode_attention's defaults

def graph_us(fns) -> float:
    "Microseconds per call of the `fns` (one per layer, each on its own cache) replayed in one CUDA graph."
    s = torch.cuda.Stream(); s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s):
        for fn in fns: fn()
    torch.cuda.current_stream().wait_stream(s)
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g):
        for fn in fns: fn()
    g.replay(); torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    reps = 20
    start.record()
    for _ in range(reps): g.replay()
    end.record(); torch.cuda.synchronize()
    return start.elapsed_time(end) * 1e3 / reps / len(fns)

def main():
    p = argparse.ArgumentParser(); p.add_argument("--batches", type=int, nargs="+", default=[1, 8, 64])
    p.add_argument("--max_len", type=int, default=256); p.add_argument("--layers", type=int, default=20)
    p.add_argument("--quick", action="store_true", help="a short sweep around the defaults")
    p.add_argument("--out", default="/tmp/out"); a = p.parse_args()
    H, D, rows = 10, 128, []
    for B in a.batches:
        # one cache per layer, as in the engine (the whole set is far larger than L2); lengths as in its decode steps
        g = torch.Generator(device="cuda").manual_seed(B)
        q = torch.randn(B, H, D, device="cuda", dtype=torch.bfloat16, generator=g)
        caches = [tuple(torch.randn(B, a.max_len, H, D, device="cuda", dtype=torch.bfloat16, generator=g) for _ in range(2))
                  for _ in range(a.layers)]
        lengths = torch.randint(a.max_len // 2 + 1, a.max_len + 1, (B,), device="cuda", generator=g, dtype=torch.int32)
        mask = (torch.arange(a.max_len, device="cuda")[None, :] < lengths[:, None])[:, None, None]   # (B, 1, 1, L)
        qt = q[:, :, None]
        sdpa = lambda kc, vc: F.scaled_dot_product_attention(qt, kc.transpose(1, 2), vc.transpose(1, 2), attn_mask=mask)
        ref = sdpa(*caches[0])[:, :, 0]
        sdpa_us = graph_us([lambda kc=kc, vc=vc: sdpa(kc, vc) for kc, vc in caches])
        rows.append(dict(batch=B, variant="sdpa mask, whole cache", us=sdpa_us))
        valid_mb = 2 * int(lengths.sum()) * H * D * 2 / 1e6
        settings = ([(False, 64, 16, 2, 1), (False, 32, 8, 2, 1), (False, 64, 2, 4, 3)]     # the sum kernel: session 6's best, the old defaults
                    + list(itertools.product((True,), (32, 64, 128) if not a.quick else (64,), (1, 2, 4, 8, 16), (4, 8), (2, 3) if a.quick else (1, 2, 3, 4))))
        for use_dot, block_n, pps, warps, stages in settings:
            kw = dict(block_n=block_n, programs_per_sm=pps, num_warps=warps, num_stages=stages, use_dot=use_dot)
            try: err = (decode_attention(q, *caches[0], lengths, **kw).float() - ref.float()).abs().max().item()
            except Exception as e: print(f"skip {kw}: {type(e).__name__}"); continue   # e.g. out of shared memory
            us = graph_us([lambda kc=kc, vc=vc: decode_attention(q, kc, vc, lengths, **kw) for kc, vc in caches])
            rows.append(dict(batch=B, variant=variant_name(use_dot, block_n, pps, warps, stages), settings=kw,
                             us=us, max_err=err, valid_TBps=valid_mb / us))
        best = min((r for r in rows if r["batch"] == B), key=lambda r: r["us"])
        print(f"b{B}: sdpa {sdpa_us:.1f} us, best {best['variant']} {best['us']:.1f} us; valid K+V {valid_mb:.1f} MB per layer", flush=True)
        del caches; torch.cuda.empty_cache()
    Path(a.out).mkdir(parents=True, exist_ok=True); (Path(a.out) / "tune_decode.json").write_text(json.dumps(rows, indent=1))
    # the same rows with provenance, as nbs/benchmarks/decode_tune.csv (02_attention reads it)
    shape = lambda B: f"d20 decode, batch {B}, {H} heads x {D}, lengths {a.max_len // 2 + 1}..{a.max_len} of {a.max_len}"
    save_results([dict(component="decode_tune", variant=r["variant"], shape=shape(r["batch"]), metric="us per call", value=r["us"], unit="us")
                  for r in rows], "decode_tune", directory=a.out, command="python tools/tune_decode.py " + " ".join(sys.argv[1:]))
    best = {B: min((r for r in rows if r["batch"] == B and "settings" in r), key=lambda r: r["us"])["settings"] for B in a.batches}
    (Path(a.out) / "tune_decode_best.json").write_text(json.dumps(best))
    for B in a.batches:
        rs = sorted((r for r in rows if r["batch"] == B), key=lambda r: r["us"])
        print(f"-- batch {B} (lengths {a.max_len // 2 + 1}..{a.max_len} of {a.max_len} positions, {a.layers} caches): fastest 8, SDPA, the defaults")
        for r in rs[:8] + [r for r in rs if r["variant"].startswith("sdpa") or r["variant"] in DEFAULTS]:
            print(f"   {r['us']:7.1f} us  {r['variant']}  {('max err %.3g, valid K+V at %.2f TB/s' % (r['max_err'], r['valid_TBps'])) if 'max_err' in r else ''}")

if __name__ == "__main__": main()

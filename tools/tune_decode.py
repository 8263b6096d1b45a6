"""Decode attention of the d20 engine shapes (GPU): the SDPA-with-mask path over the whole cache (what the CUDA-graph
engine runs) against the Triton split-K kernel over the valid positions only, for a sweep of its launch settings.
Also `decode_by_reductions`: attention written as two reductions (q.K over D, p.V over the cache) and a masked
softmax, compiled by inductor, which is what the engine's compiled decode step could run instead of SDPA.
Each variant is timed as 20 calls (one per layer) captured in one CUDA graph, as the engine replays them.
Usage: python tools/tune_decode.py [--batches 1 8 64] [--out DIR]"""
import argparse, itertools, json
from pathlib import Path
import torch
import torch.nn.functional as F
from ghostvis.attention import decode_attention

def decode_by_reductions(q, k_cache, v_cache, lengths, scale=None):
    "q (B, H, D) against the first `lengths[b]` positions of a (B, L, Hkv, D) cache, as elementwise ops and reductions."
    B, H, D = q.shape
    Hkv = k_cache.shape[2]
    qg = q.view(B, 1, Hkv, H // Hkv, D).float() * (D ** -0.5 if scale is None else scale)
    scores = (qg * k_cache[:, :, :, None].float()).sum(-1)                          # (B, L, Hkv, G)
    valid = torch.arange(k_cache.shape[1], device=q.device)[None, :] < lengths[:, None]
    p = scores.masked_fill(~valid[:, :, None, None], float("-inf")).softmax(1)
    return (p[..., None] * v_cache[:, :, :, None].float()).sum(1).reshape(B, H, D).to(q.dtype)

def graph_us(fn, layers: int = 20, reps: int = 50) -> float:
    "Microseconds per call of `fn` replayed `layers` times in a CUDA graph."
    s = torch.cuda.Stream(); s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s):
        for _ in range(3): fn()
    torch.cuda.current_stream().wait_stream(s)
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g):
        for _ in range(layers): fn()
    g.replay(); torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(reps): g.replay()
    end.record(); torch.cuda.synchronize()
    return start.elapsed_time(end) * 1e3 / reps / layers

def main():
    p = argparse.ArgumentParser(); p.add_argument("--batches", type=int, nargs="+", default=[1, 8, 64])
    p.add_argument("--max_len", type=int, default=256); p.add_argument("--length", type=int, default=192)
    p.add_argument("--out", default="/tmp/out"); a = p.parse_args()
    H, D, rows = 10, 128, []
    for B in a.batches:
        q = torch.randn(B, H, D, device="cuda", dtype=torch.bfloat16)
        kc, vc = (torch.randn(B, a.max_len, H, D, device="cuda", dtype=torch.bfloat16) for _ in range(2))
        lengths = torch.full((B,), a.length, device="cuda", dtype=torch.int32)
        mask = (torch.arange(a.max_len, device="cuda")[None, :] < lengths[:, None])[:, None, None]   # (B, 1, 1, L)
        qt, kt, vt = q[:, :, None], kc.transpose(1, 2), vc.transpose(1, 2)
        ref = F.scaled_dot_product_attention(qt, kt, vt, attn_mask=mask)[:, :, 0]
        sdpa_us = graph_us(lambda: F.scaled_dot_product_attention(qt, kt, vt, attn_mask=mask))
        rows.append(dict(batch=B, variant="sdpa mask, whole cache", us=sdpa_us))
        for mode in ("default", "max-autotune-no-cudagraphs"):
            torch._dynamo.reset()
            fn = torch.compile(decode_by_reductions, mode=mode, dynamic=False)
            err = (fn(q, kc, vc, lengths).float() - ref.float()).abs().max().item()
            rows.append(dict(batch=B, variant=f"inductor reductions ({mode})", us=graph_us(lambda: fn(q, kc, vc, lengths)), max_err=err))
        for block_n, pps, warps in itertools.product((16, 32, 64, 128), (1, 2, 4, 8, 16), (2, 4, 8)):
            fn = lambda: decode_attention(q, kc, vc, lengths, block_n=block_n, programs_per_sm=pps, num_warps=warps)
            err = (fn().float() - ref.float()).abs().max().item()
            rows.append(dict(batch=B, variant=f"triton block_n={block_n} programs/SM={pps} warps={warps}", us=graph_us(fn), max_err=err))
        best = min((r for r in rows if r["batch"] == B), key=lambda r: r["us"])
        print(f"b{B}: sdpa {sdpa_us:.1f} us, best {best['variant']} {best['us']:.1f} us", flush=True)
    Path(a.out).mkdir(parents=True, exist_ok=True); (Path(a.out) / "tune_decode.json").write_text(json.dumps(rows, indent=1))
    for B in a.batches:
        rs = sorted((r for r in rows if r["batch"] == B), key=lambda r: r["us"])
        print(f"-- batch {B} (valid {a.length} of {a.max_len} positions): fastest 8, and SDPA")
        for r in rs[:8] + [r for r in rs if r["variant"].startswith(("sdpa", "inductor")) or "programs/SM=2 warps=4" in r["variant"] and "=64 " in r["variant"]]:
            print(f"   {r['us']:7.1f} us  {r['variant']}  {('max err %.3g' % r['max_err']) if 'max_err' in r else ''}")

if __name__ == "__main__": main()

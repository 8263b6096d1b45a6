"""Graph breaks of the model under torch.compile (GPU): the training forward with the fused kernels and without, and
the decode step, via torch._dynamo.explain. Prints each break's reason. Usage: python tools/graph_breaks.py"""
import torch
from ghostvis.model import GPT, KVCache, get_small_config

def report(name, fn, *args):
    torch._dynamo.reset()
    e = torch._dynamo.explain(fn)(*args)
    print(f"{name}: {e.graph_count} graphs, {e.graph_break_count} breaks", flush=True)
    for b in e.break_reasons: print("   ", str(b.reason)[:300].replace("\n", " | "), "@", b.user_stack[-1] if b.user_stack else "")
    return e.graph_break_count

def main():
    from ghostvis.attention import build_decode_kernel
    build_decode_kernel()   # as the engine does: a first trace that meets the kernels unbuilt breaks once per frame to build them
    x = torch.randint(0, 65536, (2, 256), device="cuda")
    breaks = 0
    for fused in (True, False):
        model = GPT(get_small_config(2, use_fused_kernels=fused)).cuda()
        def train_step(x):
            with torch.autocast("cuda", torch.bfloat16): return model(x, targets=x)
        breaks += report(f"train forward, fused kernels {fused}", train_step, x)
        cache = KVCache(model.config, 2, 320, device="cuda", dtype=torch.bfloat16); cache.graph_safe = True
        m16 = model.bfloat16().eval()
        with torch.no_grad(): breaks += report(f"decode step, fused kernels {fused}", lambda t: m16(t[:, None], kv_cache=cache), x[:, 0])
    print("total graph breaks:", breaks)

if __name__ == "__main__": main()

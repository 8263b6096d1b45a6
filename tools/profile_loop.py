"""What base_train's own loop adds to the d20 step (GPU): the same run with one thing changed at a time, median step
time and MFU from the Trainer's own log records. Compare with tools/profile_train.py (a bare loop on one batch).
Usage: python tools/profile_loop.py [--variants NAME..] [--steps N] [--out DIR]"""
import argparse, json, statistics, tempfile
from pathlib import Path
import torch
from ghostvis.scripts import base_train
from ghostvis import train

D20 = ["--model", "small", "--depth", "20", "--device_batch_size", "16", "--sequence_len", "2048", "--vocab_size", "65536",
       "--use_fused_kernels", "1", "--compile", "1", "--optimizer", "adamw", "--save_final", "0", "--val_batches", "1",
       "--log_every", "5", "--warmup_frac", "0"]
VARIANTS = {"as is": [], "no grad clip": ["--grad_clip", "0"], "no kernel tuning": ["--tune_kernels", "0"],
            "one batch, no loader": [], "muon": ["--optimizer", "muon"]}

class OneBatch:
    "The first batch, handed out again and again: the loader's work taken out of the loop."
    def __init__(self, loader): self.loader, self.batch = loader, None
    def next_batch(self):
        if self.batch is None: self.batch = self.loader.next_batch()
        return self.batch
    def close(self): pass
    def __getattr__(self, name): return getattr(self.loader, name)

def main():
    p = argparse.ArgumentParser(); p.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    p.add_argument("--steps", type=int, default=14); p.add_argument("--out", default="/tmp/out")
    a = p.parse_args()
    rows, tok = [], []
    with tempfile.TemporaryDirectory() as d:
        for i, name in enumerate(a.variants):
            torch._dynamo.reset(); torch.cuda.empty_cache()
            prefetcher = train.Prefetcher
            if name == "one batch, no loader": train.Prefetcher = OneBatch
            try: r = base_train.main(D20 + VARIANTS[name] + tok + ["--max_iterations", str(a.steps), "--out_dir", f"{d}/{i}"])
            finally: train.Prefetcher = prefetcher
            if not tok: tok = ["--tokenizer", f"{d}/{i}/tokenizer"]
            h = r["history"][4:]
            rows.append(dict(name=name, dt_ms=statistics.median(x["dt_ms"] for x in h), mfu=statistics.median(x["mfu"] for x in h)))
            print(json.dumps(rows[-1]), flush=True)
    Path(a.out).mkdir(parents=True, exist_ok=True); (Path(a.out) / "profile_loop.json").write_text(json.dumps(rows, indent=1))
    print(f"{'variant':<24} {'step ms':>8} {'MFU':>6}")
    for r in rows: print(f"{r['name']:<24} {r['dt_ms']:>8.1f} {100 * r['mfu']:>5.1f}%")

if __name__ == "__main__": main()

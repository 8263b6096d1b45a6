"""FP8 training against bf16 (GPU): a small model trained from the same seed on the same batches, compiled, in bf16
and with each FP8 recipe; prints how far each FP8 loss curve is from bf16's against the stated tolerance and writes
the curves, the verdicts and a chart under --out. Exit code 1 if a recipe is outside the tolerance.

    python tools/fp8_check.py [--steps 300] [--depth 20] [--layers 4] [--recipes tensorwise rowwise] [--out DIR]

The default model has d20's widths (1280, heads of 128, MLP 3456) with 4 layers, so each recipe converts exactly the
layers it converts at d20 (tensorwise: every block Linear; rowwise: only gate_up, see chapter 14); `--all_linears`
converts every block Linear (the size filter off). Each run goes through the Trainer (`TrainConfig.fp8`, then
torch.compile), with the default optimizer (Muon + AdamW) and the WSD schedule, on batches of the synthetic world's
text made once and fed to every run in the same order.

Tolerance (TOLERANCE below): the mean loss of the last 50 steps within 2% of bf16's (or 0.02 nats, whichever is
larger: the synthetic text's loss falls close to zero, where a relative difference says little), and the loss
smoothed over 20 steps within 5% (or 0.05 nats) of bf16's at every step after the first 50 (early on the loss falls
fast, and a curve shifted by a step differs by more than that without being worse); every loss finite; and at least
one layer in FP8 (otherwise there is nothing to compare: e.g. rowwise at width 512). FP8 rounds each matmul input to 3 mantissa
bits (gradients to 2), so the curves are not equal; a broken cast or scale (NaN, Inf, a stalled or diverging run)
lands far outside. A CPU smoke test of the tool: --device cpu --emulate --compile 0 --steps 20 --layers 1 --seq 64.
"""
import argparse, json, math, statistics, tempfile, time
from pathlib import Path
import torch
from ghostvis import train
from ghostvis.core import seed_everything, print0
from ghostvis.data import TextLoader, world_text
from ghostvis.model import GPT, get_small_config
from ghostvis.tokenizer import train_tokenizer

TOLERANCE = dict(final_rel=0.02, final_abs=0.02, curve_rel=0.05, curve_abs=0.05, window=20, skip=50, final_steps=50)

class Batches:
    "The same batches, in the same order, for every run (a resumable loader for the Trainer)."
    def __init__(self, batches): self.batches, self.i = batches, 0
    def next_batch(self):
        b = self.batches[self.i % len(self.batches)]; self.i += 1
        return b
    def state_dict(self): return dict(i=self.i)
    def load_state_dict(self, s): self.i = s["i"]

def make_batches(args, device):
    "Token batches of synthetic-world text, and the vocabulary size."
    tok = train_tokenizer([world_text(i) for i in range(3000)], 512, verbose=False)
    loader = TextLoader(lambda i: world_text(args.seed * 1_000_003 + i), tok, args.batch, args.seq)
    batches = [dict(zip(("x", "y"), (t.to(device) for t in loader.next_batch()))) for _ in range(args.steps)]
    return batches, tok.get_vocab_size()

def train_curve(recipe: str, args, config, batches, device, out_dir: str) -> dict:
    "Losses of `args.steps` optimizer steps with FP8 `recipe` (or off), from `args.seed`."
    seed_everything(args.seed)
    model = GPT(config).to(device)
    fp8 = recipe
    if recipe != "off" and (args.all_linears or args.emulate):   # converted here; the Trainer then finds no plain Linear left
        train.apply_fp8(model, recipe, size_filter=not args.all_linears, emulate=args.emulate); fp8 = "off"
    cfg = train.TrainConfig(max_iterations=args.steps, optimizer=args.optimizer, compile=bool(args.compile), tune_kernels=False,
                            fp8=fp8, save_final=False, out_dir=out_dir, log_every=10**9)
    trainer = train.Trainer(cfg, model, lambda m, b: m(b["x"], targets=b["y"]), Batches(batches), args.batch * args.seq, device)
    converted = sum(type(m).__name__ == "Float8Linear" for m in model.modules())
    t0, losses = time.perf_counter(), []
    for _ in range(args.steps):
        loss, _ = trainer.train_step(); trainer.step += 1
        losses.append(loss)
    trainer.loader.close()
    return dict(recipe=recipe, losses=losses, fp8_layers=converted, seconds=time.perf_counter() - t0)

def smooth(xs, w: int):
    return [statistics.fmean(xs[max(0, i - w + 1):i + 1]) for i in range(len(xs))]

def compare(base: list[float], other: list[float], tol=TOLERANCE) -> dict:
    "How far `other`'s loss curve is from `base`'s, and whether that is within `tol`."
    w, skip, n = tol["window"], min(tol["skip"], len(base) - 1), min(tol["final_steps"], len(base))
    sb, so = smooth(base, w), smooth(other, w)
    finite = all(math.isfinite(x) for x in other)
    if not finite: return dict(final_bf16=statistics.fmean(base[-n:]), final=math.nan, final_diff=math.inf, max_curve_diff=math.inf, at_step=None, ok=False)
    # each difference as a fraction of what the tolerance allows there: <= 1 is within it
    allowed = lambda b, rel, ab: max(rel * b, ab)
    curve = [abs(a - b) / allowed(b, tol["curve_rel"], tol["curve_abs"]) for a, b in zip(so[skip:], sb[skip:])]
    fb, fo = statistics.fmean(base[-n:]), statistics.fmean(other[-n:])
    i = max(range(len(curve)), key=curve.__getitem__)
    r = dict(final_bf16=fb, final=fo, final_diff=fo - fb, final_of_allowed=abs(fo - fb) / allowed(fb, tol["final_rel"], tol["final_abs"]),
             max_curve_diff=so[skip + i] - sb[skip + i], at_step=skip + 1 + i, max_curve_of_allowed=curve[i])
    r["ok"] = r["final_of_allowed"] <= 1 and r["max_curve_of_allowed"] <= 1
    return r

def plot(runs, out: Path):
    import matplotlib; matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (a, b) = plt.subplots(2, 1, figsize=(8, 6), sharex=True)
    base = smooth(runs[0]["losses"], TOLERANCE["window"])
    for i, r in enumerate(runs):
        s = smooth(r["losses"], TOLERANCE["window"])
        a.plot(range(1, len(s) + 1), s, color=f"C{i}", label=r["recipe"] if r["recipe"] != "off" else "bf16")
        if r["recipe"] != "off": b.plot(range(1, len(s) + 1), [(x - y) / y for x, y in zip(s, base)], color=f"C{i}", label=r["recipe"])
    a.set_ylabel(f"loss ({TOLERANCE['window']}-step mean)"); a.legend()
    b.axvline(TOLERANCE["skip"], ls=":", color="gray"); b.set_ylabel("relative difference to bf16"); b.set_xlabel("step"); b.legend()
    fig.tight_layout(); fig.savefig(out / "fp8_check.png", dpi=120); plt.close(fig)

def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python tools/fp8_check.py", description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=300); p.add_argument("--depth", type=int, default=20, help="widths of the small preset at this depth")
    p.add_argument("--layers", type=int, default=4, help="transformer blocks (default: fewer than --depth, for time)")
    p.add_argument("--batch", type=int, default=8); p.add_argument("--seq", type=int, default=1024)
    p.add_argument("--recipes", nargs="+", default=["tensorwise", "rowwise"], choices=["tensorwise", "rowwise"])
    p.add_argument("--all_linears", action="store_true", help="convert every block Linear (size filter off)")
    p.add_argument("--optimizer", default="muon", choices=["muon", "adamw"]); p.add_argument("--seed", type=int, default=1337)
    p.add_argument("--compile", type=int, default=1, choices=[0, 1]); p.add_argument("--device", default="cuda")
    p.add_argument("--emulate", action="store_true", help="torchao's emulation (FP8 casts, high-precision matmuls): runs on a CPU")
    p.add_argument("--out", default="/tmp/out")
    args = p.parse_args(argv)
    device = torch.device(args.device)
    if (args.batch * args.seq) % 16: p.error("--batch x --seq must be a multiple of 16 (the FP8 weight-gradient matmul's inner dimension)")
    why = train._torchao_missing() if args.emulate else train.fp8_unavailable(device)
    if why: print0(f"FP8 cannot run here: {why}"); return 2
    out = Path(args.out); out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    batches, vocab = make_batches(args, device)
    config = get_small_config(args.depth, n_layer=args.layers, vocab_size=-(-vocab // 64) * 64, sequence_len=args.seq)
    runs = []
    with tempfile.TemporaryDirectory() as d:
        for recipe in ["off", *args.recipes]:
            torch._dynamo.reset()
            runs.append(train_curve(recipe, args, config, batches, device, f"{d}/{recipe}"))
            print0(f"{recipe}: {runs[-1]['fp8_layers']} FP8 layers, final loss {runs[-1]['losses'][-1]:.4f}, {runs[-1]['seconds']:.0f} s")
    verdicts = {r["recipe"]: {"fp8_layers": r["fp8_layers"], **compare(runs[0]["losses"], r["losses"])} for r in runs[1:]}
    for v in verdicts.values(): v["ok"] = v["ok"] and v["fp8_layers"] > 0
    tol = TOLERANCE
    print0(f"\nd{args.depth} widths, {args.layers} layers, B{args.batch} T{args.seq}, {args.steps} steps, {args.optimizer}, "
           f"{'compiled' if args.compile else 'eager'}{', emulated' if args.emulate else ''}, same seed and batches")
    print0(f"tolerance: last-{tol['final_steps']}-step mean loss within {tol['final_rel']:.0%} of bf16's or {tol['final_abs']} nats; "
           f"{tol['window']}-step mean within {tol['curve_rel']:.0%} or {tol['curve_abs']} nats at every step after {tol['skip']}; "
           "all finite; at least one FP8 layer. 'of allowed': the difference over what the tolerance allows there (<= 1 passes)")
    print0(f"{'recipe':<12} {'FP8 layers':>10} {'final bf16':>10} {'final':>8} {'diff':>8} {'of allowed':>10} {'max diff':>9} {'at step':>7} {'of allowed':>10}  verdict")
    for name, v in verdicts.items():
        verdict = "within tolerance" if v["ok"] else "NO FP8 LAYERS" if not v["fp8_layers"] else "OUTSIDE tolerance"
        print0(f"{name:<12} {v['fp8_layers']:>10} {v['final_bf16']:>10.4f} {v['final']:>8.4f} {v['final_diff']:>+8.4f} {v['final_of_allowed']:>10.2f} "
               f"{v['max_curve_diff']:>+9.4f} {str(v['at_step']):>7} {v['max_curve_of_allowed']:>10.2f}  {verdict}")
    (out / "fp8_check.json").write_text(json.dumps(dict(args=vars(args), tolerance=tol, verdicts=verdicts,
                                                        losses={r["recipe"]: r["losses"] for r in runs}), indent=1))
    try: plot(runs, out)
    except Exception as e: print0(f"no chart ({type(e).__name__}: {e})")
    print0(f"wrote {out}/fp8_check.json and fp8_check.png; {time.perf_counter() - t0:.0f} s in all")
    return 0 if all(v["ok"] for v in verdicts.values()) else 1

if __name__ == "__main__": raise SystemExit(main())

#!/usr/bin/env bash
# On a 2-GPU machine: base_train on one GPU and under torchrun on two GPUs with the same global batch (fp32, so the
# only difference is the order of the gradient all-reduce); prints both loss sequences and their largest relative gap.
set -euo pipefail
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
nvidia-smi --query-gpu=name --format=csv,noheader
args="--model small --depth 4 --sequence_len 512 --max_iterations 12 --total_batch_size 8192 --dtype float32 --save_final 0 --val_batches 1 --log_every 4"
CUDA_VISIBLE_DEVICES=0 python3 -m ghostvis.scripts.base_train $args --device_batch_size 16 --out_dir /tmp/one 2>&1 | grep -E "^Step|^Batch" | tee "$OUT/one_gpu.log"
python3 -m torch.distributed.run --nproc_per_node=2 -m ghostvis.scripts.base_train $args --device_batch_size 8 --out_dir /tmp/two \
  --tokenizer /tmp/one/tokenizer 2>&1 | grep -E "^Step|^Batch" | tee "$OUT/two_gpus.log"
cp /tmp/one/metrics.jsonl "$OUT/one_gpu.jsonl"; cp /tmp/two/metrics.jsonl "$OUT/two_gpus.jsonl"
python3 - "$OUT" <<'PY'
import json, sys
load = lambda f: [json.loads(l)["loss"] for l in open(f"{sys.argv[1]}/{f}") if '"loss"' in l]
a, b = load("one_gpu.jsonl"), load("two_gpus.jsonl")
gap = max(abs(x - y) / abs(x) for x, y in zip(a, b))
print("step  1 GPU    2 GPUs"); [print(f"{i + 1:4d}  {x:.5f}  {y:.5f}") for i, (x, y) in enumerate(zip(a, b))]
print(f"largest relative gap: {gap:.2e} over {len(a)} steps")
PY

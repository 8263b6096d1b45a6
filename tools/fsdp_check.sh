#!/usr/bin/env bash
# FSDP2 on the GPU machine, through base_train (d4, T512, 12 steps, a global batch of 8,192 tokens):
#  1. fp32, one GPU: no wrapper vs --parallel fsdp over a process group of one: the same losses (rounding only).
#  2. bf16 FSDP2 with --compile 1 --activation_checkpointing 1 and 4 micro-steps, checkpoint at step 6; resumed from it:
#     steps 7-12 as the uninterrupted run's (bit for bit on the CPU; on the GPU up to the run-to-run noise of
#     nondeterministic kernels such as attention backward's atomics).
#  3. With 2 or more GPUs: fp32 FSDP2 under torchrun on 2 GPUs vs step 1's one-GPU run, and step 2's checkpoint
#     (written by one GPU) resumed on 2 GPUs.
# Prints each pair's largest relative loss gap; NVLink multicast stays off in every process.
# Usage on the GPU machine, from the repository root with .whl carried (tools/gpu_wheels.sh): bash tools/fsdp_check.sh
set -euo pipefail
if ! python3 -c "import fastcore" 2>/dev/null; then   # the machine lacks ghostvis's pure-Python needs: the carried wheels, as tools/gpu.sh does
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl >/tmp/pip.log 2>&1 || { cat /tmp/pip.log; exit 1; }
fi
export PYTHONPATH=$PWD:/tmp/site PYTHONUNBUFFERED=1 NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"; W=/tmp/fsdp_check; rm -rf $W; mkdir -p $W
nvidia-smi --query-gpu=name --format=csv,noheader
NGPU=$(nvidia-smi -L | wc -l)
args="--model small --depth 4 --sequence_len 512 --device_batch_size 8 --total_batch_size 8192 --max_iterations 12 --val_batches 1 --log_every 4"
bt() { python3 -m ghostvis.scripts.base_train $args "$@" 2>&1 | grep -E "^Step|^Batch|^Resumed|^Saved|FSDP2|Error|error" || true; }
CUDA_VISIBLE_DEVICES=0 bt --dtype float32 --save_final 0 --out_dir $W/plain32
CUDA_VISIBLE_DEVICES=0 bt --dtype float32 --save_final 0 --out_dir $W/fsdp32 --parallel fsdp --tokenizer $W/plain32/tokenizer
CUDA_VISIBLE_DEVICES=0 bt --parallel fsdp --compile 1 --activation_checkpointing 1 --device_batch_size 4 --save_every 6 --save_final 0 \
  --out_dir $W/fsdp16 --tokenizer $W/plain32/tokenizer
CUDA_VISIBLE_DEVICES=0 bt --parallel fsdp --compile 1 --activation_checkpointing 1 --device_batch_size 4 --save_final 0 \
  --out_dir $W/fsdp16r --resume $W/fsdp16/ckpt_000006 --tokenizer $W/plain32/tokenizer
if [ "$NGPU" -ge 2 ]; then
  python3 -m torch.distributed.run --standalone --nproc_per_node=2 -m ghostvis.scripts.base_train $args --dtype float32 --save_final 0 \
    --device_batch_size 4 --parallel fsdp --out_dir $W/fsdp32x2 --tokenizer $W/plain32/tokenizer 2>&1 | grep -E "^Step|^Batch|Error" || true
  python3 -m torch.distributed.run --standalone --nproc_per_node=2 -m ghostvis.scripts.base_train $args --save_final 0 \
    --device_batch_size 4 --parallel fsdp --compile 1 --activation_checkpointing 1 --out_dir $W/fsdp16x2r --resume $W/fsdp16/ckpt_000006 \
    --tokenizer $W/plain32/tokenizer 2>&1 | grep -E "^Step|^Resumed|Error" || true
fi
for d in $W/*/; do [ -f $d/metrics.jsonl ] && cp $d/metrics.jsonl "$OUT/$(basename $d).jsonl"; done
python3 - "$OUT" <<'PY'
import json, sys
from pathlib import Path
out = Path(sys.argv[1])
def losses(name):
    f = out / f"{name}.jsonl"
    return {r["step"]: r["loss"] for r in map(json.loads, f.read_text().splitlines()) if "loss" in r} if f.exists() else None
def gap(a, b, what, tol):
    a, b = losses(a), losses(b)
    if a is None or b is None: print(f"{what}: not run"); return
    steps = sorted(set(a) & set(b))
    g = max(abs(a[s] - b[s]) / abs(b[s]) for s in steps)
    print(f"{what}: largest relative gap {g:.2e} over steps {steps[0]}-{steps[-1]} ({'ok' if g <= tol else 'CHECK'}: tolerance {tol:.0e})")
gap("fsdp32", "plain32", "fp32 one GPU, FSDP2 vs none", 1e-5)
gap("fsdp16r", "fsdp16", "bf16 FSDP2 + compile + AC, resumed at 6 vs uninterrupted", 1e-3)
gap("fsdp32x2", "plain32", "fp32 FSDP2 on 2 GPUs vs one GPU", 1e-4)
gap("fsdp16x2r", "fsdp16", "bf16 FSDP2 checkpoint of 1 GPU resumed on 2 vs uninterrupted on 1", 2e-2)
PY

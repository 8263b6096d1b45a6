#!/usr/bin/env bash
# On the lent GPU machine: install the carried wheels (.whl/: nbdev and its pure-Python needs, liger-kernel), then
#   bash tools/gpu.sh test                 # nbdev_test --flags cuda, and the same notebooks through pytest
#   bash tools/gpu.sh bench NAME [NAME..]  # python -m ghostvis.bench NAME..., CSVs copied to $OUT
#   bash tools/gpu.sh bench all            # python -m ghostvis.bench all in one process, timed; CSVs as $OUT/benchmarks.tgz
#   bash tools/gpu.sh tool SCRIPT ARGS..   # python3 tools/SCRIPT ARGS (the profiling tools), log in $OUT/tool.log
# The device copy has no working git: before the call run `git rev-parse --short=12 HEAD > .gpu_commit` here (with a
# clean tree) and carry .gpu_commit with .whl, so every result row names its commit.
set -uo pipefail
[ -f .gpu_commit ] && export GHOSTVIS_GIT_COMMIT=$(cat .gpu_commit)
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
  >/tmp/pip.log 2>&1 || { cat /tmp/pip.log; exit 1; }
export PYTHONPATH=$PWD:/tmp/site PYTHONUNBUFFERED=1 MPLBACKEND=Agg PATH=/tmp/site/bin:$PATH
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
python3 -c "import torch, triton; print('torch', torch.__version__, 'triton', triton.__version__, torch.cuda.get_device_name())"
cmd=$1; shift
case $cmd in
  test)
    nbdev_test --flags cuda --do_print "$@" 2>&1 | tee "$OUT/nbdev_test.log"; rc=${PIPESTATUS[0]}
    echo "nbdev_test --flags cuda exit code: $rc"; exit $rc ;;
  bench)
    rc=0
    if [ "$1" = all ]; then  # the one command of the report, in one process, timed; all CSVs back as one archive
      start=$(date +%s)
      timeout "${BENCH_TIMEOUT:-3600}" python3 -m ghostvis.bench all 2>&1 | tee "$OUT/bench.log"; rc=${PIPESTATUS[0]}
      echo "python -m ghostvis.bench all: $(( $(date +%s) - start )) s, exit code $rc" | tee -a "$OUT/bench.log"
      tar czf "$OUT/benchmarks.tgz" nbs/benchmarks/*.csv; exit $rc
    fi
    for name in "$@"; do  # one at a time, each CSV copied out at once: a later time-out loses nothing earlier
      python3 -m ghostvis.bench "$name" 2>&1 | tee -a "$OUT/bench.log"; [ "${PIPESTATUS[0]}" -eq 0 ] || rc=1
      cp nbs/benchmarks/"$name".csv "$OUT"/ 2>/dev/null
    done; exit $rc ;;
  tool)  # a profiling tool: bash tools/gpu.sh tool profile_decode.py --out "$OUT"
    python3 tools/"$@" 2>&1 | tee -a "$OUT/tool.log"; exit "${PIPESTATUS[0]}" ;;
  *) echo "usage: bash tools/gpu.sh test|bench NAME...|tool SCRIPT ARGS..." >&2; exit 2 ;;
esac

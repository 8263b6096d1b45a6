#!/usr/bin/env bash
# FlashAttention-4 on the lent GPU machine, whose calls carry at most 64 MiB: the wheels (ENVIRONMENT.md's list) go in
# two parts, the 92 MB nvidia-cutlass-dsl-libs-cu13 wheel split in two halves (part1: the first half alone, ~48 MB, so
# that call can also carry .whl; part2: the second half and the other wheels).
#   here:    bash tools/fa4.sh download            # pip download into .wheels/fa4, split into .wheels/part1 .wheels/part2
#   device:  call 1 carrying .wheels/part1:  bash tools/fa4.sh stage 1
#            call 2 carrying .wheels/part2:  bash tools/fa4.sh stage 2 && bash tools/fa4.sh install
# (back to back: the machine keeps ~/fa4 between calls while it stays warm). .wheels/ is listed in .git/info/exclude.
set -euo pipefail
STAGE=$HOME/fa4
case ${1:-} in
  download)
    mkdir -p .wheels/fa4 .wheels/part1 .wheels/part2
    python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
      --platform manylinux_2_28_x86_64 --platform manylinux_2_24_x86_64 --platform manylinux2014_x86_64 --platform any \
      -d .wheels/fa4 "flash-attn-4==4.0.0b36" "nvidia-cutlass-dsl==4.8.1" "nvidia-cutlass-dsl-libs-base==4.8.1" \
      "nvidia-cutlass-dsl-libs-core==4.8.1" "nvidia-cutlass-dsl-libs-cu13==4.8.1" apache-tvm-ffi torch-c-dlpack-ext quack-kernels
    big=$(ls .wheels/fa4/nvidia_cutlass_dsl_libs_cu13-*.whl)
    rm -f .wheels/part1/* .wheels/part2/*
    split -b 46m "$big" .wheels/part1/big.
    mv .wheels/part1/big.ab .wheels/part2/
    basename "$big" > .wheels/part1/big.name
    for w in .wheels/fa4/*.whl; do [ "$w" = "$big" ] || cp "$w" .wheels/part2/; done   # part1 leaves room for .whl
    du -sh .wheels/part1 .wheels/part2 ;;
  stage)
    mkdir -p "$STAGE" && cp .wheels/part"$2"/* "$STAGE"/ && ls -la "$STAGE" ;;
  install)
    cd "$STAGE" && cat big.aa big.ab > "$(cat big.name)"
    python3 -m pip install -q --no-index --no-deps ./*.whl
    python3 -c "import flash_attn.cute as f; print('FA4 imports:', f.__name__, hasattr(f, 'flash_attn_varlen_func'))" ;;
  *) echo "usage: bash tools/fa4.sh download | stage 1|2 | install" >&2; exit 2 ;;
esac

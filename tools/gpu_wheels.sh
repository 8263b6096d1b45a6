#!/usr/bin/env bash
# Wheels the lent GPU machine lacks (it has no network): nbdev and its pure-Python needs (for `nbdev_test --flags cuda`),
# liger-kernel and torchao (benchmark comparisons and FP8 training). jedi is left out (IPython runs without it) so that
# the wheels fit beside half of the FA4 wheels in one 64 MiB call. Downloaded here into .whl/ (listed in
# .git/info/exclude), carried with a device call and installed there by tools/gpu.sh. Usage: bash tools/gpu_wheels.sh
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .whl
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform any -d .whl \
  "nbdev==2.4.14" "fastcore==1.14.5" "execnb==0.1.18" "ghapi==2.0.3" "fastspec==0.1.0" fastgit astunparse asttokens watchdog \
  "ipython==9.18.1" ipython_pygments_lexers matplotlib-inline pexpect ptyprocess prompt_toolkit pure_eval \
  stack-data traitlets wcwidth executing "liger-kernel==0.8.5" "torchao==0.18.0"
du -sh .whl

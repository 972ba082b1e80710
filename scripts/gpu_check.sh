#!/usr/bin/env bash
# The GPU run: install the CUDA extra, show the GPU, run the test suite on the CUDA device, then
# benchmarks/gpu.py. Its output is the evidence that the CuPy path works; under 10 minutes on an H100.
#
#   scripts/gpu_check.sh                 # installs from PyPI
#   WHEELS=/path/to/wheels scripts/gpu_check.sh   # offline: pip installs from a wheel folder
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check -q install)
if [ -n "${WHEELS:-}" ]; then
  PIP+=(--no-index --find-links "$WHEELS")
fi
"${PIP[@]}" -e '.[test,cuda12]'

echo "== GPU"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
"$VENV/bin/python" - <<'PY'
import ember as em
import cupy
print("ember sees a GPU:", em.cuda_available(), "| CuPy", cupy.__version__,
      "| device:", cupy.cuda.runtime.getDeviceProperties(0)["name"].decode())
PY

echo "== test suite (CUDA tests included)"
EMBER_TEST_DEVICE=cuda OPENBLAS_NUM_THREADS=1 timeout 420 "$VENV/bin/python" -m pytest -q -x -n 8 \
  -m "not slow and not browser" tests || status=$?

echo "== benchmarks/gpu.py"
timeout 240 "$VENV/bin/python" benchmarks/gpu.py --rounds 2
exit "${status:-0}"

#!/usr/bin/env bash
# Creates the venv that bench_lce.py's LCE child (lce_child.py) runs in (kept apart from the
# project venv: tensorflow pins numpy < 2). Usage: bash bench/b1/make_lce_venv.sh [DIR]
# (default /work/venvs/s21-lce-tf). Needs Python 3.11 (LCE 0.16 ships a cp311 wheel).
set -euo pipefail
VENV=${1:-/work/venvs/s21-lce-tf}
PY=${PYTHON:-python3.11}
"$PY" -m venv "$VENV"
"$VENV/bin/pip" install -q --upgrade pip wheel
# LCE 0.16 is built against TF 2.16; larq 0.14 needs Keras 2, hence tf-keras and
# TF_USE_LEGACY_KERAS=1 (lce_child.py sets it). pocketnn and onnxruntime stay in the
# project venv: bench_lce.py runs there and starts lce_child.py with this venv's python.
"$VENV/bin/pip" install -q "tensorflow-cpu==2.16.*" "tf-keras==2.16.*" "larq==0.14.*" \
  "larq-compute-engine==0.16.*" "larq-zoo==2.4.*" "numpy<2"
echo "LCE venv ready: $VENV"

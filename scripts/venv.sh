# Sourced by scripts/test.sh and scripts/main.sh: create or reuse .venv and install what xraygan needs.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "[setup] creating .venv with $($PY --version)"
  $PY -m venv .venv
fi
VPY=.venv/bin/python
if ! $VPY -c "import torch, torchvision" 2>/dev/null; then
  # On the project's 2-core machines these exact versions come from local disk; elsewhere set
  # XRAYGAN_TORCH to what suits (e.g. "torch torchvision" or a CPU wheel index spec).
  echo "[setup] installing ${XRAYGAN_TORCH:-torch==2.14.1 torchvision==0.29.1}"
  $VPY -m pip install -q --no-cache-dir --upgrade pip
  # No pip cache: the torch wheels are several GB and a copy in the cache would double the disk they need.
  # No byte-compiling at install (--no-compile): pip would compile every module of those GB; Python compiles
  # what it imports, once (on the 2-core Xeon: torch and torchvision install in about 75 s instead of 124 s).
  # shellcheck disable=SC2086
  $VPY -m pip install -q --no-cache-dir --no-compile ${XRAYGAN_TORCH:-torch==2.14.1 torchvision==0.29.1}
fi
if ! $VPY -c "import xraygan, pytest, nbval, papermill, scipy, sklearn, seaborn" 2>/dev/null \
   || [ pyproject.toml -nt .venv/.xraygan-installed ]; then
  echo "[setup] installing xraygan and its dev extra"
  $VPY -m pip install -q --no-compile -e ".[dev]"
  touch .venv/.xraygan-installed
fi
export PATH="$PWD/.venv/bin:$PATH"

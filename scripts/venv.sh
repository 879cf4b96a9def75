# Sourced by scripts/test.sh and scripts/main.sh: create or reuse .venv and install what xraygan needs.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "[setup] creating .venv with $($PY --version)"
  $PY -m venv .venv
fi
VPY=.venv/bin/python
# Whether packages are installed, found without importing them (importing torch and the rest takes ~15 s).
# sys.path[0] (the repository root) is dropped, so the source folder xraygan/ does not count as installed.
has() { $VPY -c 'import sys; sys.path.pop(0); import importlib.util as u
sys.exit(any(u.find_spec(m) is None for m in sys.argv[1:]))' "$@"; }
if ! has torch torchvision; then
  rm -f .venv/.xraygan-compiled
  # On the project's 2-core machines these exact versions come from local disk; elsewhere set
  # XRAYGAN_TORCH to what suits (e.g. "torch torchvision" or a CPU wheel index spec).
  echo "[setup] installing ${XRAYGAN_TORCH:-torch==2.14.1 torchvision==0.29.1}"
  $VPY -m pip install -q --no-cache-dir --upgrade pip
  # No pip cache: the torch wheels are several GB and a copy in the cache would double the disk they need.
  # No byte-compiling at install (--no-compile): pip compiles every module, tests included, on one core (on the
  # 2-core Xeon torch and torchvision install in about 75 s instead of 124 s); the step below does it on both.
  # shellcheck disable=SC2086
  $VPY -m pip install -q --no-cache-dir --no-compile ${XRAYGAN_TORCH:-torch==2.14.1 torchvision==0.29.1}
fi
if ! has xraygan pytest nbval papermill scipy sklearn seaborn \
   || [ pyproject.toml -nt .venv/.xraygan-installed ]; then
  echo "[setup] installing xraygan and its dev extra"
  $VPY -m pip install -q --no-compile -e ".[dev]"
  touch .venv/.xraygan-installed
  rm -f .venv/.xraygan-compiled
fi
# Byte-compile the installed packages once, both cores, their own test suites left out. Python would compile a
# module on import and keep it, but where PYTHONDONTWRITEBYTECODE is set (as on the project's machines) it
# keeps nothing, and every process (test workers, notebook kernels, worker pools) compiled torch again: on the
# 2-core Xeon the test command took 491 s on a fresh venv without byte code and 340 s with it; this step takes
# about 45 s. A module that does not compile (a file for a newer Python) is compiled on import, as before.
if [ ! -f .venv/.xraygan-compiled ]; then
  echo "[setup] byte-compiling the installed packages"
  $VPY -m compileall -q -j 0 -x '/tests/|/torch/testing/_internal/' "$($VPY -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')" >/dev/null || true
  touch .venv/.xraygan-compiled
fi
export PATH="$PWD/.venv/bin:$PATH"

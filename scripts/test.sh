#!/usr/bin/env bash
# The README's test command: set up (or reuse) .venv, lint, then run the tests and the notebooks (nbval,
# small preset, on ../shared/data/chest_xray_224 when present, else the phantom set).
source "$(dirname "$0")/venv.sh"
export XRAYGAN_PRESET=${XRAYGAN_PRESET:-smoke}
export XRAYGAN_CACHE=${XRAYGAN_CACHE:-$PWD/.cache/xraygan}
export MPLBACKEND=Agg
# The notebooks run under the smoke preset and must not overwrite the committed figures, runs or results.
scratch=$(mktemp -d "${TMPDIR:-/tmp}/xraygan-ci.XXXXXX")
trap 'rm -rf "$scratch"' EXIT  # the scratch outputs go with the run
export XRAYGAN_FIGURES=$scratch/figures XRAYGAN_RUNS=$scratch/runs XRAYGAN_RESULTS=$scratch/results
if [ -z "${XRAYGAN_DATA:-}" ] && [ -d ../shared/data/chest_xray_224 ]; then
  export XRAYGAN_DATA=$PWD/../shared/data/chest_xray_224
fi
ruff check .
# One thread per process: on 2 cores the tests' small models keep one thread busy better than two. The tests
# run in two processes (pytest-xdist) and, beside them, the notebooks in one more, in order (notebook 03 reads
# the GANs notebook 02 trained; nbval runs a notebook's cells in one kernel); its report follows the tests'.
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
# Arguments (e.g. a test file, -k, -x) go to the tests' pytest only: given to both, a test file would also run
# in the notebooks' process and a -k would deselect the notebooks' cells without a word.
python -m pytest -q -p no:cacheprovider --nbval-lax --nbval-current-env notebooks >"$scratch/notebooks.log" 2>&1 &
notebooks=$!
status=0
python -m pytest -q -n 2 "$@" || status=$?  # no path given: pyproject's testpaths, tests/
wait "$notebooks" || status=$?
echo "--- notebooks (nbval) ---"
cat "$scratch/notebooks.log"
exit "$status"

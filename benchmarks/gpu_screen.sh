#!/usr/bin/env bash
# GAN recipe screens at 10 % on a lent GPU: one process per recipe, side by side on the card (their minutes are
# not idle-machine minutes), NORMAL variety over seeds 0-2 (each its own subset), rows merged into one CSV.
# Usage (from benchmarks/, PYTHONPATH and XRAYGAN_CACHE set): bash gpu_screen.sh DATA OUT_CSV SECONDS RECIPE...
set -u
DATA=$1; CSV=$2; SECONDS_EACH=$3; shift 3
mkdir -p /tmp/screen
for r in "$@"; do
  OMP_NUM_THREADS=2 timeout "$SECONDS_EACH" python3 gan_recipes.py --screen --data "$DATA" --preset cpu \
      --fraction 0.1 --seeds 0 1 2 --recipes "$r" --runs /tmp/screen/runs --csv "/tmp/screen/$r.csv" \
      > "/tmp/screen/$r.log" 2>&1 &
done
wait
python3 - "$CSV" "${@/#//tmp/screen/}" <<'PY'
import sys, pathlib, pandas as pd
found = [pathlib.Path(f + ".csv") for f in sys.argv[2:] if pathlib.Path(f + ".csv").exists()]
if found:
    pd.concat(pd.read_csv(f) for f in found).to_csv(sys.argv[1], index=False)
PY

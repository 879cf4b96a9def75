#!/usr/bin/env bash
# Classifier recipes on a lent GPU, in one call: (1) the screen: every recipe of classifier_recipes.py at 100 %,
# seeds 0-2, validation only (one process per recipe, side by side on the card); (2) the rule written in that
# script (--choose: lowest mean validation log-loss, ties to the cheaper) picks one; (3) the chosen recipe's
# learning curve and, beside it, the pilot/paper recipe's (plan_loss): fractions 2-100 %, five replicates each
# (replicate = seed = training subset), selection on the fraction-scaled validation part, the test split read
# once per model (one process per fraction and recipe).
# Usage: OUT=dir DATA=chest_xray_224 bash benchmarks/gpu_classifier_screen.sh
set -u
OUT=${OUT:?set OUT}; DATA=${DATA:?set DATA}; SCREEN_S=${SCREEN_S:-250}; CURVE_S=${CURVE_S:-230}
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1 XRAYGAN_CACHE=/tmp/xraygan-cache MPLBACKEND=Agg OMP_NUM_THREADS=1
DATA=$(realpath "$DATA")
cd benchmarks
python3 -c "
from xraygan.config import DataConfig; from xraygan.data import load_splits
for s in (64, 128): load_splits(DataConfig(root='$DATA', image_size=s), progress=False)"  # decode caches once
mkdir -p /tmp/cs /tmp/cc
t0=$(date +%s)
for r in $(python3 -c "from classifier_recipes import RECIPES; print(' '.join(RECIPES))"); do
  timeout "$SCREEN_S" python3 classifier_recipes.py --data "$DATA" --fractions 1 --seeds 0 1 2 --recipes "$r" \
      --device cuda --csv "/tmp/cs/$r.csv" > "/tmp/cs/$r.log" 2>&1 &
done
wait
python3 -c "import glob, pandas as pd; pd.concat(pd.read_csv(f) for f in sorted(glob.glob('/tmp/cs/*.csv'))).to_csv('$OUT/classifier_recipes_gpu.csv', index=False)"
echo "screen: $(( $(date +%s) - t0 )) s"
CHOSEN=$(python3 classifier_recipes.py --choose "$OUT/classifier_recipes_gpu.csv")
echo "chosen by the rule: $CHOSEN"
t0=$(date +%s)
for r in "$CHOSEN" plan_loss; do
  for f in 0.02 0.05 0.1 0.25 0.5 1; do
    timeout "$CURVE_S" python3 classifier_recipes.py --data "$DATA" --fractions "$f" --seeds 0 1 2 3 4 \
        --recipes "$r" --val-scaled --test --device cuda --csv "/tmp/cc/$r-$f.csv" > "/tmp/cc/$r-$f.log" 2>&1 &
  done
done
wait
python3 -c "import glob, pandas as pd; pd.concat(pd.read_csv(f) for f in sorted(glob.glob('/tmp/cc/*.csv'))).to_csv('$OUT/classifier_curve_gpu.csv', index=False)"
echo "curve: $(( $(date +%s) - t0 )) s"
tail -n 3 /tmp/cs/*.log /tmp/cc/*.log > "$OUT/logs.txt" 2>&1
nvidia-smi --query-gpu=name,memory.used --format=csv > "$OUT/gpu.txt" 2>&1

#!/usr/bin/env bash
# A preset's grid (default `full`) on a lent GPU, some fractions per call, in one short prepared command for
# the device tool (repository root there; whatever finishes comes back under $OUT even when time runs out).
# A results folder already committed here (results/<preset>/) is copied in first, so the call resumes it;
# copy $OUT/<preset>/ back over results/<preset>/ afterwards and regenerate its tables:
#   python -m xraygan study --preset full --tables-only --readme README.md
# FRACTIONS names the fractions whose models this call trains (learning-curve fractions too, e.g. "1.0 0.02 0.5");
# the grid stays the preset's whole grid (--train-fractions), and only replicates with models left make GANs.
# Usage: OUT=dir DATA=chest_xray_224 FRACTIONS="0.1" [PRESET=full DEVICE=cuda WORKERS=12] bash scripts/gpu_grid.sh
set -u
OUT=${OUT:?set OUT}; DATA=${DATA:?set DATA}; FRACTIONS=${FRACTIONS:?set FRACTIONS, e.g. 0.1}
PRESET=${PRESET:-full}; DEVICE=${DEVICE:-cuda}; WORKERS=${WORKERS:-12}; PY=${PYTHON:-python3}
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1 XRAYGAN_CACHE=${XRAYGAN_CACHE:-/tmp/xraygan-cache} MPLBACKEND=Agg
mkdir -p "$OUT/$PRESET"
if [ -d "results/$PRESET" ]; then cp -r "results/$PRESET/." "$OUT/$PRESET/"; fi
{ nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null || echo "no nvidia-smi"
  $PY -c "import torch; print('torch', torch.__version__)"; git log --oneline -1; date -u; } > "$OUT/env.txt" 2>&1
# shellcheck disable=SC2086
$PY -m xraygan study --preset "$PRESET" --data "$DATA" --device "$DEVICE" --workers "$WORKERS" \
    --train-fractions $FRACTIONS --results "$OUT/$PRESET" --runs /tmp/xraygan-runs/$PRESET > "$OUT/$PRESET.log" 2>&1
echo "exit $? at $(date -u)" >> "$OUT/env.txt"

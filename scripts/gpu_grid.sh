#!/usr/bin/env bash
# A preset's grid (default `full`) on a lent GPU, some fractions per call, in one short prepared command for
# the device tool (repository root there; whatever finishes comes back under $OUT even when time runs out).
# The committed rows (results/<preset>/runs.jsonl, config.json, test_split.json, gan_variety.csv) are copied in
# first, so the call resumes them; only those, val_split.json, PROGRESS.md and gan_variety.csv come back (with env.txt and
# the log: the device returns at most 8 files), so after copying $OUT/<preset>/* over results/<preset>/ regenerate the tables here:
#   python -m xraygan study --preset full --tables-only --readme README.md
# FRACTIONS names the fractions whose models this call trains (learning-curve fractions too, e.g. "1.0 0.02 0.5");
# the grid stays the preset's whole grid (--train-fractions), and only replicates with models left make GANs.
# REPLICATES=N trains at most N of the replicates still to do (--replicates), so that a call ends between replicates
# and has time left for the variety check. STUDY_S bounds the study; if it finishes in time, the GANs it trained are checked against the variety limits
# (--gan-variety, VARIETY_S), since their checkpoints stay on the lent machine.
# ESTIMATE=0 skips the timing printed first (--no-estimate): on an H200 it cost about 1.5-2.5 minutes of a
# 15-minute lease (12 worker processes start and warm up twice); worth it only where the rates are unknown.
# Usage: OUT=dir DATA=chest_xray_224 FRACTIONS="0.1" [PRESET=full DEVICE=cuda WORKERS=12 STUDY_S=500
#        VARIETY_S=60 ESTIMATE=1 REPLICATES=N] bash scripts/gpu_grid.sh
set -u
OUT=${OUT:?set OUT}; DATA=${DATA:?set DATA}; FRACTIONS=${FRACTIONS:?set FRACTIONS, e.g. 0.1}
PRESET=${PRESET:-full}; DEVICE=${DEVICE:-cuda}; WORKERS=${WORKERS:-12}; PY=${PYTHON:-python3}
STUDY_S=${STUDY_S:-500}; VARIETY_S=${VARIETY_S:-60}; NO_ESTIMATE=""
if [ "${ESTIMATE:-1}" = 0 ]; then NO_ESTIMATE=--no-estimate; fi
SHARE=""; if [ -n "${REPLICATES:-}" ]; then SHARE="--replicates $REPLICATES"; fi
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1 XRAYGAN_CACHE=${XRAYGAN_CACHE:-/tmp/xraygan-cache} MPLBACKEND=Agg
RES=$OUT/$PRESET; RUNS=/tmp/xraygan-runs/$PRESET
mkdir -p "$RES"
for f in runs.jsonl config.json test_split.json gan_variety.csv; do  # the variety record grows, never replaced
  if [ -f "results/$PRESET/$f" ]; then cp "results/$PRESET/$f" "$RES/"; fi
done
{ nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null || echo "no nvidia-smi"
  $PY -c "import torch; print('torch', torch.__version__)"; git log --oneline -1; date -u; } > "$OUT/env.txt" 2>&1
# shellcheck disable=SC2086
timeout "$STUDY_S" $PY -m xraygan study --preset "$PRESET" --data "$DATA" --device "$DEVICE" --workers "$WORKERS" \
    --train-fractions $FRACTIONS --results "$RES" --runs "$RUNS" $NO_ESTIMATE $SHARE > "$OUT/$PRESET.log" 2>&1
rc=$?
echo "study exit $rc at $(date -u)" >> "$OUT/env.txt"
if [ "$rc" = 0 ]; then
  timeout "$VARIETY_S" $PY -m xraygan study --preset "$PRESET" --data "$DATA" --device "$DEVICE" --gan-variety \
      --results "$RES" --runs "$RUNS" >> "$OUT/$PRESET.log" 2>&1
  echo "variety exit $? at $(date -u)" >> "$OUT/env.txt"
fi
# the tables are regenerated from runs.jsonl here; leave room under the device's file limit
find "$RES" -maxdepth 1 -type f ! -name runs.jsonl ! -name config.json ! -name test_split.json \
    ! -name val_split.json ! -name PROGRESS.md ! -name gan_variety.csv -delete
ls -l "$RES" >> "$OUT/env.txt"

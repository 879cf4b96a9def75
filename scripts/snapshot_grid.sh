#!/usr/bin/env bash
# Commit a snapshot of a running grid: its tables, ANSWER.md, figures and README block regenerated from
# runs.jsonl, committed only if runs.jsonl did not change meanwhile (else the block and the rows would
# disagree; run it again). Usage: bash scripts/snapshot_grid.sh PRESET [RESULTS_FOLDER]
set -euo pipefail
cd "$(dirname "$0")/.."
preset=$1
res=${2:-results/$preset}
py=${PYTHON:-.venv/bin/python}
# the commit takes README.md whole: edits of other sections would ride along under the snapshot's message
if ! git diff --quiet -- README.md; then
  echo "snapshot: README.md has uncommitted edits; commit them first (the snapshot commits the whole file)" >&2
  exit 1
fi
before=$(sha256sum "$res/runs.jsonl")
OMP_NUM_THREADS=1 $py -m xraygan study --preset "$preset" --results "$res" --tables-only --readme README.md >/dev/null
if [ "$(sha256sum "$res/runs.jsonl")" != "$before" ]; then
  echo "snapshot: $res/runs.jsonl changed while the tables were written; run again" >&2
  exit 1
fi
n=$(grep -c . "$res/runs.jsonl")
git add "$res" README.md figures
git commit -qm "$preset grid snapshot: $n models (tables, ANSWER.md, figures and README block from runs.jsonl)" \
  && git log --oneline -1

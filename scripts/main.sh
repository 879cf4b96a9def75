#!/usr/bin/env bash
# The README's main job: set up (or reuse) .venv, then execute the notebooks in order on the real data
# (XRAYGAN_DATA, else ../shared/data/chest_xray_224, else ./data, else Kaggle with credentials, else the
# MedMNIST download), under XRAYGAN_PRESET (default cpu). Outputs are written into the notebooks, figures/,
# results/<preset>/ and runs/<preset>/. Every stage resumes: a finished GAN or study cell is not redone.
source "$(dirname "$0")/venv.sh"
export XRAYGAN_PRESET=${XRAYGAN_PRESET:-cpu}
export XRAYGAN_CACHE=${XRAYGAN_CACHE:-$PWD/.cache/xraygan}
if [ -z "${XRAYGAN_DATA:-}" ] && [ -d ../shared/data/chest_xray_224 ]; then
  export XRAYGAN_DATA=$PWD/../shared/data/chest_xray_224
fi
echo "[main] preset=$XRAYGAN_PRESET data=${XRAYGAN_DATA:-automatic choice}"
start=$(date +%s)
for nb in notebooks/0*.ipynb; do
  t=$(date +%s)
  echo "[main] executing $nb"
  python -m papermill -k python3 --cwd notebooks "$nb" "$nb"
  echo "[main] $nb done in $(( $(date +%s) - t )) s"
done
echo "[main] all notebooks done in $(( $(date +%s) - start )) s; figures in figures/, results in results/$XRAYGAN_PRESET/"

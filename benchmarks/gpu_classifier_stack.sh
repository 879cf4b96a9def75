#!/usr/bin/env bash
# A lent GPU call's second part: the study's stacked path end to end on CUDA (phantom images); the classifier
# stack (one batch gather, one loss, one dropout call per step) with bf16 autocast or fp32, with and without cuDNN's per-shape algorithm search; then a short screen of
# three more 10 % GAN recipes (one process each, side by side on the card).
# Usage: OUT=dir DATA=chest_xray_224 bash benchmarks/gpu_classifier_stack.sh
set -u
OUT=${OUT:?set OUT}; DATA=${DATA:?set DATA}; SCREEN_S=${SCREEN_S:-150}
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1 XRAYGAN_CACHE=/tmp/xraygan-cache MPLBACKEND=Agg
DATA=$(realpath "$DATA")
python3 - > "$OUT/gpu_smoke_study.txt" 2>&1 <<'PY'
# the study's GPU path end to end on phantom images: GANs and classifiers trained as stacks on CUDA
import tempfile
from xraygan.config import DataConfig
from xraygan.experiment import build_experiment
from xraygan.study.run import run_study
exp = build_experiment("smoke", data=DataConfig(source="phantom", phantom_per_class=24), study={"fractions": (0.5, 1.0), "seeds": 2, "subsets": 2, "independent_gans": True})
with tempfile.TemporaryDirectory() as d:
    df = run_study(exp, f"{d}/res", f"{d}/runs", device="cuda", progress=False)
cols = ["fraction", "condition", "seed", "subset", "best_step", "val_auc", "test_auc", "test_reads", "seconds", "device"]
print(df[cols].to_string())
PY
cd benchmarks
for flags in "" "--cudnn-benchmark" "--no-amp --cudnn-benchmark"; do
  python3 study_throughput.py --data "$DATA" --preset paper --steps 200 --ks 1 8 32 --skip gan $flags
done > "$OUT/gpu_classifier_stack.txt" 2>&1
bash gpu_screen.sh "$DATA" "$OUT/gan_recipes_screen_gpu2.csv" "$SCREEN_S" pac4_cutout_mbstd_w24_sub \
    pac2_cutout_mbstd_w24_lr1e4_2x_sub pac2_cutout_mbstd_w24_b32_2x_sub

#!/usr/bin/env bash
# One lent GPU session's measurements, in one call (the device tool's `run`, from the repository root):
#   1. study throughput: classifier models per hour and GAN image-steps/s, one at a time against K at once,
#      beside the PyTorch DCGAN tutorial loop (issue "throughput");
#   2. GAN recipe screens at 10 % (benchmarks/gpu_screen.sh).
# Usage: OUT=dir DATA=chest_xray_224 bash benchmarks/gpu_session.sh   (python3 must hold torch with CUDA)
set -u
OUT=${OUT:?set OUT}; DATA=${DATA:?set DATA}; SCREEN_S=${SCREEN_S:-300}
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1 XRAYGAN_CACHE=/tmp/xraygan-cache MPLBACKEND=Agg
DATA=$(realpath "$DATA")
cd benchmarks
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader; nproc
  python3 -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name())"; } > "$OUT/gpu_env.txt" 2>&1
python3 study_throughput.py --data "$DATA" --preset paper --steps 200 --ks 1 4 8 16 32 \
    --gan-steps 200 --gan-ks 1 2 4 8 16 32 > "$OUT/gpu_study_throughput.txt" 2>&1
bash gpu_screen.sh "$DATA" "$OUT/gan_recipes_screen_gpu.csv" "$SCREEN_S" pac2_cutout_mbstd_w24_sub \
    pac2_cutout_mbstd_w24_2x_sub pac2_cutout_mbstd_w24_4x_sub pac4_cutout_mbstd_w24_2x_sub \
    pac2_cutout_mbstd_w16_2x_sub pac2_tc_mbstd_w24_2x_sub pac2_full_mbstd_w24_2x_sub cgan_cutout_mbstd_2x_sub
tail -n 3 /tmp/screen/*.log > "$OUT/gan_recipes_screen_gpu.log" 2>&1

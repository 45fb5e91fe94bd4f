#!/usr/bin/env bash
# The GPU checks in one run, for a machine with a CUDA GPU and Veil's packages importable:
# the filter tests on CUDA, a probe of each filter's GPU path and pace, then `veil bench`
# for pfgsm (12 MP speed, and as many of the 250 photos as fit the time left).
# The models' weights (80 MB) and the photos (27 MB) are inputs it does not fetch.
#
# Usage: OUT=dir VEIL_SHARED_DATA=dir bash benchmarks/gpu_check.sh
# Writes check.log and the two benchmarks' results under $OUT.
set -u
out=${OUT:?set OUT to the folder for the results}
data=${VEIL_SHARED_DATA:?set VEIL_SHARED_DATA to the folder holding imagenet-sample}
python=${PYTHON:-python3}
export VEIL_DEVICE=cuda PYTHONUNBUFFERED=1
log=$out/check.log
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$log"

# The filter suite on the GPU; MediaPipe's parts (colorfool, regions, HEIF) stay on the CI.
timeout 120 "$python" -m pytest -q -p no:cacheprovider tests/filters/shared/test_device.py \
    tests/filters/test_pfgsm.py tests/filters/test_edgefool.py tests/batch/test_judge.py \
    tests/filters/shared/test_robust.py tests/filters/shared/test_budget.py \
    tests/filters/test_pipeline.py tests/batch/test_bench.py 2>&1 | tail -25 | tee -a "$log"

timeout 120 "$python" benchmarks/gpu_probe.py --data "$data/imagenet-sample" \
    --budget "${BENCH_SECONDS:-240}" 2>&1 | tee -a "$log"
limit=$(grep -o '^limit=[0-9]*' "$log" | tail -1 | cut -d= -f2)

timeout 100 "$python" -m veil bench --filters pfgsm --size 12MP --limit 20 \
    --profiles facebook --sheet-photos 0 --out "$out/12mp" 2>&1 | tail -6 | tee -a "$log"
timeout "$(( ${BENCH_SECONDS:-240} + 40 ))" "$python" -m veil bench --filters pfgsm \
    --profiles facebook --sheet-photos 0 --limit "${limit:-60}" --out "$out/all" 2>&1 \
    | tail -6 | tee -a "$log"

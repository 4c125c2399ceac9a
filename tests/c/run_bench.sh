#!/bin/sh
# run_bench.sh [SIMD] -- build the core as setup.py does (-O3 -fno-trapping-math
# -ffp-contract=off, kernels once per SIMD level) and run tests/c/bench_logits.c.
# SIMD: 0 auto, 1 scalar, 2 baseline, 3 avx2, 4 avx512.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=${CBCE_ROOT:-$(cd "$here/../.." && pwd)}  # CBCE_ROOT: benchmark another tree
CC=${CC:-gcc}
FLAGS="-std=c99 -O3 -fno-trapping-math -ffp-contract=off -pthread"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
. "$here/build_core.sh"
# shellcheck disable=SC2086
$CC $FLAGS $inc "$here/bench_logits.c" $objs -o "$tmp/bench" -lm
cp "$tmp/bench" "${CBCE_BENCH_KEEP:-/dev/null}" 2>/dev/null || true
for lv in ${1:-2 3 4}; do "$tmp/bench" "$lv"; done

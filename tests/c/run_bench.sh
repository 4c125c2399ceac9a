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
inc="-I$root/include -I$root/src/cbce/core"
objs=""
for f in "$root"/src/cbce/core/*.c; do
    o="$tmp/$(basename "$f" .c).o"
    $CC $FLAGS $inc -c "$f" -o "$o"
    objs="$objs $o"
    if grep -q 'CBCE__ISA_NAME(' "$f"; then
        variants="scalar:-fno-tree-vectorize:-fno-tree-slp-vectorize"
        case $(uname -m) in
        x86_64|amd64)
            variants="$variants avx2:-mavx2:-mfma avx512:-mavx512f:-mavx512bw:-mavx512dq:-mavx512vl:-mavx2:-mfma";;
        esac
        for v in $variants; do
            name=${v%%:*}; vflags=$(echo "${v#*:}" | tr ':' ' ')
            o="$tmp/$(basename "$f" .c)_$name.o"
            $CC $FLAGS $vflags $inc -DCBCE__ISA_VARIANT=1 -DCBCE__ISA_SUFFIX=_$name -c "$f" -o "$o"
            objs="$objs $o"
        done
    fi
done
# shellcheck disable=SC2086
$CC $FLAGS $inc "$here/bench_logits.c" $objs -o "$tmp/bench" -lm
cp "$tmp/bench" "${CBCE_BENCH_KEEP:-/dev/null}" 2>/dev/null || true
for lv in ${1:-2 3 4}; do "$tmp/bench" "$lv"; done

#!/bin/sh
# run_acc64.sh [N] -- build the C core as setup.py does (-O3, every SIMD level) and run
# tests/c/acc_logits64.c: float64 BCE with logits against binary128 on N points per case
# (default 2*10^6; 5 cases of N make the ~10^7-point sweep), every level the CPU has.
# Needs gcc and libquadmath.  Exit status: 1 when a bar of API.md is exceeded.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
CC=${CC:-gcc}
FLAGS="-std=c99 -pedantic -Wall -O3 -fno-trapping-math -ffp-contract=off"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
. "$here/build_core.sh"
# shellcheck disable=SC2086
$CC -std=gnu99 -O2 -Wall $inc "$here/acc_logits64.c" $objs -o "$tmp/acc_logits64" \
    -lquadmath -lm -pthread
"$tmp/acc_logits64" "${1:-2000000}"

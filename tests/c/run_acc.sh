#!/bin/sh
# run_acc.sh [N] -- build the C core as setup.py does (-O3, kernel files once per SIMD level)
# and tests/c/acc_logits32.c, and run the float32 accuracy sweep (N points a case, default
# 10^7) on every level this CPU has.  Exit status: the sweep's.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
CC=${CC:-gcc}
FLAGS="-std=c99 -pedantic -Wall -Wextra -Werror -O3 -fno-trapping-math -ffp-contract=off"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
. "$here/build_core.sh"
# shellcheck disable=SC2086
$CC $FLAGS $inc "$here/acc_logits32.c" $objs -o "$tmp/acc_logits32" -lm -pthread
"$tmp/acc_logits32" "${1:-10000000}"

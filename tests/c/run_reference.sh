#!/bin/sh
# run_reference.sh [REFERENCE_DIR] -- build the C core and tests/c/test_reference.c with gcc
# (-std=c99 -pedantic -Wall -Wextra -Werror -O2 -fno-trapping-math -ffp-contract=off), the
# kernel files once per SIMD level as setup.py does, and run the accuracy harness against
# the reference tables tests/data/logits_float{32,64}.csv.xz (decompressed into a temporary
# folder), or the plain CSVs in REFERENCE_DIR.  Exit status: the harness's.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
CC=${CC:-gcc}
OPT=${OPT:--O2}  # OPT=-O3 runs the kernels as setup.py builds them
FLAGS="-std=c99 -pedantic -Wall -Wextra -Werror $OPT -fno-trapping-math -ffp-contract=off"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
. "$here/build_core.sh"
# shellcheck disable=SC2086
$CC $FLAGS $inc "$here/test_reference.c" $objs -o "$tmp/test_reference" -lm -pthread
if [ $# -ge 1 ]; then
    dir=$1
else
    dir=$tmp
    for dt in float32 float64; do
        if command -v xz > /dev/null; then
            xz -dc "$root/tests/data/logits_$dt.csv.xz" > "$tmp/logits_$dt.csv"
        else
            python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), sys.stdout.buffer)' \
                "$root/tests/data/logits_$dt.csv.xz" > "$tmp/logits_$dt.csv"
        fi
    done
fi
"$tmp/test_reference" "$dir"

#!/bin/sh
# run_reference.sh [REFERENCE_DIR] -- build the C core and tests/c/test_reference.c with gcc
# (-std=c99 -pedantic -Wall -Wextra -Werror -O2 -fno-trapping-math -ffp-contract=off), the
# kernel files once per SIMD level as setup.py does, and run the accuracy harness against
# ../shared/reference (or REFERENCE_DIR, or $CBCE_REFERENCE_DIR).  Exit status: the harness's.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
CC=${CC:-gcc}
OPT=${OPT:--O2}  # OPT=-O3 runs the kernels as setup.py builds them
FLAGS="-std=c99 -pedantic -Wall -Wextra -Werror $OPT -fno-trapping-math -ffp-contract=off"
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
$CC $FLAGS $inc "$here/test_reference.c" $objs -o "$tmp/test_reference" -lm -pthread
dir=${1:-${CBCE_REFERENCE_DIR:-$root/../shared/reference}}
"$tmp/test_reference" "$dir"

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
. "$here/build_core.sh"
# shellcheck disable=SC2086
$CC $FLAGS $inc "$here/test_reference.c" $objs -o "$tmp/test_reference" -lm -pthread
dir=${1:-${CBCE_REFERENCE_DIR:-$root/../shared/reference}}
"$tmp/test_reference" "$dir"

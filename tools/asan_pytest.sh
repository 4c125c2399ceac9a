#!/usr/bin/env bash
# Run the Python test suite against a build of cbce with AddressSanitizer and
# UndefinedBehaviorSanitizer; fail on any test failure or any sanitizer report.
#
#   tools/asan_pytest.sh                 # the whole suite (slow tests deselected)
#   tools/asan_pytest.sh tests/test_x.py # chosen tests / pytest arguments
#
# The sanitized extension is built from a copy of the tree (so the normal build/ directory
# and the normal install are never touched) and installed with `pip --target` into
# build/asan/site, which is put first on PYTHONPATH for the test run only.  CPython itself
# is not sanitized, so the ASan runtime is LD_PRELOADed, with leak detection off (CPython
# keeps memory until exit by design).  ASan reports go to build/asan/reports/; UBSan's
# ignore log_path here (GCC's libubsan next to libasan writes them to stderr), so pytest
# runs with --capture=sys (a report written to fd 2 while pytest captures it would be lost
# when UBSan ends the process) and its stderr, kept in build/asan/stderr.log, is searched
# for "runtime error:".  Any report fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=$ROOT/build/asan
CC=${CC:-gcc}
PY=${PYTHON:-python3}
rm -rf "$OUT/src" "$OUT/site" "$OUT/reports"
mkdir -p "$OUT/src" "$OUT/site" "$OUT/reports"

# 1. a copy of the sources (working tree, without build products and .git)
tar -C "$ROOT" --exclude=./build --exclude=./.git --exclude='*.so' --exclude='__pycache__' \
    --exclude=./.asv --exclude='./asv_bench/results' --exclude='./asv_bench/env' -cf - . |
    tar -C "$OUT/src" -xf -

# 2. the sanitized build (setup.py appends CBCE_CFLAGS to its flags), without build isolation:
#    this Python's setuptools reads pyproject.toml's SPDX license, which needs setuptools >= 77
"$PY" -c "import setuptools, sys; sys.exit(int(setuptools.__version__.split('.')[0]) < 77)" \
    || { echo "asan: setuptools >= 77 needed: $PY -m pip install 'setuptools>=77'" >&2; exit 1; }
SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g"
echo "asan: building with $CC $SAN"
(cd "$OUT/src" && CC="$CC" CBCE_CFLAGS="$SAN" LDFLAGS="-fsanitize=address,undefined" \
    "$PY" -m pip install --no-build-isolation --no-deps -q --target "$OUT/site" . )
if ! nm -D "$OUT"/site/cbce/_core*.so | grep "__asan_report" >/dev/null; then
    echo "asan: the extension is not instrumented" >&2
    exit 1
fi

# 3. the test run
LIBASAN=$($CC -print-file-name=libasan.so)
LIBUBSAN=$($CC -print-file-name=libubsan.so)
export LD_PRELOAD="$LIBASAN:$LIBUBSAN"
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:halt_on_error=1:log_path=$OUT/reports/asan:allocator_may_return_null=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"   # log_path: ignored, see above
export PYTHONPATH="$OUT/site${PYTHONPATH:+:$PYTHONPATH}"
export CBCE_MEMORY_CALLS=${CBCE_MEMORY_CALLS:-2000}   # ASan makes each call slower
export CBCE_FUZZ_EXAMPLES=${CBCE_FUZZ_EXAMPLES:-100}
"$PY" -c "import cbce, sys; f = cbce._core.__file__; print('asan: testing', f); \
sys.exit(0 if f.startswith('$OUT/site') else 1)"
if [ $# -eq 0 ]; then
    # The boosting integrations (xgboost, lightgbm) are left out: under the preloaded ASan
    # runtime their OpenMP machinery (libgomp after fork) hung in a trial run.  torch and
    # dask (a LocalCluster of worker processes, xgboost.dask in one test) run: ~20 s.
    set -- tests -m "not slow" --durations=15 \
        --ignore tests/test_integrations_boosting.py
fi
status=0
(cd "$OUT/src" && PYTHONUNBUFFERED=1 timeout "${ASAN_PYTEST_TIMEOUT:-1500}" "$PY" -m pytest -q \
    -p no:cacheprovider --capture=sys "$@") 2>"$OUT/stderr.log" || status=$?
unset LD_PRELOAD
tail -n 40 "$OUT/stderr.log" >&2
if grep -q "runtime error:" "$OUT/stderr.log"; then
    grep -A 30 "runtime error:" "$OUT/stderr.log" > "$OUT/reports/ubsan.stderr" || true
fi
reports=$(ls "$OUT/reports" 2>/dev/null | wc -l)
if [ "$reports" -gt 0 ]; then
    echo "asan: $reports sanitizer report(s):" >&2
    head -n 60 "$OUT"/reports/* >&2
    status=1
fi
echo "asan: pytest status $status, $reports sanitizer report(s)"
exit "$status"

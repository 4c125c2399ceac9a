#!/usr/bin/env bash
# CI for the hardening checks: the bounded libFuzzer run of the C API, the Python test suite
# against an AddressSanitizer + UBSan build, the memory-growth tests at 10^5 calls per
# function, and the slow test with more than 2^31 elements.  Run by .ci/run after the
# package is installed; about 12 minutes on 2 cores.
#
#   HARDENING_FUZZ_TIME   seconds of libFuzzer (default 60)
#   HARDENING_SKIP_SLOW=1 skip the >2^31-element test (it needs ~11 GB of memory)
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
step() { echo; echo "=== hardening: $* ($(( $(date +%s) - start ))s)"; }
status=0

step "toolchain"
if ! command -v clang >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq clang >/dev/null
fi
clang --version | head -n 1
gcc --version | head -n 1

step "libFuzzer, C API, ${HARDENING_FUZZ_TIME:-60}s"
t0=$(date +%s)
FUZZ_TIME=${HARDENING_FUZZ_TIME:-60} bash fuzz/run.sh || status=1
echo "hardening: fuzz took $(( $(date +%s) - t0 ))s"

step "pytest under AddressSanitizer + UndefinedBehaviorSanitizer"
t0=$(date +%s)
bash tools/asan_pytest.sh || status=1
echo "hardening: sanitizer run took $(( $(date +%s) - t0 ))s"

step "memory: no growth over 10^5 calls of every function, error paths included"
t0=$(date +%s)
CBCE_MEMORY_CALLS=100000 python3 -m pytest -q -p no:cacheprovider \
    tests/test_hardening_memory.py || status=1
echo "hardening: memory test took $(( $(date +%s) - t0 ))s"

step "slow: more than 2^31 elements"
t0=$(date +%s)
if [ "${HARDENING_SKIP_SLOW:-0}" = 1 ]; then
    echo "hardening: skipped (HARDENING_SKIP_SLOW=1)"
else
    CBCE_SLOW=1 python3 -m pytest -q -p no:cacheprovider -m slow -rs \
        tests/test_hardening_memory.py || status=1
fi
echo "hardening: slow test took $(( $(date +%s) - t0 ))s"

step "done, status $status"
exit "$status"

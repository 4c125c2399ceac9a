#!/usr/bin/env bash
# CI hardening: a bounded fuzz campaign (hypothesis over the Python API against the
# long-double reference, next to libFuzzer on the C API, every family), the Python test
# suite against an AddressSanitizer + UBSan build, the memory-growth tests at 10^5 calls
# per function, and the slow test with more than 2^31 elements.  Run by .ci/run after the
# package is installed; about 15 minutes on 2 cores.
#
#   HARDENING_FUZZ_TIME   seconds of the fuzz campaign (default 180)
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

step "fuzz campaign: hypothesis (Python API) and libFuzzer (C API), ${HARDENING_FUZZ_TIME:-180}s"
t0=$(date +%s)
PYTHON=python3 bash tools/fuzz_campaign.sh "${HARDENING_FUZZ_TIME:-180}" 1 || status=1
echo "hardening: fuzz campaign took $(( $(date +%s) - t0 ))s"

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

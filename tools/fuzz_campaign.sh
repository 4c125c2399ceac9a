#!/usr/bin/env bash
# A time-boxed fuzz campaign over everything: the hypothesis campaign of the Python API
# against the long-double reference (tools/fuzz_campaign.py, every loss family and the
# helpers, ndarray subclasses and foreign buffers included) and the libFuzzer harness of
# the C API under AddressSanitizer + UBSan (fuzz/run.sh, every family, every SIMD level),
# side by side.  Prints the counts of both; exit status 0 if neither found anything.
#
#   tools/fuzz_campaign.sh SECONDS [PY_WORKERS]     (defaults: 300 s, 1 worker)
#
# Python worker w runs at SIMD level w of avx512, avx2, baseline, scalar (CBCE_SIMD); the
# libFuzzer harness compares every level in each execution.
#
# Run it at low priority on a shared machine (nice -n 19 tools/fuzz_campaign.sh 3600 2).
# FUZZ_MAX_N=600 caps libFuzzer's calls at 600 elements (many more executions; unset, the
# calls reach 70,000 elements and the thread pool).
# Python findings are appended to tests/fuzz_findings.jsonl (replayed by the test suite),
# libFuzzer's crashing inputs go to build/fuzz/artifacts/.
set -uo pipefail
cd "$(dirname "$0")/.."
SECONDS_TOTAL=${1:-300}
PY_WORKERS=${2:-1}
PY=${PYTHON:-python3}
mkdir -p build/fuzz
log=build/fuzz/campaign
status=0

FUZZ_TIME=$SECONDS_TOTAL FUZZ_RANDOM_INPUTS=${FUZZ_RANDOM_INPUTS:-20000} \
    bash fuzz/run.sh > "$log.c.txt" 2>&1 &
cpid=$!
pids=()
levels=(avx512 avx2 baseline scalar)   # worker w runs level w (a level above the CPU's is its best)
for w in $(seq 1 "$PY_WORKERS"); do
    CBCE_SIMD=${levels[$(( (w - 1) % 4 ))]} "$PY" tools/fuzz_campaign.py "$SECONDS_TOTAL" \
        > "$log.py$w.txt" 2>&1 &
    pids+=($!)
done
for p in "${pids[@]}"; do
    wait "$p" || status=1
done
wait "$cpid" || status=1

py_total=0
for w in $(seq 1 "$PY_WORKERS"); do
    grep -E "^fuzz_campaign:|FAIL" "$log.py$w.txt"
    n=$(sed -n 's/^fuzz_campaign: \([0-9]*\) examples.*/\1/p' "$log.py$w.txt")
    py_total=$((py_total + ${n:-0}))
done
grep -E "^fuzz_cbce stats|^random_driver|^fuzz: |ERROR|SUMMARY" "$log.c.txt"
c_exec=$(sed -n 's/^fuzz: exit status [0-9]*, \([0-9]*\) executions.*/\1/p' "$log.c.txt")
c_rand=$(sed -n 's/^random_driver: \([0-9]*\) inputs.*/\1/p' "$log.c.txt")
echo "campaign: ${SECONDS_TOTAL}s; Python examples $py_total; C executions" \
     "$(( ${c_exec:-0} + ${c_rand:-0} )) (libFuzzer ${c_exec:-0}, random driver ${c_rand:-0});" \
     "status $status"
exit "$status"

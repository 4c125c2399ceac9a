#!/usr/bin/env bash
# Build the libFuzzer harness for the cbce C API (clang, AddressSanitizer + UBSan) and run
# it for a bounded time.
#
#   fuzz/run.sh                      # 60 s
#   FUZZ_TIME=3600 fuzz/run.sh       # a longer run
#   FUZZ_JOBS=2 fuzz/run.sh          # parallel workers
#   fuzz/run.sh path/to/crash-file   # replay one input (e.g. a saved crash)
#
# A normal run first replays every saved finding (fuzz/findings/*.bin, inputs that once
# failed) through both builds, so each stays a regression input.
#
# The core's kernel files (those containing CBCE__ISA_NAME( or CBCE__STEPS( ) are compiled once per SIMD
# level, as setup.py does (internal.h, note (d)), so the fuzzer compares the scalar, SSE2,
# AVX2 and AVX-512 kernels.  Artifacts (crashing inputs) go to build/fuzz/artifacts/, the
# corpus to build/fuzz/corpus/ (kept between runs).  Exit status: 0 if no crash.
set -euo pipefail
cd "$(dirname "$0")/.."
CC=${CC:-clang}
OUT=build/fuzz
FUZZ_TIME=${FUZZ_TIME:-60}
FUZZ_JOBS=${FUZZ_JOBS:-1}
mkdir -p "$OUT/obj" "$OUT/corpus" "$OUT/artifacts"

SAN="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
CFLAGS="-O1 -g -std=c99 -fno-trapping-math -ffp-contract=off -pthread $SAN \
-Iinclude -Isrc/cbce/core -DCBCE_STATIC_DEFINE"
# The harness calls every family of the API (the loss families of registry.h and the
# helpers); the random driver's counts below must show each one reached.

objs=()
for src in $(find src/cbce/core -name "*.c" | sort); do
    base=$(basename "$src" .c)
    $CC $CFLAGS -fsanitize=fuzzer-no-link -c "$src" -o "$OUT/obj/$base.o"
    objs+=("$OUT/obj/$base.o")
    if grep -qE "CBCE__(ISA_NAME|STEPS)\(" "$src"; then
        $CC $CFLAGS -fsanitize=fuzzer-no-link -DCBCE__ISA_VARIANT=1 -DCBCE__ISA_SUFFIX=_scalar \
            -fno-vectorize -fno-slp-vectorize -c "$src" -o "$OUT/obj/${base}_scalar.o"
        objs+=("$OUT/obj/${base}_scalar.o")
        if [ "$(uname -m)" = x86_64 ]; then
            $CC $CFLAGS -fsanitize=fuzzer-no-link -DCBCE__ISA_VARIANT=1 -DCBCE__ISA_SUFFIX=_avx2 \
                -mavx2 -mfma -c "$src" -o "$OUT/obj/${base}_avx2.o"
            $CC $CFLAGS -fsanitize=fuzzer-no-link -DCBCE__ISA_VARIANT=1 \
                -DCBCE__ISA_SUFFIX=_avx512 -mavx512f -mavx512bw -mavx512dq -mavx512vl -mavx2 \
                -mfma -c "$src" -o "$OUT/obj/${base}_avx512.o"
            objs+=("$OUT/obj/${base}_avx2.o" "$OUT/obj/${base}_avx512.o")
        fi
    fi
done
$CC $CFLAGS -fsanitize=fuzzer fuzz/fuzz_cbce.c "${objs[@]}" -lm -o "$OUT/fuzz_cbce"
echo "fuzz: built $OUT/fuzz_cbce"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
if [ $# -gt 0 ]; then
    exec "$OUT/fuzz_cbce" "$@"
fi

# First pseudo-random inputs through the same target built by gcc (the compiler of the
# Python extension; the SIMD variants are left out there: CBCE_NO_SIMD_VARIANTS).
FUZZ_RANDOM_INPUTS=${FUZZ_RANDOM_INPUTS:-20000}
if [ "$FUZZ_RANDOM_INPUTS" -gt 0 ] && command -v gcc >/dev/null; then
    gcc -O1 -g -std=c99 -fno-trapping-math -ffp-contract=off -pthread \
        -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer \
        -Iinclude -Isrc/cbce/core -DCBCE_STATIC_DEFINE -DCBCE_NO_SIMD_VARIANTS \
        fuzz/fuzz_cbce.c fuzz/random_driver.c $(find src/cbce/core -name "*.c") -lm -o "$OUT/random_driver"
    # the saved findings first: each one is a regression input
    "$OUT/random_driver" -r fuzz/findings/*.bin ||
        { echo "fuzz: a saved finding fails again (gcc build)"; exit 1; }
    t0=$(date +%s)
    FUZZ_STATS=1 "$OUT/random_driver" "$FUZZ_RANDOM_INPUTS" "${FUZZ_SEED:-$(date +%s)}" \
        2> "$OUT/random_stats.txt" ||
        { cat "$OUT/random_stats.txt"; echo "fuzz: the random driver failed; replay:" \
          "fuzz/run.sh $OUT/random_last.bin"; exit 1; }
    cat "$OUT/random_stats.txt"
    unreached=$(sed -n 's/.*per family: //p' "$OUT/random_stats.txt" |
                awk '{for (i = 1; i < NF; i += 2) if ($(i + 1) == 0) print $i}')
    if [ -n "$unreached" ]; then
        echo "fuzz: families not reached by the random driver:" $unreached; exit 1
    fi
    echo "fuzz: random driver took $(( $(date +%s) - t0 ))s"
fi
# The saved findings through the libFuzzer build (every SIMD level's kernels) too.
"$OUT/fuzz_cbce" fuzz/findings/*.bin ||
    { echo "fuzz: a saved finding fails again (clang build)"; exit 1; }
# An empty corpus is seeded with random inputs (fixed seed): libFuzzer's mutations reach
# long, valid calls much sooner from there than from the empty input.
if [ -z "$(ls -A "$OUT/corpus")" ]; then
    python3 -c "
import os, random
r = random.Random(7)
for i in range(400):
    with open(os.path.join('$OUT/corpus', 'seed%03d' % i), 'wb') as f:
        f.write(bytes(r.randrange(256) for _ in range(r.choice([16, 48, 96, 200]))))
"
fi
args=(-max_total_time="$FUZZ_TIME" -max_len=512 -timeout=30 -rss_limit_mb=4096
      -print_final_stats=1 -artifact_prefix="$OUT/artifacts/")
if [ -d fuzz/seeds ]; then
    corpora=("$OUT/corpus" fuzz/seeds)
else
    corpora=("$OUT/corpus")
fi
if [ "$FUZZ_JOBS" -gt 1 ]; then
    args+=(-jobs="$FUZZ_JOBS" -workers="$FUZZ_JOBS")
fi
log="$OUT/fuzz.log"
set +e
"$OUT/fuzz_cbce" "${args[@]}" "${corpora[@]}" 2>&1 | tee "$log" | grep -E \
    "^#[0-9]+ +(INITED|DONE|pulse)|stat::|CHECK FAILED|ERROR|SUMMARY|runtime error|Test unit"
status=${PIPESTATUS[0]}
set -e
execs=$(grep -h "stat::number_of_executed_units" "$log" | awk '{s += $2} END {print s + 0}')
echo "fuzz: exit status $status, $execs executions in ${FUZZ_TIME}s"
exit "$status"

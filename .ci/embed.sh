#!/usr/bin/env bash
# .ci/embed.sh -- the C core built, tested, installed and used without Python.
#
#   1. Make and CMake builds (static + shared, versioned soname) with GCC and Clang under
#      -std=c99 -pedantic -Wall -Wextra -Werror; the C tests (tests/c/test_api.c) against
#      both libraries and at every SIMD level; the header compiled as C++98..C++20; the
#      exported-symbol and header checks; install into temporary prefixes (CMake's with
#      `cmake --install build --prefix DIR`, the prefix given only at install time).
#   2. tests/c/test_api.c under AddressSanitizer + UndefinedBehaviorSanitizer (GCC and Clang),
#      ThreadSanitizer (Clang) and valgrind, each with no error allowed; the thread-pool test
#      tests/c/test_pool.c (concurrent callers, fork) under the same ASan+UBSan and TSan.
#   3. The accuracy harness tests/c/run_reference.sh (every SIMD level) with GCC and Clang.
#   4. examples/c through pkg-config (shared and static: the commands written in
#      example.c's comment, then its Makefile), against both prefixes and a moved copy of
#      one (the .pc files are relocatable), and through CMake (find_package, shared and
#      static, and add_subdirectory); examples/cython against the installed Python package
#      (cbce.get_include()), with the commands of its setup.py.
# Installs clang, valgrind, cmake and pkg-config with apt-get when missing.  Run from
# anywhere; leaves nothing in the tree.  Set CBCE_EMBED_SKIP_PYTHON=1 to skip step 4's
# Cython example (e.g. on a machine without the Python package).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
WORK=$(mktemp -d "${TMPDIR:-/tmp}/cbce-embed.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
JOBS=$(nproc 2>/dev/null || echo 2)
PY=${PYTHON:-python3}
start=$(date +%s)
step() { echo; echo "--- embed: $* ($(($(date +%s) - start))s)"; }
STRICT="-std=c99 -pedantic -Wall -Wextra -Werror"
# Run a test; print its last line, or everything it printed if it fails.
quiet() {
    local out
    out=$("$@" 2>&1) || { echo "$out"; echo "embed: FAILED: $*" >&2; return 1; }
    echo "$out" | tail -1
}

# ---- tools ----------------------------------------------------------------------------------
step "tools"
missing=()
command -v clang > /dev/null || missing+=(clang)
command -v valgrind > /dev/null || missing+=(valgrind)
command -v pkg-config > /dev/null || missing+=(pkg-config)
command -v cmake > /dev/null || missing+=(cmake)
command -v g++ > /dev/null || missing+=(g++)
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing ${missing[*]}"
    if command -v apt-get > /dev/null && [ "$(id -u)" = 0 ]; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" > /dev/null
    elif command -v apt-get > /dev/null && command -v sudo > /dev/null; then
        sudo apt-get update -qq
        sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" > /dev/null
    fi
    command -v cmake > /dev/null || "$PY" -m pip install -q cmake
fi
for tool in gcc g++ clang clang++ valgrind pkg-config cmake nm; do
    command -v $tool > /dev/null || { echo "embed: $tool is missing" >&2; exit 1; }
done
echo "gcc $(gcc -dumpfullversion), $(clang --version | head -1), $(cmake --version | head -1)," \
     "valgrind $(valgrind --version), pkg-config $(pkg-config --version), $JOBS cores"

# The version, read here independently of the build systems: the soname must follow it.
ver() { sed -n "s/^#define CBCE_VERSION_$1 \([0-9]*\).*/\1/p" include/cbce.h; }
VERSION=$(ver MAJOR).$(ver MINOR).$(ver PATCH)
if [ "$(ver MAJOR)" = 0 ]; then SONAME=libcbce.so.0.$(ver MINOR); else SONAME=libcbce.so.$(ver MAJOR); fi
echo "cbce $VERSION, soname $SONAME"

# ---- 1. Make: GCC and Clang, strict --------------------------------------------------------
for cc in gcc clang; do
    cxx=$([ $cc = gcc ] && echo g++ || echo clang++)
    b=$WORK/make-$cc
    step "make, $cc: libraries, tests, symbol and header checks"
    make -s -j"$JOBS" BUILDDIR="$b" CC=$cc CXX=$cxx CFLAGS="-O2 $STRICT" \
        CXXFLAGS="-O2 -Wall -Wextra -Werror" config lib
    # full size with gcc; clang (and later runs) with fewer rows, still several blocks
    rows=$([ $cc = gcc ] && echo 0 || echo 900)
    CBCE_TEST_ROWS=$rows make -s BUILDDIR="$b" CC=$cc CXX=$cxx CFLAGS="-O2 $STRICT" \
        CXXFLAGS="-O2 -Wall -Wextra -Werror" check
    readelf -d "$b/libcbce.so.$VERSION" | grep -q "Library soname: \[$SONAME\]" \
        || { echo "embed: soname is not $SONAME"; readelf -d "$b/libcbce.so.$VERSION"; exit 1; }
    if [ $cc = gcc ]; then
        # test_api compares every level with AUTO bitwise; here the whole suite runs per level
        step "make, $cc: the C tests at every SIMD level (CBCE_SIMD)"
        for level in scalar baseline avx2 avx512; do
            quiet env CBCE_SIMD=$level CBCE_TEST_ROWS=900 "$b/test_api"
        done
    fi
    step "make, $cc: the header as C++98, 11, 17, 20"
    for std in c++98 c++11 c++17 c++20; do
        $cxx -std=$std -pedantic -Wall -Wextra -Werror -Iinclude tests/c/test_cxx.cpp \
            "$b/libcbce.a" -lm -pthread -o "$b/test_cxx_$std"
        quiet "$b/test_cxx_$std"
    done
done
step "make install (gcc build) into a temporary prefix"
make -s BUILDDIR="$WORK/make-gcc" CC=gcc CFLAGS="-O2 $STRICT" PREFIX="$WORK/prefix-make" install
sh tests/c/check_symbols.sh include/cbce.h "$WORK"/prefix-make/lib/libcbce.a \
    "$WORK"/prefix-make/lib/libcbce.so
cmp include/cbce.h "$WORK/prefix-make/include/cbce.h"

# ---- 1b. CMake -----------------------------------------------------------------------------
step "cmake: configure (default prefix), build, ctest, cmake --install build --prefix DIR"
cmake -S . -B "$WORK/build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_COMPILER=gcc \
    -DCMAKE_CXX_COMPILER=g++ -DCMAKE_C_FLAGS="-Werror" \
    > "$WORK/cmake.log" || { cat "$WORK/cmake.log"; exit 1; }
grep 'cbce ' "$WORK/cmake.log"
cmake --build "$WORK/build" -j"$JOBS" > "$WORK/cmake-build.log" \
    || { cat "$WORK/cmake-build.log"; exit 1; }
CBCE_TEST_ROWS=900 quiet ctest --test-dir "$WORK/build" --output-on-failure -j"$JOBS"
(cd "$WORK" && cmake --install build --prefix "$WORK/prefix-cmake" > /dev/null)
ls "$WORK"/prefix-cmake/lib*/cmake/cbce/cbceConfig.cmake "$WORK"/prefix-cmake/lib*/pkgconfig/cbce.pc \
    > /dev/null
readelf -d "$WORK"/prefix-cmake/lib*/libcbce.so | grep -q "Library soname: \[$SONAME\]" \
    || { echo "embed: CMake's soname is not $SONAME"; exit 1; }
sh tests/c/check_symbols.sh include/cbce.h "$WORK"/prefix-cmake/lib*/libcbce.a \
    "$WORK"/prefix-cmake/lib*/libcbce.so

step "one version everywhere: header $VERSION"
versions="make:$(make -s version) cmake:$(sed -n 's/^-- cbce \([0-9.]*\):.*/\1/p' "$WORK/cmake.log")"
for prefix in prefix-make prefix-cmake; do
    pcdir=$(dirname "$(ls "$WORK"/$prefix/lib*/pkgconfig/cbce.pc)")
    versions="$versions $prefix.pc:$(PKG_CONFIG_PATH=$pcdir pkg-config --modversion cbce)"
done
printf '#include <stdio.h>\n#include <cbce.h>\nint main(void) { puts(cbce_version_string()); return 0; }\n' \
    > "$WORK/v.c"
gcc -I"$WORK/prefix-make/include" "$WORK/v.c" -L"$WORK/prefix-make/lib" -lcbce -o "$WORK/v"
versions="$versions installed-lib:$(LD_LIBRARY_PATH=$WORK/prefix-make/lib "$WORK/v")"
if [ "${CBCE_EMBED_SKIP_PYTHON:-0}" != 1 ]; then
    versions="$versions python:$(cd "$WORK" && "$PY" -c 'import cbce; print(cbce.__version__)')"
fi
echo "$versions"
for v in $versions; do
    [ "${v#*:}" = "$VERSION" ] || { echo "embed: ${v%%:*} says ${v#*:}, the header $VERSION"; exit 1; }
done

# ---- 2. sanitizers and valgrind ----------------------------------------------------------------
SAN="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all"
for cc in gcc clang; do
    step "ASan + UBSan, $cc"
    make -s -j"$JOBS" BUILDDIR="$WORK/asan-$cc" CC=$cc CFLAGS="$SAN -Wall -Wextra" \
        LDFLAGS="-fsanitize=address,undefined" "$WORK/asan-$cc/test_api" "$WORK/asan-$cc/test_pool"
    quiet env ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
        UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 CBCE_TEST_ROWS=900 "$WORK/asan-$cc/test_api"
    quiet env ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
        UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 "$WORK/asan-$cc/test_pool"
done
step "TSan, clang (threaded reductions)"
make -s -j"$JOBS" BUILDDIR="$WORK/tsan" CC=clang CFLAGS="-O1 -g -fsanitize=thread -Wall -Wextra" \
    LDFLAGS="-fsanitize=thread" "$WORK/tsan/test_api" "$WORK/tsan/test_pool"
quiet env TSAN_OPTIONS=halt_on_error=1 CBCE_TEST_ROWS=900 "$WORK/tsan/test_api"
# die_after_fork=0: test_pool's forked children start threads (the pool's new workers)
quiet env TSAN_OPTIONS=halt_on_error=1:die_after_fork=0 "$WORK/tsan/test_pool"
step "valgrind (memcheck; fewer rows, still several reduction blocks)"
make -s -j"$JOBS" BUILDDIR="$WORK/vg" CC=gcc CFLAGS="-O2 -g -Wall -Wextra" "$WORK/vg/test_api"
quiet env CBCE_TEST_ROWS=600 valgrind -q --error-exitcode=1 --leak-check=full \
    --errors-for-leak-kinds=definite,indirect "$WORK/vg/test_api"

# ---- 3. accuracy against the 80-digit reference ----------------------------------------------
if [ -f tests/c/run_reference.sh ]; then
    for cc in gcc clang; do
        step "accuracy harness tests/c/run_reference.sh, $cc (every SIMD level)"
        quiet env CC=$cc sh tests/c/run_reference.sh
    done
fi

# ---- 4. examples ---------------------------------------------------------------------------
# the build commands written in example.c's comment, verbatim
sed -n '/^ \* Build and run/,/^ \* The Makefile here/s/^ \*     //p' examples/c/example.c \
    > "$WORK/example-commands.sh"
grep -q '^cc example.c' "$WORK/example-commands.sh" \
    || { echo "embed: no build command found in examples/c/example.c"; exit 1; }
cp -a "$WORK/prefix-make" "$WORK/moved-prefix"   # a relocated install: .pc from its folder
for prefix in prefix-make prefix-cmake moved-prefix; do
    step "examples/c through pkg-config ($prefix): example.c's commands, then its Makefile"
    rm -rf "$WORK/ex" && cp -r examples/c "$WORK/ex"
    pcdir=$(dirname "$(ls "$WORK"/$prefix/lib*/pkgconfig/cbce.pc)")
    export PKG_CONFIG_PATH=$pcdir
    echo "pkg-config: cbce $(pkg-config --modversion cbce): $(pkg-config --cflags --libs cbce)"
    case "$(pkg-config --cflags cbce)" in
        *"$WORK/$prefix/"*) ;;
        *) echo "embed: pkg-config does not point into $WORK/$prefix"; exit 1 ;;
    esac
    (cd "$WORK/ex" && sh -e ../example-commands.sh > run.log 2>&1) \
        || { cat "$WORK/ex/run.log"; echo "embed: example.c's commands failed"; exit 1; }
    head -2 "$WORK/ex/run.log"
    (cd "$WORK/ex" && rm -f example example-static && make -s && make -s example-static \
        && ./example > /dev/null && ./example-static > /dev/null)
    if ldd "$WORK/ex/example-static" | grep -q libcbce; then
        echo "embed: example-static loads libcbce dynamically"; exit 1
    fi
    unset PKG_CONFIG_PATH
done
for mode in "find_package, shared:-DCMAKE_PREFIX_PATH=$WORK/prefix-cmake" \
            "find_package, static:-DCMAKE_PREFIX_PATH=$WORK/prefix-cmake -DCBCE_USE_STATIC_LIBS=ON" \
            "add_subdirectory:-DCBCE_SOURCE_DIR=$ROOT"; do
    step "examples/c through CMake: ${mode%%:*}"
    rm -rf "$WORK/exc"
    # shellcheck disable=SC2086
    cmake -S examples/c -B "$WORK/exc" -DCMAKE_C_FLAGS="-Werror" ${mode#*:} > "$WORK/exc.log" \
        || { cat "$WORK/exc.log"; exit 1; }
    cmake --build "$WORK/exc" -j"$JOBS" > "$WORK/exc-build.log" \
        || { cat "$WORK/exc-build.log"; exit 1; }
    "$WORK/exc/example" | head -2
done

if [ "${CBCE_EMBED_SKIP_PYTHON:-0}" != 1 ]; then
    step "examples/cython: cimport cbce, built against the installed Python package"
    rm -rf "$WORK/cy" && cp -r examples/cython "$WORK/cy"
    pkglib=$(cd "$WORK" && "$PY" -c "import cbce, os; print(getattr(cbce, 'get_library_dir', \
lambda: os.path.join(os.path.dirname(cbce.get_include()), 'lib'))())")
    if [ -f "$pkglib/libcbce.a" ] || [ -f "$pkglib/cbce.lib" ]; then
        unset CBCE_LIB_DIR
    else
        echo "NOTE: the Python package ships no static core in $pkglib; linking the one" \
             "'make install' put in $WORK/prefix-make/lib"
        export CBCE_LIB_DIR=$WORK/prefix-make/lib
    fi
    "$PY" -m pip install -q cython setuptools   # what examples/cython/setup.py asks for
    # the commands of examples/cython/setup.py's docstring, with this Python
    (cd "$WORK/cy" && PATH="$(dirname "$(command -v "$PY")"):$PATH" && \
     { python setup.py build_ext --inplace > build.log 2>&1 || { cat build.log; exit 1; }; } && \
     grep '^cbce_example:' build.log && python run_example.py)
fi

step "all embedding checks passed"

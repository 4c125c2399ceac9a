# build_core.sh -- sourced by run_reference.sh and run_bench.sh: compile the C core as
# setup.py does, the kernel files (those defining CBCE__ISA_NAME steps) once more per SIMD
# level, into $tmp.  Needs CC, FLAGS, root and tmp; sets inc and objs.
inc="-I$root/include -I$root/src/cbce/core"
objs=""
for f in $(find "$root/src/cbce/core" -name "*.c" | sort); do
    o="$tmp/$(basename "$f" .c).o"
    $CC $FLAGS $inc -c "$f" -o "$o"
    objs="$objs $o"
    if grep -qE 'CBCE__(ISA_NAME|STEPS)\(' "$f"; then
        variants="scalar:-fno-tree-vectorize:-fno-tree-slp-vectorize"
        case $(uname -m) in
        x86_64|amd64)
            variants="$variants avx2:-mavx2:-mfma avx512:-mavx512f:-mavx512bw:-mavx512dq:-mavx512vl:-mavx2:-mfma";;
        esac
        for v in $variants; do
            name=${v%%:*}; vflags=$(echo "${v#*:}" | tr ':' ' ')
            o="$tmp/$(basename "$f" .c)_$name.o"
            $CC $FLAGS $vflags $inc -DCBCE__ISA_VARIANT=1 -DCBCE__ISA_SUFFIX=_$name -c "$f" -o "$o"
            objs="$objs $o"
        done
    fi
done

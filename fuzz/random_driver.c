/*
 * random_driver.c -- runs the fuzz target of fuzz_cbce.c on pseudo-random inputs, without
 * libFuzzer (any C compiler, e.g. gcc with -fsanitize=address,undefined: the compiler the
 * Python extension is built with).  fuzz/run.sh builds and runs it before libFuzzer.
 *
 *   random_driver [inputs] [seed]      (defaults: 20000 inputs, seed 1)
 *   random_driver -r file...           replay saved inputs (e.g. fuzz/findings/)
 *
 * Each input is written to build/fuzz/random_last.bin before it runs, so a crash can be
 * replayed with the libFuzzer binary (fuzz/run.sh build/fuzz/random_last.bin).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay(int nfiles, char **files)
{
    int i;
    for (i = 0; i < nfiles; i++) {
        uint8_t buf[4096];
        size_t len;
        FILE *f = fopen(files[i], "rb");
        if (f == NULL) {
            fprintf(stderr, "random_driver: cannot open %s\n", files[i]);
            return 1;
        }
        len = fread(buf, 1, sizeof buf, f);
        fclose(f);
        LLVMFuzzerTestOneInput(buf, len);
        printf("random_driver: replayed %s\n", files[i]);
    }
    return 0;
}

int main(int argc, char **argv)
{
    unsigned long count = argc > 1 ? strtoul(argv[1], NULL, 10) : 20000, it;
    uint64_t s = argc > 2 ? strtoull(argv[2], NULL, 10) : 1;
    const char *last = getenv("FUZZ_LAST") ? getenv("FUZZ_LAST") : "build/fuzz/random_last.bin";
    uint8_t buf[256];
    if (argc > 1 && strcmp(argv[1], "-r") == 0)
        return replay(argc - 2, argv + 2);
    for (it = 0; it < count; it++) {
        size_t len = 16 + (size_t)(s % 4) * 48, i;
        FILE *f;
        for (i = 0; i < len; i++) {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            buf[i] = (uint8_t)(s >> 24);
        }
        if ((f = fopen(last, "wb")) != NULL) {
            fwrite(buf, 1, len, f);
            fclose(f);
        }
        LLVMFuzzerTestOneInput(buf, len);
    }
    printf("random_driver: %lu inputs (seed %s), no failure\n", count, argc > 2 ? argv[2] : "1");
    return 0;
}

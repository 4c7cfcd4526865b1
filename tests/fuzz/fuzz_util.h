/* Shared by the libFuzzer targets (tests/fuzz/fuzz_*.c): a private scratch folder made once
 * per process and removed at exit, for parsers that read files rather than memory, and a
 * splitter for inputs that stand for several files. */
#ifndef VB_FUZZ_UTIL_H
#define VB_FUZZ_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char fuzz_dir[64];

static void fuzz_cleanup(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", fuzz_dir);
    if (fuzz_dir[0] && system(cmd) != 0)
        fprintf(stderr, "fuzz: could not remove %s\n", fuzz_dir);
}

/* The scratch folder (created on first use; aborts if it cannot be, which is no finding). */
static inline const char *fuzz_scratch(void)
{
    if (!fuzz_dir[0]) {
        snprintf(fuzz_dir, sizeof fuzz_dir, "/tmp/vb-fuzz-XXXXXX");
        if (!mkdtemp(fuzz_dir)) {
            perror("fuzz: mkdtemp");
            abort();
        }
        atexit(fuzz_cleanup);
    }
    return fuzz_dir;
}

/* Write data[0..n) to <scratch>/<name>; returns the path (static buffer per slot 0..3). */
static inline const char *fuzz_write(int slot, const char *name, const uint8_t *data, size_t n)
{
    static char paths[4][192];
    snprintf(paths[slot], sizeof paths[slot], "%s/%s", fuzz_scratch(), name);
    FILE *f = fopen(paths[slot], "wb");
    if (!f || (n && fwrite(data, 1, n, f) != n) || fclose(f) != 0) {
        perror(paths[slot]);
        abort();
    }
    return paths[slot];
}

/* Split at the first NUL byte: part 1 before it, part 2 after (empty when there is none). */
static inline void fuzz_split(const uint8_t *data, size_t size, size_t *n1, const uint8_t **p2, size_t *n2)
{
    const uint8_t *nul = memchr(data, 0, size);
    *n1 = nul ? (size_t)(nul - data) : size;
    *p2 = nul ? nul + 1 : data + size;
    *n2 = nul ? size - *n1 - 1 : 0;
}

#endif

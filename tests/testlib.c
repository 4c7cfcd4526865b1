#include "tests/testlib.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/files.h"

int vb_test_passed, vb_test_failed;

void vb_test_report(int ok, const char *file, int line, const char *fmt, ...)
{
    if (ok) {
        vb_test_passed++;
        return;
    }
    vb_test_failed++;
    va_list ap;
    fprintf(stderr, "FAIL %s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

void vb_test_run(const char *name, void (*fn)(void))
{
    int before = vb_test_failed;
    if (getenv("VB_TEST_VERBOSE"))
        fprintf(stderr, "-- %s\n", name);
    fn();
    if (vb_test_failed != before)
        fprintf(stderr, "   in %s\n", name);
}

int vb_test_finish(void)
{
    printf("%d passed, %d failed\n", vb_test_passed, vb_test_failed);
    return vb_test_failed ? 1 : 0;
}

double vb_nmse(const float *a, const float *ref, size_t n)
{
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)a[i] - ref[i];
        num += d * d;
        den += (double)ref[i] * ref[i];
    }
    return den > 0 ? num / den : num;
}

double vb_max_abs(const float *a, const float *ref, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - ref[i]);
        if (d > m || d != d)
            m = d;
    }
    return m;
}

void vb_test_fill_random(float *x, size_t n, unsigned seed, float lo, float hi)
{
    uint64_t s = 0x9e3779b97f4a7c15ull ^ seed;
    for (size_t i = 0; i < n; i++) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        x[i] = lo + (hi - lo) * (float)((s >> 11) * (1.0 / 9007199254740992.0));
    }
}

const char *vb_test_data_dir(void)
{
    const char *d = getenv("VERIBENCH_DATA");
    return d && *d ? d : "../shared/datasets";
}

const char *vb_test_build_dir(void)
{
    const char *d = getenv("BUILD");
    return d && *d ? d : "build";
}

const char *vb_test_put(const char *dir, const char *name, const char *text)
{
    static char path[1024];
    char folder[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    snprintf(folder, sizeof folder, "%s", path);
    *strrchr(folder, '/') = 0;
    vb_err e = {0};
    if (vb_mkdirs(folder, &e) != 0) {
        fprintf(stderr, "vb_test_put: %s\n", e.msg);
        abort();
    }
    FILE *f = fopen(path, "w");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
        perror(path);
        abort();
    }
    return path;
}

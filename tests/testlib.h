/* Minimal test harness: CHECK-style assertions that count, a summary line
 * "N passed, N failed" per test binary, and numeric comparison helpers
 * (NMSE and max-abs error, as ggml's test-backend-ops reports them). */
#ifndef VB_TESTLIB_H
#define VB_TESTLIB_H

#include <math.h>
#include <stddef.h>
#include <stdio.h>

extern int vb_test_passed, vb_test_failed;

void vb_test_report(int ok, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define CHECK(cond) vb_test_report(!!(cond), __FILE__, __LINE__, "%s", #cond)
#define CHECKF(cond, ...) vb_test_report(!!(cond), __FILE__, __LINE__, __VA_ARGS__)
#define CHECK_NEAR(a, b, tol)                                                                  \
    do {                                                                                       \
        double a_ = (a), b_ = (b);                                                             \
        vb_test_report(fabs(a_ - b_) <= (tol), __FILE__, __LINE__, "%s = %.10g, expected %.10g (tol %g)", \
                       #a, a_, b_, (double)(tol));                                             \
    } while (0)

/* Run a named test function; prints its name when VB_TEST_VERBOSE is set. */
#define RUN(fn) vb_test_run(#fn, fn)
void vb_test_run(const char *name, void (*fn)(void));

/* Print the summary and return the process exit code (0 when nothing failed). */
int vb_test_finish(void);

/* Normalized mean squared error sum((a-b)^2)/sum(b^2) and max |a-b|. */
double vb_nmse(const float *a, const float *ref, size_t n);
double vb_max_abs(const float *a, const float *ref, size_t n);

/* Deterministic pseudo-random floats in [lo, hi). */
void vb_test_fill_random(float *x, size_t n, unsigned seed, float lo, float hi);

/* Data locations for tests: the dataset folder (VERIBENCH_DATA) and the build folder. */
const char *vb_test_data_dir(void);
const char *vb_test_build_dir(void);

/* Writes text to dir/name, creating name's folders first (core's vb_mkdirs); returns the
 * path, in a static buffer valid until the next call. Aborts when the fixture cannot be
 * written: that is a broken test machine, not a test result. */
const char *vb_test_put(const char *dir, const char *name, const char *text);

#endif

/* Shared plumbing: error reporting, exit codes, small helpers used by every stage. */
#ifndef VB_COMMON_H
#define VB_COMMON_H

#include <stddef.h>
#include <time.h>
#include <stdint.h>
#include <stdio.h>

/* Stable exit codes (documented in README "Exit status"). */
enum {
    VB_EXIT_OK = 0,       /* everything done, verdict positive */
    VB_EXIT_FAIL = 1,     /* finished, but a verdict is negative: gate failed, check above
                             tolerance, some inputs failed under --keep-going */
    VB_EXIT_USAGE = 2,    /* bad command line */
    VB_EXIT_INPUT = 3,    /* bad or missing input: model, image, dataset, CSV */
    VB_EXIT_DEVICE = 4,   /* backend/device unavailable or failed */
    VB_EXIT_IO = 5        /* cannot write results (disk full, permissions) or internal error */
};

/* Every fallible function takes a vb_err* and returns 0 on success, -1 on failure after
 * filling the message. Messages name the file and the problem; the caller adds context
 * with vb_err_prefix and decides the exit code. */
typedef struct vb_err {
    char msg[1024];
    int code;      /* one of VB_EXIT_*, the exit status the failure deserves */
    int too_large; /* the request exceeded a resource (device memory, a size limit): the same
                      work in smaller pieces may succeed. vb_fail clears it; set it after. */
} vb_err;

int vb_fail(vb_err *e, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void vb_err_prefix(vb_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Allocation that reports failure through vb_err instead of crashing. */
void *vb_malloc(size_t n, vb_err *e);
void *vb_calloc(size_t count, size_t size, vb_err *e);
/* Multiply sizes, failing (returning -1) on overflow. */
int vb_mul_size(size_t a, size_t b, size_t *out);

/* Whole-file read with a size cap (refuses files above max_bytes). */
int vb_read_file(const char *path, size_t max_bytes, uint8_t **data, size_t *size, vb_err *e);

/* Wall-clock in seconds (monotonic). */
double vb_now(void);

/* Program name for messages. */
extern const char *vb_progname;
void vb_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define VB_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))



/* Run fn on n jobs (an array of n elements of job_size bytes) in parallel: jobs 1..n-1 on
 * new threads, job 0 on the calling thread, then join. A thread that cannot be started
 * runs its job inline, so the work is always done. */
void vb_parallel_run(void *jobs, size_t job_size, int n, void *(*fn)(void *));

/* Split items 0..n-1 into contiguous ranges of ceil(n / workers) and run fn(ctx, begin, end)
 * on each, in parallel through vb_parallel_run. workers <= 0 means one per online core; the
 * count is also capped by n (no empty ranges) and by 64. Range t always covers the same
 * items for the same (n, workers), so per-item results do not depend on the split. */
void vb_parallel_for(size_t n, int workers, void *ctx, void (*fn)(void *ctx, size_t begin, size_t end));

/* Lowercase letters, digits and single dashes from any text ("AMD EPYC 7B13" ->
 * "amd-epyc-7b13"), at most n-1 characters: for result file names. */
void vb_slugify(const char *in, char *out, size_t n);

/* SHA-256 (OpenSSL libcrypto) as 64 lowercase hex digits + NUL. */
int vb_sha256_file(const char *path, char hex[65], vb_err *e);
void vb_sha256_hex(const void *data, size_t n, char hex[65]);

/* For provenance: this process's command line from /proc/self/cmdline, arguments separated
 * by spaces (an argument holding a space or quote is single-quoted; "unknown" when
 * unreadable), and a time as UTC text, "2026-12-02T05:27:55Z". */
void vb_command_line(char *buf, size_t n);
void vb_utc_text(time_t t, char buf[32]);
#endif

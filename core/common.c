#include "core/common.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

const char *vb_progname = "veribench";

int vb_fail(vb_err *e, int code, const char *fmt, ...)
{
    if (e) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->msg, sizeof e->msg, fmt, ap);
        va_end(ap);
        e->code = code;
        e->too_large = 0;
    }
    return -1;
}

void vb_err_prefix(vb_err *e, const char *fmt, ...)
{
    if (!e)
        return;
    char prefix[512], old[sizeof e->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, e->msg, sizeof old);
    snprintf(e->msg, sizeof e->msg, "%s: %s", prefix, old);
}

void *vb_malloc(size_t n, vb_err *e)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        vb_fail(e, VB_EXIT_IO, "out of memory allocating %zu bytes", n);
    return p;
}

void *vb_calloc(size_t count, size_t size, vb_err *e)
{
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p)
        vb_fail(e, VB_EXIT_IO, "out of memory allocating %zu x %zu bytes", count, size);
    return p;
}

int vb_mul_size(size_t a, size_t b, size_t *out)
{
    if (a && b > SIZE_MAX / a)
        return -1;
    *out = a * b;
    return 0;
}

int vb_read_file(const char *path, size_t max_bytes, uint8_t **data, size_t *size, vb_err *e)
{
    *data = NULL;
    *size = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return vb_fail(e, VB_EXIT_INPUT, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return vb_fail(e, VB_EXIT_INPUT, "%s: not a regular file", path);
    }
    if ((uint64_t)st.st_size > max_bytes) {
        fclose(f);
        return vb_fail(e, VB_EXIT_INPUT, "%s: file is %lld bytes, above the %zu-byte limit", path,
                       (long long)st.st_size, max_bytes);
    }
    size_t n = (size_t)st.st_size;
    uint8_t *buf = vb_malloc(n + 1, e);
    if (!buf) {
        fclose(f);
        return -1;
    }
    if (n && fread(buf, 1, n, f) != n) {
        int err = ferror(f) ? errno : 0;
        free(buf);
        fclose(f);
        return vb_fail(e, VB_EXIT_INPUT, "%s: read failed: %s", path, err ? strerror(err) : "short read");
    }
    fclose(f);
    buf[n] = 0;
    *data = buf;
    *size = n;
    return 0;
}

double vb_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void vb_parallel_run(void *jobs, size_t job_size, int n, void *(*fn)(void *))
{
    enum { MAX_THREADS = 64 };
    pthread_t tids[MAX_THREADS];
    int spawned[MAX_THREADS] = {0};
    char *job = jobs;
    if (n > MAX_THREADS)
        n = MAX_THREADS;
    for (int t = 1; t < n; t++)
        spawned[t] = pthread_create(&tids[t], NULL, fn, job + (size_t)t * job_size) == 0;
    if (n > 0)
        fn(job);
    for (int t = 1; t < n; t++) {
        if (spawned[t])
            pthread_join(tids[t], NULL);
        else
            fn(job + (size_t)t * job_size);
    }
}

typedef struct range_job {
    void *ctx;
    void (*fn)(void *, size_t, size_t);
    size_t begin, end;
} range_job;

static void *range_main(void *arg)
{
    range_job *j = arg;
    j->fn(j->ctx, j->begin, j->end);
    return NULL;
}

void vb_parallel_for(size_t n, int workers, void *ctx, void (*fn)(void *ctx, size_t begin, size_t end))
{
    enum { MAX_WORKERS = 64 };
    if (workers <= 0) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        workers = cores > 1 ? (int)(cores < MAX_WORKERS ? cores : MAX_WORKERS) : 1;
    }
    if (workers > MAX_WORKERS)
        workers = MAX_WORKERS;
    if ((size_t)workers > n)
        workers = (int)n;
    if (workers < 1)
        return;
    range_job jobs[MAX_WORKERS];
    size_t per = (n + (size_t)workers - 1) / (size_t)workers;
    workers = (int)((n + per - 1) / per); /* 100 items on 64: ranges of 2, so 50 of them */
    for (int t = 0; t < workers; t++) {
        size_t lo = (size_t)t * per < n ? (size_t)t * per : n;
        jobs[t] = (range_job){ctx, fn, lo, lo + per < n ? lo + per : n};
    }
    vb_parallel_run(jobs, sizeof jobs[0], workers, range_main);
}

void vb_slugify(const char *in, char *out, size_t n)
{
    size_t len = 0;
    int dash = 0;
    for (const char *p = in; *p && len + 1 < n; p++) {
        char c = *p;
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
            if (dash && len > 0 && len + 2 < n)
                out[len++] = '-';
            out[len++] = c;
            dash = 0;
        } else {
            dash = 1;
        }
    }
    out[len] = 0;
    if (!len && n > 1)
        snprintf(out, n, "device");
}

void vb_log(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s: ", vb_progname);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

#include <stdio.h>
#include <openssl/evp.h>

static void to_hex(const unsigned char *md, char hex[65])
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 15];
    }
    hex[64] = 0;
}

void vb_sha256_hex(const void *data, size_t n, char hex[65])
{
    unsigned char md[32];
    unsigned int len = 0;
    EVP_Digest(data, n, md, &len, EVP_sha256(), NULL);
    to_hex(md, hex);
}

int vb_sha256_file(const char *path, char hex[65], vb_err *e)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return vb_fail(e, VB_EXIT_INPUT, "%s: cannot open: %s", path, strerror(errno));
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) {
        EVP_MD_CTX_free(ctx);
        fclose(f);
        return vb_fail(e, VB_EXIT_IO, "SHA-256 unavailable");
    }
    unsigned char buf[1 << 16];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        EVP_DigestUpdate(ctx, buf, n);
    int failed = ferror(f);
    fclose(f);
    unsigned char md[32];
    unsigned int len = 0;
    EVP_DigestFinal_ex(ctx, md, &len);
    EVP_MD_CTX_free(ctx);
    if (failed)
        return vb_fail(e, VB_EXIT_INPUT, "%s: read error", path);
    to_hex(md, hex);
    return 0;
}

void vb_command_line(char *buf, size_t n)
{
    char raw[4096];
    FILE *f = fopen("/proc/self/cmdline", "rb");
    size_t len = f ? fread(raw, 1, sizeof raw - 1, f) : 0;
    if (f)
        fclose(f);
    raw[len] = 0;
    snprintf(buf, n, "%s", len ? "" : "unknown");
    size_t out = 0;
    for (size_t i = 0; i < len && out + 4 < n; i += strlen(raw + i) + 1) {
        int quote = strpbrk(raw + i, " '\"\t") != NULL;
        out += (size_t)snprintf(buf + out, n - out, "%s%s%s%s", out ? " " : "", quote ? "'" : "", raw + i,
                                quote ? "'" : "");
    }
}

void vb_utc_text(time_t t, char buf[32])
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

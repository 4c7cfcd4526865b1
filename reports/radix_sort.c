#include "reports/radix_sort.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

enum {
    MSD_BITS = 11,
    MSD_BUCKETS = 1 << MSD_BITS,
    SMALL = 48,              /* buckets up to this size: insertion sort */
    PARALLEL_MIN = 1 << 16,  /* below this, one thread is faster than starting another */
    LSD_BITS = 11,
    LSD_DIGITS = 6,
    LSD_BUCKETS = 1 << LSD_BITS
};

uint64_t vb_double_to_key(double x)
{
    uint64_t b;
    memcpy(&b, &x, sizeof b);
    /* Negative numbers: flip all bits (larger magnitude -> smaller key); positive: set the
     * sign bit so they sort above every negative. */
    return (b >> 63) ? ~b : (b | 0x8000000000000000ull);
}

double vb_key_to_double(uint64_t k)
{
    uint64_t b = (k >> 63) ? (k & 0x7fffffffffffffffull) : ~k;
    double x;
    memcpy(&x, &b, sizeof x);
    return x;
}

/* ---- MSD radix sort ---- */

static void insertion_sort(uint64_t *a, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        uint64_t v = a[i];
        size_t j = i;
        for (; j > 0 && a[j - 1] > v; j--)
            a[j] = a[j - 1];
        a[j] = v;
    }
}

/* How one level splits its key range [lo, hi] into 2^bits digits. */
typedef struct split {
    uint64_t lo;
    int shift;  /* digit = (key - lo) >> shift; shift 0 means a digit is a whole key */
    int bits;   /* fewer than MSD_BITS for small inputs: about 16 keys per bucket or fewer */
    size_t buckets;
    size_t offset[MSD_BUCKETS + 1];
} split;

static int digit_bits(size_t n)
{
    int bits = 0;
    while (bits < MSD_BITS && ((size_t)16 << bits) < n)
        bits++;
    return bits < 4 ? 4 : bits;
}

static void min_max(const uint64_t *in, size_t n, uint64_t *lo, uint64_t *hi)
{
    uint64_t a = in[0], b = in[0];
    for (size_t i = 1; i < n; i++) {
        a = in[i] < a ? in[i] : a;
        b = in[i] > b ? in[i] : b;
    }
    *lo = a;
    *hi = b;
}

/* Chooses the digit for keys in [lo, hi]; returns 0 when lo == hi (nothing to split). */
static int plan_digit(uint64_t lo, uint64_t hi, size_t n, split *s)
{
    if (lo == hi)
        return 0;
    int top = 63 - __builtin_clzll(hi - lo); /* highest bit of the range */
    s->bits = digit_bits(n);
    s->lo = lo;
    s->shift = top + 1 > s->bits ? top + 1 - s->bits : 0;
    s->buckets = (size_t)1 << s->bits;
    return 1;
}

static void count_digits(const uint64_t *in, size_t n, const split *s, size_t *count)
{
    memset(count, 0, s->buckets * sizeof *count);
    for (size_t i = 0; i < n; i++)
        count[(in[i] - s->lo) >> s->shift]++;
}

/* offset[b] = start of bucket b, from count[] (which may alias offset + 1). */
static void prefix_offsets(split *s)
{
    s->offset[0] = 0;
    for (size_t b = 0; b < s->buckets; b++)
        s->offset[b + 1] += s->offset[b];
}

/* Returns 0 when every key is equal (nothing to split). */
static int plan_split(const uint64_t *in, size_t n, split *s)
{
    uint64_t lo, hi;
    min_max(in, n, &lo, &hi);
    if (!plan_digit(lo, hi, n, s))
        return 0;
    count_digits(in, n, s, s->offset + 1);
    prefix_offsets(s);
    return 1;
}

static void scatter_from(const uint64_t *in, uint64_t *out, size_t n, const split *s, size_t *next)
{
    for (size_t i = 0; i < n; i++)
        out[next[(in[i] - s->lo) >> s->shift]++] = in[i];
}

static void scatter_split(const uint64_t *in, uint64_t *out, size_t n, const split *s)
{
    size_t next[MSD_BUCKETS];
    memcpy(next, s->offset, s->buckets * sizeof *next);
    scatter_from(in, out, n, s, next);
}

static void msd_sort(uint64_t *in, uint64_t *out, size_t n);

/* Finishes one bucket already scattered into out[0..m) (in[0..m) is scratch). */
static void sort_bucket(uint64_t *in, uint64_t *out, size_t m, int shift)
{
    if (m < 2 || shift == 0) /* shift 0: the bucket holds one key value */
        return;
    if (m <= SMALL) {
        insertion_sort(out, m);
        return;
    }
    msd_sort(out, in, m);
    memcpy(out, in, m * sizeof *out);
}

/* Sorts in[0..n) into out[0..n); in is clobbered. The split plan lives on the stack
 * (~32 KiB per level, at most 6 levels: each level consumes 11 bits of the range). */
static void msd_sort(uint64_t *in, uint64_t *out, size_t n)
{
    split s;
    if (n <= SMALL || !plan_split(in, n, &s)) {
        memcpy(out, in, n * sizeof *out);
        if (n <= SMALL)
            insertion_sort(out, n);
        return; /* otherwise every key is equal */
    }
    scatter_split(in, out, n, &s);
    for (size_t b = 0; b < s.buckets; b++) {
        size_t off = s.offset[b], m = s.offset[b + 1] - off;
        sort_bucket(in + off, out + off, m, s.shift);
    }
}

typedef struct bucket_job {
    uint64_t *in, *out;
    const split *s;
    size_t first, last; /* bucket range [first, last) */
} bucket_job;

static void *run_buckets(void *arg)
{
    const bucket_job *j = arg;
    for (size_t b = j->first; b < j->last; b++) {
        size_t off = j->s->offset[b], m = j->s->offset[b + 1] - off;
        sort_bucket(j->in + off, j->out + off, m, j->s->shift);
    }
    return NULL;
}

/* The top level runs on two threads: each half of the input is counted and scattered by
 * its own thread (into disjoint slots of every bucket), then each thread finishes half of
 * the buckets. */
typedef struct half_job {
    const uint64_t *in;
    uint64_t *out;
    size_t n;
    uint64_t lo, hi;
    const split *s;
    size_t count[MSD_BUCKETS], next[MSD_BUCKETS];
    pthread_barrier_t *planned, *counted, *offsets_ready;
} half_job;

static void *half_minmax_count_scatter(void *arg)
{
    half_job *j = arg;
    min_max(j->in, j->n, &j->lo, &j->hi);
    pthread_barrier_wait(j->planned); /* the main thread now plans the digit */
    pthread_barrier_wait(j->counted);
    count_digits(j->in, j->n, j->s, j->count);
    pthread_barrier_wait(j->offsets_ready); /* ... and computes both halves' offsets */
    pthread_barrier_wait(j->counted);
    scatter_from(j->in, j->out, j->n, j->s, j->next);
    return NULL;
}

/* Splits keys into tmp with two threads; returns 0 when every key is equal, -1 when no
 * thread could be started (the caller then splits on one thread). */
static int parallel_split(const uint64_t *keys, uint64_t *tmp, size_t n, split *s)
{
    pthread_barrier_t b1, b2, b3;
    pthread_barrier_init(&b1, NULL, 2);
    pthread_barrier_init(&b2, NULL, 2);
    pthread_barrier_init(&b3, NULL, 2);
    static half_job jobs[2]; /* large (32 KiB each): not on the stack */
    for (int h = 0; h < 2; h++)
        jobs[h] = (half_job){.in = keys + h * (n / 2), .out = tmp, .n = h ? n - n / 2 : n / 2, .s = s,
                             .planned = &b1, .counted = &b2, .offsets_ready = &b3};
    pthread_t thread;
    int rc = -1;
    if (pthread_create(&thread, NULL, half_minmax_count_scatter, &jobs[1]) == 0) {
        min_max(jobs[0].in, jobs[0].n, &jobs[0].lo, &jobs[0].hi);
        pthread_barrier_wait(&b1);
        uint64_t lo = jobs[0].lo < jobs[1].lo ? jobs[0].lo : jobs[1].lo;
        uint64_t hi = jobs[0].hi > jobs[1].hi ? jobs[0].hi : jobs[1].hi;
        int split_needed = plan_digit(lo, hi, n, s);
        if (!split_needed) /* keep the digit harmless for the other thread */
            *s = (split){.lo = lo, .shift = 63, .bits = 1, .buckets = 2};
        pthread_barrier_wait(&b2);
        count_digits(jobs[0].in, jobs[0].n, s, jobs[0].count);
        pthread_barrier_wait(&b3);
        s->offset[0] = 0;
        for (size_t b = 0; b < s->buckets; b++) {
            jobs[0].next[b] = s->offset[b];
            jobs[1].next[b] = s->offset[b] + jobs[0].count[b];
            s->offset[b + 1] = s->offset[b] + jobs[0].count[b] + jobs[1].count[b];
        }
        pthread_barrier_wait(&b2);
        scatter_from(jobs[0].in, jobs[0].out, jobs[0].n, s, jobs[0].next);
        pthread_join(thread, NULL);
        rc = split_needed;
    }
    pthread_barrier_destroy(&b1);
    pthread_barrier_destroy(&b2);
    pthread_barrier_destroy(&b3);
    return rc;
}

uint64_t *vb_sort_keys(uint64_t *keys, uint64_t *tmp, size_t n)
{
    static pthread_mutex_t top_level = PTHREAD_MUTEX_INITIALIZER; /* guards the static jobs */
    split s;
    if (n <= SMALL) {
        insertion_sort(keys, n);
        return keys;
    }
    int split_rc = -1;
    if (n >= PARALLEL_MIN) {
        pthread_mutex_lock(&top_level);
        split_rc = parallel_split(keys, tmp, n, &s);
        pthread_mutex_unlock(&top_level);
    }
    if (split_rc < 0) {
        if (!plan_split(keys, n, &s))
            return keys; /* every key is equal */
        scatter_split(keys, tmp, n, &s);
    } else if (split_rc == 0) {
        return keys;
    }
    /* the second thread takes the buckets holding the upper half of the keys */
    size_t mid = 0;
    while (mid < s.buckets && s.offset[mid + 1] <= n / 2)
        mid++;
    bucket_job lower = {keys, tmp, &s, 0, mid}, upper = {keys, tmp, &s, mid, s.buckets};
    pthread_t thread;
    int threaded = n >= PARALLEL_MIN && pthread_create(&thread, NULL, run_buckets, &upper) == 0;
    run_buckets(&lower);
    if (threaded)
        pthread_join(thread, NULL);
    else
        run_buckets(&upper);
    return tmp;
}

int vb_sort_doubles(double *x, size_t n, vb_err *e)
{
    if (n < 2)
        return 0;
    size_t bytes;
    if (vb_mul_size(n, 2 * sizeof(uint64_t), &bytes))
        return vb_fail(e, VB_EXIT_IO, "sort: %zu values overflow the address space", n);
    uint64_t *keys = vb_malloc(bytes, e);
    if (!keys)
        return -1;
    for (size_t i = 0; i < n; i++)
        keys[i] = vb_double_to_key(x[i]);
    const uint64_t *sorted = vb_sort_keys(keys, keys + n, n);
    for (size_t i = 0; i < n; i++)
        x[i] = vb_key_to_double(sorted[i]);
    free(keys);
    return 0;
}

/* ---- LSD radix sort with payload (stable) ---- */

static unsigned lsd_digit(uint64_t k, int d)
{
    return (unsigned)(k >> (d * LSD_BITS)) & (LSD_BUCKETS - 1);
}

void vb_radix_sort_kv(uint64_t *keys, uint32_t *vals, uint64_t *tmp_keys, uint32_t *tmp_vals, size_t n)
{
    if (n < 2)
        return;
    size_t(*hist)[LSD_BUCKETS] = calloc(LSD_DIGITS, sizeof *hist);
    if (!hist) { /* fall back to a stable insertion sort: slow, still right */
        for (size_t i = 1; i < n; i++)
            for (size_t j = i; j > 0 && keys[j - 1] > keys[j]; j--) {
                uint64_t k = keys[j];
                keys[j] = keys[j - 1];
                keys[j - 1] = k;
                if (vals) {
                    uint32_t v = vals[j];
                    vals[j] = vals[j - 1];
                    vals[j - 1] = v;
                }
            }
        return;
    }
    for (size_t i = 0; i < n; i++)
        for (int d = 0; d < LSD_DIGITS; d++)
            hist[d][lsd_digit(keys[i], d)]++;
    uint64_t *src = keys, *dst = tmp_keys;
    uint32_t *vsrc = vals, *vdst = vals ? tmp_vals : NULL;
    for (int d = 0; d < LSD_DIGITS; d++) {
        if (hist[d][lsd_digit(keys[0], d)] == n)
            continue; /* this digit is the same for every key */
        size_t offset[LSD_BUCKETS], sum = 0;
        for (int b = 0; b < LSD_BUCKETS; b++) {
            offset[b] = sum;
            sum += hist[d][b];
        }
        for (size_t i = 0; i < n; i++) {
            size_t at = offset[lsd_digit(src[i], d)]++;
            dst[at] = src[i];
            if (vsrc)
                vdst[at] = vsrc[i];
        }
        uint64_t *t = src;
        src = dst;
        dst = t;
        uint32_t *tv = vsrc;
        vsrc = vdst;
        vdst = tv;
    }
    if (src != keys) {
        memcpy(keys, src, n * sizeof *keys);
        if (vals)
            memcpy(vals, vsrc, n * sizeof *vals);
    }
    free(hist);
}
